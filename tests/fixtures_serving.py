"""Serving fixtures: real TorchServes serving the tiny model, always stopped, also when tests fail.

`torchserve` (session scope, shared by every stage's tests: never deploy to it or stop it) yields
the `ServerInfo` of a server started with `soulsgen serve` from its own artifact folder
(`serving_home`) on free ports. `private_torchserve` starts a server of its own for one test that
changes it (deploy, stop). Finalizers stop the whole process group; they are no-ops when a test
already stopped the server.
"""

from __future__ import annotations

import random
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from soulsgen_lib.cli import main
from soulsgen_lib.serving.server import ServerInfo, running_server, stop_server


def free_port_block(size: int = 5, host: str = "127.0.0.1") -> int:
    """A base port such that `size` consecutive ports are free now."""
    for _ in range(200):
        base = random.randrange(20000, 60000 - size)
        sockets = []
        try:
            for port in range(base, base + size):
                probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sockets.append(probe)
                probe.bind((host, port))
            return base
        except OSError:
            continue
        finally:
            for probe in sockets:
                probe.close()
    raise RuntimeError(f"no {size} consecutive free ports found")


@pytest.fixture(scope="session")
def serving_home(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    """An artifact folder whose model_store holds soulsgen.mar built from the tiny model by `soulsgen package`."""
    home = tmp_path_factory.mktemp("serving_home")
    # One torch thread: on this shared 2-core machine two threads waiting for each other are far slower.
    # bf16: the handler is tested with the precision a CPU serving lone sentences would choose.
    command = ["package", "--model", str(tiny_model_dir), "--home", str(home), "--torch-threads", "1"]
    command += ["--precision", "bf16"]
    result = CliRunner().invoke(main, command, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return home


def start_with_cli(home: Path) -> ServerInfo:
    """Run `soulsgen serve` for `home` on free ports and return the running server."""
    result = CliRunner().invoke(
        main, ["serve", "--home", str(home), "--port", str(free_port_block())], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    info = running_server(home / "serve")
    assert info is not None, result.output
    return info


@pytest.fixture(scope="session")
def torchserve(serving_home: Path) -> Iterator[ServerInfo]:
    """A running TorchServe started by `soulsgen serve`; stopped at the end of the session whatever happened."""
    try:
        yield start_with_cli(serving_home)
    finally:
        stop_server(serving_home / "serve")


@pytest.fixture
def private_torchserve(serving_home: Path, tmp_path: Path) -> Iterator[tuple[ServerInfo, Path]]:
    """A TorchServe of this test alone (same archive as `torchserve`) and its artifact folder."""
    home = tmp_path / "home"
    (home / "model-store").mkdir(parents=True)
    shutil.copyfile(serving_home / "model-store" / "soulsgen.mar", home / "model-store" / "soulsgen.mar")
    try:
        yield start_with_cli(home), home
    finally:
        stop_server(home / "serve")
