"""Hooks that build SoulsGen's clients from Airflow connections; they hold no state and log no secret.

- `soulsgen_torchserve` (HTTP connection): host and port of TorchServe's inference API; password =
  inference token; extra `management_url` (default: inference port + 1), `management_token`,
  `model_name` (default `soulsgen`), `key_file` (TorchServe's key_file.json: both tokens read from it).
- `soulsgen_x` (generic connection): login = consumer key, password = consumer secret; extra
  `access_token`, `token_secret`, optional `base_url` (a proxy or test server).
- `soulsgen_bluesky` (generic connection): login = handle, password = app password, host = PDS URL
  (default https://bsky.social).
- `soulsgen_mastodon` (generic connection): host = instance URL, password = access token; extra
  `visibility` (default `unlisted`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

if TYPE_CHECKING:
    from soulsgen_lib.posting.target import PostingTarget
    from soulsgen_lib.serving.client import TorchServeClient


class SoulsgenHook(BaseHook):
    """What every SoulsGen hook shares: its connection id, whether it is defined, its check."""

    conn_name_attr = "conn_id"
    default_conn_name = ""

    def __init__(self, conn_id: str | None = None) -> None:
        super().__init__()
        self.conn_id = conn_id or self.default_conn_name

    def is_configured(self) -> bool:
        """Whether the connection exists; without it the DAGs fall back (local model, dry run)."""
        from airflow.sdk.exceptions import AirflowNotFoundException

        try:
            BaseHook.get_connection(self.conn_id)
        except AirflowNotFoundException:
            return False
        return True

    def check(self) -> str:
        """Talk to the service once; return what to tell the user."""
        raise NotImplementedError

    def test_connection(self) -> tuple[bool, str]:
        from soulsgen_lib.errors import SoulsgenError

        try:
            return True, self.check()
        except SoulsgenError as error:
            return False, str(error)


class TorchServeHook(SoulsgenHook):
    """Talks to SoulsGen's model on TorchServe: ask for sentences, deploy a new MAR."""

    default_conn_name = "soulsgen_torchserve"
    conn_type = "http"
    hook_name = "SoulsGen TorchServe"

    def _endpoints(self) -> tuple[str, str, Any]:
        conn = self.get_connection(self.conn_id)
        scheme = conn.conn_type if conn.conn_type in ("http", "https") else "http"
        port = conn.port or 8080
        inference = f"{scheme}://{conn.host}:{port}"
        management = conn.extra_dejson.get("management_url") or f"{scheme}://{conn.host}:{port + 1}"
        return inference, management, conn

    def get_conn(self) -> TorchServeClient:
        from soulsgen_lib.serving.client import TorchServeClient

        inference, _, conn = self._endpoints()
        return TorchServeClient(
            inference, token=self._tokens(conn)[0], model_name=conn.extra_dejson.get("model_name", "soulsgen")
        )

    def management(self) -> tuple[str, str]:
        """The management API URL and its token."""
        _, management, conn = self._endpoints()
        return management, self._tokens(conn)[1]

    @staticmethod
    def _tokens(conn: Any) -> tuple[str, str]:
        """(inference, management) tokens; a key file wins, as TorchServe renews its tokens at each start."""
        if conn.extra_dejson.get("key_file"):
            from soulsgen_lib.serving.manage import ServerKeys

            keys = ServerKeys.read(Path(conn.extra_dejson["key_file"]))
            return keys.inference.get_secret_value(), keys.management.get_secret_value()
        return conn.password or "", conn.extra_dejson.get("management_token", "")

    def check(self) -> str:
        self.get_conn().ping()
        return "TorchServe is healthy"


class PostingHook(SoulsgenHook):
    """A posting network's account; `get_conn()` gives its PostingTarget, `test_connection()` names the account."""

    network = ""
    conn_type = "generic"
    # What the account needs: "login", "password", "host" or "extra <key>", each with what it holds ("" to say nothing).
    required_fields: tuple[tuple[str, str], ...] = ()

    def connection(self) -> Any:
        """The Airflow connection; CredentialsRejected names every empty required field (never a silent dry run)."""
        from soulsgen_lib.posting.target import CredentialsRejected

        conn = self.get_connection(self.conn_id)
        missing = []
        for field, meaning in self.required_fields:
            extra = field.removeprefix("extra ")
            if not (conn.extra_dejson.get(extra) if extra != field else getattr(conn, field)):
                missing.append(f"{field} ({meaning})" if meaning else field)
        if missing:
            raise CredentialsRejected(f"connection {self.conn_id} lacks {', '.join(missing)}")
        return conn

    def check(self) -> str:
        return f"Authorised as {self.get_conn().whoami()}"

    def get_conn(self) -> PostingTarget:
        raise NotImplementedError


class XHook(PostingHook):
    """Posts to X with the OAuth 1.0a user credentials of an Airflow connection."""

    network = "x"
    default_conn_name = "soulsgen_x"
    hook_name = "SoulsGen X (Twitter)"
    required_fields = (
        ("login", "consumer key"),
        ("password", "consumer secret"),
        ("extra access_token", ""),
        ("extra token_secret", ""),
    )

    def get_conn(self) -> PostingTarget:
        from soulsgen_lib.posting.x import XTarget

        conn = self.connection()
        extra = conn.extra_dejson
        return XTarget(
            conn.login, conn.password, extra["access_token"], extra["token_secret"], extra.get("base_url", "")
        )

    def check(self) -> str:
        return f"Authorised as @{self.get_conn().whoami()}"


class BlueskyHook(PostingHook):
    """Posts to Bluesky with a handle and app password; the session is saved under SOULSGEN_HOME/private/."""

    network = "bluesky"
    default_conn_name = "soulsgen_bluesky"
    hook_name = "SoulsGen Bluesky"
    required_fields = (("login", "handle"), ("password", "app password"))

    def get_conn(self) -> PostingTarget:
        from soulsgen_lib.posting.bluesky import BLUESKY_PDS_URL, BlueskyTarget
        from soulsgen_lib.settings import Settings

        conn = self.connection()
        pds_url = _url(conn) or BLUESKY_PDS_URL
        return BlueskyTarget(conn.login, conn.password, pds_url, Settings.load().bluesky_session_file)


class MastodonHook(PostingHook):
    """Posts to Mastodon with an instance URL and an access token."""

    network = "mastodon"
    default_conn_name = "soulsgen_mastodon"
    hook_name = "SoulsGen Mastodon"
    required_fields = (("host", "instance URL"), ("password", "access token"))

    def get_conn(self) -> PostingTarget:
        from soulsgen_lib.posting.mastodon import MastodonTarget

        conn = self.connection()
        return MastodonTarget(_url(conn), conn.password, conn.extra_dejson.get("visibility", "unlisted"))


def _url(conn: Any) -> str:
    """The connection's host as a URL: `https://host[:port]` unless the host already has a scheme."""
    if not conn.host:
        return ""
    if "://" in conn.host:
        return conn.host.rstrip("/")
    scheme = conn.schema if conn.schema in ("http", "https") else "https"
    return f"{scheme}://{conn.host}" + (f":{conn.port}" if conn.port else "")


POSTING_HOOKS: dict[str, type[PostingHook]] = {hook.network: hook for hook in (XHook, BlueskyHook, MastodonHook)}
