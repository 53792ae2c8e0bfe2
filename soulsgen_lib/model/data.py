"""Text to training data: the word rule, corpus sentences, sentence packing and the loss on them.

Sentences are wrapped in `<s>` ... `</s>`; each training row is a window of `block_size` tokens
that starts at a sentence start, so it packs several sentences and position 0 always holds `<s>`,
as in generation. Validation packs whole sentences greedily into padded blocks.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import torch

from soulsgen_lib.model.device import autocast_for
from soulsgen_lib.model.errors import ModelError

# A number keeps its separators ("5,000", "3.5"); a word keeps inner apostrophes and hyphens
# ("don't", "well-made") and a final apostrophe ("y'", the possessive "Kings'"), so each comes
# back as written; "..." is one token; any other non-space character stands alone.
WORD_PATTERN = r"\d+(?:[.,:]\d+)+|\w+(?:['’\-]\w+)*['’]?|\.\.\.|[^\w\s]"
_WORD_RE = re.compile(WORD_PATTERN)


def split_words(text: str) -> list[str]:
    """The tokens of `text` as the tokenizers see them (words and punctuation marks)."""
    return _WORD_RE.findall(text)


def is_word(token: str) -> bool:
    return any(char.isalnum() for char in token)


def read_sentences(path: Path) -> list[str]:
    """Non-empty lines of a corpus split file, with a clear error when it is missing or empty."""
    if not path.is_file():
        raise ModelError(f"{path}: missing; point --corpus at a folder made by `soulsgen corpus build`")
    sentences = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not sentences:
        raise ModelError(f"{path}: has no sentences; build the corpus from game text that has some")
    return sentences


def count_words(sentences: Iterable[str]) -> Counter[str]:
    """How often each word (not punctuation) occurs: the words.txt rule when a corpus has no words.txt."""
    return Counter(token for sentence in sentences for token in split_words(sentence) if is_word(token))


class TokenStream:
    """Sentences as one stream of ids with the offset where each sentence starts."""

    def __init__(self, sentence_ids: list[list[int]], block_size: int, pad_id: int) -> None:
        lengths = torch.tensor([len(ids) for ids in sentence_ids], dtype=torch.long)
        flat = [token for ids in sentence_ids for token in ids]
        # Padding past the end lets a window that starts near the end still be full length.
        self.tokens = torch.tensor(flat + [pad_id] * (block_size + 1), dtype=torch.long)
        self.starts = torch.cat([torch.zeros(1, dtype=torch.long), lengths.cumsum(0)[:-1]])
        self.num_tokens = len(flat)
        self.block_size = block_size
        self.pad_id = pad_id
        self._window = torch.arange(block_size + 1)

    def sample(self, batch_size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """A random batch of (inputs, targets) windows, each starting at a sentence start."""
        picks = self.starts[torch.randint(len(self.starts), (batch_size,), generator=generator)]
        windows = self.tokens[picks[:, None] + self._window]
        targets = windows[:, 1:].clone()
        targets[targets == self.pad_id] = -100
        return windows[:, :-1], targets


def drop_words(
    inputs: torch.Tensor, rate: float, unk_id: int, kept_ids: tuple[int, ...], generator: torch.Generator
) -> torch.Tensor:
    """`inputs` with each token, but those in `kept_ids`, replaced by `unk_id` at `rate` (word dropout).

    Only what the network reads is dropped; the targets stay. A game's text is learnt by heart in a
    few passes, and a network that must guess the next word with some of the words before it
    hidden leans less on replaying exact phrases.
    """
    if rate <= 0:
        return inputs
    dropped = torch.rand(inputs.shape, generator=generator) < rate
    for token in kept_ids:
        dropped &= inputs != token
    return inputs.masked_fill(dropped, unk_id)


def validation_blocks(sentence_ids: list[list[int]], block_size: int, pad_id: int) -> torch.Tensor:
    """Whole sentences packed greedily into blocks of block_size + 1, each starting with `<s>`, pad-filled."""
    blocks: list[list[int]] = []
    current: list[int] = []
    for ids in sentence_ids:
        ids = ids[: block_size + 1]
        if len(current) + len(ids) > block_size + 1:
            blocks.append(current)
            current = []
        current = current + ids
    if current:
        blocks.append(current)
    return torch.tensor([block + [pad_id] * (block_size + 1 - len(block)) for block in blocks], dtype=torch.long)


@torch.no_grad()
def evaluate_loss(
    model: torch.nn.Module,
    blocks: torch.Tensor,
    pad_id: int,
    device: torch.device,
    batch_size: int = 32,
    skip_ids: tuple[int, ...] = (),
    precision: str = "",
) -> float:
    """Mean cross-entropy per target token over validation blocks (padding and `skip_ids` not counted)."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for start in range(0, len(blocks), batch_size):
        chunk = blocks[start : start + batch_size].to(device)
        targets = chunk[:, 1:].clone()
        targets[targets == pad_id] = -100
        for token in skip_ids:
            targets[targets == token] = -100
        tokens = int((targets != -100).sum())
        with autocast_for(device, precision):
            _, loss = model(chunk[:, :-1], targets)
        total += float(loss) * tokens
        count += tokens
    model.train(was_training)
    return total / max(count, 1)
