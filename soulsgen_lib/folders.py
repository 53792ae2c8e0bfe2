"""The corpus folder and the model folder as types: each owns its file names, saving and loading.

A corpus folder is written by `soulsgen corpus build` and read by training and evaluation; a
model folder is written by training and read by generation, evaluation, packaging and serving.
Importing this module is cheap (torch is imported by the methods that read or write weights).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from soulsgen_lib.atomic import atomic_path, write_text_atomic
from soulsgen_lib.model.errors import ModelError

if TYPE_CHECKING:
    from collections import Counter

    import torch

    from soulsgen_lib.model.novelty import NoveltyIndex
    from soulsgen_lib.model.tokenizer import AnyTokenizer


@dataclass(frozen=True)
class CorpusFolder:
    """A corpus: train/test splits, the familiar-word counts and the manifest with the corpus hash."""

    path: Path

    TRAIN = "train.txt"
    TEST = "test.txt"
    WORDS = "words.txt"
    RECORDS = "corpus.jsonl"
    MANIFEST = "manifest.json"
    FILES = (TRAIN, TEST, WORDS, RECORDS, MANIFEST)

    @property
    def train_file(self) -> Path:
        return self.path / self.TRAIN

    @property
    def test_file(self) -> Path:
        return self.path / self.TEST

    @property
    def words_file(self) -> Path:
        return self.path / self.WORDS

    @property
    def manifest_file(self) -> Path:
        return self.path / self.MANIFEST

    def train_sentences(self) -> list[str]:
        from soulsgen_lib.model.data import read_sentences

        return read_sentences(self.train_file)

    def test_sentences(self) -> list[str]:
        from soulsgen_lib.model.data import read_sentences

        return read_sentences(self.test_file)

    def corpus_hash(self) -> str:
        """The manifest's corpus hash, or the hash of train.txt + test.txt when there is no manifest."""
        if self.manifest_file.is_file():
            with contextlib.suppress(ValueError, AttributeError):
                value = json.loads(self.manifest_file.read_text(encoding="utf-8")).get("corpus_hash")
                if isinstance(value, dict):
                    value = value.get("sha256")
                if value:
                    return str(value)
        digest = hashlib.sha256()
        for path in (self.train_file, self.test_file):
            if not path.is_file():
                raise ModelError(f"{path}: missing; point --corpus at a folder made by `soulsgen corpus build`")
            digest.update(path.read_bytes())
        return digest.hexdigest()


def write_word_counts(path: Path, counts: Counter[str]) -> None:
    """A words.txt: one `word<TAB>count` line per word, most frequent first."""
    write_text_atomic(path, "".join(f"{word}\t{count}\n" for word, count in counts.most_common()))


class EvaluationFolder:
    """The file names of an evaluation's outputs: the scorecard and its HTML report."""

    SCORECARD = "scorecard.json"
    REPORT = "report.html"


@dataclass(frozen=True)
class ModelFolder:
    """A trained model: weights, tokenizer, word lists, novelty index, metrics and the model card."""

    path: Path

    WEIGHTS = "model.pt"
    TOKENIZER = "tokenizer.json"
    WORDS = "words.txt"  # familiar words, for prompts
    CORPUS_WORDS = "corpus_words.txt"  # the words a sub-word model may spell (word-level models: empty)
    SOURCE = "source.json"  # the corpus the tokenizer was trained on, and how
    METRICS = "metrics.json"
    CARD = "model_card.json"
    NOVELTY_INDEX = "novelty_index.json"
    CHECKPOINT = "checkpoint.pt"
    METRICS_LOG = "metrics.jsonl"
    LOSS_CURVE = "loss_curve.png"
    CALIBRATION = "sampling_calibration.json"  # optional: sampling picked for the corpus by `evaluate --calibrate`
    # Optional (older folders lack it): the train split, which the decoder's class grammar is counted from.
    TRAIN_SENTENCES = "train_sentences.txt"
    # Everything a served model needs, all written by `train_model`.
    FILES = (WEIGHTS, TOKENIZER, WORDS, CORPUS_WORDS, SOURCE, METRICS, CARD, NOVELTY_INDEX)

    def file(self, name: str) -> Path:
        return self.path / name

    def missing(self) -> list[str]:
        """The files of `FILES` this folder lacks."""
        return [name for name in self.FILES if not (self.path / name).is_file()]

    def require_complete(self) -> None:
        missing = self.missing()
        if missing:
            raise ModelError(f"{self.path}: not a complete model folder, missing {', '.join(missing)}; train one")

    # The tokenizer and the corpus it was made from.
    def load_tokenizer(self) -> AnyTokenizer:
        from soulsgen_lib.model.tokenizer import load_tokenizer

        return load_tokenizer(self.path / self.TOKENIZER)

    def save_tokenizer(self, tokenizer: AnyTokenizer, source: dict[str, Any]) -> None:
        """The tokenizer and what it was trained from (corpus hash, kind, vocabulary limit)."""
        tokenizer.save(self.path / self.TOKENIZER)
        write_text_atomic(self.path / self.SOURCE, json.dumps(source, indent=2) + "\n")

    def source(self) -> dict[str, Any]:
        """What the folder's tokenizer was trained from; {} for a folder that does not record it."""
        path = self.path / self.SOURCE
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            raise ModelError(f"{path}: unreadable ({error}); train the model again") from None
        return value if isinstance(value, dict) else {}

    # Weights.
    def save_weights(self, payload: dict[str, Any]) -> None:
        import torch

        with atomic_path(self.path / self.WEIGHTS) as tmp:
            torch.save(payload, tmp)

    def load_weights(self, device: torch.device | str = "cpu") -> dict[str, Any]:
        return _load_torch(self.path / self.WEIGHTS, device, "train again")

    def save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        import torch

        with atomic_path(self.path / self.CHECKPOINT) as tmp:
            torch.save(checkpoint, tmp)

    def load_checkpoint(self, device: torch.device | str = "cpu") -> dict[str, Any]:
        path = self.path / self.CHECKPOINT
        if not path.is_file():
            raise ModelError(f"{path}: no checkpoint to resume from; train without --resume to start")
        return _load_torch(path, device, "train without --resume")

    # Word lists and the novelty index.
    def save_corpus_words(self, words: list[str]) -> None:
        write_text_atomic(self.path / self.CORPUS_WORDS, "".join(f"{word}\n" for word in words))

    def corpus_words(self) -> list[str]:
        path = self.path / self.CORPUS_WORDS
        return [line for line in path.read_text(encoding="utf-8").splitlines() if line]

    def save_train_sentences(self, sentences: list[str]) -> None:
        write_text_atomic(self.path / self.TRAIN_SENTENCES, "".join(f"{sentence}\n" for sentence in sentences))

    def train_sentences(self) -> list[str] | None:
        """The train split's sentences; None for a folder trained before they were kept."""
        path = self.path / self.TRAIN_SENTENCES
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as error:
            raise ModelError(f"{path}: unreadable ({error}); train the model again") from None
        return [line for line in text.splitlines() if line]

    def save_novelty(self, index: NoveltyIndex) -> None:
        index.save(self.path / self.NOVELTY_INDEX)

    def load_novelty(self) -> NoveltyIndex:
        from soulsgen_lib.model.novelty import NoveltyIndex

        return NoveltyIndex.load(self.path / self.NOVELTY_INDEX)

    # Metrics and the model card.
    def save_metrics(self, metrics: dict[str, Any]) -> None:
        write_text_atomic(self.path / self.METRICS, json.dumps(metrics, indent=2) + "\n")

    def save_card(self, card: dict[str, Any]) -> None:
        write_text_atomic(self.path / self.CARD, json.dumps(card, indent=2) + "\n")

    def card(self) -> dict[str, Any]:
        path = self.path / self.CARD
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ModelError(f"{path}: unreadable model card ({error}); train the model again") from None
        if not isinstance(value, dict):
            raise ModelError(f"{path}: the model card is not a JSON object; train the model again")
        return value


def _load_torch(path: Path, device: torch.device | str, fix: str) -> dict[str, Any]:
    import torch

    try:
        value = torch.load(path, map_location=device, weights_only=False)
    except Exception as error:  # torch raises many types for a truncated or foreign file
        raise ModelError(f"{path}: unreadable ({type(error).__name__}); {fix}") from None
    if not isinstance(value, dict):
        raise ModelError(f"{path}: not a SoulsGen weights file; {fix}")
    return value
