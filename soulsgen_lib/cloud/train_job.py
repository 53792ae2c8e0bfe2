"""The job a training VM runs inside the soulsgen-trainer container: corpus from the store, train, model back.

    python -m soulsgen_lib.cloud.train_job --store gs://bucket/prefix --version V [--corpus-version C]
        [--preset small] [--steps N] [--seed 0] [--overrides '{"learning_rate": 0.001}']

The model goes to `models/soulsgen/<V>/` without moving `latest` (the pipeline publishes it after
evaluation). The job always ends by writing `jobs/train/<V>/_SUCCESS` (JSON: model location, files,
model card) or `jobs/train/<V>/_FAILED` (JSON: stage and error), which the pipeline's sensor waits for.
Exit codes: 0 success, 3 failure with the _FAILED marker written, 1 the marker could not be written.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from soulsgen_lib.cloud.gce import REPORTED_FAILURE_EXIT
from soulsgen_lib.errors import SoulsgenError
from soulsgen_lib.storage import ArtifactStore, open_store, train_marker_key, version_key


class TrainJobFailed(SoulsgenError):
    """The job failed and its _FAILED marker is in the store."""

    exit_code = REPORTED_FAILURE_EXIT


@dataclass(frozen=True)
class TrainJob:
    store: str  # store root, gs://bucket/prefix (any store root works, which the tests use)
    version: str  # the model version to write
    corpus_version: str = "latest"
    preset: str = "small"
    steps: int | None = None
    seed: int = 0
    overrides: dict = field(default_factory=dict)


def clear_markers(store: ArtifactStore, version: str) -> None:
    """Remove a previous attempt's markers, so a sensor only sees this attempt's outcome."""
    for succeeded in (True, False):
        store.delete(train_marker_key(version, succeeded))


def read_outcome(store: ArtifactStore, version: str) -> dict | None:
    """The _SUCCESS report of a finished job, None while it runs; TrainJobFailed with its error if it failed."""
    failed_key = train_marker_key(version, succeeded=False)
    if store.exists(failed_key):
        report = json.loads(store.read_text(failed_key))
        raise TrainJobFailed(
            f"training {version} failed on the VM ({report.get('stage', 'vm')}): {report.get('error')}; "
            f"details in {store.location(failed_key)} and the VM's serial console"
        )
    success_key = train_marker_key(version, succeeded=True)
    return json.loads(store.read_text(success_key)) if store.exists(success_key) else None


def run_train_job(job: TrainJob, work_dir: Path, progress: bool = True) -> dict:
    """Download the corpus, train, upload the model and write _SUCCESS; on any failure write _FAILED and raise."""
    store = open_store(job.store)
    clear_markers(store, job.version)
    started = time.monotonic()
    stage = "download"
    try:
        corpus_version = store.resolve("corpus", job.corpus_version)
        corpus_dir = store.download("corpus", corpus_version, work_dir / "corpus", progress=progress)
        stage = "train"
        from soulsgen_lib.model.train import train_model  # torch loads only once the corpus is here

        model_dir = work_dir / "model"
        card = train_model(
            corpus_dir, model_dir, job.preset, job.steps, job.seed, overrides=job.overrides or None, progress=progress
        )
        stage = "upload"
        model_prefix = version_key("model", job.version)
        files = store.replace_dir(model_dir, model_prefix, progress=progress)
    except Exception as error:  # every failure must leave a marker, or the pipeline would wait until its timeout
        report = {"job": asdict(job), "stage": stage, "error": f"{type(error).__name__}: {error}"}
        store.write_text(train_marker_key(job.version, succeeded=False), json.dumps(report, indent=2))
        raise TrainJobFailed(f"training {job.version} failed while {stage}ing: {error}") from error
    result = {
        "job": asdict(job),
        "corpus_version": corpus_version,
        "model": store.location(model_prefix),
        "files": files,
        "seconds": round(time.monotonic() - started, 1),
        "model_card": card,
    }
    store.write_text(train_marker_key(job.version, succeeded=True), json.dumps(result, indent=2, default=str))
    return result


def parse_args(argv: list[str] | None = None) -> TrainJob:
    parser = argparse.ArgumentParser(prog="python -m soulsgen_lib.cloud.train_job", description=__doc__.split("\n")[0])
    parser.add_argument("--store", required=True, help="store root, gs://bucket/prefix")
    parser.add_argument("--version", required=True, help="model version to write")
    parser.add_argument("--corpus-version", default="latest", help="corpus version to train on (default: latest)")
    parser.add_argument("--preset", default="small", help="model preset: tiny, small or seed")
    parser.add_argument("--steps", type=int, default=None, help="training steps (default: the preset's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--overrides", type=json.loads, default={}, help="JSON object of model/training overrides")
    args = parser.parse_args(argv)
    if not isinstance(args.overrides, dict):
        parser.error("--overrides must be a JSON object")
    return TrainJob(**vars(args))


def main(argv: list[str] | None = None) -> int:
    job = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="soulsgen-train-") as work_dir:
        try:
            result = run_train_job(job, Path(work_dir))
        except SoulsgenError as error:
            print(f"Error: {error}", file=sys.stderr)
            return getattr(error, "exit_code", 1)
    print(f"trained {job.version} in {result['seconds']} s: {result['model']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
