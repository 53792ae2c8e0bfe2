"""What any posting network must offer, and the errors a post can end in.

X (`posting.x`), Bluesky (`posting.bluesky`) and Mastodon (`posting.mastodon`) implement
`PostingTarget`: `name`, `post` and `whoami`, raising these errors; the CLI and DAG stay the same.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, Self

from soulsgen_lib.errors import SoulsgenError
from soulsgen_lib.settings import Secret, Settings

log = logging.getLogger(__name__)

BUDGET_SPENT_EXIT_CODE = 3


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: backoff for server and network errors, and how long a rate limit may be waited out."""

    attempts: int = 4  # tries per request on 5xx, network errors and near rate-limit resets
    backoff_s: float = 2.0  # first delay; doubles each retry, with jitter
    backoff_max_s: float = 60.0
    rate_limit_max_wait_s: float = 900.0  # wait for x-rate-limit-reset only when it is this close
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 30.0

    def backoff(self, retry: int, rng: random.Random) -> float:
        """Delay before retry number `retry` (1-based): exponential, capped, half of it random."""
        ceiling = min(self.backoff_max_s, self.backoff_s * 2 ** (retry - 1))
        return rng.uniform(ceiling / 2, ceiling)


class PostingError(SoulsgenError):
    """A post could not be made; the message says what to check."""


class BudgetSpent(PostingError):
    """The daily or monthly posting budget is used up; nothing was sent."""

    exit_code = BUDGET_SPENT_EXIT_CODE


class SentenceRejected(PostingError):
    """A sentence fails the posting checks (empty, too long, posted before, bad shape)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class CredentialsRejected(PostingError):
    """The network refused the credentials or the app's permissions (HTTP 401/403)."""


class DuplicateContent(PostingError):
    """The network refused the text as a duplicate of a post already on the account."""


class RateLimited(PostingError):
    """The network's rate limit resets later than we are willing to wait; nothing was posted."""

    def __init__(self, message: str, retry_at: datetime | None = None) -> None:
        super().__init__(message)
        self.retry_at = retry_at


class TargetUnavailable(PostingError):
    """The network could not be reached, or failed before a post was sent; nothing was posted."""


class OutcomeUnknown(PostingError):
    """The post was sent but no usable answer came back (timeout, 5xx): it may exist, so it is not re-sent."""


@dataclass(frozen=True)
class Card:
    """An image to attach to a post, with the alt text that describes it."""

    png: bytes
    alt: str
    width: int
    height: int


class PostingTarget(Protocol):
    """A network that publishes short texts for one account."""

    name: str

    def post(self, text: str, attempt: str, card: Card | None = None) -> str:
        """Publish `text` (with `card`); return the new post's id. Raises the PostingError subclasses above.

        `attempt` identifies this try in the history; a network that takes an idempotency key gets it.
        """
        ...

    def whoami(self) -> str:
        """The handle of the account the credentials act for."""
        ...


class PreviewTarget:
    """Stands in for a network in a dry run: it needs no credentials and is never asked to post."""

    def __init__(self, name: str = "dry-run") -> None:
        self.name = name

    def post(self, text: str, attempt: str, card: Card | None = None) -> str:
        raise PostingError("a dry run never posts")

    def whoami(self) -> str:
        return "(dry run)"


class Retrier:
    """Counts the tries of one request: waits out near rate-limit resets and backs off on errors, then gives up."""

    def __init__(self, network: str, retry: RetryPolicy, sleep: Callable[[float], None], rng: random.Random) -> None:
        self.network = network
        self.retry = retry
        self._sleep = sleep
        self._rng = rng
        self.tries = 1

    def back_off(self, what: str, problem: str) -> None:
        """Sleep before the next try, or raise TargetUnavailable once every try failed."""
        if self.tries >= self.retry.attempts:
            raise TargetUnavailable(f"{problem} on {what}, {self.tries} times; nothing was posted, try again later")
        delay = self.retry.backoff(self.tries, self._rng)
        log.warning("%s on %s; retry %d of %d in %.2f s", problem, what, self.tries, self.retry.attempts - 1, delay)
        self.tries += 1
        self._sleep(delay)

    def wait_for_reset(self, what: str, reset_at: datetime | None) -> None:
        """Sleep until a 429's reset when it is near, or raise RateLimited carrying the reset time."""
        wait = (reset_at - datetime.now(UTC)).total_seconds() + 1 if reset_at else None
        if wait is None or wait > self.retry.rate_limit_max_wait_s:
            raise self.rate_limited(what, reset_at)
        if self.tries >= self.retry.attempts:
            raise RateLimited(
                f"{self.network} rate limit reached on {what} on each of {self.tries} tries; try again later", reset_at
            )
        log.warning("%s rate limit reached on %s; waiting %.1f s for the reset", self.network, what, wait)
        self.tries += 1
        self._sleep(max(0.0, wait))

    def rate_limited(self, what: str, reset_at: datetime | None) -> RateLimited:
        """The error for a rate limit that resets too late to wait for."""
        when = f"it resets at {reset_at:%Y-%m-%d %H:%M:%S} UTC" if reset_at else f"{self.network} sent no reset time"
        return RateLimited(
            f"{self.network} rate limit reached on {what}; {when}, later than the "
            f"{self.retry.rate_limit_max_wait_s:.0f} s we may wait; nothing was posted, try again later",
            reset_at,
        )


class NetworkTarget:
    """What the network targets share: the retry policy, the clock and dice of its backoff, the credential check."""

    name = ""
    label = ""  # the network's name in messages
    settings_fields: tuple[str, ...] = ()  # the Settings fields the constructor takes first, in its order

    def __init__(self, retry: RetryPolicy | None, sleep: Callable[[float], None], rng: random.Random | None) -> None:
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._rng = rng or random.Random()

    @classmethod
    def from_settings(cls, settings: Settings, retry: RetryPolicy | None = None) -> Self:
        """A target from the network's settings (secrets unwrapped)."""
        values = [getattr(settings, field) for field in cls.settings_fields]
        return cls(*[value.get_secret_value() if isinstance(value, Secret) else value for value in values], retry)

    @classmethod
    def require(cls, credentials: dict[str, str], hint: str) -> None:
        """Raise CredentialsRejected naming every empty setting of `credentials` (setting name: value) and `hint`."""
        missing = [setting for setting, value in credentials.items() if not value]
        if missing:
            raise CredentialsRejected(f"{cls.label} credentials missing: set {', '.join(missing)} ({hint})")

    def retrier(self) -> Retrier:
        """Counts the tries of one request."""
        return Retrier(self.label, self.retry, self._sleep, self._rng)


def request_was_sent(error: BaseException) -> bool:
    """False only when a `requests` connection never opened (refused, connect timeout): a resend cannot post twice."""
    import requests
    from urllib3.exceptions import NewConnectionError

    if isinstance(error, requests.ConnectTimeout):
        return False
    if isinstance(error, requests.ConnectionError):
        reason = getattr(error.args[0], "reason", None) if error.args else None
        return not isinstance(reason, NewConnectionError)
    return True
