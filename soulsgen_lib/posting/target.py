"""What any posting network must offer, and the errors a post can end in.

X is one implementation (`soulsgen_lib.posting.x.XTarget`); another network only needs
`name`, `post` and `whoami` and to raise these errors, and the CLI and DAG stay as they are.
"""

from __future__ import annotations

from typing import Protocol

from soulsgen_lib.errors import SoulsgenError

BUDGET_SPENT_EXIT_CODE = 3


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
    """The network's rate limit resets later than we are willing to wait."""


class TargetUnavailable(PostingError):
    """Server errors or network failures persisted through every retry; nothing was posted."""


class OutcomeUnknown(PostingError):
    """The request was sent but no answer came back: the post may exist, so it is not re-sent."""


class PostingTarget(Protocol):
    """A network that publishes short texts for one account."""

    name: str

    def post(self, text: str) -> str:
        """Publish `text`; return the new post's id. Raises the PostingError subclasses above."""
        ...

    def whoami(self) -> str:
        """The handle of the account the credentials act for."""
        ...


class PreviewTarget:
    """Stands in for a network in a dry run: it needs no credentials and is never asked to post."""

    name = "dry-run"

    def post(self, text: str) -> str:
        raise PostingError("a dry run never posts")

    def whoami(self) -> str:
        return "(dry run)"
