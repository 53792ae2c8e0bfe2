"""Start and stop a local TorchServe with a generated config.properties; its state lives in one folder.

The folder (normally `SOULSGEN_HOME/serve/`) holds `config.properties`, `logs/`, TorchServe's
`key_file.json` (token auth stays on) and `server.json` (pid and endpoints, no secrets).
Each server gets a private temporary folder for its worker sockets and unpacked models, so
several servers (a developer's and a test suite's) can run side by side. Process checks read
/proc, so this module runs on Linux (as the TorchServe image does).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from soulsgen_lib.atomic import write_text_atomic
from soulsgen_lib.serving.client import ServingError, TorchServeClient
from soulsgen_lib.serving.manage import ManagementClient, ServerKeys

STATE_FILE = "server.json"
KEY_FILE = "key_file.json"
# Command-line fragments of TorchServe's launcher, Java frontend and Python workers.
_SERVER_MARKS = ("ts.model_server", "org.pytorch.serve.ModelServer", "model_service_worker")


@dataclass(frozen=True)
class ServeOptions:
    """How to run TorchServe: ports from `base_port` up (inference, management, metrics, gRPC x2)."""

    base_port: int = 8080
    host: str = "127.0.0.1"
    model_name: str = "soulsgen"
    mar_name: str = "soulsgen.mar"
    # TorchServe's default is 60 minutes; a bot that posts all day would lose its token hourly.
    token_expiration_min: int = 30 * 24 * 60
    startup_timeout: float = 180.0

    @property
    def ports(self) -> dict[str, int]:
        names = ("inference", "management", "metrics", "grpc_inference", "grpc_management")
        return {name: self.base_port + offset for offset, name in enumerate(names)}


@dataclass(frozen=True)
class ServerInfo:
    """A running server as recorded in `server.json`."""

    pid: int
    inference_url: str
    management_url: str
    metrics_url: str
    model_name: str
    model_store: str
    serve_dir: str
    runtime_dir: str

    @property
    def key_file(self) -> Path:
        return Path(self.serve_dir) / KEY_FILE

    def keys(self) -> ServerKeys:
        return ServerKeys.read(self.key_file)


def config_properties(model_store: Path, options: ServeOptions) -> str:
    """The text of TorchServe's config.properties for this project."""
    ports = options.ports
    lines = [
        "# Written by `soulsgen serve`; regenerated on every start.",
        f"inference_address=http://{options.host}:{ports['inference']}",
        f"management_address=http://{options.host}:{ports['management']}",
        f"metrics_address=http://{options.host}:{ports['metrics']}",
        f"grpc_inference_address={options.host}",
        f"grpc_management_address={options.host}",
        f"grpc_inference_port={ports['grpc_inference']}",
        f"grpc_management_port={ports['grpc_management']}",
        f"model_store={model_store}",
        f"load_models={options.model_name}={options.mar_name}",
        "metrics_mode=prometheus",
        # Registering and unregistering versions (`soulsgen serve deploy`) needs the model API.
        "enable_model_api=true",
        f"token_expiration_min={options.token_expiration_min}",
        # Dependencies travel inside the MAR; never pip-install at load time (no internet in production).
        "install_py_dep_per_model=false",
    ]
    return "\n".join(lines) + "\n"


def running_server(serve_dir: Path) -> ServerInfo | None:
    """The server recorded in `serve_dir`, or None when none is recorded or its processes are gone."""
    info = _recorded_server(serve_dir)
    return info if info is not None and _server_processes(info.pid) else None


def _recorded_server(serve_dir: Path) -> ServerInfo | None:
    state_file = serve_dir / STATE_FILE
    if not state_file.is_file():
        return None
    try:
        return ServerInfo(**json.loads(state_file.read_text(encoding="utf-8")))
    except (ValueError, TypeError):
        raise ServingError(f"{state_file} is damaged: stop TorchServe by hand, then delete the file") from None


def start_server(serve_dir: Path, model_store: Path, options: ServeOptions | None = None) -> ServerInfo:
    """Start TorchServe in the background and return once the model answers; ServingError says why not."""
    options = options or ServeOptions()
    serve_dir, model_store = serve_dir.resolve(), model_store.resolve()
    if not (model_store / options.mar_name).is_file():
        raise ServingError(
            f"{model_store / options.mar_name} does not exist: build it with `soulsgen package --out {model_store}`"
        )
    running = running_server(serve_dir)
    if running is not None:
        raise ServingError(
            f"TorchServe already runs from {serve_dir} (pid {running.pid}, {running.inference_url}): "
            "stop it with `soulsgen serve --stop`"
        )
    stop_server(serve_dir)  # clears what a crashed server left behind
    for name, port in options.ports.items():
        if not _port_free(options.host, port):
            raise ServingError(f"port {port} ({name}) on {options.host} is taken: choose another --port")

    logs = serve_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    (serve_dir / KEY_FILE).unlink(missing_ok=True)
    config_file = serve_dir / "config.properties"
    write_text_atomic(config_file, config_properties(model_store, options))
    # Short and private: worker sockets live here and a unix socket path must stay under ~100 bytes.
    runtime_dir = tempfile.mkdtemp(prefix="soulsgen-ts-")
    # Workers import the soulsgen_lib inside the MAR: TorchServe puts an inherited PYTHONPATH (a
    # developer's checkout) before the archive's folder, which would serve other code than packaged.
    inherited = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env = {
        **inherited,
        "TEMP": runtime_dir,  # TorchServe's java.io.tmpdir: worker sockets and unpacked MARs
        "TMPDIR": runtime_dir,  # the launcher's pid file
        "LOG_LOCATION": str(logs),
        "METRICS_LOCATION": str(logs),
    }
    command = [sys.executable, "-m", "ts.model_server", "--start", "--foreground", "--no-config-snapshots"]
    command += ["--ts-config", str(config_file), "--model-store", str(model_store)]
    with open(logs / "torchserve.out", "ab") as output:
        # A session of its own: `stop_server` signals the whole group (launcher, Java, workers).
        # umask 077 keeps key_file.json readable by this user only.
        process = subprocess.Popen(
            command,
            cwd=serve_dir,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            umask=0o077,
        )
    ports = options.ports
    info = ServerInfo(
        pid=process.pid,
        inference_url=f"http://{options.host}:{ports['inference']}",
        management_url=f"http://{options.host}:{ports['management']}",
        metrics_url=f"http://{options.host}:{ports['metrics']}/metrics",
        model_name=options.model_name,
        model_store=str(model_store),
        serve_dir=str(serve_dir),
        runtime_dir=runtime_dir,
    )
    write_text_atomic(serve_dir / STATE_FILE, json.dumps(asdict(info), indent=2) + "\n")
    try:
        _wait_until_ready(info, process, options.startup_timeout)
    except BaseException:
        stop_server(serve_dir)
        raise
    return info


def stop_server(serve_dir: Path, timeout: float = 30.0) -> ServerInfo | None:
    """Stop the server recorded in `serve_dir` (its whole process group) and clean up; None if none ran."""
    serve_dir = serve_dir.resolve()
    info = _recorded_server(serve_dir)
    if info is None:
        return None
    was_running = bool(_server_processes(info.pid))
    _stop_group(info.pid, timeout)
    shutil.rmtree(info.runtime_dir, ignore_errors=True)
    (serve_dir / KEY_FILE).unlink(missing_ok=True)
    (serve_dir / STATE_FILE).unlink(missing_ok=True)
    return info if was_running else None


def _wait_until_ready(info: ServerInfo, process: subprocess.Popen, timeout: float) -> None:
    """Poll until the key file exists, `/ping` is healthy and a worker of the model is READY."""
    deadline = time.monotonic() + timeout
    problem = "TorchServe did not write its key file"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServingError(f"TorchServe exited with code {process.returncode}: {_log_tail(info)}")
        try:
            keys = info.keys()
            TorchServeClient(info.inference_url, keys.inference, timeout=5).ping()
            versions = ManagementClient(info.management_url, keys.management, timeout=5).versions(info.model_name)
            if any(worker["status"] == "READY" for entry in versions for worker in entry["workers"]):
                return
            problem = f"no worker of {info.model_name!r} became ready"
        except ServingError as error:
            problem = str(error)
        time.sleep(0.5)
    raise ServingError(f"TorchServe was not ready within {timeout:g} s ({problem}): {_log_tail(info)}")


def _log_tail(info: ServerInfo, lines: int = 5) -> str:
    """The last error lines of TorchServe's logs, to say why it failed without opening them."""
    logs = Path(info.serve_dir) / "logs"
    found: list[str] = []
    for name in ("model_log.log", "ts_log.log", "torchserve.out"):
        path = logs / name
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace").splitlines()
            found += [line for line in text if "ERROR" in line or "Error" in line or "Exception" in line]
    shown = " | ".join(line.strip()[-200:] for line in found[-lines:])
    return f"{shown} (see {logs})" if shown else f"see {logs}"


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _server_processes(pgid: int) -> list[int]:
    """Live (not zombie) processes of TorchServe in process group `pgid`, read from /proc.

    Checking the command line guards against a recorded pid that now belongs to something else.
    """
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        # Fields after the parenthesised command name: state, ppid, pgrp, ...
        state, _ppid, group = stat.rsplit(")", 1)[1].split()[:3]
        if int(group) == pgid and state != "Z" and any(mark in command for mark in _SERVER_MARKS):
            members.append(int(entry.name))
    return members


def _stop_group(pgid: int, timeout: float) -> None:
    """SIGTERM the server's process group (launcher, Java frontend, Python workers), SIGKILL what stays."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not _server_processes(pgid):
            return
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _server_processes(pgid):
                return
            time.sleep(0.2)
