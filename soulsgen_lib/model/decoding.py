"""Batched, key/value-cached sampling: many rows decoded together, each with its own random stream.

All rows are decoded together, one forward pass per step for the whole batch; a row stops at
`</s>` and leaves the batch, so short sentences cost only their own length. Each row draws its
random numbers from its own seeded stream, so a row gives the same sentence on CPU whatever else
is in the batch.

A whole-word model may sample in two steps: the word class to write next (a glue word such as
"the" or "of", a punctuation mark, or a class of other words by shape: a name, an "-ing" word,
...) at `class_temperature`, and the word within that class at `temperature`. A cool class
choice keeps the grammar the model is sure of; a hot word choice keeps the vocabulary varied.
One temperature must trade one for the other. The class choice may also lean on a grammar: the
training sentences' word-class 4-gram model (`fluency.ClassNgramModel`), its probability of each
class after the row's last three raised to `grammar_weight` and multiplied in. A small network
trained on little text strings classes together in orders real sentences never use; the
n-gram model of those few classes is sure of the orders, so the word choice can stay hot.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import torch

from soulsgen_lib.model.constraint import WordConstraint
from soulsgen_lib.model.fluency import END, START, ClassNgramModel, word_class
from soulsgen_lib.model.gpt import GPT
from soulsgen_lib.model.shaping import ShapeRules
from soulsgen_lib.model.tokenizer import AnyTokenizer

_GRAMMAR_CACHE_LIMIT = 100_000  # class histories whose grammar odds are kept (a few MB)
_OPENING_MARKS = frozenset({'"', "'", "“", "‘", "(", "[", "...", "…", "¿", "¡"})


def can_open_sentence(token: str) -> bool:
    """Whether a sentence may start with `token`: a capitalised word, a number or an opening mark."""
    return token in _OPENING_MARKS or token[:1].isupper() or token[:1].isdigit()


def row_seed(seed: int, index: int) -> int:
    """A seed for row `index` of a call seeded with `seed` (stable across runs and platforms)."""
    digest = hashlib.blake2b(f"{seed}:{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & 0x7FFF_FFFF_FFFF_FFFF


@dataclass
class DecodeRow:
    """One row to decode: the prompt tokens it must start with (after `<s>`) and its settings."""

    forced: list[int]
    uniforms: torch.Tensor  # this row's random numbers, one per decoding step
    temperature: float
    top_p: float
    max_chars: int
    min_p: float = 0.0
    class_temperature: float = 0.0  # 0: one temperature for the class and the word


@dataclass
class Draft:
    """One decoded row: its text, whether it reached `</s>`, and the prompt it started from."""

    text: str
    ended: bool
    token_count: int
    prompt_ids: list[int]


class Decoder:
    """Samples rows from a model; a sub-word model's rows keep to corpus words (`constraint`), and
    every row to the sentence shape the filters want (`shape`). A whole-word model's word classes
    come from `use_glue_words` (see the module's docstring); without them `class_temperature` is ignored,
    and without a class temperature the grammar (`use_grammar`)."""

    def __init__(
        self,
        model: GPT,
        tokenizer: AnyTokenizer,
        device: torch.device,
        constraint: WordConstraint | None = None,
        shape: ShapeRules | None = None,
    ) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.device = device
        self.constraint = constraint
        self.shape = shape
        banned = [tokenizer.pad_id, tokenizer.bos_id, tokenizer.unk_id]
        self._banned = torch.tensor(banned, dtype=torch.long, device=device)
        # A sentence never opens with a lowercase word or closing punctuation ("am consumed by ...", ", and").
        non_openers = [i for i in range(tokenizer.vocab_size) if not can_open_sentence(tokenizer.id_to_token(i))]
        self._non_openers = torch.tensor(non_openers, dtype=torch.long, device=device)
        # Characters of each token without spaces: a lower bound on a row's text length so far.
        self._token_chars = torch.tensor(
            [len(tokenizer.piece_text(i)) for i in range(tokenizer.vocab_size)], dtype=torch.long
        )
        self._classes: torch.Tensor | None = None  # class id of every token
        self._class_names: list[str] = []
        self._grammar: ClassNgramModel | None = None
        self._grammar_weight = 0.0
        self._grammar_odds: dict[tuple[int, ...], torch.Tensor] = {}  # class history -> log P(class | it)

    def use_glue_words(self, glue_words: frozenset[str]) -> None:
        """Give every token its word class: a glue word or mark its own, other words their shape's."""
        if self.tokenizer.kind != "word":
            return  # a sub-word piece is no word to class
        names: dict[str, int] = {START: 0}  # no token writes the start; a row's history begins with it
        labels = (
            END if i == self.tokenizer.eos_id else word_class(self.tokenizer.piece_text(i), glue_words)
            for i in range(self.tokenizer.vocab_size)
        )
        classes = [names.setdefault(label, len(names)) for label in labels]
        self._classes = torch.tensor(classes, dtype=torch.long, device=self.device)
        self._class_names = list(names)
        self._grammar_odds.clear()

    def use_grammar(self, grammar: ClassNgramModel | None, weight: float) -> None:
        """Lean the class choice on `grammar` with `weight` (0 or None: the network alone).

        The grammar must class words as `use_glue_words` did: give it the grammar's own glue words.
        """
        if grammar is not self._grammar:
            self._grammar_odds.clear()
        self._grammar = grammar
        self._grammar_weight = weight if grammar is not None else 0.0

    def _grammar_log_odds(self, history: torch.Tensor) -> torch.Tensor:
        """(rows, classes): log P(class | the row's last classes) under the grammar, cached by history."""
        if len(self._grammar_odds) > _GRAMMAR_CACHE_LIMIT:
            self._grammar_odds.clear()
        rows = []
        for key in map(tuple, history.tolist()):
            odds = self._grammar_odds.get(key)
            if odds is None:
                context = [self._class_names[c] for c in key]
                odds = torch.tensor([self._grammar.probability(context, name) for name in self._class_names]).log()
                odds[0] = -math.inf  # the start class is never written
                self._grammar_odds[key] = odds
            rows.append(odds)
        return torch.stack(rows).to(self.device)

    @property
    def _class_count(self) -> int:
        return len(self._class_names)

    @torch.inference_mode()
    def decode(self, rows: list[DecodeRow], top_k: int = 0, shaped: bool = True) -> list[Draft]:
        """Decode all rows together with one key/value cache; a row leaves the batch at `</s>`.

        `top_k` bounds the sort per step (0: the whole vocabulary); `shaped` False leaves out the
        shape rules (to measure what they change).
        """
        if not rows:
            return []
        model, tok, device = self.model, self.tokenizer, self.device
        block = model.config.block_size
        count = len(rows)
        uniforms = torch.stack([row.uniforms for row in rows]).to(device)
        temperature = torch.tensor([row.temperature for row in rows], device=device)
        top_p = torch.tensor([row.top_p for row in rows], device=device)
        min_p = torch.tensor([row.min_p for row in rows], device=device)
        class_temperature = torch.tensor([row.class_temperature for row in rows], device=device)
        char_budget = torch.tensor([row.max_chars for row in rows], dtype=torch.long)
        forced = torch.full((count, block), -1, dtype=torch.long)
        for i, row in enumerate(rows):
            forced[i, : len(row.forced)] = torch.tensor(row.forced, dtype=torch.long)
        forced = forced.to(device)
        out = torch.full((count, block), tok.pad_id, dtype=torch.long)
        chars = torch.zeros(count, dtype=torch.long)
        lengths = torch.zeros(count, dtype=torch.long)
        ended = torch.zeros(count, dtype=torch.bool)  # reached </s>
        running = torch.ones(count, dtype=torch.bool)  # neither ended nor over its character budget
        live = torch.arange(count)  # original row of each batch position
        spelled = [""] * count  # under a word constraint: the word each row is spelling
        row_shape = self.shape.start(count) if self.shape is not None and shaped else None
        cache = model.new_cache(count)
        grammar_on = self._grammar_weight > 0 and bool((class_temperature > 0).any())
        width = self._grammar.config.order - 1 if grammar_on else 0
        history = torch.zeros(count, width, dtype=torch.long)  # each row's last classes, for the grammar
        inputs = torch.full((count, 1), tok.bos_id, dtype=torch.long, device=device)
        for step in range(block - 1):
            logits = model.decode(inputs, cache).float()
            if step == 0:
                logits[:, self._non_openers] = -math.inf
            if self.constraint is not None:
                prompt_ended = ((forced[:, step] < 0) & (forced[:, step - 1] >= 0)).tolist() if step else []
                masks = [
                    self.constraint.between_words if step and prompt_ended[i] else self.constraint.allowed(spelled[row])
                    for i, row in enumerate(live.tolist())
                ]
                logits.masked_fill_(~torch.stack(masks).to(device), -math.inf)
            if row_shape is not None:
                self.shape.restrict(logits, row_shape, live)
            odds = self._grammar_log_odds(history) if grammar_on else None
            chosen = self._choose(logits, temperature, class_temperature, top_p, min_p, uniforms[:, step], top_k, odds)
            must = forced[:, step]
            chosen = torch.where(must >= 0, must, chosen).cpu()
            if grammar_on:
                history = torch.cat([history[:, 1:], self._classes.cpu()[chosen][:, None]], dim=1)
            rows_on = live[running[live]]  # finished rows may still sit in the batch until the next compaction
            chosen_on = chosen[running[live]]
            out[rows_on, step] = chosen_on
            lengths[rows_on] = step + 1
            chars[rows_on] += self._token_chars[chosen_on]
            if row_shape is not None:
                self.shape.advance(row_shape, rows_on, chosen_on)
            if self.constraint is not None:
                for row, token in zip(rows_on.tolist(), chosen_on.tolist(), strict=True):
                    spelled[row] = self.constraint.advance(spelled[row], token)
            done = chosen_on == tok.eos_id
            ended[rows_on[done]] = True
            running[rows_on[done | (chars[rows_on] > char_budget[rows_on])]] = False
            still = running[live]
            remaining = int(still.sum())
            if remaining == 0:
                break
            # Dropping rows copies the cache, so wait until an eighth of the batch has finished.
            if (len(live) - remaining) * 8 >= len(live):
                keep = still.nonzero().squeeze(1)
                live = live[keep]
                keep_device = keep.to(device)
                cache.keep_rows(keep_device)
                chosen, uniforms, history = chosen[keep], uniforms[keep_device], history[keep]
                temperature, top_p, min_p = temperature[keep_device], top_p[keep_device], min_p[keep_device]
                class_temperature = class_temperature[keep_device]
                forced = forced[keep_device]
            inputs = chosen.to(device).unsqueeze(1)
        drafts = []
        for i, row in enumerate(rows):
            ids = out[i, : int(lengths[i])].tolist()
            if self.constraint is not None and not ended[i]:
                ids = self.constraint.whole_words(ids)
            drafts.append(Draft(tok.decode(ids), bool(ended[i]), len(ids), row.forced))
        return drafts

    def _choose(
        self,
        logits: torch.Tensor,
        temperature: torch.Tensor,
        class_temperature: torch.Tensor,
        top_p: torch.Tensor,
        min_p: torch.Tensor,
        uniform: torch.Tensor,
        top_k: int,
        grammar_odds: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Sample one token per row: top-k, temperature(s), min-p, then nucleus (top-p), by inverse CDF of `uniform`.

        Min-p drops tokens less likely than `min_p` times the likeliest one: the tail a hot sampler
        would otherwise reach shrinks where the model is sure and stays wide where it is not.
        """
        logits[:, self._banned] = -math.inf  # <unk> and the padding/start tokens are never written
        k = min(top_k or logits.size(1), logits.size(1))
        values, indices = torch.topk(logits, k, dim=1)
        probs = torch.softmax(values / temperature[:, None], dim=1)
        by_class = class_temperature > 0
        if self._classes is not None and bool(by_class.any()):
            probs = torch.where(
                by_class[:, None],
                self._class_then_word(values, indices, probs, class_temperature, grammar_odds),
                probs,
            )
            probs, order = probs.sort(dim=1, descending=True)
            indices = indices.gather(1, order)
        probs = probs.masked_fill(probs < min_p[:, None] * probs[:, :1], 0.0)  # sorted: column 0 is the likeliest
        probs = probs / probs.sum(dim=1, keepdim=True)
        before = probs.cumsum(dim=1) - probs
        probs = probs.masked_fill(before >= top_p[:, None], 0.0)  # the top token always stays
        cumulative = probs.cumsum(dim=1)
        targets = (uniform * cumulative[:, -1]).unsqueeze(1)
        picks = torch.searchsorted(cumulative, targets, right=True).clamp_(max=k - 1)
        return indices.gather(1, picks).squeeze(1)

    def _class_then_word(
        self,
        values: torch.Tensor,
        indices: torch.Tensor,
        word_probs: torch.Tensor,
        class_temperature: torch.Tensor,
        grammar_odds: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """P(token) = P(its class) at `class_temperature` x P(token within its class) at the word temperature.

        `values`/`indices` are the top-k logits and their tokens; `word_probs` their softmax at the
        word temperature. A class's weight is the model's own probability mass on its tokens, times
        the grammar's odds of it (`grammar_odds`, log) to the grammar weight.
        """
        classes = self._classes[indices]
        mass = torch.zeros(values.size(0), self._class_count, device=values.device)
        mass.scatter_add_(1, classes, torch.softmax(values, dim=1))
        class_logits = mass.log() / class_temperature.clamp_min(1e-6)[:, None]  # log 0 = -inf: weight 0
        if grammar_odds is not None:
            class_logits = class_logits + self._grammar_weight * grammar_odds
        cooled = class_logits.softmax(dim=1)
        within = torch.zeros_like(mass).scatter_add_(1, classes, word_probs)
        # A class the rules left no token in has no mass: its tokens stay at 0 rather than 0/0.
        return cooled.gather(1, classes) * word_probs / within.gather(1, classes).clamp_min(1e-30)
