"""The corpus and model folders as types: file names, hashes and clear errors for damaged files."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest

from soulsgen_lib.folders import CorpusFolder, ModelFolder
from soulsgen_lib.model import ModelError
from soulsgen_lib.model.generate import Generator


def test_the_corpus_hash_is_the_manifests_or_the_splits(tmp_path, model_corpus_dir):
    assert CorpusFolder(model_corpus_dir).corpus_hash() == "toy-0-400-60"
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in (CorpusFolder.TRAIN, CorpusFolder.TEST):
        shutil.copyfile(model_corpus_dir / name, bare / name)
    expected = hashlib.sha256((bare / "train.txt").read_bytes() + (bare / "test.txt").read_bytes()).hexdigest()
    assert CorpusFolder(bare).corpus_hash() == expected
    (bare / "test.txt").unlink()
    with pytest.raises(ModelError, match=r"test\.txt: missing"):
        CorpusFolder(bare).corpus_hash()


def test_a_model_folder_lists_what_it_lacks_and_names_damaged_files(tmp_path, tiny_model_dir):
    folder = ModelFolder(tmp_path / "m")
    shutil.copytree(tiny_model_dir, folder.path)
    assert folder.missing() == []
    assert json.loads(folder.file(ModelFolder.SOURCE).read_text())["kind"] == "word"
    assert folder.corpus_words() == []  # a word-level model spells no words piece by piece

    folder.file(ModelFolder.WEIGHTS).write_bytes(b"not a torch file")
    with pytest.raises(ModelError, match=r"model\.pt: unreadable \(.*\); train again"):
        Generator.load(folder.path)
    folder.file(ModelFolder.CARD).write_text("[1, 2]")
    with pytest.raises(ModelError, match="not a JSON object"):
        folder.card()
    folder.file(ModelFolder.TRAIN_SENTENCES).write_bytes(b"\xff\xfe broken")
    with pytest.raises(ModelError, match=r"train_sentences\.txt: unreadable"):
        folder.train_sentences()
    folder.file(ModelFolder.TRAIN_SENTENCES).unlink()
    assert folder.train_sentences() is None  # optional: older folders decode without the grammar
    folder.file(ModelFolder.SOURCE).write_text("{broken")
    with pytest.raises(ModelError, match=r"source\.json: unreadable"):
        folder.source()
    folder.file(ModelFolder.CORPUS_WORDS).unlink()
    with pytest.raises(ModelError, match=r"missing corpus_words\.txt"):
        folder.require_complete()


def test_a_subword_model_without_its_corpus_words_is_refused(tmp_path, tiny_subword_model_dir):
    folder = ModelFolder(tmp_path / "m")
    shutil.copytree(tiny_subword_model_dir, folder.path)
    assert len(folder.corpus_words()) > 10
    folder.file(ModelFolder.CORPUS_WORDS).write_text("")
    with pytest.raises(ModelError, match=r"corpus_words\.txt: a sub-word model needs its corpus words"):
        Generator.load(folder.path)
