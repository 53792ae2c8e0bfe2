"""Batched, key/value-cached sampling: many rows decoded together, each with its own random stream.

All rows are decoded together, one forward pass per step for the whole batch; a row stops at
`</s>` and leaves the batch, so short sentences cost only their own length. Each row draws its
random numbers from its own seeded stream, so a row gives the same sentence on CPU whatever else
is in the batch.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import torch

from soulsgen_lib.model.constraint import WordConstraint
from soulsgen_lib.model.gpt import GPT
from soulsgen_lib.model.shaping import ShapeRules
from soulsgen_lib.model.tokenizer import AnyTokenizer

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


@dataclass
class Draft:
    """One decoded row: its text, whether it reached `</s>`, and the prompt it started from."""

    text: str
    ended: bool
    token_count: int
    prompt_ids: list[int]


class Decoder:
    """Samples rows from a model; a sub-word model's rows keep to corpus words (`constraint`), and
    every row to the sentence shape the filters want (`shape`)."""

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
            chosen = self._choose(logits, temperature, top_p, min_p, uniforms[:, step], top_k)
            must = forced[:, step]
            chosen = torch.where(must >= 0, must, chosen).cpu()
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
                chosen, uniforms = chosen[keep], uniforms[keep_device]
                temperature, top_p, min_p = temperature[keep_device], top_p[keep_device], min_p[keep_device]
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
        top_p: torch.Tensor,
        min_p: torch.Tensor,
        uniform: torch.Tensor,
        top_k: int,
    ) -> torch.Tensor:
        """Sample one token per row: temperature, top-k, min-p, then nucleus (top-p), by inverse CDF of `uniform`.

        Min-p drops tokens less likely than `min_p` times the likeliest one: the tail a hot sampler
        would otherwise reach shrinks where the model is sure and stays wide where it is not.
        """
        logits[:, self._banned] = -math.inf  # <unk> and the padding/start tokens are never written
        logits = logits / temperature[:, None]
        k = min(top_k or logits.size(1), logits.size(1))
        values, indices = torch.topk(logits, k, dim=1)
        probs = torch.softmax(values, dim=1)
        probs = probs.masked_fill(probs < min_p[:, None] * probs[:, :1], 0.0)  # sorted: column 0 is the likeliest
        probs = probs / probs.sum(dim=1, keepdim=True)
        before = probs.cumsum(dim=1) - probs
        probs = probs.masked_fill(before >= top_p[:, None], 0.0)  # the top token always stays
        cumulative = probs.cumsum(dim=1)
        targets = (uniform * cumulative[:, -1]).unsqueeze(1)
        picks = torch.searchsorted(cumulative, targets, right=True).clamp_(max=k - 1)
        return indices.gather(1, picks).squeeze(1)
