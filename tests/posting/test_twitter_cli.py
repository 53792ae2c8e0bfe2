"""The `twitter` command line against the local X API: auth (PIN flow), whoami, post, history."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from posting.loopback_api_server import Planned

from soulsgen_lib.cli.twitter import main as twitter
from soulsgen_lib.posting.target import BUDGET_SPENT_EXIT_CODE
from soulsgen_lib.settings import read_env_file

LINE = "Beneath the sunken chapel a lantern waits for no one."
OTHER = "The ferryman counts coins that no living hand has held."
FAST = ["--retry-delay", "0.01"]


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(twitter, list(args), input=input)


def history_lines(env: dict[str, str]) -> list[dict]:
    path = Path(env["SOULSGEN_HOME"]) / "posted" / "history.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_auth_runs_the_whole_pin_flow_and_prints_the_pair(twitter_env, x_api):
    result = run("auth", input=f"{x_api.pin}\n")

    assert result.exit_code == 0, result.output
    [request_token] = re.findall(r"http://\S+/oauth/authorize\?oauth_token=(\S+)", result.output)
    token, secret = x_api.issued[-1]
    assert f"TWITTER_ACCESS_TOKEN={token}" in result.output
    assert f"TWITTER_TOKEN_SECRET={secret}" in result.output
    assert twitter_env["TWITTER_CONSUMER_SECRET"] not in result.output
    assert x_api.requests == [("POST", "/oauth/request_token"), ("POST", "/oauth/access_token")]
    assert request_token not in x_api.request_tokens  # the request token was used up by the exchange


def test_auth_save_writes_env_file_keeping_other_lines(twitter_env, x_api, tmp_path, monkeypatch):
    monkeypatch.delenv("TWITTER_ACCESS_TOKEN")
    monkeypatch.delenv("TWITTER_TOKEN_SECRET")
    (tmp_path / ".env").write_text("# my settings\nBUCKET=\nTWITTER_ACCESS_TOKEN=old-token\n")

    result = run("auth", "--save", input=f"{x_api.pin}\n")

    assert result.exit_code == 0, result.output
    token, secret = x_api.issued[-1]
    assert token not in result.output and secret not in result.output
    text = (tmp_path / ".env").read_text()
    assert text.startswith("# my settings\nBUCKET=\n")
    assert read_env_file(tmp_path / ".env")["TWITTER_ACCESS_TOKEN"] == token
    assert read_env_file(tmp_path / ".env")["TWITTER_TOKEN_SECRET"] == secret
    whoami = run("whoami")  # the saved pair works
    assert whoami.exit_code == 0, whoami.output
    assert whoami.output.strip() == "@soulsgen_bot"


def test_auth_save_to_an_unwritable_path_still_shows_the_pair(twitter_env, x_api, tmp_path):
    (tmp_path / "a-file").write_text("x")  # a file where a folder should be: the env file cannot be written

    result = run("auth", "--save", "--env-file", str(tmp_path / "a-file" / ".env"), input=f"{x_api.pin}\n")

    assert result.exit_code == 1
    token, secret = x_api.issued[-1]
    assert "cannot write" in result.output
    assert f"TWITTER_ACCESS_TOKEN={token}" in result.output and f"TWITTER_TOKEN_SECRET={secret}" in result.output


def test_auth_with_a_wrong_pin_says_what_to_do(twitter_env, x_api):
    result = run("auth", input="0000000\n")

    assert result.exit_code == 1
    assert "X refused the PIN (401)" in result.output
    assert "Traceback" not in result.output


def test_auth_options_override_the_environment(twitter_env, x_api):
    result = run("auth", "--consumer-secret", "not-the-right-one", input=f"{x_api.pin}\n")

    assert result.exit_code == 1
    assert "TWITTER_CONSUMER_SECRET" in result.output
    assert "not-the-right-one" not in result.output


def test_whoami_with_wrong_token_secret_is_a_clear_401(twitter_env, monkeypatch):
    monkeypatch.setenv("TWITTER_TOKEN_SECRET", "wrong-token-secret")

    result = run("whoami")

    assert result.exit_code == 1
    assert "X refused the credentials on GET /2/users/me (401" in result.output
    assert "wrong-token-secret" not in result.output


def test_post_text_posts_and_records(twitter_env, x_api):
    result = run("post", "--text", LINE)

    assert result.exit_code == 0, result.output
    [tweet] = x_api.tweets
    assert f"Posted {tweet['id']}: {LINE}" in result.output
    assert "1/17 posts in the last 24 h" in result.output
    pending, record = history_lines(twitter_env)
    assert (pending["outcome"], pending["attempt"]) == ("pending", record["attempt"])
    assert (record["text"], record["post_id"], record["outcome"]) == (LINE, tweet["id"], "posted")


def test_post_same_text_twice_is_refused(twitter_env, x_api):
    assert run("post", "--text", LINE).exit_code == 0

    second = run("post", "--text", LINE)

    assert second.exit_code == 1
    assert "already posted" in second.output
    assert x_api.count("POST", "/2/tweets") == 1


def test_post_with_spent_budget_exits_3_without_a_request(twitter_env, x_api):
    assert run("post", "--text", LINE).exit_code == 0
    before = list(x_api.requests)

    result = run("post", "--text", OTHER, "--daily-budget", "1")

    assert result.exit_code == BUDGET_SPENT_EXIT_CODE
    assert "daily budget spent" in result.output
    assert x_api.requests == before


def test_post_dry_run_sends_nothing(twitter_env, x_api):
    result = run("post", "--text", LINE, "--dry-run", "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["outcome"] == "dry_run"
    assert x_api.requests == []
    assert history_lines(twitter_env) == []


def test_post_dry_run_needs_no_credentials(twitter_env, x_api, monkeypatch):
    for name in ("TWITTER_CONSUMER_KEY", "TWITTER_CONSUMER_SECRET", "TWITTER_ACCESS_TOKEN", "TWITTER_TOKEN_SECRET"):
        monkeypatch.delenv(name)
    result = run("post", "--text", LINE, "--dry-run")

    assert result.exit_code == 0, result.output
    assert f"Would post: {LINE}" in result.output
    assert x_api.requests == []
    assert history_lines(twitter_env) == []


def test_post_does_not_resend_after_a_503(twitter_env, x_api):
    x_api.plan(Planned(503, also_create=True))

    result = run("post", "--text", LINE, *FAST)

    assert result.exit_code == 1
    assert "recorded as unknown" in result.output
    assert x_api.count("POST", "/2/tweets") == 1
    assert [line["outcome"] for line in history_lines(twitter_env)] == ["pending", "unknown"]


def test_post_gives_up_on_a_far_rate_limit_reset(twitter_env, x_api):
    x_api.plan(Planned(429, {"x-rate-limit-reset": "4102444800"}))

    result = run("post", "--text", LINE, "--max-wait", "5")

    assert result.exit_code == 1
    assert "rate limit" in result.output and "try again later" in result.output
    assert history_lines(twitter_env)[-1]["outcome"] == "rate_limited"


def test_post_duplicate_403_explains(twitter_env, x_api):
    x_api.create_tweet(LINE)

    result = run("post", "--text", LINE)

    assert result.exit_code == 1
    assert "duplicate content" in result.output


def test_post_needs_a_sentence_source(twitter_env):
    result = run("post")
    assert result.exit_code == 2
    assert "give --text, --endpoint or --model" in result.output

    both = run("post", "--text", LINE, "--endpoint", "http://127.0.0.1:9")
    assert both.exit_code == 2
    assert "--text and --endpoint" in both.output


def test_post_empty_text_is_rejected_without_a_request(twitter_env, x_api):
    result = run("post", "--text", "  ")

    assert result.exit_code == 1
    assert "the sentence is empty" in result.output
    assert x_api.requests == []


def test_post_help_documents_the_budget_exit_status():
    result = run("post", "--help")
    assert result.exit_code == 0
    assert f"{BUDGET_SPENT_EXIT_CODE}  the daily or monthly budget is spent" in result.output
    assert "POST_DAILY_BUDGET" in result.output and "TWITTER_API_BASE_URL" in result.output


def test_history_lists_attempts_and_budget(twitter_env, x_api):
    assert run("post", "--text", LINE).exit_code == 0
    x_api.create_tweet(OTHER)
    assert run("post", "--text", OTHER).exit_code == 1

    result = run("history", "--daily-budget", "5")

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].endswith("history.jsonl: 2 attempts")
    assert "posted" in lines[1] and LINE in lines[1]
    assert "duplicate" in lines[2] and OTHER in lines[2]
    assert "1/5 posts in the last 24 h" in lines[3]


@pytest.mark.parametrize("command", ["whoami", "post"])
def test_missing_credentials_name_the_settings(twitter_env, monkeypatch, command):
    monkeypatch.delenv("TWITTER_TOKEN_SECRET")
    args = [command] + (["--text", LINE] if command == "post" else [])

    result = run(*args)

    assert result.exit_code == 1
    assert "X credentials missing: set TWITTER_TOKEN_SECRET" in result.output


@pytest.mark.slow
def test_post_with_a_local_model_posts_its_sentence_and_version(twitter_env, x_api, tiny_model_dir):
    version = json.loads((tiny_model_dir / "model_card.json").read_text())["model_version"]

    result = run("post", "--model", str(tiny_model_dir), "--json")

    assert result.exit_code == 0, result.output
    outcome = json.loads(result.output)
    [tweet] = x_api.tweets
    assert (outcome["outcome"], outcome["post_id"], outcome["text"]) == ("posted", tweet["id"], tweet["text"])
    assert outcome["model_version"] == version
    assert history_lines(twitter_env)[0]["model_version"] == version
