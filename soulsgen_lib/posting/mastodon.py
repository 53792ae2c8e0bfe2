"""Mastodon as a posting target, through `Mastodon.py`: an instance URL and an access token.

Each status carries the attempt's id as its `Idempotency-Key`: Mastodon keeps the key for an hour
and answers a repeated request with the status it already made, so a request that failed on the way
(5xx, a lost connection) is resent under the same key without risk of posting twice.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from soulsgen_lib.posting.redact import keep_secret
from soulsgen_lib.posting.target import (
    Card,
    CredentialsRejected,
    NetworkTarget,
    OutcomeUnknown,
    PostingError,
    Retrier,
    RetryPolicy,
    TargetUnavailable,
    request_was_sent,
)

log = logging.getLogger(__name__)

VISIBILITIES = ("public", "unlisted", "private", "direct")
SCOPES = ("write:statuses", "write:media", "write:accounts", "read:accounts")
# Tells Mastodon.py the server's API level so that it sends no version probe (/api/v2/media needs 3.1.4).
_ASSUMED_VERSION = "4.0.0"


class MastodonTarget(NetworkTarget):
    """Posts to one Mastodon account with an access token (visibility `unlisted` by default)."""

    name = "mastodon"
    label = "Mastodon"
    settings_fields = ("mastodon_api_base_url", "mastodon_access_token", "mastodon_visibility")

    def __init__(
        self,
        api_base_url: str,
        access_token: str,
        visibility: str = "unlisted",
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.require(
            {"MASTODON_API_BASE_URL": api_base_url, "MASTODON_ACCESS_TOKEN": access_token},
            "`soulsgen post auth mastodon` walks through making the token",
        )
        if visibility not in VISIBILITIES:
            raise PostingError(f"MASTODON_VISIBILITY must be one of {', '.join(VISIBILITIES)}, got {visibility!r}")
        from mastodon import Mastodon

        keep_secret(access_token)
        self.api_base_url = api_base_url.rstrip("/")
        super().__init__(retry, sleep, rng)
        self.visibility = visibility
        self._api = Mastodon(
            access_token=access_token,
            api_base_url=self.api_base_url,
            ratelimit_method="throw",  # we decide whether a reset is near enough to wait for
            request_timeout=(self.retry.connect_timeout_s, self.retry.read_timeout_s),
            mastodon_version=_ASSUMED_VERSION,
            version_check_mode="created",
            user_agent="soulsgen",
        )

    def __repr__(self) -> str:
        return f"MastodonTarget(api_base_url={self.api_base_url!r})"

    def post(self, text: str, attempt: str, card: Card | None = None) -> str:
        """Post a status (with the card as media and its alt text) under the attempt's Idempotency-Key."""
        media_ids = None
        if card is not None:
            media = self._call(
                "POST /api/v2/media",
                lambda: self._api.media_post(
                    card.png, mime_type="image/png", description=card.alt, file_name="card.png"
                ),
                creates_post=False,
            )
            media_ids = [media["id"]]

        def send() -> Any:
            return self._api.status_post(
                text, media_ids=media_ids, visibility=self.visibility, language="en", idempotency_key=attempt
            )

        return str(self._call("POST /api/v1/statuses", send, creates_post=True)["id"])

    def whoami(self) -> str:
        """The account's acct name (GET /api/v1/accounts/verify_credentials)."""
        account = self._call("verify_credentials", self._api.account_verify_credentials, creates_post=False)
        return str(account["acct"])

    def mark_as_bot(self) -> None:
        """Set the account's `bot` flag, as instance rules ask of automated accounts."""
        self._call(
            "PATCH /api/v1/accounts/update_credentials",
            lambda: self._api.account_update_credentials(bot=True),
            creates_post=False,
        )

    def _call(self, what: str, send: Callable[[], Any], creates_post: bool) -> Any:
        """Send with retries; translate Mastodon.py errors into PostingError subclasses."""
        from mastodon import errors

        retrier = self.retrier()
        maybe_sent = False
        while True:
            try:
                return send()
            except errors.MastodonRatelimitError:
                reset = self._api.ratelimit_reset
                retrier.wait_for_reset(what, datetime.fromtimestamp(reset, UTC) if reset else None)
            except errors.MastodonUnauthorizedError as error:
                raise CredentialsRejected(
                    f"Mastodon refused the access token on {what} (401 {_detail(error)}): check MASTODON_ACCESS_TOKEN "
                    "and MASTODON_API_BASE_URL, or make a new token with `soulsgen post auth mastodon`"
                ) from None
            except errors.MastodonServerError as error:
                maybe_sent = True
                self._retry_or_give_up(retrier, what, f"Mastodon answered {_status(error)}", creates_post, maybe_sent)
            except errors.MastodonAPIError as error:
                status = _status(error)
                if status == 403:
                    raise CredentialsRejected(
                        f"Mastodon refused {what} (403 {_detail(error)}): "
                        f"the token needs the scopes {', '.join(SCOPES)}"
                    ) from None
                raise PostingError(f"Mastodon refused {what} ({status} {_detail(error)})") from None
            except errors.MastodonNetworkError as error:
                maybe_sent = maybe_sent or request_was_sent(error.__context__ or error)
                problem = f"cannot reach {self.api_base_url} ({type(error.__context__ or error).__name__})"
                self._retry_or_give_up(retrier, what, problem, creates_post, maybe_sent)

    def _retry_or_give_up(
        self, retrier: Retrier, what: str, problem: str, creates_post: bool, maybe_sent: bool
    ) -> None:
        """Back off for another try under the same key; past the last try, a status that may exist is unknown."""
        try:
            retrier.back_off(what, problem)
        except TargetUnavailable:
            if creates_post and maybe_sent:
                raise OutcomeUnknown(
                    f"{problem} on {what}, {retrier.tries} times; the status may exist, so it is recorded as "
                    "unknown and not re-sent: check the account"
                ) from None
            raise


def _status(error: Exception) -> int | None:
    return error.args[1] if len(error.args) > 1 and isinstance(error.args[1], int) else None


def _detail(error: Exception) -> str:
    return str(error.args[3]) if len(error.args) > 3 and error.args[3] else ""
