"""Fixtures for posting tests: a local X API server that checks OAuth 1.0a signatures, and credentials for it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
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
