"""Fixtures for posting tests: local X, Bluesky and Mastodon API servers that check credentials like the real ones."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from posting.bluesky_api_server import BlueskyApiServer
from posting.mastodon_api_server import MastodonApiServer
from posting.x_api_server import XApiServer, new_credentials

# Fast retries for tests: the real defaults wait seconds to minutes.
FAST_RETRY = {
    "attempts": 3,
    "backoff_s": 0.01,
    "backoff_max_s": 0.05,
    "rate_limit_max_wait_s": 30.0,
    "connect_timeout_s": 2.0,
    "read_timeout_s": 2.0,
}


@pytest.fixture
def x_credentials() -> dict[str, str]:
    """Fresh app and account credentials, known to `x_api`."""
    return new_credentials()


@pytest.fixture
def x_api(x_credentials: dict[str, str]) -> Iterator[XApiServer]:
    """The local X API on a free loopback port, stopped at teardown."""
    server = XApiServer(x_credentials["consumer_key"], x_credentials["consumer_secret"])
    server.add_access_token(x_credentials["access_token"], x_credentials["token_secret"])
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def twitter_env(tmp_path, monkeypatch, x_api: XApiServer, x_credentials: dict[str, str]) -> dict[str, str]:
    """Environment for `twitter` commands against `x_api`, run in an empty folder (no stray .env)."""
    monkeypatch.chdir(tmp_path)
    env = {
        "TWITTER_CONSUMER_KEY": x_credentials["consumer_key"],
        "TWITTER_CONSUMER_SECRET": x_credentials["consumer_secret"],
        "TWITTER_ACCESS_TOKEN": x_credentials["access_token"],
        "TWITTER_TOKEN_SECRET": x_credentials["token_secret"],
        "TWITTER_API_BASE_URL": x_api.base_url,
        "SOULSGEN_HOME": str(tmp_path / "home"),
    }
    for name in ("BUCKET", "TORCHSERVE_ENDPOINT", "TORCHSERVE_TOKEN", "POST_DAILY_BUDGET", "POST_MONTHLY_BUDGET"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def bluesky_api() -> Iterator[BlueskyApiServer]:
    """A local Bluesky PDS with one account (`bluesky_api.handle` / `.app_password`), stopped at teardown."""
    server = BlueskyApiServer("soulsgen.test", "abcd-efgh-ijkl-mnop").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mastodon_api() -> Iterator[MastodonApiServer]:
    """A local Mastodon instance with one account and its access token, stopped at teardown."""
    server = MastodonApiServer(new_credentials()["token_secret"]).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def networks_env(twitter_env, monkeypatch, bluesky_api, mastodon_api) -> dict[str, str]:
    """`twitter_env` plus the Bluesky and Mastodon credentials of the local servers."""
    env = {
        **twitter_env,
        "BLUESKY_HANDLE": bluesky_api.handle,
        "BLUESKY_APP_PASSWORD": bluesky_api.app_password,
        "BLUESKY_PDS_URL": bluesky_api.base_url,
        "MASTODON_API_BASE_URL": mastodon_api.base_url,
        "MASTODON_ACCESS_TOKEN": mastodon_api.access_token,
    }
    for name in ("POST_NETWORKS", "POST_CARDS", "BLUESKY_DAILY_BUDGET", "MASTODON_DAILY_BUDGET", "MASTODON_VISIBILITY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env
