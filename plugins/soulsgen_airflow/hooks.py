"""Hooks that build SoulsGen's clients from Airflow connections; they hold no state and log no secret.

- `soulsgen_torchserve` (HTTP connection): host and port of TorchServe's inference API; password =
  inference token; extra `management_url` (default: inference port + 1), `management_token`,
  `model_name` (default `soulsgen`), `key_file` (TorchServe's key_file.json: both tokens read from it).
- `soulsgen_x` (generic connection): login = consumer key, password = consumer secret; extra
  `access_token`, `token_secret`, optional `base_url` (a proxy or test server).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

if TYPE_CHECKING:
    from soulsgen_lib.posting.target import PostingTarget
    from soulsgen_lib.serving.client import TorchServeClient


def _connection_or_none(conn_id: str) -> Any:
    """The connection, or None when it is not defined (the DAGs then fall back to local work)."""
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None


class TorchServeHook(BaseHook):
    """Talks to SoulsGen's model on TorchServe: ask for sentences, deploy a new MAR."""

    conn_name_attr = "torchserve_conn_id"
    default_conn_name = "soulsgen_torchserve"
    conn_type = "http"
    hook_name = "SoulsGen TorchServe"

    def __init__(self, torchserve_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.torchserve_conn_id = torchserve_conn_id

    def is_configured(self) -> bool:
        return _connection_or_none(self.torchserve_conn_id) is not None

    def _endpoints(self) -> tuple[str, str, Any]:
        conn = self.get_connection(self.torchserve_conn_id)
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

    def test_connection(self) -> tuple[bool, str]:
        from soulsgen_lib.errors import SoulsgenError

        try:
            self.get_conn().ping()
        except SoulsgenError as error:
            return False, str(error)
        return True, "TorchServe is healthy"


class XHook(BaseHook):
    """Posts to X with the OAuth 1.0a user credentials of an Airflow connection."""

    conn_name_attr = "x_conn_id"
    default_conn_name = "soulsgen_x"
    conn_type = "generic"
    hook_name = "SoulsGen X (Twitter)"

    def __init__(self, x_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.x_conn_id = x_conn_id

    def is_configured(self) -> bool:
        """Whether the connection exists; without it the tweet DAG runs as a dry run."""
        return _connection_or_none(self.x_conn_id) is not None

    def get_conn(self) -> PostingTarget:
        """The X target; an incomplete connection is an error (never a silent dry run)."""
        from soulsgen_lib.posting.target import CredentialsRejected
        from soulsgen_lib.posting.x import XTarget

        conn = self.get_connection(self.x_conn_id)
        extra = conn.extra_dejson
        fields = {
            "login (consumer key)": conn.login,
            "password (consumer secret)": conn.password,
            "extra access_token": extra.get("access_token"),
            "extra token_secret": extra.get("token_secret"),
        }
        missing = [name for name, value in fields.items() if not value]
        if missing:
            raise CredentialsRejected(f"connection {self.x_conn_id} lacks {', '.join(missing)}")
        return XTarget(
            conn.login, conn.password, extra["access_token"], extra["token_secret"], extra.get("base_url", "")
        )

    def test_connection(self) -> tuple[bool, str]:
        from soulsgen_lib.errors import SoulsgenError

        try:
            handle = self.get_conn().whoami()
        except SoulsgenError as error:
            return False, str(error)
        return True, f"Authorised as @{handle}"
