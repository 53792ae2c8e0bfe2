"""How many distinct entries hold each sentence, in fixed memory whatever the input size (boilerplate detection)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


class SentenceCounter:
    """A count-min sketch: two rows of saturating byte counters indexed by a stable hash.

    It can overcount (a sentence sharing both cells with others), never undercount, and gives the same answer on
    every run.
    """

    WIDTH_BITS = 22
    _MASK = (1 << WIDTH_BITS) - 1

    def __init__(self) -> None:
        self.rows = (bytearray(1 << self.WIDTH_BITS), bytearray(1 << self.WIDTH_BITS))

    @staticmethod
    def key(sentence: str) -> int:
        """The sentence's stable 64-bit hash: computed once in the first pass, kept for the second."""
        return int.from_bytes(hashlib.blake2b(sentence.encode("utf-8"), digest_size=8).digest(), "little")

    def add(self, keys: Iterable[int]) -> None:
        """Count one more entry for each key (a sentence's `key`)."""
        first, second, mask = *self.rows, self._MASK
        for key in keys:
            if first[key & mask] < 255:
                first[key & mask] += 1
            if second[(key >> 32) & mask] < 255:
                second[(key >> 32) & mask] += 1

    def counts(self, keys: list[int]) -> list[int]:
        """How many entries hold each key's sentence (never fewer than the truth)."""
        first, second, mask = *self.rows, self._MASK
        return [min(first[key & mask], second[(key >> 32) & mask]) for key in keys]
