"""Bluesky and Mastodon beside X: the real SDKs against local servers that check what the real APIs check."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from fixtures_posting import FAST_RETRY
from posting.loopback_api_server import Planned

from soulsgen_lib.cli import main as soulsgen
from soulsgen_lib.posting.bluesky import BlueskyTarget
from soulsgen_lib.posting.budget import Budget, budget_status
from soulsgen_lib.posting.card import card_title, render_card
from soulsgen_lib.posting.history import (
    POSTED,
    RATE_LIMITED,
    UNKNOWN,
    StoreHistory,
    on_network,
    settled,
)
from soulsgen_lib.posting.mastodon import MastodonTarget
from soulsgen_lib.posting.post import post_sentence
from soulsgen_lib.posting.target import (
    BudgetSpent,
    CredentialsRejected,
    OutcomeUnknown,
    RateLimited,
    RetryPolicy,
    SentenceRejected,
)
from soulsgen_lib.settings import read_env_file
from soulsgen_lib.storage import open_store

LINE = "Beneath the Sunken Chapel a lantern waits for no one."
OTHER = "The ferryman counts coins that no living hand has held."


class RecordingSleep:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def history(tmp_path) -> StoreHistory:
    return StoreHistory(open_store(tmp_path / "store"))


def bluesky(api, tmp_path, sleep=None, **retry) -> BlueskyTarget:
    policy = RetryPolicy(**{**FAST_RETRY, **retry})
    session = tmp_path / "private" / "bluesky-session"
    return BlueskyTarget(api.handle, api.app_password, api.base_url, session, policy, sleep or RecordingSleep())


def mastodon(api, sleep=None, **retry) -> MastodonTarget:
    policy = RetryPolicy(**{**FAST_RETRY, **retry})
    return MastodonTarget(api.base_url, api.access_token, "unlisted", policy, sleep or RecordingSleep())


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(soulsgen, list(args), input=input)


def history_lines(env: dict[str, str]) -> list[dict]:
    path = Path(env["SOULSGEN_HOME"]) / "posted" / "history.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_bluesky_post_is_an_english_feed_post_recorded_under_its_network(bluesky_api, tmp_path, history):
    record = post_sentence(LINE, bluesky(bluesky_api, tmp_path), history, Budget(network="bluesky", daily=24))

    assert record.outcome == POSTED and record.network == "bluesky"
    assert record.post_id.startswith(f"at://{bluesky_api.did}/app.bsky.feed.post/")
    [post] = bluesky_api.posts
    assert (post["text"], post["langs"], post["$type"]) == (LINE, ["en"], "app.bsky.feed.post")
    assert [line.outcome for line in history.records()] == ["pending", POSTED]


def test_mastodon_post_is_unlisted_with_the_attempt_as_idempotency_key(mastodon_api, history):
    record = post_sentence(LINE, mastodon(mastodon_api), history, Budget(network="mastodon", daily=24))

    [status] = mastodon_api.statuses
    assert (record.post_id, record.network) == (status["id"], "mastodon")
    assert (status["text"], status["visibility"], status["language"]) == (LINE, "unlisted", "en")
    assert list(mastodon_api.idempotency) == [record.attempt]


def test_bluesky_session_is_saved_privately_and_refreshed_once_not_relogged_each_hour(bluesky_api, tmp_path):
    bluesky_api.access_ttl_s = 60  # within the SDK's 15-minute margin: the next run must refresh
    bluesky(bluesky_api, tmp_path).whoami()  # logs in and saves the session
    session_file = tmp_path / "private" / "bluesky-session"
    assert session_file.stat().st_mode & 0o777 == 0o600
    bluesky_api.access_ttl_s = 7200

    bluesky(bluesky_api, tmp_path).post(LINE, "a1")  # the next hour: a new process, the saved session
    bluesky(bluesky_api, tmp_path).post(OTHER, "a2")

    assert bluesky_api.calls("com.atproto.server.createSession") == 1
    assert bluesky_api.calls("com.atproto.server.refreshSession") == 1
    assert len(bluesky_api.posts) == 2


def test_bluesky_session_past_refreshing_logs_in_again_once(bluesky_api, tmp_path):
    bluesky(bluesky_api, tmp_path).whoami()
    saved = json.loads((tmp_path / "private" / "bluesky-session").read_text())
    bluesky_api.revoked.add(saved["session"].split(":::")[3])  # the refresh token was revoked meanwhile
    bluesky_api.access_ttl_s = 60
    bluesky(bluesky_api, tmp_path).whoami()  # saves a session whose access token needs a refresh
    bluesky_api.revoked.update(bluesky_api.issued)  # ... with every token the PDS ever issued revoked

    bluesky(bluesky_api, tmp_path).post(LINE, "a1")

    assert bluesky_api.calls("com.atproto.server.createSession") == 2
    assert len(bluesky_api.posts) == 1


def test_bluesky_expired_access_token_is_refused_by_the_pds(bluesky_api):
    bluesky_api.access_ttl_s = -10
    tokens = bluesky_api.tokens()

    assert bluesky_api.check_token(f"Bearer {tokens['accessJwt']}", "com.atproto.access")[1]["error"] == "ExpiredToken"
    assert bluesky_api.check_token(f"Bearer {tokens['refreshJwt']}", "com.atproto.refresh") is None


def test_bluesky_wrong_app_password_names_the_settings(bluesky_api, tmp_path):
    target = BlueskyTarget(bluesky_api.handle, "wrong-pass-word-0000", bluesky_api.base_url, tmp_path / "s")

    with pytest.raises(CredentialsRejected, match="BLUESKY_APP_PASSWORD"):
        target.post(LINE, "a1")
    assert bluesky_api.posts == []


def test_bluesky_429_with_a_far_reset_holds_the_network_until_then(bluesky_api, tmp_path, history):
    reset = int(time.time()) + 3600
    headers = {"ratelimit-limit": "5000", "ratelimit-remaining": "0", "ratelimit-reset": str(reset)}
    bluesky_api.plan(Planned(429, headers))
    target, budget = bluesky(bluesky_api, tmp_path), Budget(network="bluesky", daily=24)

    with pytest.raises(RateLimited, match="resets at"):
        post_sentence(LINE, target, history, budget)

    [record] = settled(history.records())
    assert (record.outcome, record.retry_at) == (RATE_LIMITED, datetime.fromtimestamp(reset, UTC))
    with pytest.raises(BudgetSpent, match="rate limited by bluesky until"):
        post_sentence(LINE, target, history, budget)
    assert bluesky_api.calls("com.atproto.repo.createRecord") == 1


def test_bluesky_500_after_the_record_was_written_is_unknown_and_not_resent(bluesky_api, tmp_path, history):
    bluesky_api.plan(Planned(500, also_create=True))
    sleep = RecordingSleep()

    with pytest.raises(OutcomeUnknown, match="may exist"):
        post_sentence(LINE, bluesky(bluesky_api, tmp_path, sleep), history, Budget(network="bluesky", daily=24))

    assert len(bluesky_api.posts) == 1 and sleep.waits == []
    assert [record.outcome for record in settled(history.records())] == [UNKNOWN]


def test_mastodon_429_with_a_near_reset_is_waited_out(mastodon_api, history):
    reset = (datetime.now(UTC) + timedelta(seconds=5)).replace(microsecond=0).isoformat()
    mastodon_api.plan(Planned(429, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}))
    sleep = RecordingSleep()

    record = post_sentence(LINE, mastodon(mastodon_api, sleep), history, Budget(network="mastodon", daily=24))

    assert record.outcome == POSTED
    assert len(sleep.waits) == 1 and 2 <= sleep.waits[0] <= 8
    assert mastodon_api.count("POST", "/api/v1/statuses") == 2 and len(mastodon_api.statuses) == 1


def test_mastodon_5xx_is_resent_under_the_same_idempotency_key_and_posts_once(mastodon_api, history):
    mastodon_api.plan(Planned(502, also_create=True))  # made the status, then the proxy failed

    record = post_sentence(LINE, mastodon(mastodon_api), history, Budget(network="mastodon", daily=24))

    assert mastodon_api.count("POST", "/api/v1/statuses") == 2
    [status] = mastodon_api.statuses
    assert record.post_id == status["id"]


def test_mastodon_5xx_on_every_try_is_unknown(mastodon_api, history):
    mastodon_api.plan(*[Planned(503) for _ in range(FAST_RETRY["attempts"])])

    with pytest.raises(OutcomeUnknown, match="may exist"):
        post_sentence(LINE, mastodon(mastodon_api), history, Budget(network="mastodon", daily=24))

    assert [record.outcome for record in settled(history.records())] == [UNKNOWN]
    with pytest.raises(SentenceRejected, match="already posted"):
        post_sentence(LINE, mastodon(mastodon_api), history, Budget(network="mastodon", daily=24))


def test_mastodon_wrong_token_is_a_clear_401(mastodon_api):
    target = MastodonTarget(mastodon_api.base_url, "not-the-token", retry=RetryPolicy(**FAST_RETRY))

    with pytest.raises(CredentialsRejected, match="MASTODON_ACCESS_TOKEN"):
        target.whoami()


def test_budget_and_duplicates_are_per_network(bluesky_api, mastodon_api, tmp_path, history):
    sky, masto = bluesky(bluesky_api, tmp_path), mastodon(mastodon_api)
    post_sentence(LINE, sky, history, Budget(network="bluesky", daily=1))

    with pytest.raises(SentenceRejected, match="already posted"):
        post_sentence(LINE, sky, history, Budget(network="bluesky", daily=5))
    with pytest.raises(BudgetSpent, match="bluesky: 1/1"):
        post_sentence(OTHER, sky, history, Budget(network="bluesky", daily=1))
    assert post_sentence(LINE, masto, history, Budget(network="mastodon", daily=1)).outcome == POSTED

    records = history.records()
    assert budget_status(on_network(records, "bluesky"), Budget(network="bluesky", daily=1)).spent
    assert budget_status(on_network(records, "x"), Budget()).used_daily == 0


def test_post_to_every_network_with_a_card_and_alt_text(networks_env, x_api, bluesky_api, mastodon_api):
    result = run("post", "--text", LINE, "--card")

    assert result.exit_code == 0, result.output
    [tweet] = x_api.tweets
    assert tweet["text"] == LINE and x_api.media[tweet["media_ids"][0]]["alt"] == LINE
    [image] = bluesky_api.posts[0]["embed"]["images"]
    assert image["alt"] == LINE and image["image"]["ref"]["$link"] in bluesky_api.blobs
    [media] = mastodon_api.statuses[0]["media_attachments"]
    assert media["description"] == LINE
    outcomes = {(line["network"], line["outcome"]) for line in history_lines(networks_env)}
    assert {("x", POSTED), ("bluesky", POSTED), ("mastodon", POSTED)} <= outcomes


def test_one_network_down_does_not_stop_the_others(networks_env, x_api, bluesky_api, mastodon_api):
    bluesky_api.stop()  # connection refused: nothing was sent

    result = run("post", "--to", "x,bluesky,mastodon", "--text", LINE)

    assert result.exit_code == 1
    assert "Error on bluesky" in result.output
    assert len(x_api.tweets) == 1 and len(mastodon_api.statuses) == 1
    settled_lines = {line["network"]: line["outcome"] for line in history_lines(networks_env)}
    assert settled_lines == {"x": POSTED, "bluesky": "failed", "mastodon": POSTED}  # failed: may be tried again


def test_dry_run_on_every_network_needs_no_credentials_and_sends_nothing(twitter_env, x_api, monkeypatch):
    for name in ("TWITTER_CONSUMER_KEY", "TWITTER_ACCESS_TOKEN"):
        monkeypatch.delenv(name)

    result = run("post", "--text", LINE, "--dry-run", "--card")

    assert result.exit_code == 0, result.output
    for network in ("x", "bluesky", "mastodon"):
        assert f"Dry run on {network}, nothing sent. Would post: {LINE}" in result.output
    assert x_api.requests == [] and history_lines(twitter_env) == []


def test_every_budget_spent_exits_3(networks_env, x_api, bluesky_api, mastodon_api, monkeypatch):
    monkeypatch.setenv("POST_DAILY_BUDGET", "0")
    monkeypatch.setenv("BLUESKY_DAILY_BUDGET", "0")
    monkeypatch.setenv("MASTODON_DAILY_BUDGET", "0")

    result = run("post", "--text", LINE)

    assert result.exit_code == 3
    assert "every network's budget is spent" in result.output
    assert x_api.requests == [] and bluesky_api.requests == [] and mastodon_api.requests == []


def test_whoami_and_history_cover_every_network(networks_env, x_api, bluesky_api, mastodon_api):
    whoami = run("post", "whoami")
    assert whoami.exit_code == 0, whoami.output
    assert whoami.output.splitlines() == ["x: soulsgen_bot", f"bluesky: {bluesky_api.handle}", "mastodon: soulsgen"]

    assert run("post", "--to", "bluesky,mastodon", "--text", LINE).exit_code == 0
    history = run("post", "history")
    assert history.exit_code == 0, history.output
    assert "2 attempts" in history.output
    assert "Budget: bluesky: 1/24 posts in the last 24 h" in history.output


def test_auth_mastodon_walks_through_the_token_sets_the_bot_flag_and_saves(twitter_env, mastodon_api, tmp_path):
    answers = f"{mastodon_api.base_url}\n{mastodon_api.access_token}\n"

    result = run("post", "auth", "mastodon", "--save", input=answers)

    assert result.exit_code == 0, result.output
    assert "write:statuses, write:media" in result.output and "/settings/applications/new" in result.output
    assert mastodon_api.bot is True
    saved = read_env_file(tmp_path / ".env")
    assert saved["MASTODON_ACCESS_TOKEN"] == mastodon_api.access_token
    assert mastodon_api.access_token not in result.output


def test_auth_bluesky_logs_in_once_and_saves_the_session(twitter_env, bluesky_api, tmp_path):
    answers = f"{bluesky_api.handle}\n{bluesky_api.app_password}\n{bluesky_api.base_url}\n"

    result = run("post", "auth", "bluesky", "--save", input=answers)

    assert result.exit_code == 0, result.output
    assert read_env_file(tmp_path / ".env")["BLUESKY_HANDLE"] == bluesky_api.handle
    assert (Path(twitter_env["SOULSGEN_HOME"]) / "private" / "bluesky-session").is_file()
    assert bluesky_api.calls("com.atproto.server.createSession") == 1


def test_no_secret_reaches_any_log_or_output(networks_env, x_api, bluesky_api, mastodon_api, caplog):
    caplog.set_level(logging.DEBUG)
    bluesky_api.access_ttl_s = 60  # a refresh happens too
    first = run("post", "--text", LINE, "--card")
    second = run("post", "--to", "bluesky,mastodon", "--text", OTHER)
    mastodon_api.access_token = "rotated"  # the next request is refused: the error message is checked too
    third = run("post", "--to", "mastodon", "--text", "A line that the instance refuses.")

    assert (first.exit_code, second.exit_code, third.exit_code) == (0, 0, 1)
    secrets = [
        networks_env["BLUESKY_APP_PASSWORD"],
        networks_env["MASTODON_ACCESS_TOKEN"],
        networks_env["TWITTER_CONSUMER_SECRET"],
        networks_env["TWITTER_TOKEN_SECRET"],
        *bluesky_api.issued,
    ]
    history_text = (Path(networks_env["SOULSGEN_HOME"]) / "posted" / "history.jsonl").read_text()
    seen = "\n".join([caplog.text, first.output, second.output, third.output, history_text])
    assert "HTTP Request" in caplog.text or "POST" in caplog.text  # the HTTP libraries' logging was on
    assert [secret for secret in secrets if secret in seen] == []


def test_card_command_writes_a_png_with_a_title_from_the_sentence(tmp_path):
    out = tmp_path / "card.png"

    result = run("card", LINE, "--out", str(out))

    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert card_title(LINE) == "Sunken Chapel"
    assert card_title("a lantern waits in silence") == "Lantern"
    card = render_card(LINE)
    assert (card.width, card.height, card.alt) == (1200, 675, LINE)


def test_card_of_an_empty_or_huge_text_is_a_clear_error(tmp_path):
    assert "the text is empty" in run("card", "   ", "--out", str(tmp_path / "c.png")).output
    assert "at most 500 characters" in run("card", "x" * 501, "--out", str(tmp_path / "c.png")).output
    assert not (tmp_path / "c.png").exists()


def test_auth_x_is_the_pin_flow_of_twitter_auth(twitter_env, x_api):
    result = run("post", "auth", "x", input=f"{x_api.pin}\n")

    assert result.exit_code == 0, result.output
    token, secret = x_api.issued[-1]
    assert f"TWITTER_ACCESS_TOKEN={token}" in result.output and f"TWITTER_TOKEN_SECRET={secret}" in result.output


def test_network_settings_are_read_by_their_documented_names(tmp_path):
    from soulsgen_lib.settings import Settings

    environ = {
        "BLUESKY_HANDLE": "bot.example",
        "BLUESKY_APP_PASSWORD": "qz7-secret-value",
        "BLUESKY_PDS_URL": "https://pds.example",
        "MASTODON_API_BASE_URL": "https://masto.example",
        "MASTODON_ACCESS_TOKEN": "tok",
        "POST_NETWORKS": "bluesky,mastodon",
    }
    settings = Settings.load(env_file=tmp_path / "none.env", environ=environ)

    assert (settings.bluesky_handle, settings.bluesky_pds_url) == ("bot.example", "https://pds.example")
    assert settings.bluesky_app_password.get_secret_value() == "qz7-secret-value"
    assert "qz7-secret-value" not in repr(settings)
    assert settings.mastodon_access_token.get_secret_value() == "tok" and settings.mastodon_visibility == "unlisted"
    assert settings.bluesky_session_file == Settings().home / "private" / "bluesky-session"
    assert run("post", "--to", "x,myspace", "--text", LINE).output.count("expected a comma-separated list") == 1
