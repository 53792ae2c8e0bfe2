"""The steps of the `soulsgen_pipeline` DAG as plain functions of one run's plan.

`plan_run` reads the DAG's Params once into a `RunPlan` (version, sources, corpus filters, model
recipe, VM spec), which every later step takes; its folders are the plan's `RunLayout`. Steps return
small JSON-able dicts (what the DAG passes through XCom) and can be rerun for the same version
without duplicating or corrupting anything: each stage function writes atomically and replaces its
own output.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from soulsgen_lib.cloud.gce import VmSpec
from soulsgen_lib.errors import SoulsgenError
from soulsgen_lib.folders import CorpusFolder, EvaluationFolder, ModelFolder
from soulsgen_lib.gametext.catalog import CORPUS_KINDS
from soulsgen_lib.quality_gate import Baseline, QualityFloors, Verdict
from soulsgen_lib.settings import Settings

log = logging.getLogger(__name__)

BACKENDS = ("local", "gce")


class PipelineError(SoulsgenError):
    """A pipeline step got input it cannot use."""


class QualityGateFailed(PipelineError):
    """The new model is stored under its version, but `latest` stays where it was."""


@dataclass(frozen=True)
class RunLayout:
    """Where one pipeline version keeps its local work: `<home>/runs/<version>/`."""

    home: Path
    version: str

    @property
    def root(self) -> Path:
        return self.home / "runs" / self.version

    @property
    def source_dir(self) -> Path:
        return self.root / "source"

    @property
    def corpus_dir(self) -> Path:
        return self.root / "corpus"

    @property
    def corpus_report(self) -> Path:
        return self.root / "corpus-report.html"

    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    @property
    def evaluation_dir(self) -> Path:
        return self.root / "evaluation"

    @property
    def scorecard(self) -> Path:
        return self.evaluation_dir / EvaluationFolder.SCORECARD

    @property
    def model_store(self) -> Path:
        return self.root / "model-store"


@dataclass(frozen=True)
class RunPlan:
    """What one pipeline run builds, resolved once from the DAG's Params; travels between tasks as a dict."""

    home: Path
    version: str
    sources: tuple[str, ...]  # folders, files or gs:// prefixes of game text
    games: tuple[str, ...] = ()  # empty: every game found
    kinds: tuple[str, ...] = CORPUS_KINDS
    preset: str = "small"
    steps: int | None = None  # None: the preset's
    seed: int = 0
    overrides: dict[str, Any] = field(default_factory=dict)  # model and training fields, tokenizer included
    eval_sentences: int = 200
    calibrate: bool = False  # pick the sampling temperatures for the corpus before evaluating
    floors: QualityFloors = QualityFloors()
    force: bool = False  # move `latest` even when the quality gate fails
    deploy: bool = False  # register the MAR with a running TorchServe after publishing
    backend: str = "local"
    vm: VmSpec | None = None  # the GPU VM of the gce backend

    @property
    def layout(self) -> RunLayout:
        return RunLayout(self.home, self.version)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able fields, for XCom."""
        data = asdict(self)
        data["home"] = str(self.home)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunPlan:
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        values["home"] = Path(values["home"])
        for name in ("sources", "games", "kinds"):
            values[name] = tuple(values.get(name) or ())
        values["floors"] = QualityFloors(**(values.get("floors") or {}))
        values["vm"] = VmSpec(**values["vm"]) if values.get("vm") else None
        return cls(**values)


def version_for_run(run_after: datetime | None, requested: str = "") -> str:
    """The version a run writes: the `version` Param when given, else its start time (stable across retries)."""
    if requested:
        from soulsgen_lib.storage import check_version

        return check_version(requested)
    moment = (run_after or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y%m%dT%H%M%SZ")


def plan_run(params: Mapping[str, Any], run_after: datetime | None, settings: Settings) -> RunPlan:
    """The run's plan from the DAG's Params: every value checked here, so a bad one fails the first task."""
    from soulsgen_lib.model.train import resolve_configs

    sources = _strings("source", params.get("source"))
    if not sources:
        if settings.datasource_dir is None:
            raise PipelineError("no game text given: set the `source` Param or DATASOURCE_DIR")
        sources = (str(settings.datasource_dir),)
    kinds = _strings("kinds", params.get("kinds")) or CORPUS_KINDS
    steps = int(params.get("steps") or 0) or None
    overrides = dict(params.get("model_overrides") or {})
    preset = params.get("preset", "small")
    model_config, train_config = resolve_configs(preset, steps, overrides)  # fails here on a bad override
    backend = params.get("training_backend", "local")
    if backend not in BACKENDS:
        raise PipelineError(f"training_backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    floors = QualityFloors(
        min_first_try_pass_rate=float(params.get("min_first_try_pass_rate", QualityFloors.min_first_try_pass_rate)),
        min_mauve=float(params.get("min_mauve", QualityFloors.min_mauve)),
    )
    plan = RunPlan(
        home=settings.home,
        version=version_for_run(run_after, params.get("version", "")),
        sources=sources,
        games=_strings("games", params.get("games")),
        kinds=kinds,
        preset=preset,
        steps=steps,
        seed=int(params.get("seed", 0)),
        overrides=overrides,
        eval_sentences=int(params.get("eval_sentences", 200)),
        calibrate=bool(params.get("calibrate", False)),
        floors=floors,
        force=bool(params.get("force", False)),
        deploy=bool(params.get("deploy", False)),
        backend=backend,
        vm=VmSpec.from_params(params) if backend == "gce" else None,
    )
    log.info(
        "version %s from %s: preset %s, model %s, training %s",
        plan.version,
        ", ".join(sources),
        preset,
        asdict(model_config),
        asdict(train_config),
    )
    return plan


def _strings(name: str, value: Any) -> tuple[str, ...]:
    """A Param holding a list of strings (a lone string counts as one), blanks dropped."""
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) for item in value):
        raise PipelineError(f"the `{name}` Param must be a list of strings, got {value!r}")
    return tuple(item.strip() for item in value if item.strip())


def resolve_sources(plan: RunPlan) -> list[Path]:
    """Local paths for the plan's game text: folders and files as they are, `gs://` prefixes downloaded first."""
    layout = plan.layout
    resolved = []
    for number, source in enumerate(plan.sources):
        if source.startswith("gs://"):
            from soulsgen_lib.storage import open_store

            target = layout.source_dir / f"{number}-{re.sub(r'[^A-Za-z0-9._-]', '_', source[5:])}"
            open_store(source).get_dir("", target)
            resolved.append(target)
        else:
            path = Path(source).expanduser()
            if not path.exists():
                raise PipelineError(f"source {source} does not exist")
            resolved.append(path)
    return resolved


def build_corpus_step(plan: RunPlan) -> dict[str, Any]:
    """Extract, clean and split the game text into the run's corpus folder, with its lexical report."""
    from soulsgen_lib.atomic import write_text_atomic
    from soulsgen_lib.corpus import build_corpus
    from soulsgen_lib.corpus.build import CorpusOptions
    from soulsgen_lib.corpus.lexical import lexical_stats, render_report

    layout = plan.layout
    options = CorpusOptions(kinds=plan.kinds, games=plan.games)
    summary = build_corpus(resolve_sources(plan), layout.corpus_dir, options)
    sentences = CorpusFolder(layout.corpus_dir).train_sentences()
    report = render_report({"corpus": lexical_stats(sentences)}, title=f"SoulsGen corpus {plan.version}")
    write_text_atomic(layout.corpus_report, report)
    return {"corpus_dir": str(layout.corpus_dir), "report": str(layout.corpus_report), **xcom_scalars(summary)}


def train_step(plan: RunPlan) -> dict[str, Any]:
    """Train here (the tokenizer too, from the plan's overrides); a retried task resumes from the last checkpoint."""
    from soulsgen_lib.model.train import train_model

    layout = plan.layout
    resume = ModelFolder(layout.model_dir).file(ModelFolder.CHECKPOINT).is_file()  # a retried task resumes
    card = train_model(
        layout.corpus_dir,
        layout.model_dir,
        plan.preset,
        plan.steps,
        plan.seed,
        resume=resume,
        overrides=plan.overrides or None,
    )
    return {"model_dir": str(layout.model_dir), **xcom_scalars(card)}


def evaluate_step(plan: RunPlan) -> dict[str, Any]:
    """Score the model against the corpus and the markovify baseline; the scorecard lands in the run folder.

    With `calibrate`, the sampling temperatures are first picked for the corpus (`soulsgen evaluate
    --calibrate`, `eval_sentences` a trial) and stored in the model folder: the scorecard, the MAR
    and the server use them.
    """
    from soulsgen_lib.model.calibrate import CalibrationConfig, calibrate_sampling
    from soulsgen_lib.model.evaluate import evaluate_model

    layout = plan.layout
    if plan.calibrate:
        config = CalibrationConfig(count=plan.eval_sentences)
        calibration = calibrate_sampling(layout.model_dir, layout.corpus_dir, config, seed=plan.seed)
        log.info("calibrated sampling for this corpus: %s", calibration["sampling"])
    scorecard = evaluate_model(layout.model_dir, layout.corpus_dir, layout.evaluation_dir, count=plan.eval_sentences)
    return {"scorecard": str(layout.scorecard), **xcom_scalars(scorecard.get("model", scorecard))}


def quality_gate_step(plan: RunPlan, settings: Settings) -> dict[str, Any]:
    """Judge the model on the floors and, on the same corpus, against `latest`; the verdict goes in its card."""
    from soulsgen_lib.quality_gate import judge, record_verdict

    layout = plan.layout
    scorecard = json.loads(layout.scorecard.read_text(encoding="utf-8"))
    card = ModelFolder(layout.model_dir).card()
    verdict = judge(scorecard, plan.floors, _latest_baseline(plan, settings, card), force=plan.force)
    record_verdict(layout.model_dir, verdict)
    return verdict.to_dict()


def _latest_baseline(plan: RunPlan, settings: Settings, card: dict) -> Baseline | None:
    """The `latest` model measured on this run's test split, when it was trained on the same corpus."""
    from soulsgen_lib.quality_gate import CARD_KEY
    from soulsgen_lib.storage import open_settings_store, version_key

    store = open_settings_store(settings)
    latest = store.latest("model")
    latest_card_key = f"{version_key('model', latest)}/model_card.json" if latest else ""
    if not latest or latest == plan.version or not store.exists(latest_card_key):
        return None
    latest_card = json.loads(store.read_text(latest_card_key))
    if latest_card.get("corpus_hash") != card.get("corpus_hash"):
        return None
    from soulsgen_lib.model.evaluate import test_perplexity
    from soulsgen_lib.model.generate import Generator

    plan.layout.root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".latest-model-", dir=plan.layout.root) as scratch:
        model_dir = store.download("model", latest, Path(scratch) / "model", progress=False)
        generator = Generator.load(model_dir)
        _, per_word = test_perplexity(generator, CorpusFolder(plan.layout.corpus_dir).test_sentences())
    recorded = (latest_card.get(CARD_KEY) or {}).get("figures", {})
    return Baseline(latest, round(per_word, 3), recorded.get("first_try_pass_rate"))


def gce_job_step(plan: RunPlan, settings: Settings) -> dict[str, Any]:
    """Upload the corpus for the VM, clear old job markers, and render the training VM."""
    from soulsgen_lib.cloud.gce import instance_body, instance_name, render_startup_script, trainer_image
    from soulsgen_lib.cloud.train_job import clear_markers
    from soulsgen_lib.storage import open_store, train_marker_prefix

    if not settings.bucket or not settings.gcp_project:
        raise PipelineError("the gce backend needs BUCKET (gs://...) and GCP_PROJECT")
    if plan.vm is None:
        raise PipelineError(f"run {plan.version} was planned for the {plan.backend} backend, not gce")
    vm, layout = plan.vm, plan.layout
    store = open_store(settings.bucket)
    store.upload("corpus", plan.version, layout.corpus_dir, progress=False)  # `latest` moves at publish
    clear_markers(store, plan.version)  # an old _SUCCESS would end the wait at once
    script = render_startup_script(
        trainer_image(settings.container_reg, vm.trainer_tag),
        settings.bucket,
        plan.version,
        corpus_version=plan.version,
        preset=plan.preset,
        steps=plan.steps,
        seed=plan.seed,
        overrides=plan.overrides or None,
    )
    name = instance_name(plan.version)
    return {
        "project": settings.gcp_project,
        "zone": vm.zone,
        "instance_name": name,
        "instance_body": instance_body(
            name,
            vm.zone,
            vm.machine_type,
            vm.accelerator_type,
            vm.accelerator_count,
            vm.image,
            vm.boot_disk_gb,
            script,
            vm.service_account,
            labels={"version": plan.version},
        ),
        "bucket": store.bucket_name,
        "marker_prefix": store.object_name(train_marker_prefix(plan.version)),
    }


def remote_training_done(plan: RunPlan, settings: Settings) -> bool:
    """Whether the VM's job wrote its `_SUCCESS` marker; TrainJobFailed with its error when it wrote `_FAILED`."""
    from soulsgen_lib.cloud.train_job import read_outcome
    from soulsgen_lib.storage import open_store

    return read_outcome(open_store(settings.bucket), plan.version) is not None


def fetch_remote_model_step(plan: RunPlan, settings: Settings) -> dict[str, Any]:
    """Download the model the VM trained; fail with the job's own error when it wrote `_FAILED`."""
    from soulsgen_lib.atomic import atomic_dir
    from soulsgen_lib.cloud.train_job import read_outcome
    from soulsgen_lib.storage import open_store, version_key

    layout = plan.layout
    store = open_store(settings.bucket)
    report = read_outcome(store, plan.version)
    if report is None:
        raise PipelineError(f"training {plan.version} has no outcome marker yet in {store.root}")
    with atomic_dir(layout.model_dir) as staging:
        store.get_dir(version_key("model", plan.version), staging, progress=False)
    return {"model_dir": str(layout.model_dir)}


def package_step(plan: RunPlan) -> str:
    """Package the model folder into the run's MAR, named like its published copy (`soulsgen-<version>.mar`)."""
    from soulsgen_lib.serving.package import package_model

    layout = plan.layout
    built = package_model(layout.model_dir, layout.model_store, version=plan.version)
    return str(built.replace(layout.model_store / mar_name(plan.version)))


def mar_name(version: str) -> str:
    """The MAR's file name in every model store, as the artifact layout names it."""
    from soulsgen_lib.storage import version_key

    return PurePosixPath(version_key("mar", version)).name


def deploy_step(plan: RunPlan, settings: Settings, management_url: str, token: str = "") -> dict[str, Any]:
    """Register this version's MAR with a running TorchServe and make it the default.

    TorchServe's model store is `$SOULSGEN_HOME/model-store` (`soulsgen serve`, docker-compose),
    where a local store has already published the MAR; with a bucket it is copied there first.
    The server then registers it by file name, which also works across containers sharing the folder.
    """
    from soulsgen_lib.atomic import atomic_path
    from soulsgen_lib.serving.manage import deploy_mar

    served = settings.model_store_dir / mar_name(plan.version)
    if not served.is_file():
        with atomic_path(served) as tmp:
            shutil.copyfile(plan.layout.model_store / mar_name(plan.version), tmp)
    return deploy_mar(management_url, served, token, model_store=settings.model_store_dir)


def publish_step(plan: RunPlan, settings: Settings, verdict: Verdict) -> dict[str, str]:
    """Store the version's corpus, model and MAR (BUCKET, else SOULSGEN_HOME), then move the three `latest` pointers.

    Every file is stored before any pointer moves, so a failure at any point leaves the previous
    version in use everywhere; a rerun re-sends only what changed. A model that failed the quality
    gate (and was not forced) stays stored under its version and QualityGateFailed says why.
    """
    from soulsgen_lib.storage import open_settings_store

    layout = plan.layout
    store = open_settings_store(settings)
    local = {"corpus": layout.corpus_dir, "model": layout.model_dir, "mar": layout.model_store}
    locations = {kind: store.upload(kind, plan.version, path, progress=False) for kind, path in local.items()}
    if not verdict.promote:
        kept = store.latest("model") or "none"
        raise QualityGateFailed(
            f"{verdict.summary()}; version {plan.version} is stored at {locations['model']} but latest stays "
            f"{kept}; trigger again with force=true to publish it anyway"
        )
    for kind in local:
        store.point_latest(kind, plan.version)
    log.info("published %s as latest: %s", plan.version, verdict.summary())
    return locations


def xcom_scalars(summary: Any) -> dict[str, Any]:
    """The scalar fields of a summary object (small enough for XCom)."""
    values = summary if isinstance(summary, dict) else vars(summary)
    return {key: value for key, value in values.items() if isinstance(value, (int, float, str, bool))}
