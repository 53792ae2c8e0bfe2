import os

import pytest

from soulsgen_lib.atomic import atomic_dir, atomic_path, write_text_atomic


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "card.json"
    write_text_atomic(target, "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["card.json"]


def test_files_and_folders_get_the_umask_mode_not_mkstemp_0600(tmp_path):
    mask = os.umask(0o022)
    os.umask(mask)
    target = tmp_path / "words.txt"
    write_text_atomic(target, "ash\t3\n")
    with atomic_dir(tmp_path / "corpus") as folder:
        (folder / "train.txt").write_text("x\n")
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask
    assert (tmp_path / "corpus").stat().st_mode & 0o777 == 0o777 & ~mask


def test_atomic_dir_replaces_whole_folder_or_nothing(tmp_path):
    target = tmp_path / "corpus"
    with atomic_dir(target) as folder:
        (folder / "a.txt").write_text("first")
    with pytest.raises(ValueError), atomic_dir(target) as folder:
        (folder / "b.txt").write_text("second")
        raise ValueError("bad input")
    assert sorted(p.name for p in target.iterdir()) == ["a.txt"]
    with atomic_dir(target) as folder:
        (folder / "b.txt").write_text("second")
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus"]
