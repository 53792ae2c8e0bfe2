"""Bluesky as a posting target, through the `atproto` SDK: handle + app password, a saved session.

`createSession` is limited to about 30 per 5 minutes and a few hundred a day, so the session (access
and refresh JWTs) is saved privately (mode 0600, like `.env`) and reused: the SDK refreshes the access
token before it expires, and every new token pair is saved again. Only a session that can no longer
be refreshed makes the target log in with the app password once more.
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from soulsgen_lib.atomic import atomic_path
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
)

log = logging.getLogger(__name__)

BLUESKY_PDS_URL = "https://bsky.social"
# Errors a PDS gives for a session it will not take; a fresh login fixes them.
_SESSION_ERRORS = frozenset({"ExpiredToken", "InvalidToken", "AuthenticationRequired", "AuthMissing"})


class BlueskyTarget(NetworkTarget):
    """Posts to one Bluesky account (app.bsky.feed.post records, `langs: ["en"]`)."""

    name = "bluesky"
    label = "Bluesky"
    settings_fields = ("bluesky_handle", "bluesky_app_password", "bluesky_pds_url", "bluesky_session_file")

    def __init__(
        self,
        handle: str,
        app_password: str,
        pds_url: str = BLUESKY_PDS_URL,
        session_file: Path | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.require(
            {"BLUESKY_HANDLE": handle, "BLUESKY_APP_PASSWORD": app_password},
            "an app password from Settings > Privacy and security > App passwords; "
            "`soulsgen post auth bluesky` checks and saves them",
        )
        import httpx
        from atproto import Client
        from atproto_client.request import Request

        keep_secret(app_password)
        self.handle = handle.removeprefix("@")
        self.pds_url = (pds_url or BLUESKY_PDS_URL).rstrip("/")
        super().__init__(retry, sleep, rng)
        self.session_file = session_file
        self._app_password = app_password
        timeout = httpx.Timeout(self.retry.read_timeout_s, connect=self.retry.connect_timeout_s)
        self._client = Client(self.pds_url, request=Request(timeout=timeout))
        self._client.on_session_change(self._save_session)
        self._did: str | None = None  # the account's DID and handle, known once a session is in place
        self._account_handle = ""

    def __repr__(self) -> str:
        return f"BlueskyTarget(handle={self.handle!r}, pds_url={self.pds_url!r})"

    def post(self, text: str, attempt: str, card: Card | None = None) -> str:
        """Create an app.bsky.feed.post record (the card as an image embed with alt text); return its at:// URI."""
        from atproto import models

        embed = None
        if card is not None:
            blob = self._call("uploadBlob", lambda: self._client.upload_blob(card.png), creates_post=False).blob
            image = models.AppBskyEmbedImages.Image(
                alt=card.alt,
                image=blob,
                aspect_ratio=models.AppBskyEmbedDefs.AspectRatio(width=card.width, height=card.height),
            )
            embed = models.AppBskyEmbedImages.Main(images=[image])

        def send() -> Any:
            return self._client.send_post(text, profile_identify=self._did, embed=embed, langs=["en"])

        return str(self._call("createRecord", send, creates_post=True).uri)

    def whoami(self) -> str:
        """The handle the session belongs to (a login or a saved session; no post is made)."""
        self._ensure_session()
        return self._account_handle

    def _ensure_session(self, fresh: bool = False) -> None:
        """Import the saved session, or log in with the app password when there is none (or `fresh`)."""
        if self._did is not None and not fresh:
            return
        saved = None if fresh else self._saved_session()
        try:
            if saved is not None:
                self._client.login(session_string=saved, fetch_bsky_profile=False)
                log.info("Bluesky: reusing the saved session of %s", self.handle)
            else:
                log.info("Bluesky: logging in as %s (createSession)", self.handle)
                self._client.login(self.handle, self._app_password, fetch_bsky_profile=False)
        except Exception as error:
            raise self._translate(error, "createSession", creates_post=False, retrier=None) from None

    def _call(self, what: str, send: Callable[[], Any], creates_post: bool) -> Any:
        """Send with a session, retries and one fresh login; translate SDK errors into PostingError subclasses."""
        from atproto_client import exceptions

        retrier = self.retrier()
        relogged = False
        while True:
            self._ensure_session()
            try:
                return send()
            except (exceptions.BadRequestError, exceptions.UnauthorizedError) as error:
                if _xrpc_error(error) in _SESSION_ERRORS and not relogged:
                    # Refused before anything was written: the session is dead, so log in once and resend.
                    log.warning("Bluesky refused the saved session (%s); logging in again", _xrpc_error(error))
                    relogged = True
                    self._forget_session()
                    self._ensure_session(fresh=True)
                    continue
                raise self._translate(error, what, creates_post, retrier) from None
            except exceptions.RateLimitExceededError as error:
                retrier.wait_for_reset(what, error.reset_at)  # a 429 was not acted on: resending is safe
            except exceptions.AtProtocolError as error:
                translated = self._translate(error, what, creates_post, retrier)
                if translated is not None:
                    raise translated from None

    def _translate(self, error: Exception, what: str, creates_post: bool, retrier: Retrier | None) -> Any:
        """The PostingError for an SDK error, or None after backing off for a retry that cannot post twice."""
        import httpx
        from atproto_client import exceptions

        response = getattr(error, "response", None)
        status = response.status_code if response is not None else None
        detail = _xrpc_error(error) or type(error).__name__
        if isinstance(error, exceptions.UnauthorizedError) or detail in _SESSION_ERRORS:
            return CredentialsRejected(
                f"Bluesky refused the credentials on {what} ({status} {detail}): check BLUESKY_HANDLE and "
                "BLUESKY_APP_PASSWORD (an app password, not the account password) and BLUESKY_PDS_URL"
            )
        if isinstance(error, exceptions.RateLimitExceededError):
            return self.retrier().rate_limited(what, error.reset_at)
        if isinstance(error, exceptions.BadRequestError) or (status is not None and status < 500 and status != 409):
            return PostingError(f"Bluesky refused {what} ({status} {detail})")
        never_sent = response is None and isinstance(error.__cause__, httpx.ConnectError)
        if creates_post and not never_sent:
            return OutcomeUnknown(
                f"{what} was sent to {self.pds_url} but {f'the answer was {status}' if status else 'no answer came'}"
                f" ({detail}); the post may exist, so it is recorded as unknown and not re-sent: check the account"
            )
        problem = f"Bluesky answered {status}" if status else f"cannot reach {self.pds_url} ({detail})"
        if retrier is None:
            return TargetUnavailable(f"{problem} on {what}; nothing was posted, try again later")
        retrier.back_off(what, problem)
        return None

    def _saved_session(self) -> str | None:
        """The saved session string when it belongs to this handle and PDS, else None."""
        if self.session_file is None or not self.session_file.is_file():
            return None
        try:
            saved = json.loads(self.session_file.read_text(encoding="utf-8"))
            if saved["handle"] == self.handle and saved["pds_url"] == self.pds_url:
                keep_secret(*saved["session"].split(":::")[2:4])
                return saved["session"]
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            log.warning("Bluesky: ignoring the unreadable saved session %s", self.session_file)
        return None

    def _save_session(self, event: Any, session: Any) -> None:
        """Note the account of every session; keep each new token pair (CREATE, REFRESH) for the next run, privately."""
        keep_secret(session.access_jwt, session.refresh_jwt)
        self._did, self._account_handle = session.did, session.handle
        if self.session_file is None or event.value == "import":
            return
        payload = {"handle": self.handle, "pds_url": self.pds_url, "session": session.export()}
        try:
            with atomic_path(self.session_file, mode=0o600) as tmp:
                tmp.write_text(json.dumps(payload), encoding="utf-8")
            os.chmod(self.session_file.parent, 0o700)
        except OSError as error:
            log.warning(
                "Bluesky: cannot save the session to %s (%s); the next run logs in again", self.session_file, error
            )

    def _forget_session(self) -> None:
        self._did = None
        if self.session_file is not None:
            self.session_file.unlink(missing_ok=True)


def _xrpc_error(error: Exception) -> str:
    """The XRPC error name of a failed request (ExpiredToken, RateLimitExceeded, ...), or ''."""
    content = getattr(getattr(error, "response", None), "content", None)
    name = getattr(content, "error", None)
    if name is None and isinstance(content, dict):
        name = content.get("error")
    return str(name or "")
