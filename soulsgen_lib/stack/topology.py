"""The stack's services and the settings every Airflow process gets, described once for both ways to run it.

A `Placement` says where things are (paths, host names, ports, secrets) for one way of running:
`compose_placement()` for docker-compose.yaml (values interpolated by Compose from `.env`) and
`StackConfig.placement()` for `soulsgen stack up` on this machine. `airflow_environment()` turns
either into the same environment variables, so the two can differ only in places, never in settings.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXECUTORS = {"local": "LocalExecutor", "celery": "CeleryExecutor"}
# Every task runs on `default` unless the cluster policy (docker/airflow-config) sends it to `train`.
DEFAULT_QUEUE = "default"
TRAIN_QUEUE = "train"
WORKER_NAME_ENV = "SOULSGEN_WORKER_NAME"


@dataclass(frozen=True)
class Worker:
    """A Celery worker: its service name and the queues it takes tasks from."""

    name: str
    queues: tuple[str, ...]


# Two workers on one host, both taking training too; a GPU host adds a worker on `train` alone.
WORKERS = (
    Worker("airflow-worker-1", (DEFAULT_QUEUE, TRAIN_QUEUE)),
    Worker("airflow-worker-2", (DEFAULT_QUEUE, TRAIN_QUEUE)),
)
# Airflow's long-running services and their commands (the worker's is built from `Worker`).
AIRFLOW_SERVICES = {
    "airflow-apiserver": ("airflow", "api-server"),
    "airflow-scheduler": ("airflow", "scheduler"),
    "airflow-dag-processor": ("airflow", "dag-processor"),
    "airflow-triggerer": ("airflow", "triggerer"),
}
MIGRATE_COMMAND = ("airflow", "db", "migrate")


def worker_command(worker: Worker) -> tuple[str, ...]:
    return (
        "airflow",
        "celery",
        "worker",
        "--queues",
        ",".join(worker.queues),
        "--celery-hostname",
        f"{worker.name}@%h",
    )


def worker_hostname() -> str:
    """Airflow's hostname_callable: a worker's own name when it runs beside others on one host."""
    return os.environ.get(WORKER_NAME_ENV) or socket.getfqdn()


@dataclass(frozen=True)
class Placement:
    """Where one way of running the stack keeps things: folders, hosts, ports, URLs and secrets."""

    executor: str
    database_url: str
    celery_result_backend: str
    celery_broker_url: str
    api_host: str
    api_port: str
    api_internal_url: str
    api_public_url: str
    jwt_secret: str
    dags_folder: str
    plugins_folder: str
    config_folder: str
    soulsgen_home: str
    datasource_dir: str
    torchserve_host: str
    torchserve_port: int
    torchserve_management_url: str
    torchserve_key_file: str


def airflow_environment(place: Placement) -> dict[str, str]:
    """The environment of every Airflow process of the stack (api-server, scheduler, workers, ...)."""
    torchserve_connection = {
        "conn_type": "http",
        "host": place.torchserve_host,
        "port": place.torchserve_port,
        "extra": {"management_url": place.torchserve_management_url, "key_file": place.torchserve_key_file},
    }
    return {
        "AIRFLOW__CORE__EXECUTOR": place.executor,
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": place.database_url,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__DAGS_FOLDER": place.dags_folder,
        "AIRFLOW__CORE__PLUGINS_FOLDER": place.plugins_folder,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{place.api_internal_url}/execution/",
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "soulsgen_lib.stack.topology.worker_hostname",
        # A task whose worker vanished is retried (on another worker) instead of failing the run.
        "AIRFLOW__CORE__DEFAULT_TASK_RETRIES": "1",
        "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "30",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "120",
        "AIRFLOW__API__HOST": place.api_host,
        "AIRFLOW__API__PORT": place.api_port,
        "AIRFLOW__API__BASE_URL": place.api_public_url,
        "AIRFLOW__API__WORKERS": "1",
        # Every Airflow process must sign and check task tokens with the same secret.
        "AIRFLOW__API_AUTH__JWT_SECRET": place.jwt_secret,
        "AIRFLOW__CELERY__BROKER_URL": place.celery_broker_url,
        "AIRFLOW__CELERY__RESULT_BACKEND": place.celery_result_backend,
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": DEFAULT_QUEUE,
        # airflow_local_settings.py (the cluster policy that routes training to the train queue).
        "PYTHONPATH": place.config_folder,
        "SOULSGEN_HOME": place.soulsgen_home,
        "DATASOURCE_DIR": place.datasource_dir,
        "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",
        "AIRFLOW_CONN_SOULSGEN_TORCHSERVE": json.dumps(torchserve_connection, sort_keys=True),
    }


def compose_placement() -> Placement:
    """docker-compose.yaml's places: service names as hosts, volumes under /opt, secrets from `.env`."""
    user, database = "${POSTGRES_USER:-airflow}", "${POSTGRES_DB:-airflow}"
    password = "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in .env}"
    return Placement(
        executor="${AIRFLOW_EXECUTOR:-LocalExecutor}",
        database_url=f"postgresql+psycopg2://{user}:{password}@postgres:5432/{database}",
        celery_result_backend=f"db+postgresql+psycopg2://{user}:{password}@postgres:5432/{database}",
        celery_broker_url="redis://redis:6379/0",
        api_host="0.0.0.0",
        api_port="8080",
        api_internal_url="http://airflow-apiserver:8080",
        api_public_url="http://localhost:${AIRFLOW_API_PORT:-8080}",
        jwt_secret="${AIRFLOW_JWT_SECRET:?set AIRFLOW_JWT_SECRET in .env (e.g. openssl rand -hex 32)}",
        dags_folder="/opt/airflow/dags",
        plugins_folder="/opt/airflow/plugins",
        config_folder="/opt/soulsgen/airflow-config",
        soulsgen_home="/opt/soulsgen/artifacts",
        datasource_dir="/opt/soulsgen/gamedata",
        torchserve_host="torchserve",
        torchserve_port=8080,
        torchserve_management_url="http://torchserve:8081",
        torchserve_key_file="/opt/soulsgen/torchserve/key_file.json",
    )


@dataclass(frozen=True)
class StackConfig:
    """How `soulsgen stack up` runs the services here: its folder, database, broker and ports."""

    home: Path
    executor: str = "local"
    postgres_url: str = "postgresql://postgres@127.0.0.1:5432"
    database: str = "soulsgen_stack"
    redis_url: str = "redis://127.0.0.1:6379/0"
    api_port: int = 8080
    # TorchServe's inference port; management, metrics and gRPC take the next four.
    torchserve_port: int = 8090
    # Log servers of the scheduler, the triggerer and the workers, in that order.
    log_port: int = 8793
    jwt_secret: str = field(default="", repr=False)
    datasource_dir: Path = ROOT / "sample_data"
    startup_timeout: float = 240.0
    # Airflow settings to change on this machine only (e.g. shorter retry delays for a test run).
    airflow_overrides: dict[str, str] = field(default_factory=dict)

    @property
    def state_dir(self) -> Path:
        return self.home / "stack"

    @property
    def torchserve_dir(self) -> Path:
        """TorchServe's working folder, where it writes key_file.json."""
        return self.state_dir / "torchserve"

    def database_url(self, driver: str = "postgresql+psycopg2") -> str:
        scheme, rest = self.postgres_url.split("://", 1)
        return f"{driver}://{rest.rstrip('/')}/{self.database}"

    def placement(self) -> Placement:
        api_url = f"http://127.0.0.1:{self.api_port}"
        return Placement(
            executor=EXECUTORS[self.executor],
            database_url=self.database_url(),
            celery_result_backend=self.database_url("db+postgresql+psycopg2"),
            celery_broker_url=self.redis_url,
            api_host="127.0.0.1",
            api_port=str(self.api_port),
            api_internal_url=api_url,
            api_public_url=api_url,
            jwt_secret=self.jwt_secret,
            dags_folder=str(ROOT / "dags"),
            plugins_folder=str(ROOT / "plugins"),
            config_folder=str(ROOT / "docker" / "airflow-config"),
            soulsgen_home=str(self.home.resolve()),
            datasource_dir=str(self.datasource_dir.resolve()),
            torchserve_host="127.0.0.1",
            torchserve_port=self.torchserve_port,
            torchserve_management_url=f"http://127.0.0.1:{self.torchserve_port + 1}",
            torchserve_key_file=str((self.torchserve_dir / "key_file.json").resolve()),
        )

    def log_ports(self) -> dict[str, int]:
        """Each task-running or triggering service's log server port, so that none collide on one host."""
        names = ["airflow-scheduler", "airflow-triggerer", *(worker.name for worker in WORKERS)]
        return {name: self.log_port + offset for offset, name in enumerate(names)}
