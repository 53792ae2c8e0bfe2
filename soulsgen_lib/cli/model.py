"""`soulsgen tokenizer`, `train`, `generate` and `evaluate`: thin wrappers over `soulsgen_lib.model`.

torch is imported inside each command so that `soulsgen --help` stays fast.
"""

from __future__ import annotations

import json
import secrets
import sys
from collections.abc import Callable
from pathlib import Path

import click

from soulsgen_lib.atomic import OutputKind, check_output_folder
from soulsgen_lib.cli.common import artifact_folder, folder_option, home_option, model_option
from soulsgen_lib.folders import EvaluationFolder, ModelFolder
from soulsgen_lib.model.config import DEFAULT_PRESET, PRESETS, PROMPT_STRATEGIES, TOKENIZER_KINDS
from soulsgen_lib.model.filters import FilterConfig

_MODEL_FOLDER = OutputKind("model folder", markers=(ModelFolder.CARD, ModelFolder.CHECKPOINT, ModelFolder.TOKENIZER))
_EVALUATION_FOLDER = OutputKind("evaluation folder", markers=(EvaluationFolder.SCORECARD, EvaluationFolder.REPORT))


def _parse_overrides(pairs: tuple[str, ...]) -> dict[str, str]:
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--set")
        overrides[key.strip()] = value.strip()
    return overrides


corpus_option = folder_option(
    "--corpus", "corpus_dir", "Corpus folder with train.txt and test.txt (default: $SOULSGEN_HOME/work/corpus)."
)
_TOKENIZER_HELP = "word: whole corpus words as tokens; subword: BPE pieces, decoded only within corpus words."
device_option = click.option("--device", default=None, help="cuda, mps or cpu (default: the best one available).")


def _tokenizer_option(default: str | None, help: str) -> Callable:
    """--tokenizer: the kind of tokenizer to train."""
    kinds = click.Choice(TOKENIZER_KINDS)
    return click.option(
        "--tokenizer", "tokenizer_kind", type=kinds, default=default, show_default=default is not None, help=help
    )


@click.group()
def tokenizer() -> None:
    """Build the tokenizer a model is trained with."""


@tokenizer.command("train")
@corpus_option
@folder_option("--out", "out_dir", "Model folder to write tokenizer.json into (default: $SOULSGEN_HOME/work/model).")
@_tokenizer_option("word", _TOKENIZER_HELP)
@click.option(
    "--max-vocab",
    type=click.IntRange(min=0),
    default=0,
    help="Keep at most this many tokens (default: 32000 words; 4000 pieces, or a third of the words if fewer).",
)
@home_option
def tokenizer_train(
    corpus_dir: Path | None, out_dir: Path | None, tokenizer_kind: str, max_vocab: int, home: Path | None
) -> None:
    """Learn the vocabulary (words and punctuation, case kept) of the corpus's train.txt.

    Writes tokenizer.json. Either way a model cannot invent a word: word tokens are whole corpus
    words, and sub-word models are decoded only along corpus words.
    """
    from soulsgen_lib.model.train import prepare_tokenizer

    corpus_dir = artifact_folder(corpus_dir, home, "work_corpus_dir")
    out_dir = check_output_folder(artifact_folder(out_dir, home, "work_model_dir"), _MODEL_FOLDER, [corpus_dir])
    trained = prepare_tokenizer(corpus_dir, out_dir, max_vocab, tokenizer_kind, retrain=True)
    click.echo(f"{ModelFolder(out_dir).file(ModelFolder.TOKENIZER)}: {trained.vocab_size} tokens", err=True)


@click.command()
@corpus_option
@folder_option("--out", "out_dir", "Model folder to write (default: $SOULSGEN_HOME/work/model).")
@click.option(
    "--preset", type=click.Choice(tuple(PRESETS)), default=DEFAULT_PRESET, show_default=True, help="Model size."
)
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Training steps (default: the preset's).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of weights, data order and dropout.")
@click.option(
    "--max-minutes",
    type=click.FloatRange(min=0),
    default=None,
    help="Stop after this many minutes of training, keeping the best weights (default: no limit).",
)
@click.option("--resume", is_flag=True, help="Continue from the folder's checkpoint.pt where a run stopped.")
@_tokenizer_option(None, f"{_TOKENIZER_HELP} (default: the folder's tokenizer, else word)")
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a model or training field, e.g. --set dropout=0.3 --set batch_size=16 (repeatable).",
)
@device_option
@click.option("--compile", "compile_model", is_flag=True, help="torch.compile the model (worth it on GPUs).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@home_option
def train(
    corpus_dir: Path | None,
    out_dir: Path | None,
    preset: str,
    steps: int | None,
    seed: int,
    max_minutes: float | None,
    resume: bool,
    tokenizer_kind: str | None,
    settings: tuple[str, ...],
    device: str | None,
    compile_model: bool,
    quiet: bool,
    home: Path | None,
) -> None:
    """Train the GPT on a corpus folder and write a model folder.

    Trains the tokenizer first when the folder has none. Validation on test.txt keeps the best
    weights and stops early when it stops improving. Multi-GPU: launch with
    `torchrun --nproc_per_node N --no-python soulsgen train ...`.
    """
    from soulsgen_lib.model.train import train_model

    overrides: dict[str, object] = dict(_parse_overrides(settings))
    if tokenizer_kind:
        overrides["tokenizer"] = tokenizer_kind
    if device:
        overrides["device"] = device
    if compile_model:
        overrides["compile"] = True
    if max_minutes is not None:
        overrides["max_minutes"] = max_minutes
    corpus_dir = artifact_folder(corpus_dir, home, "work_corpus_dir")
    card = train_model(
        corpus_dir,
        check_output_folder(artifact_folder(out_dir, home, "work_model_dir"), _MODEL_FOLDER, [corpus_dir]),
        preset=preset,
        steps=steps,
        seed=seed,
        resume=resume,
        overrides=overrides,
        progress=not quiet,
    )
    if card:
        click.echo(
            f"model {card['model_version']}: {card['steps']} steps (best {card['best_step']}), "
            f"test perplexity {card['test_perplexity']}",
            err=True,
        )


@click.command()
@model_option
@click.option("-n", "count", type=click.IntRange(min=1), default=20, show_default=True, help="Sentences to write.")
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Same seed, same sentences (on CPU).")
@click.option("--prompt", default=None, help='Start text; "" for none (default: the model\'s prompt strategy).')
@click.option("--temperature", type=float, default=None, help="Sampling temperature (default: the model's).")
@click.option("--top-p", type=float, default=None, help="Nucleus probability mass (default: the model's).")
@click.option(
    "--max-chars", type=int, default=None, help=f"Longest sentence in characters (default {FilterConfig.max_chars})."
)
@click.option(
    "--precision",
    type=click.Choice(["fp32", "bf16"]),
    default=None,
    help="Weights' precision (default: bf16 on GPUs that support it, else fp32).",
)
@device_option
@home_option
def generate(
    model_dir: Path | None,
    count: int,
    seed: int | None,
    prompt: str | None,
    temperature: float | None,
    top_p: float | None,
    max_chars: int | None,
    precision: str | None,
    device: str | None,
    home: Path | None,
) -> None:
    """Write new sentences, one per line, to stdout; statistics go to stderr."""
    from soulsgen_lib.model.decoding import row_seed
    from soulsgen_lib.model.generate import GenerationRequest, Generator, texts_or_error

    generator = Generator.load(artifact_folder(model_dir, home, "work_model_dir"), device=device, precision=precision)
    base = seed if seed is not None else secrets.randbits(62)
    requests = [
        GenerationRequest(
            prompt=prompt, temperature=temperature, top_p=top_p, max_chars=max_chars, seed=row_seed(base, i)
        )
        for i in range(count)
    ]
    for sentence in texts_or_error(generator.generate(requests)):
        click.echo(sentence)
    stats = generator.stats.to_dict()
    click.echo(f"model {generator.model_version}: {json.dumps(stats)}", err=True)


@click.command()
@model_option
@corpus_option
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder for scorecard.json and report.html (default: <model>/evaluation).",
)
@click.option(
    "-n", "count", type=click.IntRange(min=10), default=1000, show_default=True, help="Sentences to score per seed."
)
@click.option("--seed", type=int, default=0, show_default=True, help="First seed of the sampled sentences.")
@click.option(
    "--seeds",
    "sampling_seeds",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Sampling seeds (MAUVE).",
)
@click.option("--no-baseline", is_flag=True, help="Skip the markovify baseline column.")
@click.option("--temperature", type=float, default=None, help="Try another sampling temperature.")
@click.option("--top-p", type=float, default=None, help="Try another nucleus mass.")
@click.option(
    "--prompt-strategy", type=click.Choice(PROMPT_STRATEGIES), default=None, help="Try another prompt strategy."
)
@click.option(
    "--likelihood-quantile",
    type=click.FloatRange(0, 1, min_open=True),
    default=None,
    help="Add the likelihood filter, passing this share of the model's own sentences.",
)
@click.option(
    "--calibrate",
    is_flag=True,
    help="First pick the word and class temperatures for this corpus from a grid: the highest MAUVE that"
    " stays fluent (part of speech within 1.06 x the test split's where spaCy's en_core_web_sm is"
    " installed); the model's own stay unless beaten by 0.02. Store them beside the model.",
)
@click.option(
    "--calibration-sentences",
    type=click.IntRange(min=10),
    default=1000,
    show_default=True,
    help="Sentences per calibration trial: fewer is faster, and MAUVE noisier.",
)
@device_option
@home_option
def evaluate(
    model_dir: Path | None,
    corpus_dir: Path | None,
    out_dir: Path | None,
    count: int,
    seed: int,
    sampling_seeds: int,
    no_baseline: bool,
    temperature: float | None,
    top_p: float | None,
    prompt_strategy: str | None,
    likelihood_quantile: float | None,
    calibrate: bool,
    calibration_sentences: int,
    device: str | None,
    home: Path | None,
) -> None:
    """Score a model's sentences (copies, invented words, diversity, lengths, MAUVE, fluency) beside markovify.

    Writes scorecard.json and report.html (scorecard and lexical charts, corpus and generated side by side).
    Two columns of real train sentences are the yardstick: a random sample, and the part of another
    sample that is new to the rest of the train split, as the model's sentences must be.
    """
    from soulsgen_lib.model.calibrate import CalibrationConfig, calibrate_sampling
    from soulsgen_lib.model.evaluate import evaluate_model

    model_dir = artifact_folder(model_dir, home, "work_model_dir")
    corpus_dir = artifact_folder(corpus_dir, home, "work_corpus_dir")
    sampling = {"temperature": temperature, "top_p": top_p, "prompt": prompt_strategy}
    likelihood_ceiling = None
    if calibrate:
        config = CalibrationConfig(count=calibration_sentences)
        calibration = calibrate_sampling(model_dir, corpus_dir, config, seed=seed, device=device)
        click.echo(f"calibrated: {json.dumps(calibration['sampling'])}", err=True)
        sampling = {**calibration["sampling"], **{k: v for k, v in sampling.items() if v is not None}}
        likelihood_ceiling = None if likelihood_quantile else calibration["likelihood_ceiling"]
    scorecard = evaluate_model(
        model_dir,
        corpus_dir,
        check_output_folder(out_dir or model_dir / "evaluation", _EVALUATION_FOLDER, [corpus_dir]),
        count=count,
        seed=seed,
        sampling_seeds=sampling_seeds,
        baseline=not no_baseline,
        device=device,
        progress=True,
        sampling={key: value for key, value in sampling.items() if value is not None},
        likelihood_quantile=likelihood_quantile,
        likelihood_ceiling=likelihood_ceiling,
    )
    json.dump(scorecard, sys.stdout, indent=2)
    click.echo()
