"""The posting history: an append-only JSONL log of every post attempt and its outcome.

One JSON object per line: time (ISO 8601 UTC), target, text, post_id (the tweet id on X),
model_version and outcome. The history is what the budget is counted from and what stops the
same text from being posted twice. It lives in the local artifact folder, or in the artifact
bucket when `BUCKET` is set.
"""

from __future__ import annotations

import json
import unicodedata
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from soulsgen_lib.posting.target import PostingError
from soulsgen_lib.settings import Settings
from soulsgen_lib.storage.layout import HISTORY_KEY, POSTING_LOCK_KEY

if TYPE_CHECKING:
    from soulsgen_lib.storage import ArtifactStore


POSTED = "posted"
UNKNOWN = "unknown"  # sent, but no answer: the post may exist
DUPLICATE = "duplicate"  # the network already holds this text
FAILED = "failed"
RATE_LIMITED = "rate_limited"
OUTCOMES = (POSTED, UNKNOWN, DUPLICATE, FAILED, RATE_LIMITED)
# Outcomes that may have put the text on the account: these count against the budget and block the text.
MAY_BE_PUBLISHED = frozenset({POSTED, UNKNOWN})
BLOCKS_TEXT = frozenset({POSTED, UNKNOWN, DUPLICATE})


@dataclass(frozen=True)
class PostRecord:
    """One line of the history."""

    time: datetime
    target: str
    text: str
    outcome: str
    post_id: str | None = None
    model_version: str | None = None
    detail: str | None = None

    def to_json(self) -> str:
        fields = asdict(self)
        fields["time"] = self.time.isoformat()
        return json.dumps(fields, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, line: str) -> PostRecord:
        fields = json.loads(line)
        time = datetime.fromisoformat(fields["time"])
        fields["time"] = time if time.tzinfo else time.replace(tzinfo=UTC)  # hand-written lines may lack a zone
        if fields["outcome"] not in OUTCOMES:
            raise ValueError(f"unknown outcome {fields['outcome']!r}")
        return cls(**fields)


class PostingHistory(Protocol):
    """Where post records are kept: read all, append one, and hold it while a post is checked and made."""

    location: str

    def records(self) -> list[PostRecord]: ...

    def append(self, record: PostRecord) -> None: ...

    def exclusive(self) -> AbstractContextManager[None]: ...


def parse_history(text: str, location: str) -> list[PostRecord]:
    """Records from JSONL text; a damaged line is an error naming the line, never skipped silently."""
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(PostRecord.from_json(line))
        except (ValueError, KeyError, TypeError) as error:
            raise PostingError(
                f"{location}:{number}: not a posting record ({error}); repair or delete that line"
            ) from None
    return records


class StoreHistory:
    """The history as one object of an artifact store (`soulsgen_lib.storage`): a local file or a bucket object."""

    def __init__(self, store: ArtifactStore, key: str = HISTORY_KEY) -> None:
        self.store = store
        self.key = key
        self.location = store.location(key)

    def records(self) -> list[PostRecord]:
        if not self.store.exists(self.key):
            return []
        return parse_history(self.store.read_text(self.key), self.location)

    def append(self, record: PostRecord) -> None:
        self.store.append_line(self.key, record.to_json())

    def exclusive(self) -> AbstractContextManager[None]:
        """One poster at a time (a CLI run beside the DAG, two machines on one bucket)."""
        return self.store.lock(POSTING_LOCK_KEY)


def open_history(settings: Settings) -> PostingHistory:
    """The bucket's history when `BUCKET` is set, else `<SOULSGEN_HOME>/posted/history.jsonl`."""
    from soulsgen_lib.storage import open_settings_store

    return StoreHistory(open_settings_store(settings))


def normalized(text: str) -> str:
    """The form two texts are compared in: NFC, whitespace collapsed, case folded."""
    return " ".join(unicodedata.normalize("NFC", text).split()).casefold()


def blocked_texts(records: list[PostRecord]) -> set[str]:
    """Normalized texts that must not be posted again."""
    return {normalized(record.text) for record in records if record.outcome in BLOCKS_TEXT}
