"""Training speed: tokens/s of a training step and model-FLOP utilisation against a GEMM rate measured here.

MFU = 6 x parameters x tokens/s / (fp32 matmul FLOP/s measured in the same run, same threads).
Default shape: 6 layers, 384 dims, 64 tokens, batch 32, vocab 8000 (the issue's benchmark).
Run: `python bench/train.py [--device cuda] [--preset seed | --layers 12 --dims 1024 --heads 16] [--steps 10]`.
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


def step_rate(model: GPT, device: torch.device, batch: int, steps: int, precision: str) -> float:
    """Tokens per second of full training steps (forward, backward, clipping, AdamW) at `precision`."""
    optimizer = make_optimizer(model, TrainConfig(), device)
    block, vocab = model.config.block_size, model.config.vocab_size
    inputs = torch.randint(0, vocab, (batch, block), device=device)
    targets = torch.randint(0, vocab, (batch, block), device=device)

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
    parser.add_argument("--preset", choices=sorted(PRESETS), help="take layers, heads, dims, block and batch from it")
    args = parser.parse_args()
    if args.preset:
        shape = PRESETS[args.preset].model
        args.layers, args.heads, args.dims, args.block = shape.n_layer, shape.n_head, shape.n_embd, shape.block_size
        args.batch = PRESETS[args.preset].train.batch_size
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
    torch.manual_seed(0)
    config = GPTConfig(args.vocab, args.block, args.layers, args.heads, args.dims, dropout=0.0)
    model = GPT(config).to(device).train()
    params = model.num_parameters()
    # fp32 beside bf16 autocast wherever the device computes bf16 natively (what training picks there).
    precisions = ["fp32", "bf16"] if resolve_precision(device) == "bf16" else ["fp32"]
    gemm_before = gemm_rate(device)
    rates = {precision: step_rate(model, device, args.batch, args.steps, precision) for precision in precisions}
    gemm_after = gemm_rate(device)
    gemm = (gemm_before + gemm_after) / 2  # the machine's load drifts: average both sides of the timing
    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}")
    print("| model | params | batch x tokens | precision | tokens/s | fp32 GEMM GFLOP/s (measured) | MFU |")
    print("|---|---|---|---|---|---|---|")
    for precision, tokens_per_s in rates.items():
        mfu = 6 * params * tokens_per_s / gemm
        print(
            f"| {args.layers}L/{args.dims}d/vocab {args.vocab} | {params / 1e6:.1f} M | {args.batch} x {args.block} | "
            f"{precision} | {tokens_per_s:,.0f} | {gemm / 1e9:.0f} (before {gemm_before / 1e9:.0f}, "
            f"after {gemm_after / 1e9:.0f}) | {mfu:.0%} |"
        )


if __name__ == "__main__":
    main()
