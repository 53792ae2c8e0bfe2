"""Train the GPT on a corpus folder and write a model folder (`soulsgen_lib.folders.ModelFolder`).

Sentences are shuffled once and packed (`data.TokenStream`). AdamW with warm-up and cosine decay, gradient
clipping, dropout and weight decay; validation on `test.txt` every `eval_every` steps keeps the
best weights (of a moving average of the weights, where `weight_average` is set) and stops early
when validation stops improving. Every checkpoint holds what an exact resume needs (model,
optimizer, scheduler, step, RNG states, weight average, configs, tokenizer hash).
Runs on one device, or under `torchrun` with DistributedDataParallel (NCCL on GPUs, gloo on CPU).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from torch import distributed as dist
from torch.nn.parallel import DistributedDataParallel

from soulsgen_lib.atomic import atomic_path, write_text_atomic
from soulsgen_lib.folders import CorpusFolder, ModelFolder, write_word_counts
from soulsgen_lib.model.config import GPTConfig, SamplingDefaults, TrainConfig, resolve_configs
from soulsgen_lib.model.data import TokenStream, count_words, drop_words, evaluate_loss, validation_blocks
from soulsgen_lib.model.device import autocast_for, pick_device, resolve_precision
from soulsgen_lib.model.errors import ModelError
from soulsgen_lib.model.filters import FilterConfig
from soulsgen_lib.model.gpt import GPT
from soulsgen_lib.model.novelty import NoveltyIndex
from soulsgen_lib.model.tokenizer import AnyTokenizer, SubwordTokenizer, train_tokenizer

log = logging.getLogger(__name__)


def lr_factor(step: int, config: TrainConfig, time_spent: float = 0.0) -> float:
    """Linear warm-up, then cosine decay down to `min_lr_ratio`.

    The decay follows whichever budget runs out first: the steps, or the share of `max_minutes`
    spent (`time_spent`, 0..1), so a run cut short by its time limit still ends on a low rate.
    """
    if step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    span = max(1, config.max_steps - config.warmup_steps)
    progress = min(1.0, max((step - config.warmup_steps) / span, time_spent))
    return config.min_lr_ratio + (1 - config.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def make_optimizer(model: GPT, config: TrainConfig, device: torch.device) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (not on biases, norms or position/bias vectors)."""
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(
        groups, lr=config.learning_rate, betas=(config.beta1, config.beta2), fused=device.type in ("cuda", "cpu")
    )


class WeightAverage:
    """An exponential moving average of a model's weights, evaluated and saved in place of the last step's."""

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        self.decay = decay
        self.params = list(model.parameters())
        self.shadow = [p.detach().clone() for p in self.params]

    def update(self, step: int) -> None:
        decay = min(self.decay, (1 + step) / (10 + step))  # early steps: follow the weights closely
        with torch.no_grad():
            torch._foreach_lerp_(self.shadow, [p.detach() for p in self.params], 1 - decay)

    @contextlib.contextmanager
    def swapped_in(self) -> Iterator[None]:
        """The averaged weights in the model for the block; the trained ones back after."""
        trained = [p.detach().clone() for p in self.params]
        with torch.no_grad():
            torch._foreach_copy_([p.data for p in self.params], self.shadow)
        try:
            yield
        finally:
            with torch.no_grad():
                torch._foreach_copy_([p.data for p in self.params], trained)


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


def prepare_tokenizer(
    corpus_dir: Path, model_dir: Path, max_vocab: int = 0, kind: str = "", retrain: bool = False
) -> AnyTokenizer:
    """The model folder's tokenizer, trained on the corpus's train.txt unless the folder's fits.

    The folder's tokenizer is kept only when it was trained on this corpus (`ModelFolder.SOURCE`)
    with the same vocabulary limit; `kind` "" accepts the folder's kind and trains a word-level one
    when there is none. `retrain` always trains a new one.
    """
    corpus, folder = CorpusFolder(Path(corpus_dir)), ModelFolder(Path(model_dir))
    corpus_hash = corpus.corpus_hash()
    path = folder.file(ModelFolder.TOKENIZER)
    if path.is_file() and not retrain:
        tokenizer = folder.load_tokenizer()
        if kind and tokenizer.kind != kind:
            raise ModelError(
                f"{path}: a {tokenizer.kind} tokenizer, but a {kind} one was asked for; "
                "train into another folder or delete that file"
            )
        source = folder.source()
        if source.get("corpus_hash") == corpus_hash and source.get("max_vocab", 0) == max_vocab:
            return tokenizer
        log.info("%s was made from another corpus or vocabulary limit: training a new one", path)
        kind = kind or tokenizer.kind
    kind = kind or "word"
    tokenizer = train_tokenizer(corpus.train_sentences(), max_vocab=max_vocab, kind=kind)
    folder.path.mkdir(parents=True, exist_ok=True)
    folder.save_tokenizer(tokenizer, {"corpus_hash": corpus_hash, "kind": kind, "max_vocab": max_vocab})
    return tokenizer


def _load_checkpoint(
    corpus: CorpusFolder, folder: ModelFolder, model_config: GPTConfig, device: torch.device
) -> dict[str, Any]:
    """The resume checkpoint, checked against the requested model config, the corpus and the folder's tokenizer."""
    path = folder.file(ModelFolder.CHECKPOINT)
    tokenizer_path = folder.file(ModelFolder.TOKENIZER)
    if not path.is_file():
        raise ModelError(f"{path}: no checkpoint to resume from; train without --resume to start")
    if not tokenizer_path.is_file():
        raise ModelError(f"{tokenizer_path}: tokenizer missing beside the checkpoint; it cannot be resumed")
    made_from = folder.source().get("corpus_hash")
    corpus_hash = corpus.corpus_hash()
    if made_from != corpus_hash:
        raise ModelError(
            f"{path}: was trained on corpus {made_from}, but {corpus.path} is corpus {corpus_hash}; "
            "resume with the same corpus, or train without --resume into a new folder"
        )
    checkpoint = folder.load_checkpoint(device)
    saved = GPTConfig.from_dict(checkpoint.get("model_config", {})).to_dict()  # a newer setting: its default
    wanted = model_config.to_dict()
    different = sorted(key for key in wanted if key != "vocab_size" and saved.get(key) != wanted[key])
    if different:
        shown = ", ".join(f"{key}: checkpoint {saved.get(key)!r} vs requested {wanted[key]!r}" for key in different)
        raise ModelError(f"{path}: checkpoint was made with another model config ({shown}); use its preset")
    if checkpoint.get("tokenizer_sha256") != folder.load_tokenizer().sha256():
        raise ModelError(f"{path}: checkpoint was trained with another tokenizer than {tokenizer_path}")
    return checkpoint


def weights_version(preset: str, payload: dict[str, Any]) -> str:
    """`<preset>-<hash>`, the hash of the weights, model config and tokenizer only: same weights, same version."""
    digest = hashlib.sha256()
    digest.update(json.dumps(payload["model_config"], sort_keys=True).encode())
    digest.update(str(payload["tokenizer_sha256"]).encode())
    for name, tensor in sorted(payload["model"].items()):
        flat = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}:{flat.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(flat.view(torch.uint8).numpy().tobytes())
    return f"{preset}-{digest.hexdigest()[:12]}"


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
    """Train on a corpus folder and write the model folder `out_dir`; returns the model card.

    The one place a model's tokenizer is trained (see `prepare_tokenizer`).
    """
    corpus, folder = CorpusFolder(Path(corpus_dir)), ModelFolder(Path(out_dir))
    model_config, train_config = resolve_configs(preset, steps, overrides)
    train_sentences = corpus.train_sentences()
    test_sentences = corpus.test_sentences()
    device = pick_device(train_config.device)
    if resume:
        checkpoint = _load_checkpoint(corpus, folder, model_config, device)
    runtime = _start_distributed()
    try:
        if runtime.world_size > 1 and device.type == "cuda":
            device = torch.device("cuda", runtime.local_rank)
            torch.cuda.set_device(device)
        if runtime.is_main and not resume:
            prepare_tokenizer(corpus.path, folder.path, train_config.max_vocab, train_config.tokenizer)
        runtime.barrier()
        tokenizer = folder.load_tokenizer()
        model_config = replace(model_config, vocab_size=tokenizer.vocab_size)
        run = _TrainingRun(corpus, folder, preset, seed, model_config, train_config, tokenizer, device, runtime)
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
        corpus: CorpusFolder,
        folder: ModelFolder,
        preset: str,
        seed: int,
        model_config: GPTConfig,
        train_config: TrainConfig,
        tokenizer: AnyTokenizer,
        device: torch.device,
        runtime: _Distributed,
    ) -> None:
        self.corpus, self.folder, self.preset, self.seed = corpus, folder, preset, seed
        self.model_config, self.config, self.tokenizer = model_config, train_config, tokenizer
        self.device, self.runtime = device, runtime
        torch.manual_seed(seed)
        self.model = GPT(model_config).to(device)
        self.optimizer = make_optimizer(self.model, train_config, device)
        self.time_spent = 0.0  # share of this run's max_minutes used so far: the rate decays by it too
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: lr_factor(step, train_config, self.time_spent)
        )
        self.average = WeightAverage(self.model, train_config.weight_average) if train_config.weight_average else None
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
        if self.average is not None:
            self.average = WeightAverage(self.model, self.config.weight_average)  # a checkpoint without one starts here
            if checkpoint.get("weight_average") is not None:
                self.average.shadow = [t.to(self.device) for t in checkpoint["weight_average"]]
        if self.runtime.is_main:
            self._truncate_metrics_log(self.step)

    def _truncate_metrics_log(self, step: int) -> None:
        """Drop log lines a killed run wrote after its last checkpoint, so the log reads as one run."""
        path = self.folder.file(ModelFolder.METRICS_LOG)
        if path.is_file():
            lines = path.read_text(encoding="utf-8").splitlines()
            kept = [line for line in lines if json.loads(line)["step"] <= step]
            write_text_atomic(path, "".join(line + "\n" for line in kept))

    def _log(self, record: dict[str, Any]) -> None:
        if self.runtime.is_main:
            with self.folder.file(ModelFolder.METRICS_LOG).open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")

    def train(self, progress: bool) -> None:
        config = self.config
        if self.step == 0 and self.runtime.is_main:
            self.folder.file(ModelFolder.METRICS_LOG).unlink(missing_ok=True)
        bar = _progress_bar(config.max_steps, self.step, progress and self.runtime.is_main)
        self.network.train()
        tokens_per_step = config.batch_size * self.model_config.block_size * self.runtime.world_size
        window_start, window_steps = time.perf_counter(), 0
        run_start = time.monotonic()
        special = (self.tokenizer.pad_id, self.tokenizer.bos_id)  # never dropped by word dropout
        try:
            while self.step < config.max_steps and not self.early_stopped and not self.out_of_time:
                inputs, targets = self.stream.sample(config.batch_size, self.data_generator)
                inputs = drop_words(inputs, config.word_dropout, self.tokenizer.unk_id, special, self.data_generator)
                inputs, targets = inputs.to(self.device), targets.to(self.device)
                with autocast_for(self.device, self.config.precision):
                    _, loss = self.network(inputs, targets)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), config.grad_clip)
                self.optimizer.step()
                self.scheduler.step()
                self.optimizer.zero_grad(set_to_none=True)
                if self.average is not None:
                    self.average.update(self.step)
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
                if config.max_minutes > 0:
                    self.time_spent = self._agreed_max((time.monotonic() - run_start) / (config.max_minutes * 60))
                    self.out_of_time = self.time_spent >= 1.0
                if self.step % config.eval_every == 0 or self.step == config.max_steps or self.out_of_time:
                    self._evaluate_and_checkpoint()
                    window_start = time.perf_counter()
        finally:
            if bar is not None:
                bar.close()

    def _agreed_max(self, value: float) -> float:
        """The largest of every process's `value`: all must stop, and set the rate, alike."""
        if self.runtime.world_size == 1:
            return value
        shared = torch.tensor([value], device=self.device)
        dist.all_reduce(shared, op=dist.ReduceOp.MAX)
        return float(shared.item())

    def _evaluate_and_checkpoint(self) -> None:
        with self.average.swapped_in() if self.average is not None else contextlib.nullcontext():
            self._evaluate()
        self._write_checkpoint()

    def _evaluate(self) -> None:
        blocks = self.val_blocks[: self.config.eval_max_blocks]
        precision = self.config.precision
        val_loss = evaluate_loss(self.model, blocks, self.tokenizer.pad_id, self.device, precision=precision)
        self._log({"step": self.step, "val_loss": round(val_loss, 5), "val_ppl": round(math.exp(val_loss), 3)})
        if val_loss < self.best_val_loss - self.config.min_improvement:
            self.best_val_loss, self.best_step = val_loss, self.step
            self.evals_without_improvement = 0
            if self.runtime.is_main:
                self._save_model()
        else:
            self.evals_without_improvement += 1
            self.early_stopped = self.evals_without_improvement >= self.config.patience

    def _save_model(self) -> None:
        self.folder.save_weights(
            {
                "model": self.model.state_dict(),
                "model_config": self.model_config.to_dict(),
                "tokenizer_sha256": self.tokenizer.sha256(),
                "step": self.step,
                "val_loss": self.best_val_loss,
            }
        )

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
            "weight_average": self.average.shadow if self.average is not None else None,
            "model_config": self.model_config.to_dict(),
            "train_config": asdict(self.config),
            "tokenizer_sha256": self.tokenizer.sha256(),
            "seed": self.seed,
        }
        self.folder.save_checkpoint(checkpoint)

    def finish(self, train_sentences: list[str]) -> dict:
        """Write the rest of the model folder from the best weights and return the model card."""
        folder = self.folder
        best = folder.load_weights(self.device)
        self.model.load_state_dict(best["model"])
        test_loss = evaluate_loss(
            self.model, self.val_blocks, self.tokenizer.pad_id, self.device, precision=self.config.precision
        )
        _write_familiar_words(self.corpus, folder, train_sentences)
        folder.save_corpus_words(self.corpus_words)
        folder.save_novelty(NoveltyIndex.from_texts(train_sentences))
        folder.save_train_sentences(train_sentences)
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
            "precision": resolve_precision(self.device, self.config.precision),
            "world_size": self.runtime.world_size,
        }
        folder.save_metrics(metrics)
        _plot_loss_curve(folder.file(ModelFolder.METRICS_LOG), folder.file(ModelFolder.LOSS_CURVE))
        card = {
            "model_version": weights_version(self.preset, best),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "preset": self.preset,
            "seed": self.seed,
            "steps": self.step,
            "best_step": self.best_step,
            "test_perplexity": metrics["test_perplexity"],
            "corpus_hash": self.corpus.corpus_hash(),
            "corpus_train_sentences": len(train_sentences),
            "parameters": self.model.num_parameters(),
            "model_config": self.model_config.to_dict(),
            "train_config": asdict(self.config),
            "tokenizer": {
                "kind": self.tokenizer.kind,
                "vocab_size": self.tokenizer.vocab_size,
                "sha256": self.tokenizer.sha256(),
            },
            "sampling": asdict(SamplingDefaults.for_tokenizer(self.tokenizer.kind)),
            "filters": asdict(FilterConfig()),
            "files": list(ModelFolder.FILES),
        }
        folder.save_card(card)
        # The optimizer state triples the folder; training is done.
        folder.file(ModelFolder.CHECKPOINT).unlink(missing_ok=True)
        return card


def _write_familiar_words(corpus: CorpusFolder, folder: ModelFolder, train_sentences: list[str]) -> None:
    """The corpus's familiar-word list, or one counted from train.txt when the corpus has none."""
    target = folder.file(ModelFolder.WORDS)
    if corpus.words_file.is_file():
        write_text_atomic(target, corpus.words_file.read_text(encoding="utf-8"))
    else:
        write_word_counts(target, count_words(train_sentences))


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
