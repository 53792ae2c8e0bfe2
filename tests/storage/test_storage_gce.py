"""GPU training on Compute Engine: the rendered VM body and startup script, the trainer image, and the
startup script's own job command run for real against the storage emulator with the `tiny` preset."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from soulsgen_lib.cloud.gce import (
    DEFAULT_ACCELERATOR_TYPE,
    DEFAULT_BOOT_DISK_GB,
    DEFAULT_MACHINE_TYPE,
    DEFAULT_VM_IMAGE,
    REPORTED_FAILURE_EXIT,
    CloudError,
    instance_body,
    render_startup_script,
    trainer_image,
)
from soulsgen_lib.cloud.train_job import TrainJobFailed, clear_markers, read_outcome
from soulsgen_lib.model import MODEL_FILES
from soulsgen_lib.storage import open_store, train_marker_key

REPO = Path(__file__).resolve().parents[2]
IMAGE = "europe-west4-docker.pkg.dev/souls-project/soulsgen/soulsgen-trainer:2026.11.28"


def render(store: str = "gs://souls-artifacts/prod", **changes) -> str:
    arguments = {"image": IMAGE, "store": store, "version": "m-2026-11-28", "corpus_version": "c7", "preset": "tiny"}
    return render_startup_script(**(arguments | changes))


def body(**changes) -> dict:
    arguments = {
        "name": "soulsgen-train-m-2026-11-28",
        "zone": "europe-west4-a",
        "machine_type": DEFAULT_MACHINE_TYPE,
        "accelerator_type": DEFAULT_ACCELERATOR_TYPE,
        "accelerator_count": 2,
        "image": DEFAULT_VM_IMAGE,
        "boot_disk_gb": DEFAULT_BOOT_DISK_GB,
        "startup_script": render(),
        "service_account": "trainer@souls-project.iam.gserviceaccount.com",
        "labels": {"version": "M-2026.11.28"},
    }
    return instance_body(**(arguments | changes))


def test_instance_body_is_a_valid_compute_engine_instance():
    from google.cloud import compute_v1

    data = body()
    instance = compute_v1.Instance(data)  # proto-plus rejects unknown or mistyped fields
    assert instance.name == "soulsgen-train-m-2026-11-28"
    assert instance.machine_type == f"zones/europe-west4-a/machineTypes/{DEFAULT_MACHINE_TYPE}"
    accelerator = f"zones/europe-west4-a/acceleratorTypes/{DEFAULT_ACCELERATOR_TYPE}"
    assert instance.guest_accelerators[0].accelerator_type == accelerator
    assert instance.guest_accelerators[0].accelerator_count == 2
    assert instance.scheduling.on_host_maintenance == "TERMINATE"
    assert instance.scheduling.automatic_restart is False
    assert instance.scheduling.instance_termination_action == "DELETE"
    assert instance.scheduling.max_run_duration.seconds == 6 * 3600
    disk = instance.disks[0]
    assert disk.boot and disk.auto_delete
    assert disk.initialize_params.source_image == DEFAULT_VM_IMAGE
    assert disk.initialize_params.disk_size_gb == DEFAULT_BOOT_DISK_GB
    metadata = {item.key: item.value for item in instance.metadata.items}
    assert metadata["startup-script"] == render()
    assert metadata["install-nvidia-driver"] == "True"
    assert instance.service_accounts[0].email == "trainer@souls-project.iam.gserviceaccount.com"
    assert dict(instance.labels) == {"app": "soulsgen", "role": "trainer", "version": "m-2026-11-28"}
    with pytest.raises(CloudError, match="accelerator_count"):
        body(accelerator_count=0)


def test_startup_script_is_valid_bash_with_the_job_values():
    script = render(steps=25, overrides={"learning_rate": 0.002})
    checked = subprocess.run(["bash", "-n"], input=script, text=True, capture_output=True)
    assert checked.returncode == 0, checked.stderr
    assert f"IMAGE={IMAGE}\n" in script
    assert "REGISTRY_HOST=europe-west4-docker.pkg.dev\n" in script
    assert "BUCKET_NAME=souls-artifacts\n" in script
    assert "FAILED_OBJECT=prod/jobs/train/m-2026-11-28/_FAILED\n" in script
    job = job_command(script)
    assert job[:3] == ["python", "-m", "soulsgen_lib.cloud.train_job"]
    options = dict(zip(job[3::2], job[4::2], strict=True))
    assert options == {
        "--store": "gs://souls-artifacts/prod",
        "--version": "m-2026-11-28",
        "--corpus-version": "c7",
        "--preset": "tiny",
        "--seed": "0",
        "--steps": "25",
        "--overrides": '{"learning_rate": 0.002}',
    }
    assert '--gpus all --network host -e PYTHONUNBUFFERED=1 "$IMAGE" "${JOB[@]}"' in script
    assert "shutdown -h now" in script
    # When the job ends the VM deletes itself, so a powered-off VM never lingers if Airflow is gone.
    assert "trap finish EXIT" in script
    assert "-X DELETE" in script and "compute.googleapis.com/compute/v1/projects/${project}/zones/" in script
    # Airflow renders templated operator fields with Jinja: the script must not look like a template.
    assert not re.search(r"\{\{|\{%|\{#", script)


def test_settings_that_cannot_work_on_a_vm_are_refused():
    with pytest.raises(CloudError, match="needs a bucket"):
        render(store="artifacts")
    with pytest.raises(CloudError, match="CONTAINER_REG is not set"):
        trainer_image("", "1.0")
    assert trainer_image("europe-docker.pkg.dev/p/r/", "v3") == "europe-docker.pkg.dev/p/r/soulsgen-trainer:v3"


def job_command(script: str) -> list[str]:
    """The job command exactly as the startup script hands it to `docker run`, expanded by bash."""
    line = re.search(r"^JOB=\(.*\)$", script, flags=re.MULTILINE).group(0)
    expanded = subprocess.run(
        ["bash", "-c", f'{line}; printf "%s\\0" "${{JOB[@]}}"'], capture_output=True, text=True, check=True
    )
    return expanded.stdout.split("\0")[:-1]


def run_job(script: str) -> subprocess.CompletedProcess:
    """Run the script's job command as the container would, with this venv's python, against the emulator."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.run(job_command(script), cwd=REPO, env=env, capture_output=True, text=True, timeout=240)


def test_startup_script_job_trains_from_the_bucket_and_reports(gcs_bucket, model_corpus_dir):
    store_root = f"{gcs_bucket}/prod"
    store = open_store(store_root)
    store.publish("corpus", "c1", model_corpus_dir)
    # The VM trains the tokenizer inside the training step, from the same overrides as the local backend.
    script = render(store=store_root, version="m1", corpus_version="latest", steps=3, overrides={"max_vocab": 40})

    done = run_job(script)
    assert done.returncode == 0, done.stderr
    assert set(MODEL_FILES) <= {key.rsplit("/", 1)[-1] for key in store.list("models/soulsgen/m1")}
    report = json.loads(store.read_text(train_marker_key("m1", succeeded=True)))
    assert report["corpus_version"] == "c1"
    assert report["model"] == f"{store_root}/models/soulsgen/m1"
    assert report["model_card"]["preset"] == "tiny"
    assert report["model_card"]["tokenizer"]["vocab_size"] <= 40
    assert not store.exists(train_marker_key("m1", succeeded=False))
    assert store.latest("model") is None  # the pipeline moves `latest` after evaluation, not the VM
    assert read_outcome(store, "m1")["files"] == store.list("models/soulsgen/m1")

    # A retry of the same version that fails replaces the old outcome with a _FAILED marker.
    failed = run_job(render(store=store_root, version="m1", corpus_version="c9"))
    assert failed.returncode == REPORTED_FAILURE_EXIT, failed.stderr
    assert "Error: training m1 failed while downloading" in failed.stderr
    failure = json.loads(store.read_text(train_marker_key("m1", succeeded=False)))
    assert failure["stage"] == "download"
    assert "corpus/c9" in failure["error"]
    assert not store.exists(train_marker_key("m1", succeeded=True))
    with pytest.raises(TrainJobFailed, match=r"training m1 failed on the VM \(download\)"):
        read_outcome(store, "m1")
    clear_markers(store, "m1")
    assert read_outcome(store, "m1") is None


def test_trainer_image_pins_a_subset_of_the_project_pins():
    dockerfile = (REPO / "docker" / "trainer.Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, flags=re.MULTILINE)
    assert "COPY docker/trainer-requirements.txt" in dockerfile
    assert "COPY soulsgen_lib ./soulsgen_lib" in dockerfile
    project_pins = pins(REPO / "requirements.txt")
    trainer_pins = pins(REPO / "docker" / "trainer-requirements.txt")
    assert trainer_pins.items() <= project_pins.items()
    assert {"torch", "tokenizers", "google-cloud-storage", "click", "tqdm"} <= trainer_pins.keys()


def pins(path: Path) -> dict[str, str]:
    lines = [line.strip() for line in path.read_text().splitlines()]
    pairs = [line.split("==") for line in lines if line and not line.startswith("#")]
    return {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in pairs}
