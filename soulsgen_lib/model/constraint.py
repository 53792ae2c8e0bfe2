"""Decoding constrained to the corpus's words: how a sub-word model is kept from inventing words.

A row's state is the word it is spelling so far. A piece that continues that word (`##...`) is
allowed while the longer spelling still starts some corpus word; a piece that starts a new word,
or the end token, only once the spelling is a whole corpus word. Masks are cached per partial
word, so each spelling costs one pass over the vocabulary, once.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from functools import lru_cache

import torch

from soulsgen_lib.model.errors import ModelError
from soulsgen_lib.model.tokenizer import SPECIAL_TOKENS, SubwordTokenizer

_CACHED_SPELLINGS = 16384  # a few thousand are enough for a game's vocabulary; this bounds memory


class WordConstraint:
    """Which sub-word pieces may come next, given the word a row has spelled so far."""

    def __init__(self, tokenizer: SubwordTokenizer, words: Iterable[str]) -> None:
        self.words = frozenset(unicodedata.normalize("NFC", word) for word in words)
        self.prefixes = {word[:end] for word in self.words for end in range(1, len(word) + 1)}
        size = tokenizer.vocab_size
        self._pieces = [tokenizer.piece_text(i) for i in range(size)]
        self._continues = [tokenizer.is_continuation(i) for i in range(size)]
        self._eos_id = tokenizer.eos_id
        self._special = set(range(len(SPECIAL_TOKENS)))
        self._word_starts = torch.tensor(
            [
                i not in self._special and not self._continues[i] and self._pieces[i] in self.prefixes
                for i in range(size)
            ],
            dtype=torch.bool,
        )
        self._continuations = [(i, self._pieces[i]) for i in range(size) if self._continues[i]]
        # After a whole word (the end of a prompt): a new word or the end, never a longer word.
        self.between_words = self._word_starts.clone()
        self.between_words[self._eos_id] = True
        self.allowed = lru_cache(maxsize=_CACHED_SPELLINGS)(self._allowed)

    def _allowed(self, spelled: str) -> torch.Tensor:
        """A boolean mask over the vocabulary for a row whose current word is `spelled` ("" at the start)."""
        if not spelled:
            return self._word_starts
        complete = spelled in self.words
        mask = self._word_starts.clone() if complete else torch.zeros_like(self._word_starts)
        mask[self._eos_id] = complete
        for token_id, piece in self._continuations:
            if spelled + piece in self.prefixes:
                mask[token_id] = True
        if not mask.any():  # cannot happen with words from `SubwordTokenizer.spelled_words`
            raise ModelError(f"no piece continues {spelled!r}: the model's words do not fit its tokenizer; train again")
        return mask

    def advance(self, spelled: str, token_id: int) -> str:
        """The spelling after `token_id` is written."""
        if token_id in self._special:
            return ""
        return spelled + self._pieces[token_id] if self._continues[token_id] else self._pieces[token_id]

    def whole_words(self, ids: list[int]) -> list[int]:
        """`ids` without a trailing unfinished word (a row cut off by a length limit mid-word)."""
        end = len(ids)
        while end and self._continues[ids[end - 1]]:
            end -= 1
        word_start = end - 1 if end else 0
        return ids if "".join(self._pieces[i] for i in ids[word_start:]) in self.words else ids[:word_start]

    def unknown_words(self, words: Iterable[str]) -> list[str]:
        """The words of `words` that are not corpus words (a prompt must not start the model off-vocabulary)."""
        return [word for word in words if unicodedata.normalize("NFC", word) not in self.words]
