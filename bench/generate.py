"""Generation speed: the old bot's method beside our batched, early-stopping, KV-cached decode.

Random weights (vocab 8000, 64-token context). The old method, reproduced with our model as the
in-run reference: batch of one, nucleus 0.85, always 64 tokens. Ours: rows end at `</s>` after
lengths drawn like the sample corpus (6-27 tokens, mean ~16), forced so that random weights
still stop like a trained model; sampling and cache compaction run as in real use.
Run: `python bench/generate.py [--device cuda] [--sizes 6x384,12x1024] [--batch 256]`.
"""

from __future__ import annotations

import argparse
import random
import time

import torch

from soulsgen_lib.model.config import SamplingDefaults
from soulsgen_lib.model.decoding import DecodeRow
from soulsgen_lib.model.device import synchronize
from soulsgen_lib.model.generate import Generator
from soulsgen_lib.model.gpt import GPT, GPTConfig
from soulsgen_lib.model.novelty import NoveltyIndex
from soulsgen_lib.model.tokenizer import train_tokenizer

VOCAB = 8000
OLD_FIGURES_S = {(12, 1024): 1.72, (6, 384): 0.213}  # reference-figures.md, this kind of 2-core machine


def build(layers: int, dims: int, device: torch.device, bf16: bool = False) -> Generator:
    heads = 16 if dims >= 1024 else 8
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=VOCAB, block_size=64, n_layer=layers, n_head=heads, n_embd=dims, dropout=0.0))
    model.to(device)
    if bf16:
        model.to(torch.bfloat16)
    words = [f"w{i}" for i in range(VOCAB - 4)]
    tokenizer = train_tokenizer([" ".join(words)], max_vocab=VOCAB)
    return Generator(model, tokenizer, NoveltyIndex([]), [], SamplingDefaults(), "bench", device)


@torch.inference_mode()
def old_method(generator: Generator, sentences: int) -> float:
    """Seconds per sentence: batch of one, top-p 0.85, always 64 tokens (the old bot's loop)."""
    model, device = generator.model, generator.device
    start = time.perf_counter()
    for _ in range(sentences):
        cache = model.new_cache(1)
        token = torch.tensor([[generator.tokenizer.bos_id]], device=device)
        for _ in range(model.config.block_size - 1):
            logits = model.decode(token, cache)
            probs, order = torch.softmax(logits, dim=-1).sort(descending=True)
            probs[(probs.cumsum(-1) - probs) > 0.85] = 0
            token = order.gather(1, torch.multinomial(probs, 1))
    synchronize(device)
    return (time.perf_counter() - start) / sentences


def ours(generator: Generator, batch: int, rng: random.Random) -> float:
    """Seconds per sentence for one batched decode of `batch` rows ending at corpus-like lengths."""
    tok = generator.tokenizer
    rows = []
    for _ in range(batch):
        length = max(6, min(27, round(rng.gauss(16, 4))))
        words = [rng.randrange(4, VOCAB) for _ in range(length - 2)]
        rows.append(DecodeRow([*words, tok.eos_id], torch.rand(64), 0.9, 0.9, 10_000))
    start = time.perf_counter()
    generator.decoder.decode(rows, generator.defaults.top_k)
    synchronize(generator.device)
    return (time.perf_counter() - start) / batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sizes", default="6x384,12x1024", help="LAYERSxDIMS, comma-separated")
    parser.add_argument("--batch", type=int, default=256, help="rows of the batched decode")
    parser.add_argument("--old-sentences", type=int, default=2, help="sentences timed for the old method")
    parser.add_argument("--bf16", action="store_true", help="also time our decode with bf16 weights")
    args = parser.parse_args()
    device = torch.device(args.device)
    rng = random.Random(0)
    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}")
    print("| model | method | batch | sentences/s | ms/sentence | x old (this run) | old, reference figure |")
    print("|---|---|---|---|---|---|---|")
    for size in args.sizes.split(","):
        layers, dims = (int(part) for part in size.split("x"))
        generator = build(layers, dims, device)
        ours(generator, 4, rng)  # warm-up
        old = old_method(generator, args.old_sentences)
        results = [("old: batch 1, 64 tokens", 1, old)]
        for precision in ("fp32", "bf16") if args.bf16 else ("fp32",):
            if precision == "bf16":
                generator = build(layers, dims, device, bf16=True)
                ours(generator, 4, rng)
            single = sum(ours(generator, 1, rng) for _ in range(3)) / 3
            batched = ours(generator, args.batch, rng)
            results.append((f"ours {precision}: batch 1, stops at </s>", 1, single))
            results.append((f"ours {precision}: batched, stops at </s>", args.batch, batched))
        reference = OLD_FIGURES_S.get((layers, dims))
        shown_ref = f"{reference * 1000:.0f} ms" if reference else "-"
        name = f"{layers}L/{dims}d"
        for method, batch, seconds in results:
            print(
                f"| {name} | {method} | {batch} | {1 / seconds:.1f} | {seconds * 1000:.1f} | "
                f"{old / seconds:.1f} | {shown_ref} |"
            )


if __name__ == "__main__":
    main()
