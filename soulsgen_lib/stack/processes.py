"""`soulsgen stack`: docker-compose.yaml's services as local processes on this machine's PostgreSQL (and Redis).

Everything lives under `<home>/stack/`: `stack.json` (the configuration, no secrets), `state.json`
(whether `up` created the database, TorchServe's temporary folder), `pids/`
(one file per started process: pid and start time, so `down` stops only what `up` started),
`logs/`, `airflow/` (AIRFLOW_HOME) and `torchserve/` (its config and key_file.json).
Each service runs in a session of its own; stopping it signals its whole process group.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from soulsgen_lib.atomic import atomic_path, write_text_atomic
from soulsgen_lib.settings import read_env_file
from soulsgen_lib.stack import StackError
from soulsgen_lib.stack.topology import (
    AIRFLOW_SERVICES,
    EXECUTORS,
    MIGRATE_COMMAND,
    WORKER_NAME_ENV,
    WORKERS,
    StackConfig,
    airflow_environment,
    worker_command,
)
from soulsgen_lib.stack.torchserve import host_properties

STATE_FILE = "stack.json"
JWT_SECRET_FILE = "jwt_secret"
TORCHSERVE = "torchserve"
VENV_BIN = Path(sys.executable).parent
WORKERS_BY_NAME = {worker.name: worker for worker in WORKERS}


@dataclass(frozen=True)
class Launch:
    """One service as a process: its command, extra environment and working folder."""

    name: str
    command: tuple[str, ...]
    env: dict[str, str]
    cwd: Path


def service_names(executor: str) -> list[str]:
    """The services `up` starts for an executor, in start order."""
    names = [*AIRFLOW_SERVICES, TORCHSERVE]
    return names + [worker.name for worker in WORKERS] if executor == "celery" else names


def short_name(service: str) -> str:
    """The name `stack status` shows: api, scheduler, ..., worker-1, torchserve."""
    return "api" if service == "airflow-apiserver" else service.removeprefix("airflow-")


def masked_url(url: str) -> str:
    """A database or broker URL with its password replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


# --- configuration and environment ---------------------------------------------------------------


def save_config(config: StackConfig, env_file: Path | None) -> None:
    record = {f.name: getattr(config, f.name) for f in fields(config) if f.name != "jwt_secret"}
    record = {key: str(value) if isinstance(value, Path) else value for key, value in record.items()}
    record["env_file"] = str(env_file.resolve()) if env_file else ""
    write_text_atomic(config.state_dir / STATE_FILE, json.dumps(record, indent=2) + "\n")


def load_config(home: Path) -> tuple[StackConfig, Path | None]:
    """The configuration `up` recorded under `home`; StackError when there is none."""
    state_file = home / "stack" / STATE_FILE
    try:
        record = json.loads(state_file.read_text(encoding="utf-8"))
        env_file = Path(record.pop("env_file")) if record.get("env_file") else None
        known = {f.name for f in fields(StackConfig)}
        values = {key: Path(value) if key in ("home", "datasource_dir") else value for key, value in record.items()}
        return StackConfig(**{key: value for key, value in values.items() if key in known}), env_file
    except FileNotFoundError:
        raise StackError(
            f"no stack was started from {home} ({state_file} is missing): run `soulsgen stack up`"
        ) from None
    except (ValueError, KeyError, TypeError):
        raise StackError(f"{state_file} is damaged: stop the stack's processes by hand, then delete it") from None


def _jwt_secret(config: StackConfig, dotenv: dict[str, str]) -> str:
    """The shared JWT secret: given, from AIRFLOW_JWT_SECRET (env or .env), or made once and kept private."""
    secret = config.jwt_secret or os.environ.get("AIRFLOW_JWT_SECRET") or dotenv.get("AIRFLOW_JWT_SECRET", "")
    if secret:
        return secret
    secret_file = config.state_dir / JWT_SECRET_FILE
    if not secret_file.is_file():
        with atomic_path(secret_file, mode=0o600) as tmp:
            tmp.write_text(secrets.token_hex(32), encoding="utf-8")
    return secret_file.read_text(encoding="utf-8").strip()


def _postgres_password(dotenv: dict[str, str]) -> str:
    return os.environ.get("POSTGRES_PASSWORD") or dotenv.get("POSTGRES_PASSWORD", "")


def database_url(config: StackConfig, dotenv: dict[str, str], driver: str = "postgresql+psycopg2") -> str:
    """The metadata database URL, with POSTGRES_PASSWORD (env or .env) when one is set."""
    url = config.database_url(driver)
    password = _postgres_password(dotenv)
    if not password:
        return url
    scheme, rest = url.split("://", 1)
    user, _, host = rest.partition("@")
    return f"{scheme}://{user}:{quote(password, safe='')}@{host}" if host else url


def stack_environment(config: StackConfig, env_file: Path | None) -> dict[str, str]:
    """The environment of every Airflow process: this one's, then `.env` (as Compose's env_file), then the topology."""
    dotenv = read_env_file(env_file) if env_file else {}
    place = replace(
        config.placement(),
        jwt_secret=_jwt_secret(config, dotenv),
        database_url=database_url(config, dotenv),
        celery_result_backend=database_url(config, dotenv, "db+postgresql+psycopg2"),
    )
    topology = airflow_environment(place)
    inherited = [os.environ.get("PYTHONPATH", "")]
    topology["PYTHONPATH"] = os.pathsep.join([topology["PYTHONPATH"], *filter(None, inherited)])
    return {
        **os.environ,
        **dotenv,
        **topology,
        **config.airflow_overrides,
        "AIRFLOW_HOME": str((config.state_dir / "airflow").resolve()),
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }


def launches(config: StackConfig, runtime_dir: str) -> list[Launch]:
    """How each service of the configured executor runs here."""
    log_ports = config.log_ports()
    airflow_cwd = config.state_dir
    result = []
    for name, command in AIRFLOW_SERVICES.items():
        env = {}
        if name == "airflow-scheduler":  # LocalExecutor's tasks run under the scheduler
            env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] = str(log_ports[name])
        if name == "airflow-triggerer":
            env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] = str(log_ports[name])
        result.append(Launch(name, command, env, airflow_cwd))
    ts_logs = config.torchserve_dir / "logs"
    ts_command = (sys.executable, "-m", "ts.model_server", "--start", "--foreground", "--no-config-snapshots")
    ts_command += ("--ts-config", str(config.torchserve_dir / "config.properties"))
    ts_command += ("--model-store", str(config.home.resolve() / "model-store"))
    # TEMP: TorchServe's java.io.tmpdir (worker sockets, unpacked MARs), short and private to this stack.
    ts_env = {
        "TEMP": runtime_dir,
        "TMPDIR": runtime_dir,
        "LOG_LOCATION": str(ts_logs),
        "METRICS_LOCATION": str(ts_logs),
    }
    result.append(Launch(TORCHSERVE, ts_command, ts_env, config.torchserve_dir))
    if config.executor == "celery":
        for worker in WORKERS:
            env = {
                WORKER_NAME_ENV: worker.name,
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(log_ports[worker.name]),
            }
            result.append(Launch(worker.name, worker_command(worker), env, airflow_cwd))
    return result


# --- processes -------------------------------------------------------------------------------------


def _start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (from /proc), or None when it is gone or a zombie."""
    try:
        fields_after_name = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields_after_name[0] == "Z" else int(fields_after_name[19])


def _pid_file(config: StackConfig, name: str) -> Path:
    return config.state_dir / "pids" / f"{name}.json"


def recorded_pid(config: StackConfig, name: str) -> int | None:
    """The pid of a service that `up` started and that still runs (same start time), else None."""
    try:
        record = json.loads(_pid_file(config, name).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError:
        raise StackError(f"{_pid_file(config, name)} is damaged: stop that process by hand, then delete it") from None
    return record["pid"] if _start_time(record["pid"]) == record["start_time"] else None


def start_service(launch: Launch, base_env: dict[str, str], config: StackConfig) -> subprocess.Popen:
    logs = config.state_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    command = list(launch.command)
    if command[0] == "airflow":
        command[0] = str(VENV_BIN / "airflow")
    with open(logs / f"{launch.name}.log", "ab") as output:
        process = subprocess.Popen(
            command,
            cwd=launch.cwd,
            env={**base_env, **launch.env},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopping it reaches every child
            # TorchServe's key_file.json readable by this user only; Airflow's artifacts keep the usual mode.
            umask=0o077 if launch.name == TORCHSERVE else -1,
        )
    record = {"pid": process.pid, "start_time": _start_time(process.pid), "command": command}
    write_text_atomic(_pid_file(config, launch.name), json.dumps(record) + "\n")
    return process


def stop_service(config: StackConfig, name: str, timeout: float, sig: signal.Signals = signal.SIGTERM) -> bool:
    """Stop a recorded service's process group (`sig`, then SIGKILL after `timeout`); True if it was running."""
    pid = recorded_pid(config, name)
    if pid is not None:
        for current in (sig, signal.SIGKILL):
            try:
                os.killpg(pid, current)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and group_alive(pid):
                time.sleep(0.2)
            if not group_alive(pid):
                break
    _pid_file(config, name).unlink(missing_ok=True)
    return pid is not None


def group_alive(pgid: int) -> bool:
    """Whether any live (non-zombie) process is left in process group `pgid`."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state, _ppid, group = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:3]
        except OSError:
            continue
        if int(group) == pgid and state != "Z":
            return True
    return False


def _log_tail(config: StackConfig, name: str, lines: int = 8) -> str:
    path = config.state_dir / "logs" / f"{name}.log"
    if not path.is_file():
        return f"no log at {path}"
    tail = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    return " | ".join(line.strip()[-200:] for line in tail) + f" (see {path})"


# --- database and broker -----------------------------------------------------------------------------


def ensure_database(config: StackConfig, dotenv: dict[str, str]) -> bool:
    """Create the stack's database when missing; True if this call created it."""
    import psycopg2
    from psycopg2 import sql

    server = database_url(config, dotenv, "postgresql").rsplit("/", 1)[0] + "/postgres"
    try:
        connection = psycopg2.connect(server, connect_timeout=10)
    except psycopg2.Error as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise StackError(
            f"cannot reach PostgreSQL at {masked_url(server)} ({reason}): start it, or pass --postgres"
        ) from None
    try:
        connection.autocommit = True  # CREATE DATABASE cannot run inside a transaction
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (config.database,))
            if cursor.fetchone():
                return False
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(config.database)))
            return True
    finally:
        connection.close()


def drop_stack_database(config: StackConfig, dotenv: dict[str, str]) -> None:
    """Drop the stack's database (only ever called for one that `up` created)."""
    import psycopg2
    from psycopg2 import sql

    server = database_url(config, dotenv, "postgresql").rsplit("/", 1)[0] + "/postgres"
    connection = psycopg2.connect(server, connect_timeout=10)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(config.database)))
    finally:
        connection.close()


def _check_reachable(url: str, what: str, option: str) -> None:
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=5).close()
    except OSError as error:
        raise StackError(
            f"cannot reach {what} at {masked_url(url)} ({error.strerror}): start it, or pass {option}"
        ) from None


def _check_ports_free(config: StackConfig) -> None:
    ports = {"api": config.api_port, **{f"{name} logs": port for name, port in config.log_ports().items()}}
    ports |= {f"torchserve +{offset}": config.torchserve_port + offset for offset in range(5)}
    for what, port in ports.items():
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                raise StackError(f"port {port} ({what}) on 127.0.0.1 is taken: choose other ports") from None


# --- up / down / status ---------------------------------------------------------------------------------


def up(config: StackConfig, env_file: Path | None = Path(".env"), say: Callable[[str], None] = print) -> dict:
    """Start the stack and return its status once the API and TorchServe answer; StackError says why not."""
    if config.executor not in EXECUTORS:
        raise StackError(f"unknown executor {config.executor!r}: choose one of {', '.join(EXECUTORS)}")
    running = [name for name in _recorded_services(config) if recorded_pid(config, name) is not None]
    if running:
        raise StackError(
            f"a stack already runs from {config.state_dir} ({', '.join(running)}): stop it with `soulsgen stack down`"
        )
    env_file = env_file if env_file and env_file.is_file() else None
    dotenv = read_env_file(env_file) if env_file else {}
    _check_ports_free(config)
    if config.executor == "celery":
        _check_reachable(config.redis_url, "Redis", "--redis")
    created = ensure_database(config, dotenv)
    for folder in ("pids", "logs", "airflow", "torchserve"):
        (config.state_dir / folder).mkdir(parents=True, exist_ok=True)
    (config.home / "model-store").mkdir(parents=True, exist_ok=True)
    save_config(config, env_file)
    _write_state(config, {"created_database": created or _state(config).get("created_database", False)})
    write_text_atomic(
        config.torchserve_dir / "config.properties",
        host_properties(config.home / "model-store", "127.0.0.1", config.torchserve_port),
    )
    env = stack_environment(config, env_file)
    say(f"Migrating the metadata database {masked_url(config.database_url())} ...")
    _migrate(config, env)
    runtime_dir = tempfile.mkdtemp(prefix="soulsgen-stack-ts-")
    _write_state(config, {"torchserve_runtime_dir": runtime_dir})
    processes = {}
    try:
        for launch in launches(config, runtime_dir):
            processes[launch.name] = start_service(launch, env, config)
        _wait_until_ready(config, processes)
        serve_latest(config)
    except BaseException:
        down(config.home)
        raise
    status = stack_status(config.home)
    api_url = status["services"]["api"]["url"]
    say(f"Web UI and REST API: {api_url} (user admin; password in {admin_password_file(config)})")
    return status


def _migrate(config: StackConfig, env: dict[str, str]) -> None:
    log = config.state_dir / "logs" / "airflow-init.log"
    command = [str(VENV_BIN / "airflow"), *MIGRATE_COMMAND[1:]]
    with open(log, "ab") as output:
        result = subprocess.run(
            command, cwd=config.state_dir, env=env, stdout=output, stderr=subprocess.STDOUT, timeout=600
        )
    if result.returncode != 0:
        raise StackError(f"airflow db migrate failed (exit {result.returncode}): {_log_tail(config, 'airflow-init')}")


def admin_password_file(config: StackConfig) -> Path:
    """Where Airflow's simple auth manager keeps the generated admin password."""
    return config.state_dir / "airflow" / "simple_auth_manager_passwords.json.generated"


def _wait_until_ready(config: StackConfig, processes: dict[str, subprocess.Popen]) -> None:
    deadline = time.monotonic() + config.startup_timeout
    waiting = "the API server"
    while time.monotonic() < deadline:
        for name, process in processes.items():
            if process.poll() is not None:
                raise StackError(f"{name} exited with code {process.returncode}: {_log_tail(config, name)}")
        if _api_healthy(config) and _torchserve_healthy(config):
            return
        waiting = "the API server" if not _api_healthy(config) else "TorchServe"
        time.sleep(1)
    raise StackError(f"the stack was not ready within {config.startup_timeout:g} s (waiting for {waiting})")


def serve_latest(config: StackConfig) -> str | None:
    """Register the model store's `latest` MAR with the stack's TorchServe (it starts empty); its version or None."""
    from soulsgen_lib.pipeline import mar_name
    from soulsgen_lib.serving.manage import ServerKeys, deploy_mar
    from soulsgen_lib.storage import open_store

    model_store = config.home.resolve() / "model-store"
    version = open_store(str(config.home.resolve())).latest("mar")
    if version is None or not (model_store / mar_name(version)).is_file():
        return None
    keys = ServerKeys.read(config.torchserve_dir / "key_file.json")
    management_url = f"http://127.0.0.1:{config.torchserve_port + 1}"
    return deploy_mar(management_url, model_store / mar_name(version), keys.management, model_store=model_store)[
        "version"
    ]


def _api_healthy(config: StackConfig) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{config.api_port}/api/v2/monitor/health", timeout=5).status_code == 200
    except requests.RequestException:
        return False


def _torchserve_healthy(config: StackConfig) -> bool:
    from soulsgen_lib.serving.client import ServingError, TorchServeClient
    from soulsgen_lib.serving.manage import ServerKeys

    try:
        keys = ServerKeys.read(config.torchserve_dir / "key_file.json")
        TorchServeClient(f"http://127.0.0.1:{config.torchserve_port}", keys.inference, timeout=5).ping()
    except ServingError:
        return False
    return True


def _state(config: StackConfig) -> dict[str, Any]:
    path = config.state_dir / "state.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _write_state(config: StackConfig, updates: dict[str, Any]) -> None:
    write_text_atomic(config.state_dir / "state.json", json.dumps(_state(config) | updates, indent=2) + "\n")


def _recorded_services(config: StackConfig) -> list[str]:
    pids = config.state_dir / "pids"
    return sorted(path.stem for path in pids.glob("*.json")) if pids.is_dir() else []


def down(home: Path, drop_database: bool = False, timeout: float = 30.0) -> list[str]:
    """Stop every process that `up` started under `home` (workers first); return the names of those that ran."""
    config, env_file = load_config(home)
    order = [*(worker.name for worker in WORKERS), *reversed(list(AIRFLOW_SERVICES)), TORCHSERVE]
    recorded = _recorded_services(config)
    names = [name for name in order + sorted(set(recorded) - set(order)) if name in recorded]
    stopped = [name for name in names if stop_service(config, name, timeout)]
    state = _state(config)
    if state.get("torchserve_runtime_dir"):
        shutil.rmtree(state["torchserve_runtime_dir"], ignore_errors=True)
        _write_state(config, {"torchserve_runtime_dir": ""})
    (config.torchserve_dir / "key_file.json").unlink(missing_ok=True)
    if drop_database:
        if not state.get("created_database"):
            raise StackError(f"database {config.database} was not created by `stack up`: it is left as it was")
        drop_stack_database(config, read_env_file(env_file) if env_file else {})
        _write_state(config, {"created_database": False})
    return stopped


def restart(home: Path, name: str, timeout: float = 30.0) -> None:
    """Stop one service of a running stack and start it again with the same settings."""
    config, env_file = load_config(home)
    runtime_dir = _state(config).get("torchserve_runtime_dir", "")
    by_name = {launch.name: launch for launch in launches(config, runtime_dir)}
    full_name = next((full for full in by_name if short_name(full) == name or full == name), None)
    if full_name is None:
        raise StackError(f"no service {name!r} in this stack: choose one of {', '.join(map(short_name, by_name))}")
    stop_service(config, full_name, timeout)
    start_service(by_name[full_name], stack_environment(config, env_file), config)
    if full_name == TORCHSERVE:
        deadline = time.monotonic() + config.startup_timeout
        while not _torchserve_healthy(config):
            if time.monotonic() > deadline:
                raise StackError(
                    f"TorchServe did not answer within {config.startup_timeout:g} s: {_log_tail(config, TORCHSERVE)}"
                )
            time.sleep(1)
        serve_latest(config)


def stack_status(home: Path) -> dict[str, Any]:
    """The executor, the metadata database (password hidden) and each service's state and URL."""
    config, env_file = load_config(home)
    dotenv = read_env_file(env_file) if env_file else {}
    urls = {
        "airflow-apiserver": f"http://127.0.0.1:{config.api_port}",
        TORCHSERVE: f"http://127.0.0.1:{config.torchserve_port}",
    }
    services = {}
    for name in service_names(config.executor):
        pid = recorded_pid(config, name)
        entry: dict[str, Any] = {"service": name, "state": "running" if pid else "stopped", "pid": pid}
        if name in urls:
            entry["url"] = urls[name]
        if name in WORKERS_BY_NAME:
            entry["queues"] = list(WORKERS_BY_NAME[name].queues)
        services[short_name(name)] = entry
    services[short_name("airflow-apiserver")]["healthy"] = _api_healthy(config)
    services[short_name(TORCHSERVE)]["healthy"] = _torchserve_healthy(config)
    services[short_name(TORCHSERVE)]["management_url"] = f"http://127.0.0.1:{config.torchserve_port + 1}"
    return {
        "executor": config.executor,
        "database": masked_url(database_url(config, dotenv)),
        "broker": config.redis_url if config.executor == "celery" else None,
        "home": str(config.home.resolve()),
        "services": services,
    }
