"""Posting generated sentences to X, Bluesky and Mastodon: checks, budgets, history, retries, cards.

The DAG and the CLIs use the same calls:

    target = target_from_settings("bluesky", settings)   # or XTarget / BlueskyTarget / MastodonTarget
    history = open_history(settings)                     # BUCKET/posted/history.jsonl or a local file
    record = post_sentence(text, target, history, Budget.from_settings(settings, target.name), model_version)

Network SDKs (tweepy, atproto, Mastodon.py) and Pillow are imported only when a target or card is
built, so `--help` and DAG parsing stay fast.
"""

from soulsgen_lib.posting.budget import Budget, BudgetStatus, budget_status
from soulsgen_lib.posting.history import PostingHistory, PostRecord, StoreHistory, open_history
from soulsgen_lib.posting.networks import NETWORKS, target_from_settings
from soulsgen_lib.posting.post import Sentence, pick_sentence, post_next, post_sentence, sentence_problem
from soulsgen_lib.posting.target import (
    BUDGET_SPENT_EXIT_CODE,
    BudgetSpent,
    Card,
    CredentialsRejected,
    DuplicateContent,
    OutcomeUnknown,
    PostingError,
    PostingTarget,
    RateLimited,
    RetryPolicy,
    SentenceRejected,
    TargetUnavailable,
)

__all__ = [
    "BUDGET_SPENT_EXIT_CODE",
    "NETWORKS",
    "Budget",
    "BudgetSpent",
    "BudgetStatus",
    "Card",
    "CredentialsRejected",
    "DuplicateContent",
    "OutcomeUnknown",
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
    "budget_status",
    "open_history",
    "pick_sentence",
    "post_next",
    "post_sentence",
    "sentence_problem",
    "target_from_settings",
]
