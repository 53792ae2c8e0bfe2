"""Build `soulsgen.mar`: the handler, the model folder and the soulsgen_lib package in one archive.

The archive needs nothing from outside: TorchServe unpacks it into a folder that it puts first
on the worker's `sys.path`, so the `soulsgen_lib/` copied inside is what the handler imports,
and the model files sit in its `model/` folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import soulsgen_lib
from soulsgen_lib.atomic import atomic_path
from soulsgen_lib.folders import ModelFolder
from soulsgen_lib.serving.client import ServingError
from soulsgen_lib.serving.manage import read_mar_manifest
from soulsgen_lib.storage.layout import StorageError, check_version

HANDLER_FILE = Path(soulsgen_lib.__file__).resolve().parent / "serving" / "handler.py"
MODEL_FOLDER_IN_MAR = "model"  # must match soulsgen_lib.serving.handler.MODEL_FOLDER


@dataclass(frozen=True)
class PackageOptions:
    """The model config TorchServe reads from the MAR: batching, workers and timeouts."""

    model_name: str = "soulsgen"
    batch_size: int = 32  # requests TorchServe hands the handler at once: one batched decode
    # How long TorchServe waits to fill a batch; it is added to a lone request's latency. Requests
    # that queued while a batch was decoding are taken at once, so a short wait still fills batches.
    max_batch_delay_ms: int = 5
    workers: int = 1  # one worker per machine: it uses every core for its batched decode
    response_timeout_s: int = 120
    # Torch threads per worker (None: torch's default, one per core). On a busy machine two threads
    # that wait for each other can be ten times slower than one; with several workers, split the cores.
    torch_threads: int | None = None
    # Weights' precision (None: bf16 on GPUs that support it, else fp32). On a CPU, bf16 halves the
    # memory each token reads: a lone sentence is faster, a large batch slower (README, "Benchmarks").
    precision: str | None = None

    def model_config_yaml(self) -> str:
        text = (
            f"minWorkers: {self.workers}\n"
            f"maxWorkers: {self.workers}\n"
            f"batchSize: {self.batch_size}\n"
            f"maxBatchDelay: {self.max_batch_delay_ms}\n"
            f"responseTimeout: {self.response_timeout_s}\n"
        )
        handler = {"torch_threads": self.torch_threads, "precision": self.precision}
        chosen = {key: value for key, value in handler.items() if value is not None}
        if chosen:
            text += "handler:\n" + "".join(f"  {key}: {value}\n" for key, value in chosen.items())
        return text


def model_version_of(model_dir: Path) -> str:
    """The `model_version` written in the folder's model card."""
    card_file = ModelFolder(model_dir).file(ModelFolder.CARD)
    try:
        return str(json.loads(card_file.read_text(encoding="utf-8"))["model_version"])
    except (OSError, ValueError, KeyError) as error:
        raise ServingError(f"{card_file} has no readable model_version ({error}): pass --version") from None


def package_model(
    model_dir: Path, model_store: Path, version: str | None = None, options: PackageOptions | None = None
) -> Path:
    """Write `<model_store>/<model_name>.mar` atomically and return its path; refuses an incomplete model folder."""
    options = options or PackageOptions()
    missing = ModelFolder(model_dir).missing()
    if missing:
        raise ServingError(
            f"{model_dir} is not a complete model folder: missing {', '.join(missing)} (train it with `soulsgen train`)"
        )
    version = version or model_version_of(model_dir)
    try:
        check_version(version)  # the artifact layout's rule: it names files, URLs and object keys
    except StorageError as error:
        raise ServingError(str(error)) from None

    with tempfile.TemporaryDirectory(prefix="soulsgen-package-") as staging_name:
        staging = Path(staging_name)
        extra = staging / "extra"  # the archiver copies the *contents* of a folder given in --extra-files
        shutil.copytree(model_dir, extra / MODEL_FOLDER_IN_MAR, ignore=_not_shipped)
        shutil.copytree(Path(soulsgen_lib.__file__).parent, extra / "soulsgen_lib", ignore=_not_shipped)
        config_file = staging / "model-config.yaml"
        config_file.write_text(options.model_config_yaml(), encoding="utf-8")
        (staging / "tmp").mkdir()
        (staging / "out").mkdir()
        command = [
            sys.executable, "-m", "model_archiver.model_packaging",
            "--model-name", options.model_name,
            "--version", version,
            "--handler", str(HANDLER_FILE),
            "--extra-files", str(extra),
            "--config-file", str(config_file),
            "--export-path", str(staging / "out"),
        ]  # fmt: skip
        # The archiver stages files in $TMPDIR/<model name>: keep that private to this run.
        env = {**os.environ, "TMPDIR": str(staging / "tmp")}
        result = subprocess.run(command, env=env, capture_output=True, text=True)
        built = staging / "out" / f"{options.model_name}.mar"
        if result.returncode != 0 or not built.is_file():
            raise ServingError(f"torch-model-archiver failed: {(result.stderr or result.stdout).strip()[-500:]}")
        _check_archive(built, model_dir)
        target = model_store / f"{options.model_name}.mar"
        with atomic_path(target) as tmp:
            shutil.copyfile(built, tmp)
    return target


def _not_shipped(folder: str, names: list[str]) -> set[str]:
    return {name for name in names if name == "__pycache__" or name.endswith(".pyc") or name.startswith(".")}


def _check_archive(mar_path: Path, model_dir: Path) -> None:
    """Make sure the archive holds the handler, the package and every model file before it replaces anything."""
    with zipfile.ZipFile(mar_path) as archive:
        names = set(archive.namelist())
    expected = {"handler.py", "model-config.yaml", "soulsgen_lib/__init__.py", "soulsgen_lib/model/generate.py"}
    expected |= {f"{MODEL_FOLDER_IN_MAR}/{name}" for name in ModelFolder.FILES}
    absent = sorted(expected - names)
    if absent:
        raise ServingError(f"the archive built from {model_dir} lacks {', '.join(absent)}")
    read_mar_manifest(mar_path)
