"""Sentence shape kept while decoding: a row may only write what the filters would let through.

Rejecting a finished sentence for a slip a rule could have prevented wastes the whole sample,
so the decoder asks these rules at every step which tokens are ruled out for each row:

- the end token, until the row has `min_words` words, ends like a sentence (".", "!", "?", an
  ellipsis, then any closing quotes or brackets) and has closed every bracket and quote it opened;
- a closing bracket or curly quote that nothing opened;
- a comma, colon or stop right after a comma, semicolon or colon ("linen,, hidden");
- (whole-word tokenizers) the word just written again ("the the"), in any case;
- (whole-word tokenizers) after "a" / "an", a word the article does not fit ("an kiln"), unless
  the corpus itself writes that pair;
- (whole-word tokenizers) the word that would make the last `max_shared_run` words, punctuation
  aside and in any case, a run the training sentences hold (0: no such rule): a row cannot replay
  a long stretch of one, which the novelty filter would turn back as a near-copy.

They mirror `filters.FILTERS`, which still judge every finished sentence.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass

import torch

from soulsgen_lib.model.filters import article_mismatch
from soulsgen_lib.model.tokenizer import SPECIAL_TOKENS, AnyTokenizer

_ENDERS = frozenset({".", "!", "?", "…", "..."})
_TRAILING = frozenset({'"', "'", "”", "’", ")", "]"})  # may follow a sentence's final mark
_BRACKETS = (("(", ")"), ("[", "]"), ("“", "”"))
_STACKING = frozenset({",", ";", ":"})
_NOT_AFTER_STACKING = frozenset({",", ";", ":", "!", "?", "."})
_ARTICLES = {"a": "a", "A": "a", "an": "an", "An": "an"}
_MAX_CASE_VARIANTS = 4  # "the", "The", "THE": more spellings of one word are never needed


@dataclass
class RowShape:
    """Per-row state of the rules, one entry per decoded row."""

    words: torch.Tensor  # words written so far
    ends_sentence: torch.Tensor  # the text so far ends like a sentence
    depth: torch.Tensor  # (rows, brackets): open brackets and curly quotes of each kind
    open_straight_quote: torch.Tensor  # an odd number of '"' so far
    previous: torch.Tensor  # the token written last
    recent_words: list[tuple[str, ...]]  # the last words written, case-folded (the shared-run rule)


class ShapeRules:
    """Token classes of one tokenizer, and the masks they give for rows in a given state."""

    def __init__(
        self,
        tokenizer: AnyTokenizer,
        min_words: int,
        corpus_pairs: Container[tuple[str, str]] = frozenset(),
        corpus_sentences: Iterable[Sequence[str]] = (),
        max_shared_run: int = 0,
    ) -> None:
        """`corpus_pairs` and `corpus_sentences` are the training sentences' case-folded word pairs and words."""
        size = tokenizer.vocab_size
        special = set(range(len(SPECIAL_TOKENS)))
        pieces = [tokenizer.piece_text(i) for i in range(size)]
        starts_word = [i not in special and not tokenizer.is_continuation(i) for i in range(size)]
        self.min_words = min_words
        self.eos_id = tokenizer.eos_id
        self.is_word = torch.tensor(
            [starts_word[i] and any(c.isalnum() for c in pieces[i]) for i in range(size)], dtype=torch.bool
        )
        self.is_ender = self._marks(pieces, starts_word, _ENDERS)
        self.is_trailing = self._marks(pieces, starts_word, _TRAILING)
        self.is_straight_quote = self._marks(pieces, starts_word, {'"'})
        self.is_stacking = self._marks(pieces, starts_word, _STACKING)
        self.opens = torch.stack([self._marks(pieces, starts_word, {pair[0]}) for pair in _BRACKETS], dim=1)
        self.closes = torch.stack([self._marks(pieces, starts_word, {pair[1]}) for pair in _BRACKETS], dim=1)
        self.closer_ids = [self.closes[:, k].nonzero().squeeze(1) for k in range(len(_BRACKETS))]
        self.not_after_stacking = self._marks(pieces, starts_word, _NOT_AFTER_STACKING).nonzero().squeeze(1)
        whole_words = tokenizer.kind == "word"
        self.case_variants = self._case_variants(pieces, whole_words)
        self.article_of, self.misfits = self._article_misfits(pieces, whole_words, corpus_pairs)
        self.folded = [piece.casefold() if self.is_word[i] else None for i, piece in enumerate(pieces)]
        self.context_words = max_shared_run - 1
        self.replaying = self._replaying(pieces, corpus_sentences) if whole_words and max_shared_run > 1 else {}

    @staticmethod
    def _marks(pieces: list[str], starts_word: list[bool], marks: Container[str]) -> torch.Tensor:
        return torch.tensor([starts_word[i] and piece in marks for i, piece in enumerate(pieces)], dtype=torch.bool)

    def _case_variants(self, pieces: list[str], whole_words: bool) -> torch.Tensor | None:
        """(vocab, k) ids spelling the same word in another case; None when tokens are not whole words."""
        if not whole_words:
            return None
        groups: dict[str, list[int]] = defaultdict(list)
        for token_id in self.is_word.nonzero().squeeze(1).tolist():
            groups[pieces[token_id].casefold()].append(token_id)
        variants = torch.arange(len(pieces)).unsqueeze(1).repeat(1, _MAX_CASE_VARIANTS)
        for ids in groups.values():
            for token_id in ids:
                variants[token_id, : len(ids[:_MAX_CASE_VARIANTS])] = torch.tensor(ids[:_MAX_CASE_VARIANTS])
        return variants

    def _article_misfits(
        self, pieces: list[str], whole_words: bool, corpus_pairs: Container[tuple[str, str]]
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Which article each token is (-1: none, 0: "a", 1: "an") and, per article, the words it may not precede."""
        article_of = torch.full((len(pieces),), -1, dtype=torch.long)
        if not whole_words:
            return article_of, None
        words = self.is_word.nonzero().squeeze(1).tolist()
        misfits = torch.zeros(2, len(pieces), dtype=torch.bool)
        for index, article in enumerate(("a", "an")):
            for token_id in words:
                misfits[index, token_id] = article_mismatch(f"{article} {pieces[token_id]}", corpus_pairs)
        for token_id, piece in enumerate(pieces):
            if piece in _ARTICLES:
                article_of[token_id] = ("a", "an").index(_ARTICLES[piece])
        return article_of, misfits

    def _replaying(self, pieces: list[str], corpus_sentences: Iterable[Sequence[str]]) -> dict[tuple, torch.Tensor]:
        """For every run of `context_words` corpus words, the tokens of the words that follow it somewhere."""
        ids_of: dict[str, list[int]] = defaultdict(list)
        for token_id in self.is_word.nonzero().squeeze(1).tolist():
            ids_of[pieces[token_id].casefold()].append(token_id)
        following: dict[tuple[str, ...], set[int]] = defaultdict(set)
        width = self.context_words
        for words in corpus_sentences:
            for i in range(len(words) - width):
                following[tuple(words[i : i + width])].update(ids_of.get(words[i + width], ()))
        return {run: torch.tensor(sorted(ids), dtype=torch.long) for run, ids in following.items() if ids}

    def start(self, rows: int) -> RowShape:
        return RowShape(
            words=torch.zeros(rows, dtype=torch.long),
            ends_sentence=torch.zeros(rows, dtype=torch.bool),
            depth=torch.zeros(rows, len(_BRACKETS), dtype=torch.long),
            open_straight_quote=torch.zeros(rows, dtype=torch.bool),
            previous=torch.full((rows,), self.eos_id, dtype=torch.long),
            recent_words=[()] * rows,
        )

    def restrict(self, logits: torch.Tensor, state: RowShape, rows: torch.Tensor) -> None:
        """Set the logits of ruled-out tokens to -inf in place; `rows` are the batch's rows in `state`."""
        device = logits.device
        may_end = (
            (state.words[rows] >= self.min_words)
            & state.ends_sentence[rows]
            & (state.depth[rows] == 0).all(dim=1)
            & ~state.open_straight_quote[rows]
        )
        logits[:, self.eos_id].masked_fill_(~may_end.to(device), -math.inf)
        for kind, closer_ids in enumerate(self.closer_ids):
            unopened = (state.depth[rows, kind] == 0).nonzero().squeeze(1)
            if len(unopened) and len(closer_ids):
                logits[unopened.to(device)[:, None], closer_ids.to(device)[None, :]] = -math.inf
        previous = state.previous[rows]
        stacked = self.is_stacking[previous].nonzero().squeeze(1)
        if len(stacked):
            logits[stacked.to(device)[:, None], self.not_after_stacking.to(device)[None, :]] = -math.inf
        if self.case_variants is not None:
            repeating = self.is_word[previous].nonzero().squeeze(1)
            if len(repeating):
                variants = self.case_variants[previous[repeating]]
                logits[repeating.to(device)[:, None], variants.to(device)] = -math.inf
        if self.misfits is not None:
            article = self.article_of[previous]
            after_article = (article >= 0).nonzero().squeeze(1)
            if len(after_article):
                misfit = self.misfits[article[after_article]].to(device)
                block = logits[after_article.to(device)]
                logits[after_article.to(device)] = block.masked_fill(misfit, -math.inf)
        if self.replaying:
            for position, row in enumerate(rows.tolist()):
                replayed = self.replaying.get(state.recent_words[row])
                if replayed is not None:
                    logits[position, replayed.to(device)] = -math.inf
        # A row the rules leave nothing to write ends here; the filters then judge what it wrote.
        stuck = torch.isinf(logits).all(dim=1)
        logits[stuck, self.eos_id] = 0.0

    def advance(self, state: RowShape, rows: torch.Tensor, tokens: torch.Tensor) -> None:
        """Record that each of `rows` wrote the matching token of `tokens`."""
        state.words[rows] += self.is_word[tokens].long()
        keeps_end = self.is_trailing[tokens] & state.ends_sentence[rows]
        state.ends_sentence[rows] = self.is_ender[tokens] | keeps_end
        state.depth[rows] += self.opens[tokens].long() - self.closes[tokens].long()
        state.depth[rows] = state.depth[rows].clamp_(min=0)
        state.open_straight_quote[rows] ^= self.is_straight_quote[tokens]
        state.previous[rows] = tokens
        if self.replaying:
            for row, token in zip(rows.tolist(), tokens.tolist(), strict=True):
                word = self.folded[token]
                if word is not None:
                    state.recent_words[row] = (*state.recent_words[row], word)[-self.context_words :]
