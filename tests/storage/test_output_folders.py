"""Every command that writes a folder writes only a new, empty or earlier output folder of its own kind."""

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner
from fixtures_corpus import SAMPLE_DATA

from soulsgen_lib.atomic import atomic_dir, remove_stale_temps, write_bytes_atomic
from soulsgen_lib.cli import main as soulsgen


def _build(source: Path, out: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(soulsgen, ["corpus", "build", str(source), "--out", str(out), "--quiet"])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def _error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1, output
    return lines[0]


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def test_build_keeps_a_folder_of_other_files(tmp_path):
    # The report: `mkdir -p d/p; echo x > d/p/cat.jpg; soulsgen corpus build sample_data --out d`.
    (tmp_path / "d" / "p").mkdir(parents=True)
    (tmp_path / "d" / "p" / "cat.jpg").write_text("x\n")
    code, output = _build(SAMPLE_DATA, tmp_path / "d")
    assert code == 1
    assert "is not empty (p) and is no earlier corpus folder" in _error_line(output)
    assert (tmp_path / "d" / "p" / "cat.jpg").read_text() == "x\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["d"], "no temporary folder left behind"


def test_build_refuses_its_own_source_and_folders_around_it(tiny_game_text, tmp_path, monkeypatch):
    before = _tree(tiny_game_text)
    code, output = _build(tiny_game_text, tiny_game_text)
    assert code == 1 and "is the source" in _error_line(output)
    code, output = _build(tiny_game_text, tiny_game_text / "corpus")
    assert code == 1 and "lies inside the source" in _error_line(output)
    code, output = _build(tiny_game_text, tmp_path)
    assert code == 1 and "holds the source" in _error_line(output)
    monkeypatch.chdir(tmp_path)
    code, output = _build(tiny_game_text, ".")
    assert code == 1 and "holds the source" in _error_line(output)
    assert _tree(tiny_game_text) == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["game"]


def test_build_out_dot_in_an_empty_folder_asks_for_a_folder_of_its_own(tiny_game_text, tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    code, output = _build(tiny_game_text, ".")
    assert code == 1
    assert "is the current folder" in _error_line(output) and "corpus" in _error_line(output)
    assert list(empty.iterdir()) == []


def test_build_refuses_to_replace_a_file(tiny_game_text, tmp_path):
    some_file = tmp_path / "some_file"
    some_file.write_text("keep me\n")
    code, output = _build(tiny_game_text, some_file)
    assert code == 1 and "is a file, not a folder" in _error_line(output)
    code, output = _build(tiny_game_text, some_file / "corpus")
    assert code == 1 and f"lies under the file {some_file}" in _error_line(output)
    assert some_file.read_text() == "keep me\n"


def test_build_replaces_an_earlier_corpus_but_not_one_holding_other_files(tiny_game_text, tmp_path):
    out = tmp_path / "corpus"
    out.mkdir()
    assert _build(tiny_game_text, out)[0] == 0, "an empty folder is fine"
    assert _build(tiny_game_text, out)[0] == 0, "so is an earlier corpus"
    (out / "cat.jpg").write_text("x\n")
    code, output = _build(tiny_game_text, out)
    assert code == 1 and "earlier corpus folder that also holds cat.jpg" in _error_line(output)
    assert (out / "cat.jpg").read_text() == "x\n"
    (out / "cat.jpg").unlink()
    (out / "manifest.json").write_text(json.dumps({"name": "a web extension"}))
    (out / "train.txt").unlink()
    assert _build(tiny_game_text, out)[0] == 0, "an earlier corpus missing a file is still one"


def test_build_through_a_symlink_keeps_the_link(tiny_game_text, tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    assert _build(tiny_game_text, tmp_path / "link")[0] == 0
    assert (tmp_path / "link").is_symlink() and (real / "train.txt").is_file()


@pytest.mark.parametrize(
    ("command", "kind"),
    [
        (["train", "--preset", "tiny", "--steps", "1"], "model folder"),
        (["tokenizer", "train"], "model folder"),
        (["evaluate", "-n", "10", "--model", "{model}"], "evaluation folder"),
        (["package", "--model", "{model}"], "model store"),
    ],
)
def test_model_commands_keep_folders_of_other_files(command, kind, tmp_path):
    corpus, model = tmp_path / "corpus", tmp_path / "model"
    for folder in (corpus, model):
        folder.mkdir()
    for split in ("train", "test"):
        (corpus / f"{split}.txt").write_text("A spear of ashwood.\n")
    (model / "model_card.json").write_text("{}")
    args = [arg.format(model=model) for arg in command]
    if command[0] != "package":
        args += ["--corpus", str(corpus)]
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "cat.jpg").write_text("x\n")
    some_file = tmp_path / "some_file"
    some_file.write_text("keep me\n")
    source = model if command[0] == "package" else corpus
    for out, message in (
        (photos, f"is no earlier {kind}"),
        (some_file, "is a file"),
        (source, "is the source"),
    ):
        result = CliRunner().invoke(soulsgen, [*args, "--out", str(out), "--home", str(tmp_path / "home")])
        assert result.exit_code in (1, 2), result.output  # 2: click's own check of a file given as a folder
        assert message in result.output, result.output
        assert "Traceback" not in result.output
    assert (photos / "cat.jpg").read_text() == "x\n" and some_file.read_text() == "keep me\n"
    assert sorted(path.name for path in source.iterdir()) == (
        ["model_card.json"] if source == model else ["test.txt", "train.txt"]
    )


def test_download_keeps_folders_of_other_files(tiny_game_text, tmp_path):
    assert _build(tiny_game_text, tmp_path / "corpus")[0] == 0
    store = ["--bucket", str(tmp_path / "store")]
    uploaded = CliRunner().invoke(
        soulsgen, ["upload", str(tmp_path / "corpus"), "--kind", "corpus", "--version", "v1", *store]
    )
    assert uploaded.exit_code == 0, uploaded.output
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "train.txt").write_text("my own notes\n")
    for kind in ("corpus", "model", "mar"):
        args = ["download", kind, "--out", str(photos), *store]
        result = CliRunner().invoke(soulsgen, args)
        assert result.exit_code == 1, result.output
        assert "is not empty (train.txt) and is no earlier" in _error_line(result.output)
    assert (photos / "train.txt").read_text() == "my own notes\n"
    fresh = CliRunner().invoke(soulsgen, ["download", "corpus", "--out", str(tmp_path / "got"), *store])
    assert fresh.exit_code == 0, fresh.output
    again = CliRunner().invoke(soulsgen, ["download", "corpus", "--out", str(tmp_path / "got"), *store])
    assert again.exit_code == 0, again.output


def _hidden(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if path.name.startswith("."))


def test_a_killed_build_leaves_no_temporary_folder_after_the_next_run(tmp_path):
    out = tmp_path / "corpus"
    assert _build(SAMPLE_DATA / "ds1", out)[0] == 0
    previous = _tree(out)
    # Kill -9 (as the OOM killer would) a rebuild as soon as its temporary folder exists.
    code = (
        "import sys; from pathlib import Path; from soulsgen_lib.corpus import CorpusOptions, build_corpus\n"
        "build_corpus([Path(sys.argv[1])], Path(sys.argv[2]), CorpusOptions(workers=2))"
    )
    build = subprocess.Popen([sys.executable, "-c", code, str(SAMPLE_DATA), str(out)], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    workers: list[psutil.Process] = []
    while not (_hidden(tmp_path) and workers) and build.poll() is None and time.monotonic() < deadline:
        workers = psutil.Process(build.pid).children(recursive=True)
        time.sleep(0.002)
    assert workers, "the build runs worker processes"
    build.send_signal(signal.SIGKILL)
    assert build.wait() == -signal.SIGKILL, "the build ended before it could be killed"
    assert _hidden(tmp_path), "the killed build left its temporary folder"
    assert _tree(out) == previous, "the earlier corpus is untouched"
    psutil.wait_procs(workers, timeout=10)
    assert not [worker for worker in workers if worker.is_running() and worker.status() != "zombie"], (
        "workers outlive a killed build"
    )

    assert _build(SAMPLE_DATA / "ds1", out)[0] == 0
    assert _hidden(tmp_path) == []
    assert _tree(out) == previous


def test_a_folder_being_written_is_not_stale(tmp_path):
    target = tmp_path / "corpus"
    with atomic_dir(target) as folder:
        (folder / "train.txt").write_text("x\n")
        assert remove_stale_temps(target) == [], "this process still holds it"
        holder = subprocess.Popen(
            [sys.executable, "-c", "import sys; from soulsgen_lib.atomic import atomic_dir\n"
             "with atomic_dir(sys.argv[1]) as folder: print(folder, flush=True); sys.stdin.read()", str(target)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        other = Path(holder.stdout.readline().strip())
        assert remove_stale_temps(target) == [] and other.is_dir(), "a live process holds it"
        holder.kill()
        holder.wait()
        assert remove_stale_temps(target) == [other]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["corpus"]


def test_a_run_killed_between_the_two_renames_gets_the_old_folder_back(tmp_path):
    target = tmp_path / "corpus"
    with atomic_dir(target) as folder:
        (folder / "train.txt").write_text("old\n")
    code = (
        "import os, signal, sys\n"
        "from soulsgen_lib.atomic import atomic_dir\n"
        "rename = os.replace\n"
        "def replace_then_die(source, destination):\n"
        "    rename(source, destination)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "with atomic_dir(sys.argv[1]) as folder:\n"
        "    (folder / 'train.txt').write_text('new\\n')\n"
        "    os.replace = replace_then_die\n"
    )
    killed = subprocess.run([sys.executable, "-c", code, str(target)], check=False)
    assert killed.returncode == -signal.SIGKILL
    assert not target.exists(), "killed with the old folder moved aside"
    removed = remove_stale_temps(target)
    assert len(removed) == 2, "the new folder and the aside one"
    assert (target / "train.txt").read_text() == "old\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["corpus"]


def test_stale_file_temps_are_removed_on_the_next_write(tmp_path, monkeypatch):
    target = tmp_path / "checkpoint.pt"
    code = (
        "import os, signal, sys\n"
        "from soulsgen_lib.atomic import atomic_path\n"
        "with atomic_path(sys.argv[1]) as tmp:\n"
        "    tmp.write_bytes(b'half')\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    assert subprocess.run([sys.executable, "-c", code, str(target)], check=False).returncode == -signal.SIGKILL
    assert len(_hidden(tmp_path)) == 1
    write_bytes_atomic(target, b"whole")
    assert _hidden(tmp_path) == [] and target.read_bytes() == b"whole"
    monkeypatch.chdir(tmp_path)  # a relative target is cleaned the same way
    shutil.copy(target, tmp_path / ".checkpoint.pt.abcdefgh.tmp")
    write_bytes_atomic("checkpoint.pt", b"again")
    assert _hidden(tmp_path) == []
