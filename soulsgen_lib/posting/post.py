"""Check a sentence, respect the network's budget, record the intent, post it, and record the outcome."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime

from soulsgen_lib.model.filters import first_failure
from soulsgen_lib.posting.budget import Budget, BudgetStatus, budget_status
from soulsgen_lib.posting.history import (
    DRY_RUN,
    DUPLICATE,
    FAILED,
    PENDING,
    POSTED,
    RATE_LIMITED,
    UNKNOWN,
    PostingHistory,
    PostRecord,
    blocked_texts,
    normalized,
    on_network,
)
from soulsgen_lib.posting.target import (
    BudgetSpent,
    Card,
    DuplicateContent,
    OutcomeUnknown,
    PostingError,
    PostingTarget,
    RateLimited,
    SentenceRejected,
)
from soulsgen_lib.textcheck import TWEET_MAX_WEIGHT, tweet_length

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sentence:
    """A candidate post and the model version that wrote it (None for text given by hand)."""

    text: str
    model_version: str | None = None


SentenceSource = Callable[[], Sentence]


def sentence_problem(text: str, records: list[PostRecord]) -> SentenceRejected | None:
    """Why `text` may not be posted (empty, over 280 by X's count, posted before, fails the filters), or None.

    X's weighted 280 is the strictest length of the three networks (Bluesky: 300 graphemes, Mastodon:
    500 characters), so one sentence fits all. `records` are the settled records of the networks in play.
    """
    stripped = text.strip()
    if not stripped:
        return SentenceRejected("the sentence is empty", "empty")
    weight = tweet_length(stripped)
    if weight > TWEET_MAX_WEIGHT:
        return SentenceRejected(
            f"the sentence weighs {weight} characters as X counts them, over {TWEET_MAX_WEIGHT}", "too_long"
        )
    if normalized(stripped) in blocked_texts(records):
        return SentenceRejected(f"already posted (see the posting history): {stripped!r}", "posted_before")
    failed = first_failure(stripped)
    if failed is not None:
        return SentenceRejected(f"the sentence fails the generation filters ({failed}): {stripped!r}", failed)
    return None


def pick_sentence(source: SentenceSource, records: list[PostRecord], max_asks: int = 5) -> Sentence:
    """Ask `source` until a sentence passes the checks, at most `max_asks` times."""
    if max_asks < 1:
        raise PostingError(f"max_asks must be at least 1, got {max_asks}")
    for ask in range(1, max_asks + 1):
        sentence = source()
        problem = sentence_problem(sentence.text, records)
        if problem is None:
            return Sentence(sentence.text.strip(), sentence.model_version)
        log.info("sentence %d of %d rejected: %s", ask, max_asks, problem)
    if max_asks == 1:
        raise problem
    raise SentenceRejected(f"no acceptable sentence in {max_asks} tries; the last: {problem}", problem.reason)


def ensure_budget(records: list[PostRecord], budget: Budget, now: datetime | None = None) -> BudgetStatus:
    """The budget status of one network; raises BudgetSpent (exit status 3) when nothing may be posted there."""
    status = budget_status(records, budget, now)
    if status.spent:
        raise BudgetSpent(f"not posting: {status.explain()}")
    return status


def _outcome_of(error: PostingError) -> str:
    if isinstance(error, DuplicateContent):
        return DUPLICATE
    if isinstance(error, OutcomeUnknown):
        return UNKNOWN
    if isinstance(error, RateLimited):
        return RATE_LIMITED
    return FAILED


def post_sentence(
    text: str,
    target: PostingTarget,
    history: PostingHistory,
    budget: Budget,
    model_version: str | None = None,
    dry_run: bool = False,
    card: Card | None = None,
    now: datetime | None = None,
) -> PostRecord:
    """Check budget and text on the target's network, record the intent, post, and record the outcome.

    Failures are recorded, then raised. The pending line is written before anything is sent, so a post
    whose process dies mid-send still counts against the budget and blocks its text.
    """
    now = now or datetime.now(UTC)
    # Held from the check to the record, so that a concurrent poster sees this post in the history.
    with nullcontext() if dry_run else history.exclusive():
        records = on_network(history.records(), target.name)
        ensure_budget(records, budget, now)
        problem = sentence_problem(text, records)
        if problem is not None:
            raise problem
        intent = PostRecord(now, target.name, text.strip(), PENDING, uuid.uuid4().hex, model_version=model_version)
        if dry_run:
            return intent.settled_as(DRY_RUN)
        try:
            history.append(intent)
        except Exception as error:
            raise PostingError(
                f"cannot record the post in {history.location} before sending ({error}); nothing was sent"
            ) from error
        try:
            post_id = target.post(intent.text, intent.attempt, card)
        except PostingError as error:
            retry_at = error.retry_at if isinstance(error, RateLimited) else None
            _settle(history, intent.settled_as(_outcome_of(error), detail=str(error), retry_at=retry_at))
            raise
        except Exception as error:
            # A failure we did not foresee may come after the network created the post: never risk sending it twice.
            _settle(history, intent.settled_as(UNKNOWN, detail=type(error).__name__))
            raise OutcomeUnknown(
                f"posting to {target.name} failed unexpectedly ({type(error).__name__}: {error}); "
                "recorded as unknown and not re-sent, check the account"
            ) from error
        posted = intent.settled_as(POSTED, post_id=post_id)
        try:
            history.append(posted)
        except Exception as error:
            raise PostingError(
                f"posted to {target.name} as {post_id} but could not record it in {history.location} ({error}); "
                "its pending line keeps it counted and blocked"
            ) from error
        log.info("posted %s to %s: %s", post_id, target.name, intent.text)
        return posted


def _settle(history: PostingHistory, record: PostRecord) -> None:
    """Write an attempt's outcome; if that fails, the pending line stays, which errs on the safe side."""
    try:
        history.append(record)
    except Exception as error:
        log.error(
            "could not record outcome %s of a post to %s (%s); it stays pending", record.outcome, record.network, error
        )


def post_next(
    source: SentenceSource,
    target: PostingTarget,
    history: PostingHistory,
    budget: Budget,
    max_asks: int = 5,
    dry_run: bool = False,
    with_card: bool = False,
) -> PostRecord:
    """Budget first (so a spent budget costs no generation), then a checked sentence from `source`, then post it."""
    records = on_network(history.records(), target.name)
    ensure_budget(records, budget)
    sentence = pick_sentence(source, records, max_asks)
    card = None
    if with_card:
        from soulsgen_lib.posting.card import render_card

        card = render_card(sentence.text)
    return post_sentence(sentence.text, target, history, budget, sentence.model_version, dry_run, card)
