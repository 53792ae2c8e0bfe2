"""A real TorchServe serving the tiny model: predictions, batching, errors, deploy and stop.

Most tests share the session server `torchserve` and leave it as they found it; deploying and
stopping happen on a server of their own (`private_torchserve`).
"""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from soulsgen_lib.cli import main
from soulsgen_lib.model.data import split_words
from soulsgen_lib.serving.client import ServingError, TorchServeClient
from soulsgen_lib.serving.manage import ManagementClient
from soulsgen_lib.serving.server import ServerInfo, running_server

pytestmark = pytest.mark.slow

BATCH_SIZE_HEADER = "X-Soulsgen-Batch-Size"


def client_for(info: ServerInfo) -> TorchServeClient:
    return TorchServeClient(info.inference_url, info.keys().inference)


def post(info: ServerInfo, body: str, content_type: str = "application/json") -> requests.Response:
    headers = {"Authorization": f"Bearer {info.keys().inference.get_secret_value()}", "Content-Type": content_type}
    return requests.post(f"{info.inference_url}/predictions/soulsgen", data=body, headers=headers, timeout=60)


def test_serve_writes_its_state_under_the_artifact_folder(torchserve: ServerInfo, serving_home: Path) -> None:
    serve_dir = serving_home / "serve"
    assert Path(torchserve.serve_dir) == serve_dir.resolve()
    assert {"config.properties", "key_file.json", "server.json", "logs"} <= {p.name for p in serve_dir.iterdir()}
    assert (serve_dir / "logs" / "ts_log.log").stat().st_size > 0
    assert (serve_dir / "key_file.json").stat().st_mode & 0o077 == 0  # tokens readable by this user only
    assert "key" not in (serve_dir / "server.json").read_text()


def test_single_prediction_answers_text_prompt_and_version(torchserve: ServerInfo, tiny_model_dir: Path) -> None:
    client = client_for(torchserve)
    client.ping()
    card = json.loads((tiny_model_dir / "model_card.json").read_text())

    familiar = client.sentence()
    chosen = client.sentence(prompt="The old knight", seed=7)
    again = client.sentence(prompt="The old knight", seed=7)

    assert familiar["text"].startswith(familiar["prompt"]) and familiar["prompt"]
    assert familiar["model_version"] == card["model_version"]
    assert chosen["prompt"] == "The old knight" and chosen["text"].startswith("The old knight")
    assert again == chosen  # a seed fixes the sentence whatever else is in the batch


def test_the_worker_imports_soulsgen_lib_from_the_archive(torchserve: ServerInfo) -> None:
    model_log = (Path(torchserve.serve_dir) / "logs" / "model_log.log").read_text()
    assert "in bfloat16 (1 torch threads)" in model_log  # the archive's model config reached the handler
    loaded_from = model_log.split("with soulsgen_lib from ")[1].splitlines()[0].strip()
    assert loaded_from.startswith(torchserve.runtime_dir)  # the unpacked MAR, not this checkout


def test_concurrent_requests_are_batched_and_a_bad_one_fails_alone(torchserve: ServerInfo) -> None:
    bodies = [json.dumps({"seed": index}) for index in range(32)]
    bodies[5] = json.dumps({"temperature": 0})  # out of range: only this request may fail
    bodies[17] = json.dumps({"max_chars": "long"})

    with ThreadPoolExecutor(max_workers=32) as pool:
        responses = list(pool.map(lambda body: post(torchserve, body), bodies))

    failed = {index for index, response in enumerate(responses) if response.status_code != 200}
    assert failed == {5, 17}
    assert "temperature" in responses[5].json()["message"] and "max_chars" in responses[17].json()["message"]
    texts = [response.json()["text"] for response in responses if response.status_code == 200]
    assert len(texts) == 30 and all(texts)
    assert max(int(response.headers[BATCH_SIZE_HEADER]) for response in responses) > 1


def test_a_mixed_batch_answers_each_request_alone(torchserve: ServerInfo) -> None:
    """Bad requests that once failed their whole batch (503) now get their own 400 or 413."""
    bad = {
        3: (json.dumps({"seed": 2**64}), 400, "seed"),
        8: ('{"prompt": "\\ud800"}', 400, "lone surrogate"),
        13: ('{"prompt": ' + "[" * 3000 + "]" * 3000 + "}", 400, "nested too deeply"),
        19: (json.dumps({"prompt": "a" * 600}), 400, "prompt is too long (600 characters"),
        24: (json.dumps({"prompt": "zz " * 300_000}), 413, "at most 16384"),
        29: (json.dumps({"prompt": "zz " * 5000}), 400, "prompt is too long"),
    }
    bodies = [json.dumps({"seed": index}) for index in range(32)]
    for index, (body, _, _) in bad.items():
        bodies[index] = body

    with ThreadPoolExecutor(max_workers=32) as pool:
        responses = list(pool.map(lambda body: post(torchserve, body), bodies))

    for index, (_, status, named) in bad.items():
        assert responses[index].status_code == status, (index, responses[index].text[:200])
        assert named in responses[index].json()["message"]
        assert len(responses[index].content) < 1000  # never an echo of the input
    good = [response for index, response in enumerate(responses) if index not in bad]
    assert all(response.status_code == 200 and response.json()["text"] for response in good)
    assert max(int(response.headers[BATCH_SIZE_HEADER]) for response in responses) > 1


@pytest.mark.parametrize(
    ("body", "content_type", "named"),
    [
        ("{not json", "application/json", "not valid JSON"),
        ("[1, 2]", "application/json", "JSON object"),
        ('{"temprature": 1.0}', "application/json", "'temprature'"),
        ('{"prompt": 42}', "application/json", "prompt"),
        ('{"seed": 1.5}', "application/json", "seed"),
        ('{"top_p": 3}', "application/json", "top_p"),
        ('{"prompt": "zzxq qqzv"}', "application/json", "zzxq"),
        ("prompt=The", "application/x-www-form-urlencoded", "JSON object"),
    ],
)
def test_bad_bodies_get_a_400_naming_the_problem(
    torchserve: ServerInfo, body: str, content_type: str, named: str
) -> None:
    response = post(torchserve, body, content_type)
    assert response.status_code == 400
    assert named in response.json()["message"]


def test_client_raises_the_servers_message(torchserve: ServerInfo) -> None:
    with pytest.raises(ServingError, match="temperature"):
        client_for(torchserve).sentence(temperature=-1.0)


def test_a_wrong_token_is_refused_with_a_hint(torchserve: ServerInfo) -> None:
    client = TorchServeClient(torchserve.inference_url, "not-the-token")
    with pytest.raises(ServingError, match=r"rejected the token.*TORCHSERVE_TOKEN"):
        client.ping()
    with pytest.raises(ServingError, match=r"rejected the token.*TORCHSERVE_TOKEN"):
        client.sentence()


def test_metrics_are_exported_for_prometheus(torchserve: ServerInfo) -> None:
    response = requests.get(torchserve.metrics_url, timeout=30)
    assert response.status_code == 200
    assert "ts_inference_requests_total" in response.text


def test_ask_prints_sentences_from_the_local_server(
    torchserve: ServerInfo, serving_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("TORCHSERVE_ENDPOINT", "TORCHSERVE_TOKEN"):
        monkeypatch.delenv(name, raising=False)

    result = CliRunner().invoke(main, ["ask", "--home", str(serving_home), "-n", "3", "--seed", "1"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 3 and all(lines)


def test_deploy_makes_a_new_version_the_default_then_stop_ends_everything(
    private_torchserve: tuple[ServerInfo, Path],
    tiny_model_dir: Path,
    tiny_subword_model_dir: Path,
    model_corpus_dir: Path,
    tmp_path: Path,
) -> None:
    info, home = private_torchserve
    runner = CliRunner()
    store = tmp_path / "store"  # a folder of its own: package writes only into a new, empty or model store
    built = runner.invoke(main, ["package", "--model", str(tiny_model_dir), "--out", str(store), "--version", "v2"])
    assert built.exit_code == 0, built.output

    deployed = runner.invoke(main, ["serve", "deploy", str(store / "soulsgen.mar"), "--home", str(home)])
    again = runner.invoke(main, ["serve", "deploy", str(store / "soulsgen.mar"), "--home", str(home)])

    assert deployed.exit_code == 0, deployed.output
    assert "v2 is now the default" in deployed.output
    assert client_for(info).sentence()["model_version"] == "v2"
    manager = ManagementClient(info.management_url, info.keys().management)
    assert [entry["modelVersion"] for entry in manager.versions("soulsgen")] == ["v2"]
    assert again.exit_code == 0, again.output  # a rerun only keeps v2 the default
    assert "v2 is now the default" in again.output and "Unregistered" not in again.output

    # A MAR already in the server's model store (as the pipeline publishes it) is registered by name;
    # this one holds a sub-word model, whose decoding the handler keeps to corpus words.
    rebuilt = runner.invoke(
        main, ["package", "--model", str(tiny_subword_model_dir), "--out", str(store), "--version", "v3"]
    )
    assert rebuilt.exit_code == 0, rebuilt.output
    in_store = home / "model-store" / "soulsgen-v3.mar"
    shutil.copyfile(store / "soulsgen.mar", in_store)
    from_store = runner.invoke(main, ["serve", "deploy", str(in_store), "--home", str(home)])
    assert from_store.exit_code == 0, from_store.output
    assert [entry["modelVersion"] for entry in manager.versions("soulsgen")] == ["v3"]
    answer = client_for(info).sentence()
    corpus_words = set(split_words((model_corpus_dir / "train.txt").read_text(encoding="utf-8")))
    assert answer["model_version"] == "v3" and set(split_words(answer["text"])) <= corpus_words
    assert answer["prompt"] == split_words(answer["text"])[0]  # a familiar word, however many pieces

    stopped = runner.invoke(main, ["serve", "--stop", "--home", str(home)])

    assert stopped.exit_code == 0, stopped.output
    assert f"pid {info.pid}" in stopped.output
    assert running_server(home / "serve") is None
    assert not Path(info.runtime_dir).exists()
    assert not (home / "serve" / "key_file.json").exists()
    with pytest.raises(ServingError, match="cannot reach"):
        TorchServeClient(info.inference_url, timeout=5).ping()
