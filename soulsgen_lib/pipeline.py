"""The steps of the `soulsgen_pipeline` DAG as plain functions over one run's folder.

Every step reads and writes paths inside `RunLayout`, returns a small JSON-able dict (what the
DAG passes through XCom), and can be rerun for the same version without duplicating or
corrupting anything: each stage function writes atomically and replaces its own output.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from soulsgen_lib.errors import SoulsgenError
from soulsgen_lib.settings import Settings


class PipelineError(SoulsgenError):
    """A pipeline step got input it cannot use."""


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
    def model_store(self) -> Path:
        return self.root / "model-store"


def version_for_run(run_after: datetime | None, requested: str = "") -> str:
    """The version a run writes: the `version` Param when given, else its start time (stable across retries)."""
    if requested:
        from soulsgen_lib.storage import check_version

        return check_version(requested)
    moment = (run_after or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y%m%dT%H%M%SZ")


def resolve_sources(sources: list[str] | str | None, settings: Settings, layout: RunLayout) -> list[Path]:
    """Local paths for the game text: given folders/files, `gs://` prefixes downloaded first, or DATASOURCE_DIR."""
    if isinstance(sources, str):
        sources = [sources]
    sources = [source for source in (sources or []) if source]
    if not sources:
        if settings.datasource_dir is None:
            raise PipelineError("no game text given: set the `source` Param or DATASOURCE_DIR")
        sources = [str(settings.datasource_dir)]
    resolved = []
    for number, source in enumerate(sources):
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


def build_corpus_step(layout: RunLayout, sources: list[Path]) -> dict[str, Any]:
    """Extract, clean and split the game text into the run's corpus folder, with its lexical report."""
    from soulsgen_lib.atomic import write_text_atomic
    from soulsgen_lib.corpus import build_corpus
    from soulsgen_lib.corpus.lexical import lexical_stats, render_report

    summary = build_corpus(sources, layout.corpus_dir)
    sentences = (layout.corpus_dir / "train.txt").read_text(encoding="utf-8").splitlines()
    report = render_report({"corpus": lexical_stats(sentences)}, title=f"SoulsGen corpus {layout.version}")
    write_text_atomic(layout.corpus_report, report)
    return {"corpus_dir": str(layout.corpus_dir), "report": str(layout.corpus_report), **_small(summary)}


def train_tokenizer_step(layout: RunLayout, kind: str = "") -> str:
    """The model folder's tokenizer, trained on the corpus (kept when this version already has one).

    `kind` "word" or "subword" insists on that kind; "" trains a word-level one.
    """
    from soulsgen_lib.model.train import prepare_tokenizer

    layout.model_dir.mkdir(parents=True, exist_ok=True)
    prepare_tokenizer(layout.corpus_dir, layout.model_dir, kind=kind)
    return str(layout.model_dir / "tokenizer.json")


def train_step(
    layout: RunLayout, preset: str, steps: int | None, seed: int, overrides: dict | None = None
) -> dict[str, Any]:
    """Train here; a retried task resumes from the version's last checkpoint instead of starting over."""
    from soulsgen_lib.model.train import CHECKPOINT_FILE, train_model

    resume = (layout.model_dir / CHECKPOINT_FILE).is_file()
    card = train_model(
        layout.corpus_dir, layout.model_dir, preset, steps or None, seed, resume=resume, overrides=overrides or None
    )
    return {"model_dir": str(layout.model_dir), **_small(card)}


def evaluate_step(layout: RunLayout, sentences: int) -> dict[str, Any]:
    """Score the model against the corpus and the markovify baseline; the scorecard lands in the run folder."""
    from soulsgen_lib.model.evaluate import evaluate_model

    scorecard = evaluate_model(layout.model_dir, layout.corpus_dir, layout.evaluation_dir, count=sentences)
    return {"scorecard": str(layout.evaluation_dir / "scorecard.json"), **_small(scorecard.get("model", scorecard))}


def gce_job_step(layout: RunLayout, settings: Settings, params: dict[str, Any]) -> dict[str, Any]:
    """Upload the corpus for the VM, clear old job markers, and render the training VM."""
    from soulsgen_lib.cloud.gce import instance_body, instance_name, render_startup_script, trainer_image
    from soulsgen_lib.cloud.train_job import clear_markers
    from soulsgen_lib.storage import open_store, train_marker_prefix

    if not settings.bucket or not settings.gcp_project:
        raise PipelineError("the gce backend needs BUCKET (gs://...) and GCP_PROJECT")
    store = open_store(settings.bucket)
    store.upload("corpus", layout.version, layout.corpus_dir, progress=False)  # `latest` moves at publish
    clear_markers(store, layout.version)  # an old _SUCCESS would fire the sensor at once
    script = render_startup_script(
        trainer_image(settings.container_reg, params["trainer_tag"]),
        settings.bucket,
        layout.version,
        corpus_version=layout.version,
        preset=params["preset"],
        steps=params["steps"] or None,
        seed=params["seed"],
        overrides=params["model_overrides"] or None,
    )
    name = instance_name(layout.version)
    body = instance_body(
        name,
        params["gce_zone"],
        params["gce_machine_type"],
        params["gce_accelerator_type"],
        params["gce_accelerator_count"],
        params["gce_image"],
        params["gce_boot_disk_gb"],
        script,
        params["gce_service_account"],
        labels={"version": layout.version},
    )
    return {
        "project": settings.gcp_project,
        "instance_name": name,
        "instance_body": body,
        "bucket": store.bucket_name,
        "marker_prefix": store.object_name(train_marker_prefix(layout.version)),
    }


def fetch_remote_model_step(layout: RunLayout, settings: Settings) -> dict[str, Any]:
    """Download the model the VM trained; fail with the job's own error when it wrote `_FAILED`."""
    from soulsgen_lib.atomic import atomic_dir
    from soulsgen_lib.cloud.train_job import read_outcome
    from soulsgen_lib.storage import open_store, version_key

    store = open_store(settings.bucket)
    report = read_outcome(store, layout.version)
    if report is None:
        raise PipelineError(f"training {layout.version} has no outcome marker yet in {store.root}")
    with atomic_dir(layout.model_dir) as staging:
        store.get_dir(version_key("model", layout.version), staging, progress=False)
    return {"model_dir": str(layout.model_dir)}


def package_step(layout: RunLayout) -> str:
    """Package the model folder into the run's MAR, named like its published copy (`soulsgen-<version>.mar`)."""
    from soulsgen_lib.serving.package import package_model

    built = package_model(layout.model_dir, layout.model_store, version=layout.version)
    return str(built.replace(layout.model_store / mar_name(layout.version)))


def mar_name(version: str) -> str:
    """The MAR's file name in every model store, as the artifact layout names it."""
    from soulsgen_lib.storage import version_key

    return PurePosixPath(version_key("mar", version)).name


def deploy_step(layout: RunLayout, settings: Settings, management_url: str, token: str = "") -> dict[str, Any]:
    """Register this version's MAR with a running TorchServe and make it the default.

    TorchServe's model store is `$SOULSGEN_HOME/model-store` (`soulsgen serve`, docker-compose),
    where a local store has already published the MAR; with a bucket it is copied there first.
    The server then registers it by file name, which also works across containers sharing the folder.
    """
    from soulsgen_lib.atomic import atomic_path
    from soulsgen_lib.serving.manage import deploy_mar

    served = settings.model_store_dir / mar_name(layout.version)
    if not served.is_file():
        with atomic_path(served) as tmp:
            shutil.copyfile(layout.model_store / mar_name(layout.version), tmp)
    return deploy_mar(management_url, served, token, model_store=settings.model_store_dir)


def publish_step(layout: RunLayout, settings: Settings) -> dict[str, str]:
    """Store the version's corpus, model and MAR (BUCKET, else SOULSGEN_HOME), then move the three `latest` pointers.

    Every file is stored before any pointer moves, so a failure at any point leaves the previous
    version in use everywhere; a rerun re-sends only what changed.
    """
    from soulsgen_lib.storage import open_settings_store

    store = open_settings_store(settings)
    local = {"corpus": layout.corpus_dir, "model": layout.model_dir, "mar": layout.model_store}
    locations = {kind: store.upload(kind, layout.version, path, progress=False) for kind, path in local.items()}
    for kind in local:
        store.point_latest(kind, layout.version)
    return locations


def _small(summary: Any) -> dict[str, Any]:
    """The scalar fields of a summary object, for XCom."""
    fields = summary if isinstance(summary, dict) else vars(summary)
    return {key: value for key, value in fields.items() if isinstance(value, (int, float, str, bool))}
