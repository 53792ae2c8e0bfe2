"""The quality gate a new model passes before the pipeline moves `latest` to it.

Floors on the evaluation (first-try pass rate, and the distribution measure `mauve` when the scorecard
has it), and, when the model was trained on the corpus of the current `latest` model, no worse than
`latest` on that corpus's test split. The verdict is written into the model card and the run log.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from soulsgen_lib.atomic import write_text_atomic
from soulsgen_lib.folders import ModelFolder

log = logging.getLogger(__name__)

CARD_KEY = "quality_gate"


@dataclass(frozen=True)
class QualityFloors:
    """What a model must reach to become `latest`."""

    min_first_try_pass_rate: float = 0.5
    min_mauve: float = 0.05  # read only when the scorecard has `mauve`
    # Against `latest` on the same test split: per-word perplexity may be this much higher (sampling-free, so
    # a small margin only absorbs float noise), the first-try pass rate this much lower (it is sampled).
    max_perplexity_ratio: float = 1.02
    pass_rate_margin: float = 0.05


@dataclass(frozen=True)
class Baseline:
    """The current `latest` model, measured on this run's test split."""

    version: str
    test_perplexity_per_word: float
    first_try_pass_rate: float | None = None  # as its own gate recorded it, when it has one


@dataclass(frozen=True)
class Verdict:
    passed: bool
    forced: bool
    figures: dict[str, float]
    reasons: list[str] = field(default_factory=list)  # why it failed; empty when it passed
    baseline: dict[str, Any] | None = None

    @property
    def promote(self) -> bool:
        """Whether `latest` may move to this model."""
        return self.passed or self.forced

    def summary(self) -> str:
        """One line for the run log and error messages."""
        figures = ", ".join(f"{name} {value}" for name, value in self.figures.items())
        state = "passed" if self.passed else "failed: " + "; ".join(self.reasons)
        forced = " (forced: latest moves anyway)" if self.forced and not self.passed else ""
        return f"quality gate {state}{forced} [{figures}]"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        return cls(**data)


def mauve_of(scorecard: dict) -> float | None:
    """The model's mean MAUVE in the scorecard, when the evaluation measured it (enough sentences)."""
    value = scorecard.get("model", {}).get("mauve")
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def judge(scorecard: dict, floors: QualityFloors, baseline: Baseline | None = None, force: bool = False) -> Verdict:
    """The verdict on one scorecard (as `evaluate_model` writes it)."""
    pass_rate = float(scorecard["model"]["first_try_pass_rate"])
    perplexity = float(scorecard["test_perplexity_per_word"])
    figures = {"first_try_pass_rate": pass_rate, "test_perplexity_per_word": perplexity}
    reasons = []
    if pass_rate < floors.min_first_try_pass_rate:
        reasons.append(f"first-try pass rate {pass_rate} < floor {floors.min_first_try_pass_rate}")
    mauve = mauve_of(scorecard)
    if mauve is not None:
        figures["mauve"] = mauve
        if mauve < floors.min_mauve:
            reasons.append(f"mauve {mauve} < floor {floors.min_mauve}")
    if baseline is not None:
        ceiling = round(baseline.test_perplexity_per_word * floors.max_perplexity_ratio, 3)
        if figures["test_perplexity_per_word"] > ceiling:
            reasons.append(
                f"test perplexity per word {figures['test_perplexity_per_word']} > {ceiling} "
                f"(latest {baseline.version}: {baseline.test_perplexity_per_word}, same test split)"
            )
        if baseline.first_try_pass_rate is not None:
            lowest = round(baseline.first_try_pass_rate - floors.pass_rate_margin, 4)
            if pass_rate < lowest:
                reasons.append(
                    f"first-try pass rate {pass_rate} < {lowest} "
                    f"(latest {baseline.version}: {baseline.first_try_pass_rate})"
                )
    return Verdict(
        passed=not reasons,
        forced=force,
        figures=figures,
        reasons=reasons,
        baseline=asdict(baseline) if baseline else None,
    )


def record_verdict(model_dir: Path, verdict: Verdict) -> None:
    """Write the verdict into the model folder's card (before the MAR is packaged, so both carry it)."""
    card_path = ModelFolder(Path(model_dir)).file(ModelFolder.CARD)
    card = json.loads(card_path.read_text(encoding="utf-8"))
    card[CARD_KEY] = verdict.to_dict()
    write_text_atomic(card_path, json.dumps(card, indent=2) + "\n")
    log.info("%s", verdict.summary())
