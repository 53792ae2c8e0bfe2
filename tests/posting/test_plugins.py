"""The Airflow hooks in plugins/ against a real TorchServe and the local X API."""

import json
import logging
import re
from urllib.parse import urlsplit

import pytest
from soulsgen_airflow.hooks import POSTING_HOOKS, BlueskyHook, MastodonHook, TorchServeHook, XHook

from soulsgen_lib.posting.target import CredentialsRejected


def set_connection(monkeypatch, conn_id: str, conn: dict) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def x_connection(credentials: dict, base_url: str, **changes: str) -> dict:
    values = {**credentials, **changes}
    return {
        "conn_type": "generic",
        "login": values["consumer_key"],
        "password": values["consumer_secret"],
        "extra": {"access_token": values["access_token"], "token_secret": values["token_secret"], "base_url": base_url},
    }


def test_torchserve_hook_asks_the_running_server(monkeypatch, torchserve):
    inference = urlsplit(torchserve.inference_url)
    set_connection(
        monkeypatch,
        "soulsgen_torchserve",
        {
            "conn_type": "http",
            "host": inference.hostname,
            "port": inference.port,
            "password": torchserve.keys().inference.get_secret_value(),
        },
    )
    hook = TorchServeHook()
    assert hook.is_configured()
    assert hook.test_connection() == (True, "TorchServe is healthy")
    answer = hook.get_conn().sentence(seed=3)
    assert answer["text"].strip() and answer["model_version"]


def test_torchserve_hook_reports_an_unreachable_server(monkeypatch):
    set_connection(monkeypatch, "soulsgen_torchserve", {"conn_type": "http", "host": "127.0.0.1", "port": 9})
    ok, message = TorchServeHook().test_connection()
    assert not ok
    assert "cannot reach TorchServe at http://127.0.0.1:9" in message


def test_missing_connections_mean_fallbacks(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_SOULSGEN_TORCHSERVE", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_SOULSGEN_X", raising=False)
    assert not TorchServeHook().is_configured()
    assert not XHook().is_configured()


def test_x_hook_checks_credentials_without_logging_them(monkeypatch, caplog, x_api, x_credentials):
    caplog.set_level(logging.DEBUG)
    set_connection(monkeypatch, "soulsgen_x", x_connection(x_credentials, x_api.base_url))
    hook = XHook()
    assert hook.is_configured()
    assert hook.test_connection() == (True, "Authorised as @soulsgen_bot")

    set_connection(monkeypatch, "soulsgen_x", x_connection(x_credentials, x_api.base_url, token_secret="wrong"))
    ok, message = XHook().test_connection()
    assert not ok
    assert "401" in message or "rejected" in message.lower()
    for secret in x_credentials.values():
        assert secret not in caplog.text
        assert secret not in message


@pytest.mark.parametrize(
    ("field", "named"),
    [
        ("login", "login (consumer key)"),
        ("password", "password (consumer secret)"),
        ("access_token", "extra access_token"),
        ("token_secret", "extra token_secret"),
    ],
)
def test_incomplete_x_connection_is_an_error_not_a_dry_run(monkeypatch, x_credentials, field, named):
    conn = x_connection(x_credentials, "http://127.0.0.1:9")
    if field in conn:
        conn[field] = ""
    else:
        conn["extra"][field] = ""
    set_connection(monkeypatch, "soulsgen_x", conn)
    hook = XHook()
    assert hook.is_configured()
    with pytest.raises(CredentialsRejected, match=f"^connection soulsgen_x lacks {re.escape(named)}$"):
        hook.get_conn()


def test_bluesky_and_mastodon_hooks_check_their_accounts_without_logging_secrets(
    monkeypatch, caplog, tmp_path, bluesky_api, mastodon_api
):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("SOULSGEN_HOME", str(tmp_path))
    bluesky = {"conn_type": "generic", "login": bluesky_api.handle, "password": bluesky_api.app_password}
    set_connection(monkeypatch, "soulsgen_bluesky", bluesky | {"host": bluesky_api.base_url})
    mastodon = {"conn_type": "generic", "host": mastodon_api.base_url, "password": mastodon_api.access_token}
    set_connection(monkeypatch, "soulsgen_mastodon", mastodon)

    assert BlueskyHook().test_connection() == (True, f"Authorised as {bluesky_api.handle}")
    assert MastodonHook().test_connection() == (True, "Authorised as soulsgen")
    assert (tmp_path / "private" / "bluesky-session").is_file()  # the session is kept for the next run

    set_connection(monkeypatch, "soulsgen_mastodon", mastodon | {"password": "wrong"})
    ok, message = MastodonHook().test_connection()
    assert not ok and "MASTODON_ACCESS_TOKEN" in message
    for secret in (bluesky_api.app_password, mastodon_api.access_token, *bluesky_api.issued):
        assert secret not in caplog.text


def test_incomplete_network_connections_name_the_missing_field(monkeypatch):
    set_connection(monkeypatch, "soulsgen_bluesky", {"conn_type": "generic", "login": "bot.test"})
    set_connection(monkeypatch, "soulsgen_mastodon", {"conn_type": "generic", "password": "token"})

    with pytest.raises(CredentialsRejected, match=r"^connection soulsgen_bluesky lacks password \(app password\)$"):
        BlueskyHook().get_conn()
    with pytest.raises(CredentialsRejected, match=r"^connection soulsgen_mastodon lacks host \(instance URL\)$"):
        MastodonHook().get_conn()
    assert sorted(POSTING_HOOKS) == ["bluesky", "mastodon", "x"]
