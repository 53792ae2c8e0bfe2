"""Posting generated sentences to X: credentials, checks, budget, retries and history.

The DAG and the `twitter` CLI use the same calls:

    target = XTarget(key, key_secret, token, token_secret, base_url)
    history = open_history(settings)                  # BUCKET/posted/history.jsonl or a local file
    outcome = post_sentence(text, target, history, Budget.from_settings(settings), model_version)

`XTarget`, `PinFlow` and `RetryPolicy` load `soulsgen_lib.posting.x` (requests) on first use, and tweepy
only when a target is built, so `twitter --help` and DAG parsing stay fast.
"""

from typing import Any

from soulsgen_lib.posting.budget import Budget, BudgetStatus, budget_status
from soulsgen_lib.posting.history import PostingHistory, PostRecord, StoreHistory, open_history
from soulsgen_lib.posting.post import PostOutcome, Sentence, pick_sentence, post_next, post_sentence, sentence_problem
from soulsgen_lib.posting.target import (
    BUDGET_SPENT_EXIT_CODE,
    BudgetSpent,
    CredentialsRejected,
    DuplicateContent,
    OutcomeUnknown,
    PostingError,
    PostingTarget,
    RateLimited,
    SentenceRejected,
    TargetUnavailable,
)

__all__ = [
    "BUDGET_SPENT_EXIT_CODE",
    "Budget",
    "BudgetSpent",
    "BudgetStatus",
    "CredentialsRejected",
    "DuplicateContent",
    "OutcomeUnknown",
    "PinFlow",
    "PostOutcome",
    "PostRecord",
    "PostingError",
    "PostingHistory",
    "PostingTarget",
    "RateLimited",
    "RetryPolicy",
    "Sentence",
    "SentenceRejected",
    "StoreHistory",
    "TargetUnavailable",
    "XTarget",
    "budget_status",
    "open_history",
    "pick_sentence",
    "post_next",
    "post_sentence",
    "sentence_problem",
]


def __getattr__(name: str) -> Any:
    if name in {"PinFlow", "RetryPolicy", "XTarget"}:
        from soulsgen_lib.posting import x

        return getattr(x, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
