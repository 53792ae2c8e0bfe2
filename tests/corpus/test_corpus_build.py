import hashlib
import json
import os

import pytest
from click.testing import CliRunner
from fixtures_corpus import SAMPLE_DATA, write_table

from soulsgen_lib.cli import main as soulsgen
from soulsgen_lib.corpus import CORPUS_FILES, MANIFEST, CorpusError, CorpusOptions, build_corpus


def _rows(corpus):
    return [json.loads(line) for line in (corpus / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]


def _lines(path):
    return path.read_text(encoding="utf-8").splitlines()


def test_tiny_build_links_collapses_joins_and_filters(tiny_game_text, tmp_path):
    out = tmp_path / "corpus"
    summary = build_corpus([tiny_game_text], out)
    rows = _rows(out)
    spear = [row for row in rows if row["item"] == "Ashwood Spear"]
    assert [row["sentence"] for row in spear] == [
        "A spear of ashwood, carried by the wardens of the fen.",
        "It still smells of rain and smoke.",
    ]
    assert spear[0]["ids"] == [100, 101, 102]
    rod = [row for row in rows if row["item"] == "Pale Rod"]
    assert [row["sentence"] for row in rod] == ["A rod of pale silver that hums when the moon is near."]
    dialogue = [row["sentence"] for row in rows if row["kind"] == "dialogue"]
    assert dialogue == [
        "Ahh, a visitor... the first in many years.",
        "And beyond the old gate, the wardens keep their silent watch.",
    ]
    assert not any("Quit" in row["sentence"] for row in rows)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    rules = manifest["rules"]
    assert rules["entries_removed"]["null_marker"] == 1
    assert rules["entries_removed"]["identical_variant"] == 2
    assert rules["sentences_removed"]["other_script"] == 1
    assert rules["entries_edited"]["dialogue_join"] == 1
    assert rules["entries_edited"]["label_line"] == 1
    assert rules["entries_edited"]["upgrade_suffix"] == 2
    assert summary.sentences == len(rows) == len(_lines(out / "train.txt")) + len(_lines(out / "test.txt"))
    assert summary.test_sentences > 0, "a tiny corpus still gets one test entry"
    assert [entry["sha256"] for entry in manifest["inputs"]] == [
        hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(tiny_game_text.iterdir())
    ]


def test_manifest_hash_covers_the_corpus_files_and_builds_are_deterministic(tiny_game_text, tmp_path):
    first = build_corpus([tiny_game_text], tmp_path / "a")
    second = build_corpus([tiny_game_text], tmp_path / "b")
    assert first.corpus_hash == second.corpus_hash
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text(encoding="utf-8"))
    for name in CORPUS_FILES:
        assert manifest["files"][name] == hashlib.sha256((tmp_path / "a" / name).read_bytes()).hexdigest()
    listing = "".join(f"{name} {digest}\n" for name, digest in sorted(manifest["files"].items()))
    assert manifest["corpus_hash"] == hashlib.sha256(listing.encode()).hexdigest() == first.corpus_hash


def test_boilerplate_is_kept_once_above_the_threshold(tmp_path):
    shared = "Equip two kinds of bolts at once and switch between them."
    entries = [(i, f"Bolt number {i} of the old wardens. {shared}") for i in range(5)]
    write_table(tmp_path / "game", "Item_description_", entries)
    build_corpus([tmp_path / "game"], tmp_path / "kept_once", CorpusOptions(boilerplate_threshold=3))
    sentences = [row["sentence"] for row in _rows(tmp_path / "kept_once")]
    assert sentences.count(shared) == 1
    assert len(sentences) == 6
    build_corpus([tmp_path / "game"], tmp_path / "kept_all", CorpusOptions(boilerplate_threshold=6))
    assert [row["sentence"] for row in _rows(tmp_path / "kept_all")].count(shared) == 5


def test_captions_that_do_not_end_like_a_sentence_are_dropped_unless_kept(tmp_path):
    entries = [
        (1, "Raises physical attack power"),
        (2, "A blade of the drowned archive. Its edge still hums (faintly)"),
        (3, "“Who goes there?”"),
    ]
    write_table(tmp_path / "game", "Item_description_", entries)
    build_corpus([tmp_path / "game"], tmp_path / "sentences")
    assert sorted(row["sentence"] for row in _rows(tmp_path / "sentences")) == [
        "A blade of the drowned archive.",
        "“Who goes there?”",
    ]
    manifest = json.loads((tmp_path / "sentences" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["rules"]["sentences_removed"]["fragment"] == 2
    build_corpus([tmp_path / "game"], tmp_path / "all", CorpusOptions(keep_fragments=True))
    assert len(_rows(tmp_path / "all")) == 4


def test_split_is_by_entry_and_follows_the_fraction(tmp_path):
    entries = [(i, f"Entry {i} tells a tale. It has a second sentence too.") for i in range(400)]
    write_table(tmp_path / "game", "Item_long_desc_", entries)
    build_corpus([tmp_path / "game"], tmp_path / "corpus", CorpusOptions(test_fraction=0.1))
    splits: dict[int, set[str]] = {}
    for row in _rows(tmp_path / "corpus"):
        splits.setdefault(row["ids"][0], set()).add(row["split"])
    assert all(len(sides) == 1 for sides in splits.values())
    test_entries = sum("test" in sides for sides in splits.values())
    assert 20 <= test_entries <= 60
    build_corpus([tmp_path / "game"], tmp_path / "none", CorpusOptions(test_fraction=0.0))
    assert _lines(tmp_path / "none" / "test.txt") == []


def test_no_test_sentence_is_also_a_train_sentence(tmp_path):
    shared = "Restores a little of the bearer's strength."  # in two entries: below the boilerplate threshold
    entries = [(i, f"Entry {i} tells a tale." + (f" {shared}" if i % 2 else "")) for i in range(400)]
    write_table(tmp_path / "game", "Item_long_desc_", entries)
    build_corpus([tmp_path / "game"], tmp_path / "corpus", CorpusOptions(test_fraction=0.1, boilerplate_threshold=1000))
    train, test = _lines(tmp_path / "corpus" / "train.txt"), _lines(tmp_path / "corpus" / "test.txt")
    assert shared in train and shared not in test
    assert not set(test) & set(train)
    test_entries_with_it = sum(row["split"] == "test" and row["ids"][0] % 2 == 1 for row in _rows(tmp_path / "corpus"))
    manifest = json.loads((tmp_path / "corpus" / "manifest.json").read_text(encoding="utf-8"))
    assert (
        test_entries_with_it > 0
        and manifest["rules"]["sentences_removed"]["held_out_duplicate"] == test_entries_with_it
    )


def test_unknown_tables_are_left_out_unless_included(tmp_path):
    write_table(tmp_path / "game", "Chronicle_", [(1, "A chronicle of the drowned archive.")])
    write_table(tmp_path / "game", "Event_text_", [(1, "The seal holds this door shut.")])
    summary = build_corpus([tmp_path / "game"], tmp_path / "out")
    assert summary.unknown_tables == ["Chronicle_"]
    assert summary.sentences == 1
    summary = build_corpus([tmp_path / "game"], tmp_path / "out", CorpusOptions(include_tables=("Chronicle_",)))
    assert summary.sentences == 2 and summary.unknown_tables == []


def test_malformed_file_fails_the_build_and_keeps_the_previous_corpus(tiny_game_text, tmp_path):
    out = tmp_path / "corpus"
    previous = build_corpus([tiny_game_text], out)
    (tiny_game_text / "Item_long_desc_.fmg.xml").write_text('<fmg>\n<entries>\n<text id="1">oops</entries>\n')
    with pytest.raises(CorpusError, match=r"Item_long_desc_\.fmg\.xml:3: malformed XML"):
        build_corpus([tiny_game_text], out)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["corpus_hash"] == previous.corpus_hash
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temporary folder left behind"
    summary = build_corpus([tiny_game_text], out, CorpusOptions(skip_bad=True))
    assert len(summary.skipped) == 1 and "Item_long_desc_" in summary.skipped[0]
    assert summary.sentences == previous.sentences


def test_cli_build_exit_codes_and_inspect(tiny_game_text, tmp_path):
    runner = CliRunner()
    out = tmp_path / "corpus"
    result = runner.invoke(soulsgen, ["corpus", "build", str(tiny_game_text), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "sentences from" in result.output
    (tiny_game_text / "Bad_.fmg.xml").write_text("<fmg><entries>")
    result = runner.invoke(soulsgen, ["corpus", "build", str(tiny_game_text), "--out", str(out), "--quiet"])
    assert result.exit_code == 1
    assert "Bad_.fmg.xml:1" in result.output and "Traceback" not in result.output
    result = runner.invoke(
        soulsgen, ["corpus", "build", str(tiny_game_text), "--out", str(out), "--quiet", "--skip-bad"]
    )
    assert result.exit_code == 0, result.output
    report = tmp_path / "report.html"
    result = runner.invoke(soulsgen, ["corpus", "inspect", str(out), "--out", str(report)])
    assert result.exit_code == 0, result.output
    assert "sentences" in result.output and "en_core_web_sm" in result.output
    assert "data:image/png;base64," in report.read_text(encoding="utf-8")


def test_sample_data_meets_the_brief(tmp_path):
    summary = build_corpus([SAMPLE_DATA], tmp_path / "corpus")
    sentences = _lines(tmp_path / "corpus" / "train.txt") + _lines(tmp_path / "corpus" / "test.txt")
    assert summary.entries >= 1500
    assert len(set(sentences)) >= 3000
    assert summary.unknown_tables == ["Chronicle_of_the_unknown_"]
    rows = _rows(tmp_path / "corpus")
    lines = (tmp_path / "corpus" / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    assert lines == [json.dumps(row, ensure_ascii=False) for row in rows], "written as json.dumps writes them"
    assert {row["game"] for row in rows} == {"ds1", "ds2", "ds3"}
    tables = {row["table"] for row in rows}
    assert {"Weapon_long_desc_", "武器うんちく", "会話", "Conversation_"} <= tables, "XML, loose FMG and DCX binder"
    manifest = json.loads((tmp_path / "corpus" / "manifest.json").read_text(encoding="utf-8"))
    for rule in ("null_marker", "identical_variant"):
        assert manifest["rules"]["entries_removed"][rule] > 0
    for rule in ("boilerplate", "other_script", "too_short"):
        assert manifest["rules"]["sentences_removed"][rule] > 0
    for rule in ("markup", "label_line", "upgrade_suffix", "scroll_prefix", "dialogue_join"):
        assert manifest["rules"]["entries_edited"][rule] > 0
    assert sum(path.stat().st_size for path in SAMPLE_DATA.rglob("*") if path.is_file()) < 5 * 2**20
    words = [line.split("\t") for line in _lines(tmp_path / "corpus" / "words.txt")]
    counts = [int(count) for _, count in words]
    assert counts == sorted(counts, reverse=True) and all(word.isalpha() for word, _ in words)


def test_sample_corpus_fixture(sample_corpus_dir):
    for name in (*CORPUS_FILES, "manifest.json"):
        assert (sample_corpus_dir / name).is_file()
    assert len(_lines(sample_corpus_dir / "train.txt")) > 1000
    assert _lines(sample_corpus_dir / "test.txt")


def test_output_does_not_depend_on_hash_seed(tiny_game_text, tmp_path):
    import subprocess
    import sys

    code = (
        "import sys; from pathlib import Path; from soulsgen_lib.corpus import build_corpus; "
        "print(build_corpus([Path(sys.argv[1])], Path(sys.argv[2])).corpus_hash)"
    )
    hashes = set()
    for seed in ("1", "2"):
        result = subprocess.run(
            [sys.executable, "-c", code, str(tiny_game_text), str(tmp_path / seed)],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
            check=True,
        )
        hashes.add(result.stdout.strip())
    assert len(hashes) == 1


def test_dialogue_with_menu_words_and_colons_is_kept(tmp_path):
    lines = [(1, "The menu of the old inn: bread, ash and regret."), (2, "I offer my service to the Lord of Cinder.")]
    write_table(tmp_path / "game", "Conversation_", lines)
    build_corpus([tmp_path / "game"], tmp_path / "corpus")
    assert [row["sentence"] for row in _rows(tmp_path / "corpus")] == [text for _, text in lines]


def test_output_does_not_depend_on_the_number_of_workers_or_how_they_start(tmp_path, monkeypatch):
    from soulsgen_lib.corpus import workers as worker_processes

    built = {}
    for workers, threads, start_method in ((1, 1, None), (2, 1, "fork"), (2, 3, "forkserver")):
        # Beside other threads (as in an Airflow task) workers come from a fork server, not a fork.
        monkeypatch.setattr(worker_processes.threading, "active_count", lambda threads=threads: threads)
        if start_method:
            assert worker_processes.pool_context().get_start_method() == start_method
        out = tmp_path / f"workers-{workers}-{threads}"
        summary = build_corpus([SAMPLE_DATA / "ds1"], out, CorpusOptions(workers=workers, progress=False))
        assert summary.workers == workers
        built[start_method] = {path.name: path.read_bytes() for path in sorted(out.iterdir())}
    assert built[None] == built["fork"] == built["forkserver"]
    assert set(built[None]) == {*CORPUS_FILES, MANIFEST}


def test_build_refuses_to_replace_a_folder_of_published_versions(tiny_game_text, tmp_path):
    store_corpus = tmp_path / "home" / "corpus"
    (store_corpus / "v1").mkdir(parents=True)
    (store_corpus / "v1" / "train.txt").write_text("Kept.\n")
    (store_corpus / "latest").write_text("v1\n")
    with pytest.raises(CorpusError, match="published corpus versions"):
        build_corpus([tiny_game_text], store_corpus)
    assert (store_corpus / "v1" / "train.txt").read_text() == "Kept.\n"


def test_cli_default_output_is_a_work_folder_apart_from_the_store(tiny_game_text, tmp_path):
    home = tmp_path / "home"
    result = CliRunner().invoke(
        soulsgen, ["corpus", "build", str(tiny_game_text), "--quiet"], env={"SOULSGEN_HOME": str(home)}
    )
    assert result.exit_code == 0, result.output
    assert (home / "work" / "corpus" / "train.txt").is_file()
    assert not (home / "corpus").exists()
