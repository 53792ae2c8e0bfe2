"""Training speed: tokens/s of a training step and model-FLOP utilisation against a GEMM rate measured here.

MFU = 6 x parameters x tokens/s / (fp32 matmul FLOP/s measured in the same run, same threads).
Default shape: 6 layers, 384 dims, 64 tokens, batch 32, vocab 8000 (the issue's benchmark).
Each shape runs with one softmax beside the two-level one (`--head-tokens` frequent words in the
first, the `small` preset's 2,000 by default): targets follow Zipf's law over frequency-ordered ids,
as a word vocabulary's do, so the rare-word softmax is scored as often as in training. Its MFU is
not shown: it does fewer FLOPs than its parameters suggest, which is the point.
Run: `python bench/train.py [--device cuda] [--preset large | --layers 12 --dims 1024 --heads 16] [--steps 10]`.
"""

from __future__ import annotations

import argparse
import time

import torch

from soulsgen_lib.model.config import PRESETS, GPTConfig, TrainConfig
from soulsgen_lib.model.device import autocast_for, resolve_precision, synchronize
from soulsgen_lib.model.gpt import GPT
from soulsgen_lib.model.train import make_optimizer


def gemm_rate(device: torch.device, size: int = 1024, repeats: int = 20) -> float:
    """fp32 matrix-multiply FLOP/s (TF32 off on GPUs, so it is the fp32 rate)."""
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    for _ in range(3):
        a @ b
    synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    synchronize(device)
    return 2 * size**3 * repeats / (time.perf_counter() - start)


def zipf_tokens(vocab: int, shape: tuple[int, int], device: torch.device) -> torch.Tensor:
    """Token ids drawn with probability 1/rank: id 0 the commonest, as in a word tokenizer's vocabulary."""
    weights = 1.0 / torch.arange(1, vocab + 1, dtype=torch.float)
    return torch.multinomial(weights, shape[0] * shape[1], replacement=True).view(shape).to(device)


def step_rate(model: GPT, device: torch.device, batch: int, steps: int, precision: str) -> float:
    """Tokens per second of full training steps (forward, backward, clipping, AdamW) at `precision`."""
    optimizer = make_optimizer(model, TrainConfig(), device)
    block, vocab = model.config.block_size, model.config.vocab_size
    inputs = zipf_tokens(vocab, (batch, block), device)
    targets = zipf_tokens(vocab, (batch, block), device)

    def one_step() -> None:
        with autocast_for(device, precision):
            _, loss = model(inputs, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(2):
        one_step()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        one_step()
    synchronize(device)
    return batch * block * steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--dims", type=int, default=384)
    parser.add_argument("--heads", type=int, default=6)
    parser.add_argument("--block", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--vocab", type=int, default=8000)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--head-tokens", type=int, default=0, help="two-level softmax's first level (0: preset's/2000)")
    parser.add_argument("--preset", choices=sorted(PRESETS), help="take layers, heads, dims, block and batch from it")
    args = parser.parse_args()
    if args.preset:
        shape = PRESETS[args.preset].model
        args.layers, args.heads, args.dims, args.block = shape.n_layer, shape.n_head, shape.n_embd, shape.block_size
        args.batch = PRESETS[args.preset].train.batch_size
        args.head_tokens = args.head_tokens or shape.head_tokens
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
    head_tokens = args.head_tokens or 2000
    # fp32 beside bf16 autocast wherever the device computes bf16 natively (what training picks there).
    precisions = ["fp32", "bf16"] if resolve_precision(device) == "bf16" else ["fp32"]
    gemm_before = gemm_rate(device)
    rows = []
    for head in (0, head_tokens):
        torch.manual_seed(0)
        config = GPTConfig(args.vocab, args.block, args.layers, args.heads, args.dims, dropout=0.0, head_tokens=head)
        model = GPT(config).to(device).train()
        for precision in precisions:
            rows.append((model, precision, step_rate(model, device, args.batch, args.steps, precision)))
    gemm_after = gemm_rate(device)
    gemm = (gemm_before + gemm_after) / 2  # the machine's load drifts: average both sides of the timing
    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}")
    before, after = gemm_before / 1e9, gemm_after / 1e9
    print(f"fp32 GEMM {gemm / 1e9:.0f} GFLOP/s measured here (before {before:.0f}, after {after:.0f})")
    print("| model | output layer | params | batch x tokens | precision | tokens/s | s/step | MFU |")
    print("|---|---|---|---|---|---|---|---|")
    for model, precision, tokens_per_s in rows:
        params = model.num_parameters()
        head = f"two-level ({model.config.head_tokens:,} + rare)" if model.two_level else "one softmax"
        mfu = "—" if model.two_level else f"{6 * params * tokens_per_s / gemm:.0%}"
        print(
            f"| {args.layers}L/{args.dims}d/vocab {args.vocab:,} | {head} | {params / 1e6:.1f} M | "
            f"{args.batch} x {args.block} | {precision} | {tokens_per_s:,.0f} | "
            f"{args.batch * args.block / tokens_per_s:.2f} | {mfu} |"
        )


if __name__ == "__main__":
    main()
