"""The artifact store against a local folder and a real GCS-compatible server (gcp-storage-emulator)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from soulsgen_lib.cli import main as soulsgen
from soulsgen_lib.storage import (
    HISTORY_KEY,
    LocalStore,
    StorageError,
    append_with_retry,
    latest_key,
    open_store,
    version_key,
)


@pytest.fixture(params=["local", "gcs"])
def store(request, tmp_path):
    if request.param == "local":
        return open_store(tmp_path / "store")
    return open_store(request.getfixturevalue("gcs_bucket") + "/team/prod")


def make_folder(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def stamp(store, key: str) -> object:
    """Something that changes whenever `key` is rewritten: the object generation, or the file's inode and mtime."""
    if isinstance(store, LocalStore):
        stat = (store.path / key).stat()
        return (stat.st_ino, stat.st_mtime_ns)
    return store.bucket.get_blob(store.object_name(key)).generation


CORPUS = {"train.txt": "The ash settles on the bell.\n", "test.txt": "A lantern hums.\n", "words.txt": "ash\t3\n"}


def test_files_text_and_folder_listing(store, tmp_path):
    source = make_folder(tmp_path / "in", {"a.txt": "first ember"})
    store.put_file(source / "a.txt", "corpus/v1/a.txt")
    store.write_text("corpus/v10/b.txt", "second ember ✦")

    assert store.exists("corpus/v1/a.txt")
    assert not store.exists("corpus/v1")  # a folder is not an object
    assert store.list("corpus/v1") == ["corpus/v1/a.txt"]  # not corpus/v10/...
    assert store.list("corpus") == ["corpus/v1/a.txt", "corpus/v10/b.txt"]
    assert store.list("nothing/here") == []
    assert store.read_text("corpus/v10/b.txt") == "second ember ✦"
    fetched = store.get_file("corpus/v1/a.txt", tmp_path / "out" / "a.txt")
    assert fetched.read_text() == "first ember"

    store.delete("corpus/v1/a.txt")
    store.delete("corpus/v1/a.txt")  # deleting twice is fine
    assert not store.exists("corpus/v1/a.txt")
    with pytest.raises(StorageError, match=r"corpus/v1/a\.txt not found"):
        store.read_text("corpus/v1/a.txt")


def test_folder_round_trip_skips_hidden_files_and_keeps_other_local_files(store, tmp_path):
    source = make_folder(tmp_path / "model", {"model.pt": "weights", "index/novelty.txt": "grams", ".lock": "x"})
    keys = store.put_dir(source, "models/soulsgen/v1")
    assert keys == ["models/soulsgen/v1/index/novelty.txt", "models/soulsgen/v1/model.pt"]

    out = make_folder(tmp_path / "out", {"notes.txt": "mine"})
    store.get_dir("models/soulsgen/v1", out)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "index/novelty.txt",
        "model.pt",
        "notes.txt",
    ]
    assert (out / "index" / "novelty.txt").read_text() == "grams"
    with pytest.raises(StorageError, match="nothing stored under"):
        store.get_dir("models/soulsgen/v2", tmp_path / "empty")


def test_publish_moves_latest_only_after_a_complete_version(store, tmp_path):
    assert store.latest("corpus") is None
    with pytest.raises(StorageError, match="no corpus published"):
        store.resolve("corpus", "latest")

    v1 = make_folder(tmp_path / "v1", CORPUS)
    where = store.publish("corpus", "v1", v1)
    assert where == store.location("corpus/v1")
    assert store.latest("corpus") == "v1"
    assert store.read_text(latest_key("corpus")) == "v1\n"

    # A failure halfway through publishing v2 leaves `latest` on v1.
    v2 = make_folder(tmp_path / "v2", {**CORPUS, "train.txt": "A different bell.\n"})
    real_put_file = store.put_file
    calls = []

    def put_file_failing_on_second(local, key):
        calls.append(key)
        if len(calls) == 2:
            raise StorageError(f"{key}: upload interrupted")
        real_put_file(local, key)

    store.put_file = put_file_failing_on_second
    with pytest.raises(StorageError, match="upload interrupted"):
        store.publish("corpus", "v2", v2)
    del store.put_file
    assert store.latest("corpus") == "v1"

    store.publish("corpus", "v2", v2)
    assert store.latest("corpus") == "v2"
    out = store.download("corpus", "latest", tmp_path / "got")
    assert (out / "train.txt").read_text() == "A different bell.\n"
    assert (store.download("corpus", "v1", tmp_path / "old") / "train.txt").read_text() == CORPUS["train.txt"]


def test_republishing_a_version_is_idempotent_and_removes_stale_files(store, tmp_path):
    folder = make_folder(tmp_path / "v1", CORPUS)
    store.publish("corpus", "v1", folder)
    before = {key: stamp(store, key) for key in store.list("corpus/v1")}

    store.publish("corpus", "v1", folder)
    assert {key: stamp(store, key) for key in store.list("corpus/v1")} == before  # nothing re-sent

    (folder / "words.txt").unlink()
    (folder / "test.txt").write_text("A changed line.\n")
    store.publish("corpus", "v1", folder)
    assert store.list("corpus/v1") == ["corpus/v1/test.txt", "corpus/v1/train.txt"]
    assert stamp(store, "corpus/v1/train.txt") == before["corpus/v1/train.txt"]
    assert store.read_text("corpus/v1/test.txt") == "A changed line.\n"


def test_publish_and_download_a_model_archive(store, tmp_path):
    archive = tmp_path / "mar" / "soulsgen.mar"
    archive.parent.mkdir()
    archive.write_bytes(b"PK\x03\x04 not really a zip")
    store.publish("mar", "2026-11-28", archive.parent)
    assert store.exists(version_key("mar", "2026-11-28"))
    assert store.list("model-store") == ["model-store/latest", "model-store/soulsgen-2026-11-28.mar"]
    fetched = store.download("mar", None, tmp_path / "serve")
    assert fetched == tmp_path / "serve" / "soulsgen-2026-11-28.mar"
    assert fetched.read_bytes() == archive.read_bytes()
    with pytest.raises(StorageError, match="exactly one"):
        store.publish("mar", "v2", tmp_path / "serve" / "nothing")


def test_append_line_builds_the_history(store):
    for n in range(3):
        store.append_line(HISTORY_KEY, f'{{"n": {n}}}')
    assert store.read_text(HISTORY_KEY).splitlines() == ['{"n": 0}', '{"n": 1}', '{"n": 2}']
    with pytest.raises(StorageError, match="one line"):
        store.append_line(HISTORY_KEY, "two\nlines")


def test_local_appends_from_many_threads_lose_nothing(tmp_path):
    store = open_store(tmp_path)
    threads = [
        threading.Thread(target=lambda t=t: [store.append_line("log.jsonl", f"{t}-{i}") for i in range(15)])
        for t in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = store.read_text("log.jsonl").splitlines()
    assert sorted(lines) == sorted(f"{t}-{i}" for t in range(6) for i in range(15))
    assert store.list("") == ["log.jsonl"]  # the lock file is hidden


def test_gcs_append_sends_a_generation_precondition(gcs_emulator, gcs_bucket):
    # The emulator accepts and ignores preconditions (no 412), so this only shows they are sent;
    # the retry on a lost race is tested with a generation-checked object below.
    store = open_store(gcs_bucket)
    store.append_line("posted/history.jsonl", "one")
    store.append_line("posted/history.jsonl", "two")
    log = gcs_emulator.log.read_text()
    assert "ifGenerationMatch=0" in log  # create only if absent
    assert store.read_text("posted/history.jsonl") == "one\ntwo\n"


class RacedObject:
    """An object with a generation that rejects stale writes, like GCS does, and a rival writer that wins races."""

    def __init__(self, rival_wins: int) -> None:
        self.content, self.generation, self.rival_wins = b"", 0, rival_wins

    def read(self) -> tuple[bytes, int]:
        content, generation = self.content, self.generation
        if self.rival_wins:  # another task appends between our read and our write
            self.rival_wins -= 1
            self._store(self.content + b"rival\n")
        return content, generation

    def write(self, content: bytes, generation: int) -> bool:
        if generation != self.generation:
            return False
        self._store(content)
        return True

    def _store(self, content: bytes) -> None:
        self.content, self.generation = content, self.generation + 1


def test_append_retries_until_its_generation_matches():
    target = RacedObject(rival_wins=2)
    attempts = append_with_retry(target.read, target.write, "ours", "test object", pause=0)
    assert attempts == 3
    assert target.content.decode().splitlines() == ["rival", "rival", "ours"]


def test_append_gives_up_after_the_attempt_limit():
    target = RacedObject(rival_wins=10)
    with pytest.raises(StorageError, match="3 attempts lost to concurrent writers"):
        append_with_retry(target.read, target.write, "ours", "gs://b/history", attempts=3, pause=0)
    assert b"ours" not in target.content


def test_errors_name_the_location_and_the_fix(gcs_emulator, tmp_path, monkeypatch):
    with pytest.raises(StorageError, match=r"bucket gs://no-such-bucket not found: create it"):
        open_store("gs://no-such-bucket/x").read_text("corpus/latest")
    with pytest.raises(StorageError, match=r"bucket gs://no-such-bucket not found"):
        open_store("gs://no-such-bucket").latest("corpus")
    with pytest.raises(StorageError, match="invalid bucket URL"):
        open_store("gs://Bad_Bucket!")
    with pytest.raises(StorageError, match="unsupported store"):
        open_store("s3://bucket")
    with pytest.raises(StorageError, match="invalid version"):
        open_store(tmp_path).publish("corpus", "../escape", tmp_path)
    with pytest.raises(StorageError, match="invalid key"):
        open_store(tmp_path).read_text("../outside")
    with pytest.raises(StorageError, match="unknown artifact kind"):
        open_store(tmp_path).latest("tokenizer")

    monkeypatch.delenv("STORAGE_EMULATOR_HOST")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing-key.json"))
    with pytest.raises(StorageError, match="gcloud auth application-default login"):
        open_store("gs://real-bucket")


def test_cli_upload_then_download_latest(gcs_bucket, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = make_folder(tmp_path / "corpus", CORPUS)
    runner = CliRunner()

    missing = runner.invoke(soulsgen, ["download", "corpus", "--out", "got", "--bucket", gcs_bucket])
    assert missing.exit_code == 1
    assert "no corpus published" in missing.output
    assert "Traceback" not in missing.output

    up = runner.invoke(soulsgen, ["upload", str(folder), "--kind", "corpus", "--version", "v7", "--bucket", gcs_bucket])
    assert up.exit_code == 0, up.output
    assert f"{gcs_bucket}/corpus/v7" in up.output

    down = runner.invoke(soulsgen, ["download", "corpus", "--out", "got"], env={"BUCKET": gcs_bucket})
    assert down.exit_code == 0, down.output
    assert "corpus v7" in down.output
    assert (tmp_path / "got" / "train.txt").read_text() == CORPUS["train.txt"]


def test_cli_without_bucket_uses_soulsgen_home(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BUCKET", raising=False)
    folder = make_folder(tmp_path / "corpus", CORPUS)
    home = tmp_path / "home"
    runner = CliRunner(env={"SOULSGEN_HOME": str(home)})
    result = runner.invoke(soulsgen, ["upload", str(folder), "--kind", "corpus", "--version", "v1"])
    assert result.exit_code == 0, result.output
    assert (home / "corpus" / "v1" / "words.txt").read_text() == CORPUS["words.txt"]
    assert (home / "corpus" / "latest").read_text() == "v1\n"

    result = runner.invoke(soulsgen, ["download", "corpus", "--version", "v9", "--out", "x"])
    assert result.exit_code == 1
    assert "nothing stored under" in result.output


def test_store_over_an_airflow_gcs_hook_client(gcs_bucket, monkeypatch):
    # Airflow tasks can hand the store the client of a google_cloud_platform connection instead of ADC.
    from airflow.providers.google.cloud.hooks.gcs import GCSHook

    monkeypatch.setenv(
        "AIRFLOW_CONN_SOULSGEN_GCS", '{"conn_type": "google_cloud_platform", "extra": {"is_anonymous": true}}'
    )
    store = open_store(gcs_bucket + "/airflow", client=GCSHook(gcp_conn_id="soulsgen_gcs").get_conn())
    store.append_line(HISTORY_KEY, '{"text": "The bell remembers."}')
    assert open_store(gcs_bucket).read_text(f"airflow/{HISTORY_KEY}") == '{"text": "The bell remembers."}\n'
