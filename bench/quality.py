"""Text quality of trained models on their corpora, beside markovify in the same run: the issue-12 table.

    python bench/quality.py NAME=MODEL_DIR:CORPUS_DIR [...] [-n 1000] [--seeds 3] [--likelihood-quantile 0.95]
                            [--sampling temperature=1.0,top_p=0.95] [--json out.json]

For each model: `evaluate_model` with the model's own defaults ("defaults"), then again with the
sampling settings and likelihood filter given here ("tuned"; omitted when neither is given), and
the accepted sentences per second of the tuned generator with the likelihood filter applied as
the generator will apply it. Prints one markdown table per model: first-try pass rate, MAUVE
(mean and by seed), length JS divergence, distinct-2, word-class fluency beside the test split's,
part-of-speech fluency (UPOS / Penn, where spaCy's en_core_web_sm is installed) as a ratio to the test split's,
copies / near-copies / invented words after filtering, and the distribution figures of as many
real train sentences (what real text reaches on this test split) and of those of another draw that
are new to the rest of the train split (what it reaches under the novelty filter). Real game text
stays outside the repo: point at corpus folders built with `soulsgen corpus build`. Figures swing
with machine load.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import tempfile
import time
from pathlib import Path

from soulsgen_lib.model.config import SamplingDefaults, coerce_setting
from soulsgen_lib.model.evaluate import evaluate_model

TARGETS = {
    "first_try": "≥ 0.90",
    "mauve": "≥ 0.975",
    "length_js": "≤ 0.03",
    "distinct_2": "≥ 0.65",
    "fluency": "≤ test split's",
    "pos_fluency": "≤ test x 1.06",
    "copies": "0 / 0 / 0",
}


def pos_cell(card: dict, test: dict | None) -> str:
    """UPOS / Penn perplexities and their ratios to the test split's; a dash without a tagger or for real sentences."""
    figures = card.get("pos_perplexity")
    if not figures or not test:
        return "—"
    ratios = " / ".join(f"{figures[t] / test[t]:.2f}" for t in ("upos", "penn"))
    return f"{figures['upos']} / {figures['penn']} (x {ratios})"


def row_values(card: dict, test_pos: dict | None = None) -> dict:
    """The issue table's cells for one generator's scorecard (real train sentences pass no filters: a dash)."""
    filtered = card.get("filtered")
    by_seed = " / ".join(str(m) for m in card["mauve_by_seed"])
    return {
        "first_try": card.get("first_try_pass_rate", "—"),
        "mauve": f"{card['mauve']} ({by_seed})",
        "length_js": f"{card['length_js_divergence']} ({card['mean_words']} words)",
        "distinct_2": card["distinct_2"],
        "fluency": card.get("fluency_perplexity", "—"),
        "pos_fluency": pos_cell(card, test_pos),
        "copies": (
            f"{filtered['copy_rate']} / {filtered['near_copy_rate']} / {filtered['invented_word_rate']}"
            if filtered
            else "—"
        ),
    }


def accepted_per_second(model_dir: Path, sampling: dict, ceiling: float | None, count: int = 500) -> float:
    """Accepted sentences/s of batched sampling with resampling, the likelihood check included."""
    import dataclasses

    from soulsgen_lib.model.evaluate import collect, model_drafts
    from soulsgen_lib.model.generate import Generator

    generator = Generator.load(model_dir, device="cpu")
    generator.defaults = dataclasses.replace(generator.defaults, **sampling)
    collect(model_drafts(generator, 1, likelihood_ceiling=ceiling), 20)  # warm-up
    start = time.perf_counter()
    _, collected = collect(model_drafts(generator, 2, likelihood_ceiling=ceiling), count)
    return collected["accepted"] / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", help="NAME=MODEL_DIR:CORPUS_DIR")
    parser.add_argument("-n", "--count", type=int, default=1000, help="sentences per sampling seed")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--likelihood-quantile", type=float, default=None)
    parser.add_argument("--sampling", default="", help="e.g. temperature=1.0,top_p=0.95,top_k=200")
    parser.add_argument("--json", type=Path, default=None, help="also write every scorecard here")
    args = parser.parse_args()
    sampling = {}
    defaults = SamplingDefaults()
    for pair in filter(None, args.sampling.split(",")):
        key, _, value = pair.partition("=")
        # An unknown key stays text: evaluate_model names it.
        sampling[key] = coerce_setting(key, value, type(getattr(defaults, key, "")))
    tuned = bool(sampling) or args.likelihood_quantile is not None
    results = {}
    print(
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; {args.count} sentences x {args.seeds} seeds"
    )
    for spec in args.runs:
        name, _, dirs = spec.partition("=")
        model_dir, _, corpus_dir = dirs.partition(":")
        with tempfile.TemporaryDirectory() as scratch:
            started = time.perf_counter()
            evaluate = functools.partial(
                evaluate_model,
                Path(model_dir),
                Path(corpus_dir),
                count=args.count,
                sampling_seeds=args.seeds,
                progress=False,
            )
            default = evaluate(Path(scratch) / "d")
            default_seconds = time.perf_counter() - started
            columns = {"defaults": default["model"]}
            if tuned:
                card = evaluate(
                    Path(scratch) / "t", baseline=False, sampling=sampling, likelihood_quantile=args.likelihood_quantile
                )
                columns["tuned"] = card["model"]
                ceiling = card["likelihood_filter"]["ceiling"]
                speed = accepted_per_second(Path(model_dir), sampling, ceiling)
                default_speed = accepted_per_second(Path(model_dir), {}, None)
                results[f"{name}/tuned"] = card
            columns["markovify"] = default["markovify"]
            columns["real train sentences"] = default["train_sentences"]
            columns["real, new to the rest of train"] = default["new_train_sentences"]
        results[name] = default
        test_pos = default["test_pos_perplexity"]
        pos = f"UPOS / Penn {test_pos['upos']} / {test_pos['penn']}" if test_pos else default["pos_fluency_note"]
        print(
            f"\n## {name}: train/test split of {corpus_dir}; test fluency: word classes"
            f" {default['test_fluency_perplexity']}, {pos}"
        )
        print(f"evaluation of the defaults with markovify: {default_seconds:.0f} s")
        if tuned:
            print(
                f"tuned: {json.dumps(sampling)}, likelihood quantile {args.likelihood_quantile}; "
                f"{speed:.0f} accepted sentences/s on CPU ({default_speed:.0f} with the defaults, same run)"
            )
        header = ["measure", *columns, "target"]
        print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
        values = {column: row_values(card, default["test_pos_perplexity"]) for column, card in columns.items()}
        for key, target in TARGETS.items():
            print("| " + " | ".join([key, *(str(values[c][key]) for c in columns), target]) + " |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
