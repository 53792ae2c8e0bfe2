"""tools/make_sample_data.py writes the committed sample_data/ byte for byte, and nothing else it did not write."""

import subprocess
import sys

from fixtures_corpus import SAMPLE_DATA

TOOL = SAMPLE_DATA.parent / "tools" / "make_sample_data.py"


def _tree(folder):
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def _run(*args):
    return subprocess.run([sys.executable, str(TOOL), *map(str, args)], capture_output=True, text=True, timeout=300)


def test_the_tool_regenerates_sample_data_byte_for_byte(tmp_path):
    out = tmp_path / "sample"
    assert _run("--out", out).returncode == 0
    assert _tree(out) == _tree(SAMPLE_DATA)
    assert _run("--out", out).returncode == 0, "an earlier sample folder is replaced"
    assert _tree(out) == _tree(SAMPLE_DATA)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["sample"]


def test_the_tool_keeps_folders_it_did_not_write(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "cat.jpg").write_text("x\n")
    result = _run("--out", photos)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: {photos} is not empty (cat.jpg) and is no earlier sample data folder: "
        "choose a new or empty folder, or move those files away"
    ]
    assert (photos / "cat.jpg").read_text() == "x\n"
    assert _run("--bench-mb", "0.2", "--out", photos).returncode == 1
    assert _run("--bench-mb", "0.2", "--out", tmp_path / "bench").returncode == 0
    assert len(list((tmp_path / "bench").rglob("*.fmg.xml"))) >= 15
