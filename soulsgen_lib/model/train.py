"""Train the GPT on a corpus folder and write a model folder (see `MODEL_FILES`).

Sentences are wrapped in `<s>` ... `</s>`, shuffled once and concatenated; each training row is a
window of `block_size` tokens that starts at a sentence start, so it packs several sentences and
position 0 always holds `<s>`, as in generation. AdamW with warm-up and cosine decay, gradient
clipping, dropout and weight decay; validation on `test.txt` every `eval_every` steps keeps the
best weights and stops early when validation stops improving. Every checkpoint holds what an
exact resume needs (model, optimizer, scheduler, step, RNG states, configs, tokenizer hash).
Runs on one device, or under `torchrun` with DistributedDataParallel (NCCL on GPUs, gloo on CPU).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import shutil
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from torch import distributed as dist
from torch.nn.parallel import DistributedDataParallel

from soulsgen_lib.atomic import atomic_path, write_text_atomic
from soulsgen_lib.checksum import file_sha256
from soulsgen_lib.model import MODEL_FILES
from soulsgen_lib.model.device import autocast_for, pick_device
from soulsgen_lib.model.errors import ModelError
from soulsgen_lib.model.generate import SamplingDefaults
from soulsgen_lib.model.gpt import GPT, PRESETS, GPTConfig
from soulsgen_lib.model.novelty import INDEX_FILE, NoveltyIndex
from soulsgen_lib.model.tokenizer import (
    TOKENIZER_KINDS,
    AnyTokenizer,
    SubwordTokenizer,
    is_word,
    load_tokenizer,
    read_sentences,
    split_words,
    train_tokenizer,
)

log = logging.getLogger(__name__)

CHECKPOINT_FILE = "checkpoint.pt"
METRICS_LOG_FILE = "metrics.jsonl"
LOSS_CURVE_FILE = "loss_curve.png"


@dataclass
class TrainConfig:
    """How to train; presets set these, `overrides` may change any of them."""

    max_steps: int = 1500
    batch_size: int = 32  # rows per step (per process under torchrun)
    learning_rate: float = 1e-3
    min_lr_ratio: float = 0.1  # cosine decay ends at learning_rate * min_lr_ratio
    warmup_steps: int = 100
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    beta1: float = 0.9
    beta2: float = 0.99  # small batches: a shorter second-moment memory than 0.999 is steadier
    eval_every: int = 100  # also the checkpoint interval
    eval_max_blocks: int = 64  # validation blocks per periodic evaluation; the final one uses all
    patience: int = 4  # evaluations without improvement before stopping early
    min_improvement: float = 0.002  # validation loss must drop by this much to count as better
    log_every: int = 10
    tokenizer: str = ""  # "word" or "subword" (see model/tokenizer.py); "": the folder's, else "word"
    max_vocab: int = 0  # 0: the tokenizer kind's default (see train_tokenizer)
    compile: bool = False  # torch.compile the model (GPUs; slow to start on CPU)
    max_minutes: float = 0.0  # stop (keeping the best weights) after this much training time; 0 = no limit
    device: str = ""  # "" picks cuda, then mps, then cpu


TRAIN_PRESETS: dict[str, TrainConfig] = {
    "tiny": TrainConfig(
        max_steps=40, batch_size=16, learning_rate=3e-3, warmup_steps=5, eval_every=10, log_every=5, patience=100
    ),
    # About 1.2M tokens: ~7 minutes at the ~3,000 tokens/s two quiet cores reach; early stopping often ends it sooner.
    "small": TrainConfig(max_steps=600, batch_size=32, learning_rate=1e-3, warmup_steps=50, eval_every=50),
    "seed": TrainConfig(max_steps=10000, batch_size=64, learning_rate=3e-4, warmup_steps=500, eval_every=250),
}


def resolve_configs(
    preset: str, steps: int | None = None, overrides: dict | None = None
) -> tuple[GPTConfig, TrainConfig]:
    """The model and training configs of a preset with `steps` and any field overridden."""
    if preset not in PRESETS:
        raise ModelError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    model_fields = {f.name: f for f in fields(GPTConfig)}
    train_fields = {f.name: f for f in fields(TrainConfig)}
    model_changes: dict[str, Any] = {}
    train_changes: dict[str, Any] = {}
    for key, value in (overrides or {}).items():
        if key == "vocab_size":
            raise ModelError("vocab_size comes from the tokenizer; set max_vocab instead")
        if key in model_fields:
            model_changes[key] = _coerce(key, value, type(getattr(PRESETS[preset], key)))
        elif key in train_fields:
            train_changes[key] = _coerce(key, value, type(getattr(TRAIN_PRESETS[preset], key)))
        else:
            known = ", ".join(sorted(set(model_fields) | set(train_fields)))
            raise ModelError(f"unknown setting {key!r}; known settings: {known}")
    if steps is not None:
        train_changes["max_steps"] = steps
    model_config = replace(PRESETS[preset], **model_changes)
    train_config = replace(TRAIN_PRESETS[preset], **train_changes)
    if model_config.n_embd % model_config.n_head:
        raise ModelError(f"n_embd {model_config.n_embd} must be a multiple of n_head {model_config.n_head}")
    if train_config.tokenizer not in ("", *TOKENIZER_KINDS):
        raise ModelError(f"tokenizer must be one of {', '.join(TOKENIZER_KINDS)}, got {train_config.tokenizer!r}")
    if train_config.max_steps < 1 or train_config.batch_size < 1 or train_config.eval_every < 1:
        raise ModelError("max_steps, batch_size and eval_every must be at least 1")
    return model_config, train_config


def _coerce(key: str, value: Any, kind: type) -> Any:
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    try:
        if kind is bool:
            if str(value).lower() in {"1", "true", "yes", "on"}:
                return True
            if str(value).lower() in {"0", "false", "no", "off"}:
                return False
            raise ValueError(value)
        return kind(value)
    except (TypeError, ValueError):
        raise ModelError(f"setting {key!r} must be a {kind.__name__}, got {value!r}") from None


class TokenStream:
    """Sentences as one stream of ids with the offset where each sentence starts."""

    def __init__(self, sentence_ids: list[list[int]], block_size: int, pad_id: int) -> None:
        lengths = [len(ids) for ids in sentence_ids]
        flat = [token for ids in sentence_ids for token in ids]
        # Padding past the end lets a window that starts near the end still be full length.
        self.tokens = torch.tensor(flat + [pad_id] * (block_size + 1), dtype=torch.long)
        self.starts = torch.tensor([0, *_cumulative(lengths)[:-1]], dtype=torch.long)
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


def _cumulative(values: list[int]) -> list[int]:
    total, out = 0, []
    for value in values:
        total += value
        out.append(total)
    return out


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
    model: GPT,
    blocks: torch.Tensor,
    pad_id: int,
    device: torch.device,
    batch_size: int = 32,
    skip_ids: tuple[int, ...] = (),
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
        with autocast_for(device):
            _, loss = model(chunk[:, :-1], targets)
        total += float(loss) * tokens
        count += tokens
    model.train(was_training)
    return total / max(count, 1)


def lr_factor(step: int, config: TrainConfig) -> float:
    """Linear warm-up, then cosine decay down to `min_lr_ratio`."""
    if step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    span = max(1, config.max_steps - config.warmup_steps)
    progress = min(1.0, (step - config.warmup_steps) / span)
    return config.min_lr_ratio + (1 - config.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def make_optimizer(model: GPT, config: TrainConfig, device: torch.device) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (not on biases, norms or position/bias vectors)."""
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(
        groups, lr=config.learning_rate, betas=(config.beta1, config.beta2), fused=device.type == "cuda"
    )


@dataclass
class _Distributed:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world_size > 1:
            dist.barrier()


def _start_distributed() -> _Distributed:
    """Join the torchrun process group when launched by torchrun (WORLD_SIZE > 1)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return _Distributed()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
    return _Distributed(dist.get_rank(), world_size, int(os.environ.get("LOCAL_RANK", "0")))


def corpus_hash(corpus_dir: Path) -> str:
    """The corpus manifest's hash, or the hash of train.txt + test.txt when there is no manifest."""
    manifest = corpus_dir / "manifest.json"
    if manifest.is_file():
        with contextlib.suppress(ValueError, AttributeError):
            value = json.loads(manifest.read_text(encoding="utf-8")).get("corpus_hash")
            if isinstance(value, dict):
                value = value.get("sha256")
            if value:
                return str(value)
    digest = hashlib.sha256()
    for name in ("train.txt", "test.txt"):
        digest.update((corpus_dir / name).read_bytes())
    return digest.hexdigest()


def prepare_tokenizer(corpus_dir: Path, out_dir: Path, max_vocab: int = 0, kind: str = "") -> AnyTokenizer:
    """The model folder's tokenizer, trained on the corpus's train.txt when the folder has none.

    `kind` "" accepts the folder's tokenizer of either kind and trains a word-level one when there is none.
    """
    path = out_dir / "tokenizer.json"
    if path.is_file():
        tokenizer = load_tokenizer(path)
        if kind and tokenizer.kind != kind:
            raise ModelError(
                f"{path}: a {tokenizer.kind} tokenizer, but a {kind} one was asked for; "
                "train into another folder or delete that file"
            )
        return tokenizer
    tokenizer = train_tokenizer(read_sentences(corpus_dir / "train.txt"), max_vocab=max_vocab, kind=kind or "word")
    tokenizer.save(path)
    return tokenizer


def _load_checkpoint(
    out_dir: Path, model_config: GPTConfig, tokenizer_path: Path, device: torch.device
) -> dict[str, Any]:
    """The resume checkpoint, checked against the requested model config and the folder's tokenizer."""
    path = out_dir / CHECKPOINT_FILE
    if not path.is_file():
        raise ModelError(f"{path}: no checkpoint to resume from; train without --resume to start")
    if not tokenizer_path.is_file():
        raise ModelError(f"{tokenizer_path}: tokenizer missing beside the checkpoint; it cannot be resumed")
    try:
        checkpoint = torch.load(path, map_location=device, weights_only=False)
    except Exception as error:  # torch raises many types for a truncated or foreign file
        raise ModelError(f"{path}: unreadable checkpoint ({type(error).__name__}); train without --resume") from None
    saved = checkpoint.get("model_config", {})
    wanted = model_config.to_dict()
    different = sorted(key for key in wanted if key != "vocab_size" and saved.get(key) != wanted[key])
    if different:
        shown = ", ".join(f"{key}: checkpoint {saved.get(key)!r} vs requested {wanted[key]!r}" for key in different)
        raise ModelError(f"{path}: checkpoint was made with another model config ({shown}); use its preset")
    if checkpoint.get("tokenizer_sha256") != load_tokenizer(tokenizer_path).sha256():
        raise ModelError(f"{path}: checkpoint was trained with another tokenizer than {tokenizer_path}")
    return checkpoint


def train_model(
    corpus_dir: Path,
    out_dir: Path,
    preset: str = "small",
    steps: int | None = None,
    seed: int = 0,
    resume: bool = False,
    overrides: dict | None = None,
    progress: bool = True,
) -> dict:
    """Train on `corpus_dir` (train.txt/test.txt) and write the model folder `out_dir`; returns the model card."""
    corpus_dir, out_dir = Path(corpus_dir), Path(out_dir)
    model_config, train_config = resolve_configs(preset, steps, overrides)
    train_sentences = read_sentences(corpus_dir / "train.txt")
    test_sentences = read_sentences(corpus_dir / "test.txt")
    device = pick_device(train_config.device)
    tokenizer_path = out_dir / "tokenizer.json"
    if resume:
        checkpoint = _load_checkpoint(out_dir, model_config, tokenizer_path, device)
    runtime = _start_distributed()
    try:
        if runtime.world_size > 1 and device.type == "cuda":
            device = torch.device("cuda", runtime.local_rank)
            torch.cuda.set_device(device)
        if runtime.is_main:
            out_dir.mkdir(parents=True, exist_ok=True)
            prepare_tokenizer(corpus_dir, out_dir, train_config.max_vocab, train_config.tokenizer)
        runtime.barrier()
        tokenizer = load_tokenizer(tokenizer_path)
        model_config = replace(model_config, vocab_size=tokenizer.vocab_size)
        run = _TrainingRun(corpus_dir, out_dir, preset, seed, model_config, train_config, tokenizer, device, runtime)
        run.prepare_data(train_sentences, test_sentences)
        if resume:
            run.restore(checkpoint)
        run.train(progress)
        runtime.barrier()
        card = run.finish(train_sentences) if runtime.is_main else {}
        runtime.barrier()
        return card
    finally:
        if runtime.world_size > 1 and dist.is_initialized():
            dist.destroy_process_group()


class _TrainingRun:
    """The state of one training run: model, optimizer, data and the bookkeeping checkpoints keep."""

    def __init__(
        self,
        corpus_dir: Path,
        out_dir: Path,
        preset: str,
        seed: int,
        model_config: GPTConfig,
        train_config: TrainConfig,
        tokenizer: AnyTokenizer,
        device: torch.device,
        runtime: _Distributed,
    ) -> None:
        self.corpus_dir, self.out_dir, self.preset, self.seed = corpus_dir, out_dir, preset, seed
        self.model_config, self.config, self.tokenizer = model_config, train_config, tokenizer
        self.device, self.runtime = device, runtime
        torch.manual_seed(seed)
        self.model = GPT(model_config).to(device)
        self.optimizer = make_optimizer(self.model, train_config, device)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda step: lr_factor(step, train_config))
        self.network: torch.nn.Module = self.model
        if train_config.compile:
            self.network = torch.compile(self.network)
        if runtime.world_size > 1:
            device_ids = [device.index] if device.type == "cuda" else None
            self.network = DistributedDataParallel(self.network, device_ids=device_ids)
        # Each process draws its own batches; the seed and rank fix them.
        self.data_generator = torch.Generator().manual_seed(seed * 1000 + runtime.rank)
        self.step = 0
        self.best_val_loss = math.inf
        self.best_step = 0
        self.evals_without_improvement = 0
        self.early_stopped = False
        self.out_of_time = False
        self.tokens_per_s = 0.0
        self.train_seconds = 0.0
        self.last_train_loss = math.nan

    def prepare_data(self, train_sentences: list[str], test_sentences: list[str]) -> None:
        order = torch.randperm(len(train_sentences), generator=torch.Generator().manual_seed(self.seed)).tolist()
        encoded = [self.tokenizer.encode_sentence(train_sentences[i]) for i in order]
        self.stream = TokenStream(encoded, self.model_config.block_size, self.tokenizer.pad_id)
        test_ids = [self.tokenizer.encode_sentence(sentence) for sentence in test_sentences]
        self.val_blocks = validation_blocks(test_ids, self.model_config.block_size, self.tokenizer.pad_id)
        # A sub-word model spells words piece by piece; generation keeps it to these (case kept).
        self.corpus_words = (
            sorted(self.tokenizer.spelled_words(train_sentences))
            if isinstance(self.tokenizer, SubwordTokenizer)
            else []
        )

    def restore(self, checkpoint: dict[str, Any]) -> None:
        self.model.load_state_dict(checkpoint["model"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.scheduler.load_state_dict(checkpoint["scheduler"])
        self.step = checkpoint["step"]
        self.best_val_loss = checkpoint["best_val_loss"]
        self.best_step = checkpoint["best_step"]
        self.evals_without_improvement = checkpoint["evals_without_improvement"]
        self.early_stopped = self.evals_without_improvement >= self.config.patience
        self.train_seconds = checkpoint.get("train_seconds", 0.0)
        rng = checkpoint["rng"][self.runtime.rank]
        torch.set_rng_state(rng["torch"])
        if rng.get("cuda") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state(rng["cuda"])
        self.data_generator.set_state(rng["data"])
        if self.runtime.is_main:
            self._truncate_metrics_log(self.step)

    def _truncate_metrics_log(self, step: int) -> None:
        """Drop log lines a killed run wrote after its last checkpoint, so the log reads as one run."""
        path = self.out_dir / METRICS_LOG_FILE
        if path.is_file():
            lines = path.read_text(encoding="utf-8").splitlines()
            kept = [line for line in lines if json.loads(line)["step"] <= step]
            write_text_atomic(path, "".join(line + "\n" for line in kept))

    def _log(self, record: dict[str, Any]) -> None:
        if self.runtime.is_main:
            with (self.out_dir / METRICS_LOG_FILE).open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")

    def train(self, progress: bool) -> None:
        config = self.config
        if self.step == 0 and self.runtime.is_main:
            (self.out_dir / METRICS_LOG_FILE).unlink(missing_ok=True)
        bar = _progress_bar(config.max_steps, self.step, progress and self.runtime.is_main)
        self.network.train()
        tokens_per_step = config.batch_size * self.model_config.block_size * self.runtime.world_size
        window_start, window_steps = time.perf_counter(), 0
        deadline = time.monotonic() + config.max_minutes * 60 if config.max_minutes > 0 else None
        try:
            while self.step < config.max_steps and not self.early_stopped and not self.out_of_time:
                inputs, targets = self.stream.sample(config.batch_size, self.data_generator)
                inputs, targets = inputs.to(self.device), targets.to(self.device)
                with autocast_for(self.device):
                    _, loss = self.network(inputs, targets)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), config.grad_clip)
                self.optimizer.step()
                self.scheduler.step()
                self.optimizer.zero_grad(set_to_none=True)
                self.step += 1
                window_steps += 1
                if self.step % config.log_every == 0 or self.step == config.max_steps:
                    self.last_train_loss = loss.detach().item()
                    elapsed = time.perf_counter() - window_start
                    self.train_seconds += elapsed
                    self.tokens_per_s = tokens_per_step * window_steps / max(elapsed, 1e-9)
                    window_start, window_steps = time.perf_counter(), 0
                    record = {
                        "step": self.step,
                        "train_loss": round(self.last_train_loss, 5),
                        "lr": self.scheduler.get_last_lr()[0],
                        "tokens_per_s": round(self.tokens_per_s, 1),
                    }
                    self._log(record)
                    if bar is not None:
                        bar.set_postfix(
                            loss=f"{self.last_train_loss:.3f}",
                            ppl=f"{math.exp(min(self.last_train_loss, 50)):.1f}",
                            tok_s=f"{self.tokens_per_s:,.0f}",
                        )
                if bar is not None:
                    bar.update(1)
                self.out_of_time = deadline is not None and self._all_agree(time.monotonic() > deadline)
                if self.step % config.eval_every == 0 or self.step == config.max_steps or self.out_of_time:
                    self._evaluate_and_checkpoint()
                    window_start = time.perf_counter()
        finally:
            if bar is not None:
                bar.close()

    def _all_agree(self, flag: bool) -> bool:
        """True when any process says so: every process must stop at the same step."""
        if self.runtime.world_size == 1:
            return flag
        value = torch.tensor([float(flag)], device=self.device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item())

    def _evaluate_and_checkpoint(self) -> None:
        blocks = self.val_blocks[: self.config.eval_max_blocks]
        val_loss = evaluate_loss(self.model, blocks, self.tokenizer.pad_id, self.device)
        self._log({"step": self.step, "val_loss": round(val_loss, 5), "val_ppl": round(math.exp(val_loss), 3)})
        if val_loss < self.best_val_loss - self.config.min_improvement:
            self.best_val_loss, self.best_step = val_loss, self.step
            self.evals_without_improvement = 0
            if self.runtime.is_main:
                self._save_model(self.out_dir / "model.pt")
        else:
            self.evals_without_improvement += 1
            self.early_stopped = self.evals_without_improvement >= self.config.patience
        self._write_checkpoint()

    def _save_model(self, path: Path) -> None:
        payload = {
            "model": self.model.state_dict(),
            "model_config": self.model_config.to_dict(),
            "tokenizer_sha256": self.tokenizer.sha256(),
            "step": self.step,
            "val_loss": self.best_val_loss,
        }
        if self.corpus_words:
            payload["words"] = self.corpus_words
        with atomic_path(path) as tmp:
            torch.save(payload, tmp)

    def _write_checkpoint(self) -> None:
        rng = {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state() if self.device.type == "cuda" else None,
            "data": self.data_generator.get_state(),
        }
        states = [rng]
        if self.runtime.world_size > 1:
            states = [None] * self.runtime.world_size
            dist.all_gather_object(states, rng)
        if not self.runtime.is_main:
            return
        checkpoint = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "step": self.step,
            "best_val_loss": self.best_val_loss,
            "best_step": self.best_step,
            "evals_without_improvement": self.evals_without_improvement,
            "train_seconds": self.train_seconds,
            "rng": states,
            "model_config": self.model_config.to_dict(),
            "train_config": asdict(self.config),
            "tokenizer_sha256": self.tokenizer.sha256(),
            "seed": self.seed,
        }
        with atomic_path(self.out_dir / CHECKPOINT_FILE) as tmp:
            torch.save(checkpoint, tmp)

    def finish(self, train_sentences: list[str]) -> dict:
        """Write the rest of the model folder from the best weights and return the model card."""
        out = self.out_dir
        best = torch.load(out / "model.pt", map_location=self.device, weights_only=False)
        self.model.load_state_dict(best["model"])
        test_loss = evaluate_loss(self.model, self.val_blocks, self.tokenizer.pad_id, self.device)
        _write_words(self.corpus_dir / "words.txt", out / "words.txt", train_sentences)
        NoveltyIndex.from_texts(train_sentences).save(out / INDEX_FILE)
        metrics = {
            "steps": self.step,
            "best_step": self.best_step,
            "early_stopped": self.early_stopped,
            "stopped_by_time_limit": self.out_of_time,
            "best_val_loss": round(self.best_val_loss, 5),
            "test_loss": round(test_loss, 5),
            "test_perplexity": round(math.exp(test_loss), 3),
            "final_train_loss": round(self.last_train_loss, 5),
            "tokens_per_s": round(self.tokens_per_s, 1),
            "train_seconds": round(self.train_seconds, 1),
            "train_tokens": self.stream.num_tokens,
            "device": str(self.device),
            "world_size": self.runtime.world_size,
        }
        write_text_atomic(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
        _plot_loss_curve(out / METRICS_LOG_FILE, out / LOSS_CURVE_FILE)
        card = {
            "model_version": f"{self.preset}-{file_sha256(out / 'model.pt')[:12]}",
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "preset": self.preset,
            "seed": self.seed,
            "steps": self.step,
            "best_step": self.best_step,
            "test_perplexity": metrics["test_perplexity"],
            "corpus_hash": corpus_hash(self.corpus_dir),
            "corpus_train_sentences": len(train_sentences),
            "parameters": self.model.num_parameters(),
            "model_config": self.model_config.to_dict(),
            "train_config": asdict(self.config),
            "tokenizer": {
                "kind": self.tokenizer.kind,
                "vocab_size": self.tokenizer.vocab_size,
                "sha256": self.tokenizer.sha256(),
            },
            "sampling": asdict(SamplingDefaults()),
            "files": list(MODEL_FILES),
        }
        write_text_atomic(out / "model_card.json", json.dumps(card, indent=2) + "\n")
        (out / CHECKPOINT_FILE).unlink(missing_ok=True)  # optimizer state triples the folder; training is done
        return card


def _write_words(corpus_words: Path, target: Path, train_sentences: list[str]) -> None:
    """The corpus's familiar-word list, or one counted from train.txt when the corpus has none."""
    if corpus_words.is_file():
        with atomic_path(target) as tmp:
            shutil.copyfile(corpus_words, tmp)
        return
    counts = Counter(token for sentence in train_sentences for token in split_words(sentence) if is_word(token))
    write_text_atomic(target, "".join(f"{word}\t{count}\n" for word, count in counts.most_common()))


def _progress_bar(total: int, initial: int, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm  # optional on bare GPU machines; present wherever the CLI runs

    return tqdm(total=total, initial=initial, desc="training", unit="step", file=sys.stderr, dynamic_ncols=True)


def _plot_loss_curve(metrics_log: Path, target: Path) -> None:
    """Training and validation loss against step, as a PNG (skipped with a warning without matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot as plt
    except ImportError:
        log.warning("matplotlib is not installed: %s not drawn", target.name)
        return
    records = [json.loads(line) for line in metrics_log.read_text(encoding="utf-8").splitlines() if line.strip()]
    train = [(r["step"], r["train_loss"]) for r in records if "train_loss" in r]
    val = [(r["step"], r["val_loss"]) for r in records if "val_loss" in r]
    figure, axes = plt.subplots(figsize=(6, 3.5), dpi=100)
    if train:
        axes.plot(*zip(*train, strict=True), label="train", linewidth=1)
    if val:
        axes.plot(*zip(*val, strict=True), label="validation", marker="o", markersize=3)
    axes.set_xlabel("step")
    axes.set_ylabel("cross-entropy loss")
    axes.legend()
    axes.grid(alpha=0.3)
    figure.tight_layout()
    with atomic_path(target) as tmp:
        figure.savefig(tmp, format="png")
    plt.close(figure)
