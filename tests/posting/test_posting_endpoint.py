"""`twitter post` with a sentence from a real TorchServe serving the tiny model (the default source).

This file sorts before test_serving.py, whose last tests stop the shared session server.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from soulsgen_lib.cli.twitter import main as twitter

pytestmark = pytest.mark.slow


def test_post_takes_its_sentence_from_torchserve_endpoint(twitter_env, x_api, torchserve, tiny_model_dir, monkeypatch):
    token = torchserve.keys().inference.get_secret_value()
    monkeypatch.setenv("TORCHSERVE_ENDPOINT", torchserve.inference_url)
    monkeypatch.setenv("TORCHSERVE_TOKEN", token)
    version = json.loads((tiny_model_dir / "model_card.json").read_text())["model_version"]

    result = CliRunner().invoke(twitter, ["post", "--json"])

    assert result.exit_code == 0, result.output
    outcome = json.loads(result.output)
    [tweet] = x_api.tweets
    assert (outcome["post_id"], outcome["text"], outcome["model_version"]) == (tweet["id"], tweet["text"], version)
    assert token not in result.output


def test_post_names_an_unreachable_endpoint(twitter_env, x_api):
    result = CliRunner().invoke(twitter, ["post", "--endpoint", "http://127.0.0.1:9"])

    assert result.exit_code == 1
    assert "cannot reach TorchServe at http://127.0.0.1:9" in result.output
    assert x_api.requests == []
