"""Model-stage fixtures: a toy corpus of our own sentences and a tiny model trained on it in seconds.

`tiny_model_dir` (session scope) is a complete model folder (`MODEL_FILES`) for any stage's tests.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

_SUBJECTS = [
    "The old knight",
    "A pale witch",
    "The hollow king",
    "My sister",
    "The blind smith",
    "A lost pilgrim",
    "The drowned bell",
    "Your shadow",
    "The ember queen",
    "A tired giant",
    "The last archer",
    "The grey hound",
]
_VERBS = [
    "guards",
    "forgets",
    "carries",
    "buries",
    "mourns",
    "seeks",
    "burns",
    "keeps",
    "remembers",
    "follows",
]
_OBJECTS = [
    "a broken lantern",
    "the silver key",
    "an empty crown",
    "the iron door",
    "a cold promise",
    "the moth wings",
    "a cracked shield",
    "the ash of dawn",
    "a quiet song",
    "the frozen river",
    "an old map",
    "the red thread",
]
_PLACES = [
    "beneath the tower",
    "in the salt marsh",
    "beyond the bridge",
    "under a dead moon",
    "near the chapel",
    "at the end of the road",
    "inside the well",
    "across the glass sea",
    "within the silent wood",
]
_ENDINGS = [".", ".", ".", "!", "...", "?"]


def toy_sentences(count: int, seed: int) -> list[str]:
    """Original sentences from a small grammar: varied enough that a model can write new ones."""
    rng = random.Random(seed)
    sentences = []
    while len(sentences) < count:
        subject, verb, obj = rng.choice(_SUBJECTS), rng.choice(_VERBS), rng.choice(_OBJECTS)
        shape = rng.randrange(4)
        if shape == 0:
            text = f"{subject} {verb} {obj} {rng.choice(_PLACES)}{rng.choice(_ENDINGS)}"
        elif shape == 1:
            text = f"{subject} {verb} {obj}, and {rng.choice(_SUBJECTS).lower()} {rng.choice(_VERBS)} it."
        elif shape == 2:
            text = f'"{subject} {verb} {obj}," said {rng.choice(_SUBJECTS).lower()}.'
        else:
            text = f"{rng.choice(_PLACES).capitalize()}, {subject.lower()} {verb} {obj}{rng.choice(_ENDINGS)}"
        sentences.append(text)
    return sentences


def write_toy_corpus(folder: Path, train: int = 400, test: int = 60, seed: int = 0) -> Path:
    """A corpus folder as `soulsgen corpus build` writes it (train/test/words/manifest)."""
    folder.mkdir(parents=True, exist_ok=True)
    train_sentences = toy_sentences(train, seed)
    test_sentences = toy_sentences(test, seed + 1)
    (folder / "train.txt").write_text("\n".join(train_sentences) + "\n", encoding="utf-8")
    (folder / "test.txt").write_text("\n".join(test_sentences) + "\n", encoding="utf-8")
    counts = Counter(word.strip('.,!?"').lower() for line in train_sentences for word in line.split())
    familiar = [(word, n) for word, n in counts.most_common() if len(word) > 3]
    (folder / "words.txt").write_text("".join(f"{w}\t{n}\n" for w, n in familiar), encoding="utf-8")
    (folder / "manifest.json").write_text(json.dumps({"corpus_hash": f"toy-{seed}-{train}-{test}"}), encoding="utf-8")
    return folder


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Tiny models train fastest on one thread, above all on a busy machine; restore the setting after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    with torch_threads(1):
        yield


@pytest.fixture(scope="session")
def model_corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_toy_corpus(tmp_path_factory.mktemp("model_corpus"))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory, model_corpus_dir: Path) -> Path:
    """A complete model folder: the `tiny` preset trained for a few seconds on the toy corpus."""
    from soulsgen_lib.model.train import train_model

    out = tmp_path_factory.mktemp("tiny_model") / "model"
    with torch_threads(1):
        train_model(model_corpus_dir, out, preset="tiny", steps=120, seed=0, progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_subword_model_dir(tmp_path_factory: pytest.TempPathFactory, model_corpus_dir: Path) -> Path:
    """`tiny_model_dir` with the sub-word tokenizer: few enough pieces that most words take several.

    A toy sentence takes 31 pieces on average, so the block is 64 and training runs long enough for
    the model to learn to end: at 32 pieces and 120 steps only a quarter of its drafts ended, and
    whether 12 requests all passed within their rounds hung on the machine's float rounding.
    """
    from soulsgen_lib.model.train import train_model

    out = tmp_path_factory.mktemp("tiny_subword_model") / "model"
    overrides = {"tokenizer": "subword", "max_vocab": 120, "block_size": 64}
    with torch_threads(1):
        train_model(model_corpus_dir, out, preset="tiny", steps=300, seed=0, overrides=overrides, progress=False)
    return out


def rule_tagger():
    """A real spaCy pipeline whose tagger is rules (an attribute ruler): no trained model to install.

    Rules added later win: every word a noun, "-s" words verbs, then the toy grammar's determiners,
    prepositions and conjunctions, then punctuation. Coarse (UPOS) and fine (Penn) tags both set.
    """
    import spacy

    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("attribute_ruler")
    ruler.add([[{"IS_ALPHA": True}]], {"POS": "NOUN", "TAG": "NN"})
    ruler.add([[{"LOWER": {"REGEX": "[a-z]{3,}s$"}}]], {"POS": "VERB", "TAG": "VBZ"})
    ruler.add([[{"LOWER": {"IN": ["the", "a", "an", "my", "your"]}}]], {"POS": "DET", "TAG": "DT"})
    ruler.add(
        [[{"LOWER": {"IN": ["of", "in", "under", "near", "at", "inside", "across", "within"]}}]],
        {"POS": "ADP", "TAG": "IN"},
    )
    ruler.add([[{"LOWER": {"IN": ["beneath", "beyond"]}}]], {"POS": "ADP", "TAG": "IN"})
    ruler.add([[{"LOWER": {"IN": ["and", "but", "or"]}}]], {"POS": "CCONJ", "TAG": "CC"})
    ruler.add([[{"IS_PUNCT": True}]], {"POS": "PUNCT", "TAG": "."})
    return nlp


def word_salad(sentences: list[str], seed: int = 0) -> list[str]:
    """The same words in random order: real vocabulary, no grammar."""
    rng = random.Random(seed)
    salad = []
    for sentence in sentences:
        words = sentence.split()
        rng.shuffle(words)
        salad.append(" ".join(words))
    return salad
