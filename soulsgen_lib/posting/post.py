"""Check a sentence, respect the budget, post it to a target and record the outcome in the history."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime

from soulsgen_lib.posting.budget import Budget, BudgetStatus, budget_status
from soulsgen_lib.posting.history import (
    DUPLICATE,
    FAILED,
    POSTED,
    RATE_LIMITED,
    UNKNOWN,
    PostingHistory,
    PostRecord,
    blocked_texts,
    normalized,
)
from soulsgen_lib.posting.target import (
    BudgetSpent,
    DuplicateContent,
    OutcomeUnknown,
    PostingError,
    PostingTarget,
    RateLimited,
    SentenceRejected,
)
from soulsgen_lib.textcheck import TWEET_MAX_WEIGHT, shape_problem, tweet_length

log = logging.getLogger(__name__)

DRY_RUN = "dry_run"


@dataclass(frozen=True)
class Sentence:
    """A candidate post and the model version that wrote it (None for text given by hand)."""

    text: str
    model_version: str | None = None


SentenceSource = Callable[[], Sentence]


@dataclass(frozen=True)
class PostOutcome:
    """What `post_sentence` did: status is `posted` or `dry_run`; failures raise PostingError instead."""

    status: str
    text: str
    target: str
    time: datetime
    budget: BudgetStatus
    post_id: str | None = None
    model_version: str | None = None

    def to_dict(self) -> dict:
        """JSON-able summary (small enough for an Airflow XCom)."""
        return {
            "status": self.status,
            "text": self.text,
            "target": self.target,
            "time": self.time.isoformat(),
            "post_id": self.post_id,
            "model_version": self.model_version,
            "budget": self.budget.to_dict(),
        }


def sentence_problem(text: str, records: list[PostRecord]) -> SentenceRejected | None:
    """Why `text` may not be posted (empty, over 280 by X's count, posted before, fails the filters), or None."""
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
    shape = shape_problem(stripped)
    if shape is not None:
        return SentenceRejected(f"the sentence fails the generation filters ({shape}): {stripped!r}", shape)
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
    """The budget status; raises BudgetSpent (exit status 3) when nothing may be posted."""
    status = budget_status(records, budget, now)
    if status.spent:
        raise BudgetSpent(f"not posting: {status.explain()}")
    return status


def post_sentence(
    text: str,
    target: PostingTarget,
    history: PostingHistory,
    budget: Budget,
    model_version: str | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
) -> PostOutcome:
    """Check budget and text, post, and record the outcome; failures are recorded, then raised."""
    now = now or datetime.now(UTC)
    # Held from the check to the record, so that a concurrent poster sees this post in the history.
    with nullcontext() if dry_run else history.exclusive():
        records = history.records()
        status = ensure_budget(records, budget, now)
        problem = sentence_problem(text, records)
        if problem is not None:
            raise problem
        text = text.strip()
        if dry_run:
            return PostOutcome(DRY_RUN, text, target.name, now, status, model_version=model_version)

        def record(outcome: str, post_id: str | None = None, detail: str | None = None) -> None:
            history.append(PostRecord(now, target.name, text, outcome, post_id, model_version, detail))

        try:
            post_id = target.post(text)
        except PostingError as error:
            outcome = {DuplicateContent: DUPLICATE, OutcomeUnknown: UNKNOWN, RateLimited: RATE_LIMITED}.get(
                type(error), FAILED
            )
            record(outcome, detail=str(error))
            raise
        except Exception as error:
            # A failure we did not foresee may come after X created the post: never risk sending it twice.
            record(UNKNOWN, detail=type(error).__name__)
            raise OutcomeUnknown(
                f"posting to {target.name} failed unexpectedly ({type(error).__name__}: {error}); "
                "recorded as unknown and not re-sent, check the account"
            ) from error
        try:
            record(POSTED, post_id)
        except Exception as error:
            raise PostingError(
                f"posted as {post_id} but could not record it in {history.location} ({error}); "
                "add that post to the history by hand so it is not posted again"
            ) from error
        log.info("posted %s to %s: %s", post_id, target.name, text)
        after = budget_status([*records, PostRecord(now, target.name, text, POSTED, post_id)], budget, now)
        return PostOutcome(POSTED, text, target.name, now, after, post_id, model_version)


def post_next(
    source: SentenceSource,
    target: PostingTarget,
    history: PostingHistory,
    budget: Budget,
    max_asks: int = 5,
    dry_run: bool = False,
) -> PostOutcome:
    """Budget first (so a spent budget costs no generation), then a checked sentence from `source`, then post it."""
    records = history.records()
    ensure_budget(records, budget)
    sentence = pick_sentence(source, records, max_asks)
    return post_sentence(sentence.text, target, history, budget, sentence.model_version, dry_run)
