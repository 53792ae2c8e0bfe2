"""Generation speed of trained models side by side: the word-level against the constrained sub-word tokenizer.

A sub-word model spells each word in several pieces and masks every step to corpus words, so it
pays in decoding steps and in mask lookups; this measures what that costs with real weights and
real filters. Quality is measured by `soulsgen evaluate`, not here.
Run: `python bench/tokenizer_choice.py MODEL_DIR [MODEL_DIR ...] [-n 500] [--device cpu]`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from soulsgen_lib.folders import ModelFolder
from soulsgen_lib.model.decoding import row_seed
from soulsgen_lib.model.device import synchronize
from soulsgen_lib.model.generate import GenerationRequest, GenerationStats, Generator, texts_or_error


def measure(model_dir: Path, count: int, device: str) -> dict:
    """Accepted sentences per second for one batched `generate` call of `count` requests, after a warm-up."""
    generator = Generator.load(model_dir, device=device)
    generator.generate([GenerationRequest(seed=row_seed(1, i)) for i in range(8)])
    generator.stats = GenerationStats()
    requests = [GenerationRequest(seed=row_seed(0, i)) for i in range(count)]
    start = time.perf_counter()
    sentences = texts_or_error(generator.generate(requests))
    synchronize(generator.device)
    seconds = time.perf_counter() - start
    pieces = sum(len(generator.tokenizer.encode(sentence)) + 1 for sentence in sentences) / len(sentences)
    card = ModelFolder(model_dir).card()
    return {
        "model": model_dir.name,
        "tokenizer": card["tokenizer"]["kind"],
        "vocab": generator.tokenizer.vocab_size,
        "steps/sentence": pieces,
        "sentences/s": count / seconds,
        "first try": generator.stats.first_try_rate,
        "sampled per accepted": generator.stats.sampled / max(generator.stats.accepted, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path, help="model folders written by `soulsgen train`")
    parser.add_argument("-n", "--count", type=int, default=500, help="sentences per model, in one batch")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, device {args.device}, threads {torch.get_num_threads()}")
    rows = [measure(model_dir, args.count, args.device) for model_dir in args.models]
    print("| model | tokenizer | vocab | steps / sentence | accepted sentences/s | first try | samples / accepted |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['model']} | {row['tokenizer']} | {row['vocab']:,} | {row['steps/sentence']:.1f} | "
            f"{row['sentences/s']:.1f} | {row['first try']:.1%} | {row['sampled per accepted']:.2f} |"
        )


if __name__ == "__main__":
    main()
