"""Is a generated sentence new? An n-gram index over the training sentences answers without a scan.

A sentence is a copy when its words equal a training sentence's, and a near-copy when its longest
run of words shared with ONE training sentence covers `near_copy_ratio` (70%) of it or more. A run
of m >= 3 shared words contains m - 2 consecutive shared trigrams, so only training sentences that
hold that many of the sentence's trigrams are compared word by word.
"""

from __future__ import annotations

import itertools
import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from soulsgen_lib.atomic import write_text_atomic
from soulsgen_lib.model.data import is_word, split_words
from soulsgen_lib.model.errors import ModelError
from soulsgen_lib.model.filters import NEAR_COPY_RATIO

_FORMAT = "soulsgen-novelty-1"


def sentence_words(text: str) -> tuple[str, ...]:
    """Case-folded words of a sentence, punctuation left out: the unit novelty is measured in."""
    return tuple(token.casefold() for token in split_words(text) if is_word(token))


def longest_common_run(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest run of consecutive words that `a` and `b` share."""
    best = 0
    previous = [0] * (len(b) + 1)
    for word in a:
        current = [0] * (len(b) + 1)
        for j, other in enumerate(b, start=1):
            if word == other:
                current[j] = previous[j - 1] + 1
                best = max(best, current[j])
        previous = current
    return best


class NoveltyIndex:
    """Trigram postings of the training sentences plus their unigrams, bigrams and full word tuples."""

    def __init__(self, sentences: Iterable[Sequence[str]]) -> None:
        self.sentences: list[tuple[str, ...]] = [tuple(words) for words in sentences]
        self.whole = set(self.sentences)
        self.unigrams: set[str] = set()
        self.bigrams: set[tuple[str, str]] = set()
        self.postings: dict[tuple[str, str, str], list[int]] = {}
        for number, words in enumerate(self.sentences):
            self.unigrams.update(words)
            self.bigrams.update(itertools.pairwise(words))
            for trigram in set(zip(words, words[1:], words[2:], strict=False)):
                self.postings.setdefault(trigram, []).append(number)

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> NoveltyIndex:
        return cls(sentence_words(text) for text in texts)

    def longest_shared_run(self, words: Sequence[str], at_least: int = 3) -> int:
        """Longest run of `words` inside one training sentence; exact whenever it is >= `at_least`."""
        words = tuple(words)
        best = int(any(word in self.unigrams for word in words))
        if best and any(pair in self.bigrams for pair in itertools.pairwise(words)):
            best = 2
        hits: Counter[int] = Counter()
        for trigram in set(zip(words, words[1:], words[2:], strict=False)):
            hits.update(self.postings.get(trigram, ()))
        needed = max(1, at_least - 2)  # trigrams a sentence must share to hold a run of `at_least` words
        for number, count in hits.items():
            if count >= needed:
                best = max(best, longest_common_run(words, self.sentences[number]))
        return best

    def is_copy(self, text: str) -> bool:
        """Whether `text` has the words of a training sentence."""
        return sentence_words(text) in self.whole

    def is_near_copy(self, text: str, near_copy_ratio: float = NEAR_COPY_RATIO) -> bool:
        """Whether one run of `text`'s words shared with a training sentence covers `near_copy_ratio` of it."""
        words = sentence_words(text)
        if not words:
            return False
        needed = math.ceil(near_copy_ratio * len(words) - 1e-9)
        return self.longest_shared_run(words, at_least=needed) >= needed

    def problem(self, text: str, near_copy_ratio: float = NEAR_COPY_RATIO) -> str | None:
        """ "copy", "near_copy" or None for a new sentence."""
        if not sentence_words(text):
            return None
        if self.is_copy(text):
            return "copy"
        return "near_copy" if self.is_near_copy(text, near_copy_ratio) else None

    def save(self, path: Path) -> None:
        payload = {"format": _FORMAT, "sentences": [" ".join(words) for words in self.sentences]}
        write_text_atomic(path, json.dumps(payload, ensure_ascii=False))

    @classmethod
    def load(cls, path: Path) -> NoveltyIndex:
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ModelError(f"{path}: novelty index unreadable ({error}); train the model again") from None
        if payload.get("format") != _FORMAT:
            raise ModelError(f"{path}: not a {_FORMAT} file; train the model again")
        return cls(sentence.split(" ") if sentence else () for sentence in payload["sentences"])
