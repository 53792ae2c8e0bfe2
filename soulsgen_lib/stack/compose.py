"""docker-compose.yaml, rendered from the topology (`soulsgen stack compose --write`); a test checks they match."""

from __future__ import annotations

import copy
from typing import Any, ClassVar

import yaml

from soulsgen_lib.stack.topology import (
    AIRFLOW_SERVICES,
    MIGRATE_COMMAND,
    ROOT,
    WORKERS,
    airflow_environment,
    compose_placement,
    worker_command,
)

COMPOSE_FILE = ROOT / "docker-compose.yaml"
IMAGE = "soulsgen-airflow:latest"
CELERY_PROFILE = "celery"
HEADER = """\
# SoulsGen's deployed stack: Airflow 3 on PostgreSQL (LocalExecutor, or Celery workers with the
# `celery` profile) and TorchServe, one image for all. Settings and secrets come from .env; see
# README "Deployed runs". `soulsgen stack up` runs the same services as local processes.
# GENERATED from soulsgen_lib/stack/topology.py by `soulsgen stack compose --write`: edit that, not this.
"""


class _Dumper(yaml.SafeDumper):
    """Names the shared blocks' anchors after their x- keys instead of id001, id002."""

    anchor_names: ClassVar[dict[int, str]] = {}

    def generate_anchor(self, node: yaml.Node) -> str:
        for object_id, represented in self.represented_objects.items():
            if represented is node and object_id in self.anchor_names:
                return self.anchor_names[object_id]
        return super().generate_anchor(node)


def compose_document() -> dict[str, Any]:
    """docker-compose.yaml as a dict; the Airflow services share one environment and one volume list."""
    postgres_user = "${POSTGRES_USER:-airflow}"
    environment = airflow_environment(compose_placement())
    volumes = [
        "./dags:/opt/airflow/dags:ro",
        "./plugins:/opt/airflow/plugins:ro",
        "./docker/airflow-config:/opt/soulsgen/airflow-config:ro",
        "artifacts:/opt/soulsgen/artifacts",
        "${GAMEDATA_DIR:-./sample_data}:/opt/soulsgen/gamedata:ro",
        # TorchServe writes its tokens there at each start; Airflow only reads them.
        "torchserve-keys:/opt/soulsgen/torchserve:ro",
    ]
    initialised = {
        "postgres": {"condition": "service_healthy"},
        "airflow-init": {"condition": "service_completed_successfully"},
    }

    def airflow(command: tuple[str, ...], **extra: Any) -> dict[str, Any]:
        service = {
            "build": {"context": ".", "dockerfile": "docker/airflow.Dockerfile"},
            "image": IMAGE,
            "env_file": [{"path": ".env", "required": False}],
            "environment": environment,
            "volumes": volumes,
            "command": list(command),
            "depends_on": initialised,
            "restart": "always",
        }
        return service | extra

    services: dict[str, Any] = {
        "postgres": {
            "image": "postgres:16",
            "environment": {
                "POSTGRES_USER": postgres_user,
                "POSTGRES_PASSWORD": "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in .env}",
                "POSTGRES_DB": "${POSTGRES_DB:-airflow}",
            },
            "volumes": ["postgres-db:/var/lib/postgresql/data"],
            "healthcheck": {"test": ["CMD", "pg_isready", "-U", postgres_user], "interval": "10s", "retries": 5},
            "restart": "always",
        },
        "redis": {
            "image": "redis:7",
            "profiles": [CELERY_PROFILE],
            "healthcheck": {"test": ["CMD", "redis-cli", "ping"], "interval": "10s", "retries": 5},
            "restart": "always",
        },
        "airflow-init": airflow(
            MIGRATE_COMMAND, depends_on={"postgres": {"condition": "service_healthy"}}, restart="no"
        ),
    }
    for name, command in AIRFLOW_SERVICES.items():
        extra: dict[str, Any] = {}
        if name == "airflow-apiserver":
            # The UI and REST API on the host's loopback only, unless .env says otherwise.
            extra["ports"] = ["${AIRFLOW_API_BIND:-127.0.0.1}:${AIRFLOW_API_PORT:-8080}:8080"]
        services[name] = airflow(command, **extra)
    for worker in WORKERS:
        services[worker.name] = airflow(
            worker_command(worker),
            hostname=worker.name,
            profiles=[CELERY_PROFILE],
            depends_on=copy.deepcopy(initialised) | {"redis": {"condition": "service_healthy"}},
        )
    services["torchserve"] = {
        "image": IMAGE,
        # Serves the pipeline's model store (the shared artifacts volume); the deploy step registers
        # each new MAR by file name. Its management and metrics ports stay on the compose network.
        "working_dir": "/opt/soulsgen/torchserve",
        "command": [
            "bash",
            "-c",
            "mkdir -p /opt/soulsgen/artifacts/model-store && exec torchserve --start --foreground"
            " --no-config-snapshots --ts-config /opt/soulsgen/docker/torchserve.properties"
            " --model-store /opt/soulsgen/artifacts/model-store",
        ],
        "environment": {
            "LOG_LOCATION": "/opt/soulsgen/artifacts/torchserve-logs",
            "METRICS_LOCATION": "/opt/soulsgen/artifacts/torchserve-logs",
        },
        "volumes": ["artifacts:/opt/soulsgen/artifacts", "torchserve-keys:/opt/soulsgen/torchserve"],
        "ports": ["127.0.0.1:${TORCHSERVE_PORT:-8090}:8080"],
        "depends_on": {"airflow-init": {"condition": "service_completed_successfully"}},
        "restart": "always",
    }
    return {
        "x-airflow-env": environment,
        "x-airflow-volumes": volumes,
        "x-airflow-depends-on": initialised,
        "services": services,
        "volumes": {"postgres-db": None, "artifacts": None, "torchserve-keys": None},
    }


def render_compose() -> str:
    """The text of docker-compose.yaml."""
    document = compose_document()
    _Dumper.anchor_names = {id(document[key]): key.removeprefix("x-") for key in document if key.startswith("x-")}
    body = yaml.dump(document, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=120)
    return HEADER + body.replace(": null\n", ":\n")
