"""X (Twitter) as a posting target: OAuth 1.0a user context through tweepy, with retries and a movable base URL.

Tweets go through the v2 `Client`; an image card is uploaded with the v1.1 `API` (simple upload, then its
alt text), whose media limits follow the authenticated user rather than the API plan.
`TWITTER_API_BASE_URL` lets a self-hosted proxy or a test server stand in for https://api.twitter.com
and https://upload.twitter.com. tweepy hard-codes those hosts, so the sessions rewrite them before
requests_oauthlib signs the request (the signature covers the URL, so rewriting later would break it).
"""

from __future__ import annotations

import io
import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import requests

from soulsgen_lib.posting.redact import keep_secret
from soulsgen_lib.posting.target import (
    Card,
    CredentialsRejected,
    DuplicateContent,
    NetworkTarget,
    OutcomeUnknown,
    PostingError,
    Retrier,
    RetryPolicy,
    request_was_sent,
)

log = logging.getLogger(__name__)

X_API_BASE_URL = "https://api.twitter.com"
X_UPLOAD_BASE_URL = "https://upload.twitter.com"  # the v1.1 media endpoints' host
CREDENTIAL_SETTINGS = (
    "TWITTER_CONSUMER_KEY",
    "TWITTER_CONSUMER_SECRET",
    "TWITTER_ACCESS_TOKEN",
    "TWITTER_TOKEN_SECRET",
)


class BaseUrlSession(requests.Session):
    """A session that sends requests for X's API and upload hosts to `base_url` instead, with timeouts."""

    def __init__(self, base_url: str, timeout: tuple[float, float]) -> None:
        super().__init__()
        self.base_url = (base_url or X_API_BASE_URL).rstrip("/")  # "" (an unset field) means the real API
        self.timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        url = url.decode() if isinstance(url, bytes) else url
        if self.base_url != X_API_BASE_URL:
            for host in (X_API_BASE_URL, X_UPLOAD_BASE_URL):
                if url.startswith(host):
                    url = self.base_url + url[len(host) :]
                    break
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)


def _api_detail(error: Exception) -> str:
    messages = getattr(error, "api_messages", None) or []
    return "; ".join(str(message) for message in messages)


class XTarget(NetworkTarget):
    """Posts to one X account with OAuth 1.0a user credentials."""

    name = "x"
    label = "X"
    settings_fields = (
        "twitter_consumer_key",
        "twitter_consumer_secret",
        "twitter_access_token",
        "twitter_token_secret",
        "twitter_api_base_url",
    )

    def __init__(
        self,
        consumer_key: str,
        consumer_secret: str,
        access_token: str,
        token_secret: str,
        base_url: str = X_API_BASE_URL,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        credentials = (consumer_key, consumer_secret, access_token, token_secret)
        self.require(
            dict(zip(CREDENTIAL_SETTINGS, credentials, strict=True)), "run `twitter auth` for the access token pair"
        )
        import tweepy

        super().__init__(retry, sleep, rng)
        keep_secret(*credentials)
        self.base_url = (base_url or X_API_BASE_URL).rstrip("/")  # "" (an unset field) means the real API
        self._client = tweepy.Client(
            consumer_key=consumer_key,
            consumer_secret=consumer_secret,
            access_token=access_token,
            access_token_secret=token_secret,
        )
        timeout = (self.retry.connect_timeout_s, self.retry.read_timeout_s)
        self._client.session = BaseUrlSession(self.base_url, timeout)
        self._media_api = tweepy.API(
            tweepy.OAuth1UserHandler(consumer_key, consumer_secret, access_token, token_secret), timeout=timeout
        )
        self._media_api.session = BaseUrlSession(self.base_url, timeout)

    def __repr__(self) -> str:
        return f"XTarget(base_url={self.base_url!r})"

    def post(self, text: str, attempt: str, card: Card | None = None) -> str:
        """Create a tweet (with the card uploaded first, alt text set); return its id. X takes no idempotency key."""
        media_ids = [self._upload(card)] if card is not None else None
        response = self._call(
            "POST /2/tweets", lambda: self._client.create_tweet(text=text, media_ids=media_ids, user_auth=True), True
        )
        return str(response.data["id"])

    def _upload(self, card: Card) -> str:
        """Upload the card's PNG and set its alt text; return the media id. Nothing is posted until the tweet."""
        # simple_upload is media_upload's path for an image; a fresh buffer per try, as a retry re-reads it.
        media = self._call(
            "POST /1.1/media/upload.json",
            lambda: self._media_api.simple_upload("card.png", file=io.BytesIO(card.png)),
            False,
        )
        media_id = str(media.media_id_string)
        self._call(
            "POST /1.1/media/metadata/create.json",
            lambda: self._media_api.create_media_metadata(media_id, card.alt),
            False,
        )
        return media_id

    def whoami(self) -> str:
        """The @handle of the account (GET /2/users/me)."""
        response = self._call("GET /2/users/me", lambda: self._client.get_me(user_auth=True), False)
        return str(response.data.username)

    def _call(self, what: str, send: Callable[[], Any], creates_post: bool) -> Any:
        """Send with retries; translate tweepy and network errors into PostingError subclasses."""
        import tweepy

        retrier = self.retrier()
        while True:
            try:
                return send()
            except tweepy.TooManyRequests as error:
                reset = datetime.fromtimestamp(error.reset_time, UTC) if error.reset_time else None
                retrier.wait_for_reset(what, reset)  # a 429 was not acted on: resending is safe
            except tweepy.Unauthorized as error:
                raise CredentialsRejected(
                    f"X refused the credentials on {what} (401 {_api_detail(error)}): check TWITTER_CONSUMER_KEY/"
                    "TWITTER_CONSUMER_SECRET and TWITTER_ACCESS_TOKEN/TWITTER_TOKEN_SECRET (regenerated keys "
                    "invalidate the old ones; `twitter auth` makes a new access token pair) and the system clock"
                ) from None
            except tweepy.Forbidden as error:
                detail = _api_detail(error)
                if "duplicate" in detail.lower():
                    raise DuplicateContent(
                        f"X refused the text as duplicate content (403 {detail}): it is already on the account"
                    ) from None
                raise CredentialsRejected(
                    f"X refused {what} (403 {detail}): check that the app has Read and Write permission and "
                    "that the access token was made after that change (run `twitter auth` again), "
                    "and that the text is not a duplicate of an earlier post"
                ) from None
            except tweepy.TwitterServerError as error:
                status = error.response.status_code
                if creates_post:
                    # X may have created the tweet before failing: a retry could post it twice.
                    raise OutcomeUnknown(
                        f"X answered {status} to {what} after receiving it; the tweet may exist, so it is "
                        "recorded as unknown and not re-sent: check the account"
                    ) from None
                retrier.back_off(what, f"X answered {status}")
            except tweepy.HTTPException as error:
                raise PostingError(f"X refused {what} ({error.response.status_code} {_api_detail(error)})") from None
            except requests.RequestException as error:
                self._no_answer(retrier, what, error, creates_post)
            except tweepy.TweepyException as error:
                # The v1.1 API wraps a network error in TweepyException; the requests error is its context.
                if not isinstance(error.__context__, requests.RequestException):
                    raise PostingError(f"X's answer to {what} could not be read ({type(error).__name__})") from None
                self._no_answer(retrier, what, error.__context__, creates_post)

    def _no_answer(self, retrier: Retrier, what: str, error: requests.RequestException, creates_post: bool) -> None:
        """Back off after a network error; one that may have created the tweet is unknown and not re-sent."""
        reason = type(error).__name__
        if creates_post and request_was_sent(error):
            raise OutcomeUnknown(
                f"{what} was sent to {self.base_url} but no answer came back ({reason}); the post may "
                "exist, so it is recorded as unknown and not re-sent: check the account"
            ) from None
        retrier.back_off(what, f"cannot reach {self.base_url} ({reason})")


def _oauth_handler(consumer_key: str, consumer_secret: str, base_url: str) -> Any:
    """A tweepy OAuth1UserHandler (callback `oob`) whose /oauth/* URLs point at `base_url`."""
    import tweepy

    class Handler(tweepy.OAuth1UserHandler):
        def _get_oauth_url(self, endpoint: str) -> str:
            return f"{base_url.rstrip('/')}/oauth/{endpoint}"

    return Handler(consumer_key, consumer_secret, callback="oob")


def _token_error(error: Exception, step: str, fix: str) -> PostingError:
    """A PostingError for a failed PIN-flow step, naming the HTTP status but no token."""
    cause: BaseException = error
    # tweepy wraps the requests_oauthlib error once or twice in TweepyException.
    while cause.args and isinstance(cause.args[0], Exception):
        cause = cause.args[0]
    status = getattr(cause, "status_code", None)
    if status is None:
        return PostingError(f"{step} failed: cannot reach X ({type(cause).__name__}); check TWITTER_API_BASE_URL")
    return PostingError(f"X refused {step} ({status}): {fix}")


class PinFlow:
    """The OAuth 1.0a PIN flow: get an authorization URL, then trade the PIN for an access token pair."""

    def __init__(self, consumer_key: str, consumer_secret: str, base_url: str = X_API_BASE_URL) -> None:
        if not consumer_key or not consumer_secret:
            raise CredentialsRejected("set TWITTER_CONSUMER_KEY and TWITTER_CONSUMER_SECRET (the app's API key pair)")
        keep_secret(consumer_key, consumer_secret)
        self._handler = _oauth_handler(consumer_key, consumer_secret, base_url or X_API_BASE_URL)

    def authorization_url(self) -> str:
        """Fetch a request token (callback `oob`) and return the URL where the account owner gets a PIN."""
        import tweepy

        try:
            return self._handler.get_authorization_url()
        except tweepy.TweepyException as error:
            raise _token_error(
                error, "the request token", "check TWITTER_CONSUMER_KEY and TWITTER_CONSUMER_SECRET"
            ) from None

    def access_token(self, pin: str) -> tuple[str, str]:
        """Exchange the PIN for (access token, access token secret)."""
        import tweepy

        try:
            token, secret = self._handler.get_access_token(pin.strip())
        except tweepy.TweepyException as error:
            raise _token_error(
                error, "the PIN", "run `twitter auth` again and type the PIN X shows after you authorise the app"
            ) from None
        keep_secret(token, secret)
        return token, secret
