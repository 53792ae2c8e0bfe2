"""The Compute Engine side of the `gce` training backend, as plain data: no Airflow, no Google client.

`instance_body` is the Instance resource for the Compute Engine insert call (snake_case field names,
as `ComputeEngineInsertInstanceOperator` / `compute_v1.Instance` take them); `render_startup_script`
is the bash the VM runs at boot: pull the trainer image, run `soulsgen_lib.cloud.train_job` in it
(download corpus -> train -> upload model -> marker), then power off.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from soulsgen_lib.errors import SoulsgenError
from soulsgen_lib.storage.layout import check_version, object_name, split_gs_url, train_marker_key

TRAINER_IMAGE_NAME = "soulsgen-trainer"
# Defaults for the pipeline's VM settings. Deep Learning VM images ship the NVIDIA driver (or install it at
# first boot when `install-nvidia-driver` is set); the driver must be new enough for the CUDA build of the
# trainer image's torch. List families: `gcloud compute images list --project deeplearning-platform-release`.
DEFAULT_VM_IMAGE = "projects/deeplearning-platform-release/global/images/family/common-cu128-ubuntu-2204-nvidia-570"
DEFAULT_MACHINE_TYPE = "g2-standard-8"
DEFAULT_ACCELERATOR_TYPE = "nvidia-l4"
DEFAULT_BOOT_DISK_GB = 100
DEFAULT_MAX_RUN_SECONDS = 6 * 3600
# The train job exits with this code after writing its own _FAILED marker; any other failure is reported by the script.
REPORTED_FAILURE_EXIT = 3

_TEMPLATE = Path(__file__).with_name("startup_script.sh")
_LABEL_PATTERN = re.compile(r"[^a-z0-9_-]")


class CloudError(SoulsgenError):
    """A cloud training setting is invalid."""


@dataclass(frozen=True)
class VmSpec:
    """The training VM a pipeline run asks for (the DAG's `gce_*` Params)."""

    zone: str = "europe-west4-a"
    machine_type: str = DEFAULT_MACHINE_TYPE
    accelerator_type: str = DEFAULT_ACCELERATOR_TYPE
    accelerator_count: int = 1
    image: str = DEFAULT_VM_IMAGE
    boot_disk_gb: int = DEFAULT_BOOT_DISK_GB
    service_account: str = "default"
    trainer_tag: str = "latest"

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> VmSpec:
        """The spec from Params named `gce_<field>` (`trainer_tag` as it is); missing ones keep their defaults."""
        values = {name: params[f"gce_{name}"] for name in cls.__dataclass_fields__ if f"gce_{name}" in params}
        if "trainer_tag" in params:
            values["trainer_tag"] = params["trainer_tag"]
        spec = cls(**values)
        if spec.accelerator_count < 1:
            raise CloudError(f"accelerator_count must be at least 1, got {spec.accelerator_count}")
        return spec


def trainer_image(container_reg: str, tag: str) -> str:
    """`<CONTAINER_REG>/soulsgen-trainer:<tag>`; CloudError when the registry is not set."""
    if not container_reg:
        raise CloudError("CONTAINER_REG is not set: set it to the registry holding soulsgen-trainer")
    return f"{container_reg.rstrip('/')}/{TRAINER_IMAGE_NAME}:{tag}"


def train_job_command(
    store: str,
    version: str,
    corpus_version: str,
    preset: str,
    steps: int | None = None,
    seed: int = 0,
    overrides: dict | None = None,
) -> list[str]:
    """The command the trainer container runs (the startup script passes exactly this to `docker run`)."""
    command = ["python", "-m", "soulsgen_lib.cloud.train_job", "--store", store, "--version", version]
    command += ["--corpus-version", corpus_version, "--preset", preset, "--seed", str(seed)]
    if steps is not None:
        command += ["--steps", str(steps)]
    if overrides:
        command += ["--overrides", json.dumps(overrides, sort_keys=True)]
    return command


def render_startup_script(
    image: str,
    store: str,
    version: str,
    corpus_version: str = "latest",
    preset: str = "small",
    steps: int | None = None,
    seed: int = 0,
    overrides: dict | None = None,
) -> str:
    """The VM's startup script: train `version` from the corpus in `store` (a gs:// URL) inside `image`."""
    if not store.startswith("gs://"):
        raise CloudError(f"the gce backend needs a bucket (BUCKET=gs://...), not {store!r}: the VM cannot see it")
    bucket, prefix = split_gs_url(store)
    check_version(version)
    if corpus_version != "latest":
        check_version(corpus_version)
    values = {
        "IMAGE": shlex.quote(image),
        "REGISTRY_HOST": shlex.quote(image.split("/", 1)[0]),
        "BUCKET_NAME": shlex.quote(bucket),
        "FAILED_OBJECT": shlex.quote(object_name(prefix, train_marker_key(version, succeeded=False))),
        "REPORTED_FAILURE_EXIT": str(REPORTED_FAILURE_EXIT),
        "JOB_COMMAND": shlex.join(train_job_command(store, version, corpus_version, preset, steps, seed, overrides)),
    }
    script = _TEMPLATE.read_text(encoding="utf-8")
    for name, value in values.items():
        script = script.replace(f"@{name}@", value)
    return script


def instance_name(version: str) -> str:
    """A Compute Engine instance name for `version`'s training VM: `[a-z]([-a-z0-9]*[a-z0-9])?`, ≤ 63 characters.

    Versions that differ only in characters a name cannot hold (`v1.0`, `v1_0`) still get distinct
    names through a short hash of the version itself.
    """
    digest = hashlib.sha256(version.encode("utf-8")).hexdigest()[:8]
    readable = re.sub(r"[^a-z0-9]+", "-", version.lower()).strip("-")[:38].strip("-")
    return f"soulsgen-train-{readable}-{digest}" if readable else f"soulsgen-train-{digest}"


def label_value(text: str) -> str:
    """A Compute Engine label value: lowercase letters, digits, '_' and '-', at most 63 characters."""
    return _LABEL_PATTERN.sub("-", text.lower())[:63]


def instance_body(
    name: str,
    zone: str,
    machine_type: str,
    accelerator_type: str,
    accelerator_count: int,
    image: str,
    boot_disk_gb: int,
    startup_script: str,
    service_account: str,
    labels: dict[str, str] | None = None,
    max_run_seconds: int = DEFAULT_MAX_RUN_SECONDS,
) -> dict:
    """The Compute Engine Instance resource for a one-shot GPU training VM.

    GPUs cannot live-migrate, so host maintenance terminates the VM; it never restarts by itself, and
    Compute Engine deletes it after `max_run_seconds` even if every other clean-up failed.
    """
    if accelerator_count < 1:
        raise CloudError(f"accelerator_count must be at least 1, got {accelerator_count}")
    all_labels = {"app": "soulsgen", "role": "trainer", **(labels or {})}
    return {
        "name": name,
        "machine_type": f"zones/{zone}/machineTypes/{machine_type}",
        "guest_accelerators": [
            {
                "accelerator_type": f"zones/{zone}/acceleratorTypes/{accelerator_type}",
                "accelerator_count": accelerator_count,
            }
        ],
        "scheduling": {
            "on_host_maintenance": "TERMINATE",
            "automatic_restart": False,
            "max_run_duration": {"seconds": max_run_seconds},
            "instance_termination_action": "DELETE",
        },
        "disks": [
            {
                "boot": True,
                "auto_delete": True,
                "initialize_params": {
                    "source_image": image,
                    "disk_size_gb": boot_disk_gb,
                    "disk_type": f"zones/{zone}/diskTypes/pd-balanced",
                },
            }
        ],
        "network_interfaces": [{"network": "global/networks/default", "access_configs": [{"name": "External NAT"}]}],
        "metadata": {
            "items": [
                {"key": "startup-script", "value": startup_script},
                {"key": "install-nvidia-driver", "value": "True"},
            ]
        },
        "service_accounts": [{"email": service_account, "scopes": ["https://www.googleapis.com/auth/cloud-platform"]}],
        "labels": {key: label_value(value) for key, value in all_labels.items()},
    }
