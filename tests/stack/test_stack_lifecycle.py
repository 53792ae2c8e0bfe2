"""`soulsgen stack` refuses what it cannot do in one line and stops only the processes it started."""

from __future__ import annotations

import json
import os
import signal
import subprocess

import pytest
from click.testing import CliRunner
from fixtures_serving import free_port_block

from soulsgen_lib.cli import main
from soulsgen_lib.stack import StackError
from soulsgen_lib.stack.processes import (
    _start_time,
    down,
    masked_url,
    recorded_pid,
    save_config,
    stack_status,
    up,
)
from soulsgen_lib.stack.topology import StackConfig


def started_sleeper() -> subprocess.Popen:
    return subprocess.Popen(["sleep", "300"], start_new_session=True)


def record_pid(config: StackConfig, name: str, pid: int, start_time: int | None) -> None:
    pids = config.state_dir / "pids"
    pids.mkdir(parents=True, exist_ok=True)
    (pids / f"{name}.json").write_text(json.dumps({"pid": pid, "start_time": start_time, "command": ["sleep"]}))


@pytest.fixture
def sleeper():
    process = started_sleeper()
    yield process
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def test_up_names_an_unreachable_postgres_in_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    port = free_port_block(1)
    base = free_port_block(10)
    command = ["stack", "up", "--home", str(tmp_path / "home"), "--postgres", f"postgresql://postgres@127.0.0.1:{port}"]
    command += ["--api-port", str(base), "--torchserve-port", str(base + 1), "--log-port", str(base + 6)]
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 1
    message = result.output.strip()
    assert message.startswith(f"Error: cannot reach PostgreSQL at postgresql://postgres@127.0.0.1:{port}/postgres")
    assert "\n" not in message and "Traceback" not in message
    assert not (tmp_path / "home" / "stack" / "pids").exists()  # nothing was started


def test_celery_up_names_an_unreachable_redis(tmp_path):
    base = free_port_block(11)
    config = StackConfig(
        tmp_path / "home",
        executor="celery",
        redis_url=f"redis://127.0.0.1:{base + 10}/0",
        api_port=base,
        torchserve_port=base + 1,
        log_port=base + 6,
    )
    with pytest.raises(StackError, match=rf"cannot reach Redis at redis://127.0.0.1:{base + 10}/0 .*--redis"):
        up(config, env_file=None, say=lambda _: None)


def test_up_refuses_while_its_stack_still_runs(tmp_path, sleeper):
    config = StackConfig(tmp_path / "home")
    record_pid(config, "airflow-scheduler", sleeper.pid, _start_time(sleeper.pid))
    with pytest.raises(StackError, match=r"already runs .*airflow-scheduler.*soulsgen stack down"):
        up(config, env_file=None, say=lambda _: None)
    assert sleeper.poll() is None


def test_down_stops_recorded_processes_only(tmp_path, sleeper):
    config = StackConfig(tmp_path / "home")
    save_config(config, None)
    ours = started_sleeper()
    record_pid(config, "airflow-scheduler", ours.pid, _start_time(ours.pid))
    # A pid whose start time differs is a reused pid: some other program, never signalled.
    record_pid(config, "airflow-triggerer", sleeper.pid, (_start_time(sleeper.pid) or 0) + 1)
    assert recorded_pid(config, "airflow-triggerer") is None
    assert down(config.home, timeout=5) == ["airflow-scheduler"]
    ours.wait(timeout=10)
    assert sleeper.poll() is None
    assert not list((config.state_dir / "pids").iterdir())
    status = stack_status(config.home)
    assert {service["state"] for service in status["services"].values()} == {"stopped"}


def test_down_keeps_a_database_it_did_not_create_and_needs_a_stack(tmp_path):
    with pytest.raises(StackError, match=r"no stack was started from .*soulsgen stack up"):
        down(tmp_path / "nothing")
    config = StackConfig(tmp_path / "home", database="not_ours")
    save_config(config, None)
    result = CliRunner().invoke(main, ["stack", "down", "--drop-database", "--home", str(config.home)])
    assert result.exit_code == 1
    assert "database not_ours was not created by `stack up`" in result.output


def test_status_hides_the_database_password(tmp_path, monkeypatch):
    monkeypatch.setenv("POSTGRES_PASSWORD", "s3cret-pw")
    config = StackConfig(tmp_path / "home", postgres_url="postgresql://airflow@db.example:5432")
    save_config(config, None)
    result = CliRunner().invoke(main, ["stack", "status", "--json", "--home", str(config.home)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["database"] == "postgresql+psycopg2://airflow:***@db.example:5432/soulsgen_stack"
    assert "s3cret-pw" not in result.output
    assert report["executor"] == "local"
    assert set(report["services"]) == {"api", "scheduler", "dag-processor", "triggerer", "torchserve"}
    assert report["services"]["api"]["url"] == "http://127.0.0.1:8080"
    assert masked_url("redis://:pw@host:6379/0") == "redis://:***@host:6379/0"
