"""Per-corpus sampling calibration: the most varied settings that stay fluent, stored beside the model.

Each game's text differs (Elden Ring's item lore is long and ornate, Sekiro's short), so one
pair of temperatures does not suit them all. A small grid of word and word-class temperatures
(model/decoding.py), the model's own pair among them, is sampled; among the settings whose
word-class perplexity (model/fluency.py) stays within `max_fluency_ratio` of the test split's,
whose part-of-speech perplexity stays within `max_pos_ratio` of it where spaCy's tagger is
installed, and whose raw near-copy rate stays within its limit, the one with the highest MAUVE
against the test split wins (none such: the most fluent), unless it beats the model's own pair by
no more than `min_gain`. The word-class check alone is blind to what the decoder's grammar (the
same class model) smooths over: on Sekiro every trial scored half the test split's word-class
perplexity while the defaults' part-of-speech perplexity was 1.12-1.14 times the test split's.
MAUVE against a few hundred test sentences moves by about 0.01 between samples of 1,000, and the
best of a grid of nine is mostly that noise: on Elden Ring, with 300 sentences a trial and no
margin, calibration picked 1.3 / 0.8, which scored 0.934 over 4 x 1,000 sentences where the
defaults scored 0.951; at 1,000 a trial the nine ranged 0.938-0.964, settings that
score 0.936-0.952 over 4 x 1,000. The choice and every trial go to `sampling_calibration.json`
in the model folder, for the generator to load over its defaults.
The likelihood filter (model/likelihood.py) is off unless `likelihood_quantile` is given: the
generator never applies it, and on Elden Ring it turned back a fifth of the first drafts for no
gain in MAUVE. With it, a trial's figures are taken past it at that trial's own ceiling.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from soulsgen_lib.atomic import write_text_atomic
from soulsgen_lib.folders import ModelFolder
from soulsgen_lib.model.data import read_sentences
from soulsgen_lib.model.errors import ModelError
from soulsgen_lib.model.evaluate import collect, model_drafts, train_tag_models
from soulsgen_lib.model.fluency import TAG_SETS, ClassNgramModel, PartOfSpeechFluency
from soulsgen_lib.model.generate import Generator
from soulsgen_lib.model.likelihood import LikelihoodConfig, calibrate_ceiling, sentence_losses
from soulsgen_lib.model.mauve import MAUVE_MIN, mauve_score, sentence_embeddings

_FORMAT = "soulsgen-calibration-1"


@dataclass(frozen=True)
class CalibrationConfig:
    """The grid searched and the rule that picks from it."""

    temperatures: tuple[float, ...] = (1.3, 1.5, 1.7)
    class_temperatures: tuple[float, ...] = (0.8, 1.0, 1.2)
    count: int = 1000  # accepted sentences per trial
    mauve_seeds: int = 2  # k-means seeds a trial's MAUVE is averaged over
    min_gain: float = 0.02  # MAUVE a setting must add to the model's own pair's to replace it (2 x its noise)
    max_near_copy_rate: float = 0.1  # raw copies and near-copies among first drafts (the filter resamples them)
    max_fluency_ratio: float = 1.05  # word-class perplexity at most this times the test split's
    max_pos_ratio: float = 1.06  # part-of-speech perplexity (UPOS and Penn) at most this times the test split's
    likelihood_quantile: float | None = None  # None: no likelihood filter, as the generator applies none


def calibrate_sampling(
    model_dir: Path,
    corpus_dir: Path,
    config: CalibrationConfig | None = None,
    seed: int = 0,
    device: str | None = None,
    nlp: Any = None,
) -> dict:
    """Search the grid, write `sampling_calibration.json` into `model_dir` and return its contents.

    `nlp` is a spaCy pipeline with a tagger; None loads the English one where it is installed, and
    without it the part-of-speech check is skipped (`pos_ratio` None in every trial).
    """
    config = config or CalibrationConfig()
    if not config.temperatures or not config.class_temperatures or config.count < 10 or config.mauve_seeds < 1:
        raise ModelError(
            "calibration needs at least one temperature, one class temperature, a count of 10 or more"
            " and one MAUVE seed or more"
        )
    model_dir, corpus_dir = Path(model_dir), Path(corpus_dir)
    test_sentences = read_sentences(corpus_dir / "test.txt")
    generator = Generator.load(model_dir, device=device)
    real = sentence_embeddings(test_sentences)
    train_sentences = read_sentences(corpus_dir / "train.txt")
    fluency = ClassNgramModel(train_sentences)
    test_fluency = fluency.perplexity(test_sentences)
    tagging = train_tag_models(train_sentences, nlp)
    test_tags = tagging.perplexities(test_sentences) if tagging else None
    base = generator.defaults
    own = {"temperature": base.temperature, "class_temperature": base.class_temperature}
    grid = [{"temperature": t, "class_temperature": c} for t in config.temperatures for c in config.class_temperatures]
    settings = grid if own in grid else [own, *grid]
    trials = []
    for setting in settings:
        generator.defaults = dataclasses.replace(base, **setting)
        first, collected = collect(model_drafts(generator, seed), config.count)
        copies = sum(problem in ("copy", "near_copy") for _, problem in first)
        accepted = collected["accepted_sentences"]
        ceiling = None
        if config.likelihood_quantile is not None and accepted:
            # The ceiling depends on the setting: it is the quantile of this setting's own sentences.
            likelihood = LikelihoodConfig(quantile=config.likelihood_quantile)
            model, tok, device = generator.model, generator.tokenizer, generator.device
            ceiling = calibrate_ceiling(model, tok, accepted, device, likelihood)
            losses = sentence_losses(model, tok, accepted, device)
            accepted = [text for text, loss in zip(accepted, losses, strict=True) if loss <= ceiling]
        # A setting that cannot fill its quota in the resampling rounds is not a candidate.
        mauve = None
        if len(accepted) >= MAUVE_MIN:
            embedded = sentence_embeddings(accepted)
            mauve = sum(mauve_score(embedded, real, seed + k) for k in range(config.mauve_seeds)) / config.mauve_seeds
        trials.append(
            {
                **setting,
                "accepted": len(accepted),
                "mauve": None if mauve is None else round(mauve, 4),
                "fluency_ratio": round(fluency.perplexity(accepted) / test_fluency, 4) if accepted else None,
                "pos_ratio": _pos_ratio(tagging, accepted, test_tags),
                "near_copy_rate": round(copies / max(len(first), 1), 4),
                "likelihood_ceiling": None if ceiling is None else round(ceiling, 4),
            }
        )
    scored = [t for t in trials if t["mauve"] is not None]
    if not scored:
        raise ModelError(f"{model_dir}: no sampling setting gave {MAUVE_MIN} sentences past the filters; train longer")
    eligible = [
        t
        for t in scored
        if t["near_copy_rate"] <= config.max_near_copy_rate
        and t["fluency_ratio"] <= config.max_fluency_ratio
        and (t["pos_ratio"] is None or t["pos_ratio"] <= config.max_pos_ratio)
    ]
    most_fluent = min(scored, key=lambda t: (t["pos_ratio"] or 0.0, t["fluency_ratio"]))
    best = max(eligible, key=lambda t: t["mauve"]) if eligible else most_fluent
    own_trial = trials[settings.index(own)]
    if own_trial in eligible and best["mauve"] - own_trial["mauve"] <= config.min_gain:
        best = own_trial
    calibration = {
        "format": _FORMAT,
        "model_version": generator.model_version,
        "corpus": str(corpus_dir),
        "sampling": {"temperature": best["temperature"], "class_temperature": best["class_temperature"]},
        "likelihood_quantile": config.likelihood_quantile,
        "likelihood_ceiling": best["likelihood_ceiling"],
        "rule": (
            f"highest MAUVE with word-class perplexity <= {config.max_fluency_ratio} x the test split's,"
            f" part-of-speech perplexity <= {config.max_pos_ratio} x (where a tagger is installed) and raw"
            f" near-copy rate <= {config.max_near_copy_rate}, if it beats the model's own setting by more than"
            f" {config.min_gain}; none such: the lowest part-of-speech, then word-class perplexity"
        ),
        "trials": trials,
    }
    write_text_atomic(ModelFolder(model_dir).file(ModelFolder.CALIBRATION), json.dumps(calibration, indent=2) + "\n")
    return calibration


def _pos_ratio(tagging: PartOfSpeechFluency | None, sentences: list[str], test: dict | None) -> float | None:
    """The larger of the UPOS and Penn perplexity ratios of `sentences` to the test split's; None without a tagger."""
    if tagging is None or test is None or not sentences:
        return None
    figures = tagging.perplexities(sentences)
    return round(max(figures[tag_set] / test[tag_set] for tag_set in TAG_SETS), 4)


def read_calibration(model_dir: Path, model_version: str) -> dict | None:
    """The calibration stored beside a model, or None when it has none or it was made for other weights."""
    path = ModelFolder(Path(model_dir)).file(ModelFolder.CALIBRATION)
    if not path.is_file():
        return None
    try:
        calibration = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ModelError(
            f"{path}: unreadable ({type(error).__name__}); run `soulsgen evaluate --calibrate` again"
        ) from None
    if not isinstance(calibration, dict) or calibration.get("format") != _FORMAT:
        raise ModelError(f"{path}: not a SoulsGen calibration ({_FORMAT}); run `soulsgen evaluate --calibrate` again")
    return calibration if calibration.get("model_version") == model_version else None
