"""The stack's TorchServe, started with docker/torchserve.properties itself, lets no one register code from afar."""

from __future__ import annotations

import http.server
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from fixtures_serving import free_port_block

from soulsgen_lib.serving.manage import ServerKeys
from soulsgen_lib.stack.processes import TORCHSERVE, launches, start_service, stop_service
from soulsgen_lib.stack.topology import StackConfig
from soulsgen_lib.stack.torchserve import PROPERTIES_FILE, host_properties, read_properties

pytestmark = pytest.mark.slow


class MarServer(http.server.ThreadingHTTPServer):
    """Serves one MAR at /evil.mar and counts the requests it gets."""

    def __init__(self, mar: Path) -> None:
        self.mar_bytes = mar.read_bytes()
        self.requests: list[str] = []
        super().__init__(("127.0.0.1", 0), MarHandler)


class MarHandler(http.server.BaseHTTPRequestHandler):
    server: MarServer

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.server.mar_bytes)))
        self.end_headers()
        self.wfile.write(self.server.mar_bytes)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def locked_torchserve(tmp_path: Path, serving_home: Path) -> Iterator[tuple[StackConfig, int]]:
    """TorchServe as `stack up` runs it (the properties file with local places), its store holding one MAR."""
    config = StackConfig(tmp_path / "home", torchserve_port=free_port_block())
    store = config.home / "model-store"
    store.mkdir(parents=True)
    shutil.copyfile(serving_home / "model-store" / "soulsgen.mar", store / "soulsgen-v1.mar")
    config.torchserve_dir.mkdir(parents=True)
    (config.torchserve_dir / "config.properties").write_text(
        host_properties(store, "127.0.0.1", config.torchserve_port)
    )
    runtime = tmp_path / "rt"
    runtime.mkdir()
    launch = next(item for item in launches(config, str(runtime)) if item.name == TORCHSERVE)
    process = start_service(launch, dict(os.environ), config)
    try:
        key_file = config.torchserve_dir / "key_file.json"
        deadline = time.monotonic() + 120
        while not _answers(config.torchserve_port, key_file):
            assert process.poll() is None, (config.state_dir / "logs" / "torchserve.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "TorchServe did not start within 120 s"
            time.sleep(0.5)
        yield config, config.torchserve_port + 1
    finally:
        stop_service(config, TORCHSERVE, timeout=20)


def _answers(port: int, key_file: Path) -> bool:
    if not key_file.is_file():
        return False
    try:
        requests.get(f"http://127.0.0.1:{port}/ping", timeout=2)  # any answer: the token is not checked here
        return True
    except requests.RequestException:
        return False


def test_only_the_places_of_the_properties_file_change_on_a_host(tmp_path):
    shipped = read_properties()
    rendered_file = tmp_path / "config.properties"
    rendered_file.write_text(host_properties(tmp_path / "store", "127.0.0.1", 30000))
    rendered = read_properties(rendered_file)
    changed = {key for key in shipped if shipped[key] != rendered[key]}
    assert changed == {
        "inference_address",
        "management_address",
        "metrics_address",
        "grpc_inference_address",
        "grpc_management_address",
        "grpc_inference_port",
        "grpc_management_port",
        "model_store",
        "allowed_urls",
    }
    assert set(rendered) == set(shipped)
    assert rendered["disable_token_authorization"] == "false"
    assert PROPERTIES_FILE.name == "torchserve.properties"


def test_register_from_url_is_refused_and_a_local_archive_with_the_token_works(locked_torchserve, serving_home):
    config, management_port = locked_torchserve
    management = f"http://127.0.0.1:{management_port}"
    keys = ServerKeys.read(config.torchserve_dir / "key_file.json")
    server = MarServer(serving_home / "model-store" / "soulsgen.mar")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    evil_url = f"http://127.0.0.1:{server.server_address[1]}/evil.mar"
    try:
        anonymous = requests.post(f"{management}/models", params={"url": evil_url}, timeout=60)
        assert anonymous.status_code in (400, 401), anonymous.text
        assert anonymous.json()["type"] == "InvalidKeyException", anonymous.text
        bearer = {"Authorization": f"Bearer {keys.management.get_secret_value()}"}
        # Even with the token, allowed_urls admits nothing outside the model store.
        remote = requests.post(f"{management}/models", params={"url": evil_url}, headers=bearer, timeout=60)
        assert remote.status_code >= 400, remote.text
        assert server.requests == []  # TorchServe never fetched the archive
        outside = tmp_archive = config.home / "elsewhere" / "other.mar"
        outside.parent.mkdir()
        shutil.copyfile(serving_home / "model-store" / "soulsgen.mar", tmp_archive)
        from_file = requests.post(f"{management}/models", params={"url": outside.as_uri()}, headers=bearer, timeout=60)
        assert from_file.status_code >= 400, from_file.text
        params = {"url": "soulsgen-v1.mar", "model_name": "soulsgen", "initial_workers": 1, "synchronous": "true"}
        local = requests.post(f"{management}/models", params=params, headers=bearer, timeout=300)
        assert local.status_code == 200, local.text
        models = requests.get(f"{management}/models", headers=bearer, timeout=30).json()["models"]
        assert [model["modelName"] for model in models] == ["soulsgen"]
        inference = f"http://127.0.0.1:{config.torchserve_port}/predictions/soulsgen"
        assert requests.post(inference, json={"seed": 1}, timeout=120).json()["type"] == "InvalidKeyException"
        answer = requests.post(
            inference,
            json={"seed": 1},
            headers={"Authorization": f"Bearer {keys.inference.get_secret_value()}"},
            timeout=120,
        )
        assert answer.status_code in (200, 400), answer.text  # answered by the model (400: filters said no)
    finally:
        server.shutdown()
        server.server_close()
