"""Packaging, config generation and client errors: the serving parts that need no running TorchServe."""

from __future__ import annotations

import json
import shutil
import socket
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from soulsgen_lib.cli import main
from soulsgen_lib.model import MODEL_FILES
from soulsgen_lib.serving.client import ServingError, ServingUnavailable, TorchServeClient
from soulsgen_lib.serving.manage import read_mar_manifest
from soulsgen_lib.serving.package import PackageOptions, package_model
from soulsgen_lib.serving.server import ServeOptions, config_properties


def test_package_builds_a_self_contained_archive(tiny_model_dir: Path, tmp_path: Path) -> None:
    options = PackageOptions(
        batch_size=16, max_batch_delay_ms=7, workers=2, response_timeout_s=33, torch_threads=3, precision="bf16"
    )
    mar = package_model(tiny_model_dir, tmp_path / "store", options=options)

    assert mar == tmp_path / "store" / "soulsgen.mar"
    with zipfile.ZipFile(mar) as archive:
        names = set(archive.namelist())
        config = archive.read("model-config.yaml").decode()
    assert {f"model/{name}" for name in MODEL_FILES} <= names
    assert {"handler.py", "soulsgen_lib/__init__.py", "soulsgen_lib/model/generate.py"} <= names
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in names)
    assert "batchSize: 16\n" in config and "maxBatchDelay: 7\n" in config
    assert "minWorkers: 2\n" in config and "maxWorkers: 2\n" in config and "responseTimeout: 33\n" in config
    assert "handler:\n  torch_threads: 3\n  precision: bf16\n" in config
    card = json.loads((tiny_model_dir / "model_card.json").read_text())
    manifest = read_mar_manifest(mar)
    assert manifest["modelVersion"] == card["model_version"]
    assert manifest["modelName"] == "soulsgen" and manifest["handler"] == "handler.py"
    assert [path.name for path in mar.parent.iterdir()] == ["soulsgen.mar"]  # no temporary leftovers


def test_package_refuses_an_incomplete_model_folder_and_keeps_the_old_archive(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    old = package_model(tiny_model_dir, store, version="old-1")
    incomplete = tmp_path / "model"
    shutil.copytree(tiny_model_dir, incomplete)
    missing = MODEL_FILES[-1]
    (incomplete / missing).unlink()

    result = CliRunner().invoke(main, ["package", "--model", str(incomplete), "--out", str(store)])

    assert result.exit_code == 1
    assert missing in result.output and str(incomplete) in result.output
    assert read_mar_manifest(old)["modelVersion"] == "old-1"


def test_package_rejects_a_version_unfit_for_urls(tiny_model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ServingError, match="version 'v 2/x'"):
        package_model(tiny_model_dir, tmp_path / "store", version="v 2/x")
    assert not (tmp_path / "store" / "soulsgen.mar").exists()


def test_config_properties_bind_loopback_keep_token_auth_and_export_prometheus(tmp_path: Path) -> None:
    text = config_properties(tmp_path / "store", ServeOptions(base_port=9100))
    values = dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))

    assert values["inference_address"] == "http://127.0.0.1:9100"
    assert values["management_address"] == "http://127.0.0.1:9101"
    assert values["metrics_address"] == "http://127.0.0.1:9102"
    assert (values["grpc_inference_port"], values["grpc_management_port"]) == ("9103", "9104")
    assert values["metrics_mode"] == "prometheus"
    assert values["load_models"] == "soulsgen=soulsgen.mar"
    assert values["model_store"] == str(tmp_path / "store")
    assert "disable_token_authorization" not in values


def test_client_names_an_unreachable_endpoint(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = TorchServeClient(f"http://127.0.0.1:{port}", token="secret-token-value", timeout=5)

    with pytest.raises(ServingUnavailable, match=f"cannot reach TorchServe at http://127.0.0.1:{port}") as caught:
        client.sentence()
    assert "secret-token-value" not in str(caught.value) + repr(client)


def test_ask_names_an_unreachable_endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{probe.getsockname()[1]}"

    result = CliRunner().invoke(main, ["ask", "--endpoint", endpoint, "--home", str(tmp_path)])

    assert result.exit_code == 1
    assert f"cannot reach TorchServe at {endpoint}" in result.output


def test_ask_without_any_endpoint_says_how_to_get_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TORCHSERVE_ENDPOINT", raising=False)

    result = CliRunner().invoke(main, ["ask", "--home", str(tmp_path)])

    assert result.exit_code == 1
    assert "TORCHSERVE_ENDPOINT" in result.output and "soulsgen serve" in result.output
