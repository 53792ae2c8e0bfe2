"""A likelihood filter: turn back the sentences the model itself finds least likely among its own.

A sentence's score is its mean loss per token (negative log-probability, `</s>` included) under
the model at temperature 1. Sampling above temperature 1 and the long tail of the nucleus write
some sentences no real sentence resembles ("Red left turn many is Power itself Power performing
certain aquatic den."): they are the highest-loss tail of the model's own samples. The ceiling is
the `quantile` of the losses of the model's own accepted sentences at its sampling settings,
measured once per model and corpus (calibration) and stored with it. Real held-out sentences are
no yardstick here: the model never saw them, so their losses sit far above its own samples' and
a ceiling taken from them turns back almost nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import torch
from torch.nn import functional as F

from soulsgen_lib.model.errors import ModelError
from soulsgen_lib.model.gpt import GPT
from soulsgen_lib.model.tokenizer import AnyTokenizer


@dataclass(frozen=True)
class LikelihoodConfig:
    """How the ceiling is set from the test split."""

    quantile: float = 0.9  # share of the model's own accepted sentences that pass
    batch_size: int = 64


class LikelihoodContext(Protocol):
    """What the filter needs from a loaded model (a `Generator` has all of it) and its calibrated ceiling."""

    model: GPT
    tokenizer: AnyTokenizer
    device: torch.device
    likelihood_ceiling: float | None


@torch.inference_mode()
def sentence_losses(
    model: GPT, tokenizer: AnyTokenizer, sentences: Sequence[str], device: torch.device, batch_size: int = 64
) -> list[float]:
    """Mean loss per token of each sentence after its `<s>` (cut to the model's block), in input order."""
    block = model.config.block_size
    encoded = [tokenizer.encode_sentence(sentence)[:block] for sentence in sentences]
    losses: list[float] = []
    was_training = model.training
    model.eval()
    for start in range(0, len(encoded), batch_size):
        chunk = encoded[start : start + batch_size]
        width = max(len(ids) for ids in chunk)
        batch = torch.full((len(chunk), width), tokenizer.pad_id, dtype=torch.long)
        for row, ids in enumerate(chunk):
            batch[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        batch = batch.to(device)
        logits, _ = model(batch[:, :-1])
        targets = batch[:, 1:]
        token_loss = F.cross_entropy(logits.float().transpose(1, 2), targets, reduction="none")
        mask = (targets != tokenizer.pad_id).float()
        losses += ((token_loss * mask).sum(1) / mask.sum(1).clamp(min=1)).tolist()
    model.train(was_training)
    return losses


def calibrate_ceiling(
    model: GPT,
    tokenizer: AnyTokenizer,
    sentences: Sequence[str],
    device: torch.device,
    config: LikelihoodConfig | None = None,
) -> float:
    """The loss below which `config.quantile` of `sentences` (the model's own samples) fall: the filter's ceiling."""
    config = config or LikelihoodConfig()
    if not 0 < config.quantile <= 1:
        raise ModelError(f"likelihood quantile must be in (0, 1], got {config.quantile}")
    if not sentences:
        raise ModelError("no sentences to calibrate the likelihood filter on")
    losses = sorted(sentence_losses(model, tokenizer, sentences, device, config.batch_size))
    return losses[min(len(losses) - 1, int(config.quantile * len(losses)))]


def likely_enough(text: str, context: LikelihoodContext) -> bool:
    """Whether `text` is at least as likely under the model as the calibrated share of its own sentences."""
    if context.likelihood_ceiling is None:
        return True
    loss = sentence_losses(context.model, context.tokenizer, [text], context.device)[0]
    return loss <= context.likelihood_ceiling
