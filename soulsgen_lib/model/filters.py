"""Every check a generated sentence must pass, in ONE ordered, named list with ONE config.

Generation, evaluation (the model and the markovify baseline alike) and posting run this list;
the first filter a sentence fails names why it was turned back. Adding a filter is one entry in
`FILTERS`. Filters that need the training corpus (its word pairs and sentences) are skipped when
no corpus is given, as when posting checks a sentence that came from a server.

Importing this module is cheap: no torch, no tokenizer.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Container
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from soulsgen_lib.textcheck import TWEET_MAX_WEIGHT, balanced, ends_like_sentence, has_bad_characters, tweet_length

if TYPE_CHECKING:
    from soulsgen_lib.model.novelty import NoveltyIndex

NEAR_COPY_RATIO = 0.7
# "with with", "the the": a small model's stutter, almost never meant in game text.
_REPEATED_WORD = re.compile(r"\b([A-Za-z]+)\s+\1\b", re.IGNORECASE)
# "linen,, hidden", "fire, . And": a comma or colon run into another mark; an ellipsis after one is fine.
_STACKED_PUNCTUATION = re.compile(r"[,;:]\s*(?:[,;:!?]|\.(?!\.\.))")
_ARTICLE = re.compile(r"\b(an?)\s+([^\W\d_][\w'’-]*)", re.IGNORECASE)
_SILENT_H = ("hour", "honest", "honor", "honour", "heir")
_SENTENCE_BREAKS = frozenset({"", ".", "!", "?", ":", ";", '"', "“", "‘", "'", "(", "—", "…"})


@dataclass(frozen=True)
class FilterConfig:
    """The limits the filters apply; stored in the model card under "filters"."""

    min_words: int = 3  # as `soulsgen corpus build --min-words`: real test sentences can be this short
    max_words: int = 40
    max_chars: int = TWEET_MAX_WEIGHT
    near_copy_ratio: float = NEAR_COPY_RATIO  # share of a sentence's words in one run shared with a training sentence

    @classmethod
    def from_dict(cls, values: dict) -> FilterConfig:
        """The config of a model card's dict; unknown keys (older cards mixed it with sampling) are ignored."""
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})


@dataclass(frozen=True)
class FilterContext:
    """What filters may consult beyond the sentence: the training corpus and the sentences accepted so far."""

    corpus: NoveltyIndex | None = None
    accepted: Container[str] = frozenset()


@dataclass(frozen=True)
class TextFilter:
    """One named check: `passes(text, config, context)` is True for a sentence that may go on."""

    name: str
    passes: Callable[[str, FilterConfig, FilterContext], bool]
    needs_corpus: bool = False


def article_mismatch(text: str, corpus_pairs: Container[tuple[str, str]]) -> bool:
    """Whether `text` says "a" before a vowel or "an" before a consonant ("heavier than an kiln").

    Only clear cases are judged: not words whose sound the spelling does not tell ("a unique", "an
    unlit", "a one-eyed", "a European"), initialisms ("an X-ray"), or a capital "A" inside a sentence
    ("Plan A is lost"); "an hour" and its kin are known. A pair the corpus itself uses (case-folded,
    as in `NoveltyIndex.bigrams`) always passes.
    """
    for match in _ARTICLE.finditer(text):
        article, word = match.group(1), match.group(2)
        if article[0] == "A" and text[: match.start()].rstrip()[-1:] not in _SENTENCE_BREAKS:
            continue
        if word.isupper() or re.match(r"[A-Z](?:[-.]|$)", word):
            continue
        article, word = article.casefold(), word.casefold()
        first = unicodedata.normalize("NFD", word)[0]  # "é" is a vowel
        if first == "u" or word.startswith(("one", "once", "eu", "ew")) or (article, word) in corpus_pairs:
            continue
        if (article == "an") != (first in "aeio" or word.startswith(_SILENT_H)):
            return True
    return False


def _word_count(text: str) -> int:
    return len(text.split())


def _corpus(context: FilterContext) -> NoveltyIndex:
    assert context.corpus is not None  # `first_failure` skips corpus filters without one
    return context.corpus


FILTERS: tuple[TextFilter, ...] = (
    TextFilter("empty", lambda text, config, context: bool(text)),
    TextFilter("too_few_words", lambda text, config, context: _word_count(text) >= config.min_words),
    TextFilter("too_many_words", lambda text, config, context: _word_count(text) <= config.max_words),
    TextFilter(
        "too_long",
        lambda text, config, context: len(text) <= config.max_chars and tweet_length(text) <= TWEET_MAX_WEIGHT,
    ),
    TextFilter("bad_characters", lambda text, config, context: not has_bad_characters(text)),
    TextFilter("unbalanced", lambda text, config, context: balanced(text)),
    TextFilter("no_sentence_end", lambda text, config, context: ends_like_sentence(text)),
    TextFilter("repeated_word", lambda text, config, context: not _REPEATED_WORD.search(text)),
    TextFilter("stacked_punctuation", lambda text, config, context: not _STACKED_PUNCTUATION.search(text)),
    TextFilter(
        "article", lambda text, config, context: not article_mismatch(text, _corpus(context).bigrams), needs_corpus=True
    ),
    TextFilter("copy", lambda text, config, context: not _corpus(context).is_copy(text), needs_corpus=True),
    TextFilter(
        "near_copy",
        lambda text, config, context: not _corpus(context).is_near_copy(text, config.near_copy_ratio),
        needs_corpus=True,
    ),
    TextFilter("duplicate", lambda text, config, context: text not in context.accepted),
)
FILTER_NAMES = tuple(entry.name for entry in FILTERS)


def first_failure(text: str, config: FilterConfig | None = None, context: FilterContext | None = None) -> str | None:
    """The name of the first filter `text` fails, or None when it passes them all."""
    config = config or FilterConfig()
    context = context or FilterContext()
    stripped = text.strip()
    for entry in FILTERS:
        if entry.needs_corpus and context.corpus is None:
            continue
        if not entry.passes(stripped, config, context):
            return entry.name
    return None
