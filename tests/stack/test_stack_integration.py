"""The deployed topology for real: `soulsgen stack` on this machine's PostgreSQL and Redis, driven by the REST API.

Skipped, with the reason, where PostgreSQL or Redis does not answer. The Celery test runs the whole
pipeline once and, during it, kills the worker running training and restarts the scheduler.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner
from fixtures_serving import free_port_block

from soulsgen_lib.cli import main
from soulsgen_lib.serving.manage import ManagementClient, ServerKeys, read_mar_manifest
from soulsgen_lib.stack import StackError
from soulsgen_lib.stack.api import AirflowApi
from soulsgen_lib.stack.processes import admin_password_file, down, group_alive, recorded_pid, restart, up
from soulsgen_lib.stack.topology import WORKERS, StackConfig, worker_hostname
from soulsgen_lib.storage import open_store

pytestmark = [pytest.mark.slow, pytest.mark.integration]

# The services this machine (and CI's) runs; a machine with them elsewhere points these variables there.
POSTGRES = os.environ.get("SOULSGEN_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
REDIS = os.environ.get("SOULSGEN_TEST_REDIS", "redis://127.0.0.1:6379/0")
PIPELINE, TWEET = "soulsgen_pipeline", "soulsgen_tweet"
# What the UI's Trigger form sends for a quick run; `source` stays the default (the bundled sample data).
# `force`: a 100-step tiny model is below the quality gate's production floor, and this test is about workers.
QUICK_RUN = {"preset": "tiny", "steps": 100, "eval_sentences": 10, "deploy": True, "force": True}
# Shorter waits than production's, so that a lost worker is noticed and its task retried within the test.
FAST_RECOVERY = {
    "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "5",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
}


@pytest.fixture
def postgres_available() -> None:
    """Skip, saying why, unless PostgreSQL answers."""
    import psycopg2

    try:
        psycopg2.connect(f"{POSTGRES}/postgres", connect_timeout=3).close()
    except psycopg2.Error as error:
        reason = " ".join(str(error).split())[:120]
        pytest.skip(f"PostgreSQL does not answer at {POSTGRES} ({reason}): the stack tests need it")


@pytest.fixture
def redis_available() -> None:
    """Skip, saying why, unless Redis answers."""
    address = urlsplit(REDIS)
    try:
        socket.create_connection((address.hostname, address.port or 6379), timeout=3).close()
    except OSError as error:
        pytest.skip(f"Redis does not answer at {REDIS} ({error.strerror}): the Celery stack test needs it")


def database_exists(name: str) -> bool:
    import psycopg2

    with psycopg2.connect(f"{POSTGRES}/postgres") as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        return cursor.fetchone() is not None


def stack_config(home: Path, executor: str) -> StackConfig:
    base = free_port_block(10)
    return StackConfig(
        home,
        executor=executor,
        postgres_url=POSTGRES,
        database=f"soulsgen_stack_test_{secrets.token_hex(4)}",
        redis_url=REDIS,
        api_port=base,
        torchserve_port=base + 1,
        log_port=base + 6,
        airflow_overrides=FAST_RECOVERY,
    )


@pytest.fixture
def stack_of(
    postgres_available: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[str], StackConfig]]:
    """Start a stack (`up`); whatever happens, stop it and drop the database it created."""
    monkeypatch.chdir(tmp_path)  # no developer .env leaks in
    started: list[StackConfig] = []

    def start(executor: str) -> StackConfig:
        config = stack_config(tmp_path / "home", executor)
        started.append(config)
        up(config, env_file=None, say=lambda _: None)
        return config

    yield start
    for config in started:
        if (config.state_dir / "stack.json").is_file():
            try:
                down(config.home, drop_database=True, timeout=20)
            except StackError:  # the test already dropped it
                down(config.home, timeout=20)


def cli_status(config: StackConfig) -> dict:
    result = CliRunner().invoke(main, ["stack", "status", "--json", "--home", str(config.home)])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def admin_api(config: StackConfig) -> AirflowApi:
    return AirflowApi.for_admin(f"http://127.0.0.1:{config.api_port}", admin_password_file(config))


def served_versions(config: StackConfig) -> list[dict]:
    keys = ServerKeys.read(config.torchserve_dir / "key_file.json")
    return ManagementClient(f"http://127.0.0.1:{config.torchserve_port + 1}", keys.management).versions("soulsgen")


def run_tweet_dag(api: AirflowApi) -> tuple[str, dict, list[dict]]:
    """Run the hourly DAG once: its run id, the sentence, and the post of each network (one mapped task each)."""
    api.unpause(TWEET)
    run_id = api.trigger(TWEET)
    state = api.wait_for_run(TWEET, run_id, timeout=240)
    tries = {ti["task_id"]: (ti["state"], ti["hostname"]) for ti in api.task_instances(TWEET, run_id)}
    assert state == "success", tries
    posts = [
        api.xcom(TWEET, run_id, "post", map_index=ti["map_index"])
        for ti in api.task_instances(TWEET, run_id)
        if ti["task_id"] == "post"
    ]
    return run_id, api.xcom(TWEET, run_id, "write_sentence"), posts


def wait_until(check: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout:g} s"
        time.sleep(2)
    return found


def test_local_executor_stack_serves_the_published_model_to_the_hourly_dag(stack_of, serving_home, tmp_path):
    mar = serving_home / "model-store" / "soulsgen.mar"
    served_version = read_mar_manifest(mar)["modelVersion"]
    open_store(str(tmp_path / "home")).publish("mar", "published-v1", mar)

    config = stack_of("local")
    status = cli_status(config)
    assert status["executor"] == "local"
    assert status["database"] == f"{POSTGRES.replace('postgresql://', 'postgresql+psycopg2://')}/{config.database}"
    assert set(status["services"]) == {"api", "scheduler", "dag-processor", "triggerer", "torchserve"}
    assert {service["state"] for service in status["services"].values()} == {"running"}
    assert status["services"]["api"]["healthy"] and status["services"]["torchserve"]["healthy"]
    assert database_exists(config.database)
    # TorchServe starts empty; `up` registers the published `latest` archive.
    assert [entry["modelVersion"] for entry in served_versions(config)] == [served_version]

    api = admin_api(config)
    api.wait_for_dag(TWEET)
    run_id, sentence, posted = run_tweet_dag(api)
    assert sentence["source"] == "torchserve"
    assert sentence["model_version"] == served_version
    assert {post["network"] for post in posted} == {"x", "bluesky", "mastodon"}  # none has credentials here
    assert all(post["outcome"] == "dry_run" and post["text"] == sentence["text"] for post in posted)
    hostnames = {ti["hostname"] for ti in api.task_instances(TWEET, run_id)}
    assert hostnames == {worker_hostname()}  # LocalExecutor: tasks run beside the scheduler

    pids = {name: recorded_pid(config, name) for name in ("airflow-scheduler", "torchserve")}
    result = CliRunner().invoke(main, ["stack", "down", "--drop-database", "--home", str(config.home)])
    assert result.exit_code == 0, result.output
    assert "airflow-apiserver" in result.output and "torchserve" in result.output
    assert not any(group_alive(pid) for pid in pids.values())
    assert {service["state"] for service in cli_status(config)["services"].values()} == {"stopped"}
    assert not database_exists(config.database)


@pytest.mark.timeout(900)
def test_celery_stack_runs_the_pipeline_on_workers_through_a_lost_worker_and_a_scheduler_restart(
    redis_available, stack_of
):
    config = stack_of("celery")
    status = cli_status(config)
    assert status["executor"] == "celery"
    assert status["broker"] == REDIS
    workers = {worker.name for worker in WORKERS}
    assert {f"airflow-{name}" for name in status["services"] if name.startswith("worker-")} == workers
    assert all(status["services"][name]["state"] == "running" for name in ("worker-1", "worker-2"))

    api = admin_api(config)
    api.wait_for_dag(PIPELINE)
    api.wait_for_dag(TWEET)
    api.unpause(PIPELINE)
    run_id = api.trigger(PIPELINE, QUICK_RUN)

    def training_on_a_worker() -> str | None:
        for ti in api.task_instances(PIPELINE, run_id):
            if ti["task_id"] == "train_local" and ti["state"] == "running" and ti["hostname"] in workers:
                return ti["hostname"]
        return None

    lost = wait_until(training_on_a_worker, 420, "training starting on a worker")
    # The host of a worker dies mid-task: its whole process group (Celery and the task) at once.
    os.killpg(recorded_pid(config, lost), signal.SIGKILL)
    restart(config.home, "scheduler")
    state = api.wait_for_run(PIPELINE, run_id, timeout=480)
    instances = api.task_instances(PIPELINE, run_id)
    assert state == "success", [(ti["task_id"], ti["state"], ti["hostname"]) for ti in instances]

    tries = api.tries(PIPELINE, run_id, "train_local")
    assert tries[0]["hostname"] == lost
    assert tries[-1]["state"] == "success" and tries[-1]["hostname"] == (workers - {lost}).pop()
    assert tries[-1]["queue"] == "train"  # the cluster policy routed training
    ran = [ti for ti in instances if ti["state"] == "success"]
    assert ran and {ti["hostname"] for ti in ran} <= workers

    version = api.xcom(PIPELINE, run_id, "plan_run")["version"]
    assert open_store(str(config.home)).latest("mar") == version
    served = served_versions(config)
    assert [entry["modelVersion"] for entry in served] == [api.xcom(PIPELINE, run_id, "deploy")["version"]]

    _, sentence, posted = run_tweet_dag(api)
    assert sentence["source"] == "torchserve"
    assert sentence["model_version"] == served[0]["modelVersion"]
    assert {post["outcome"] for post in posted} == {"dry_run"}
