"""The posting history: an append-only JSONL log of every post attempt on every network.

One JSON object per line: time (ISO 8601 UTC), network, text, outcome, attempt, post_id,
model_version, detail, retry_at. An attempt is written twice: a `pending` line before anything is
sent, then its outcome under the same `attempt` id, so a post whose process died mid-send is still
on record. The history is what each network's budget is counted from and what stops the same text
from being posted twice on one network. It lives in the local artifact folder, or in the artifact
bucket when `BUCKET` is set.
"""

from __future__ import annotations

import json
import unicodedata
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from soulsgen_lib.posting.target import PostingError
from soulsgen_lib.settings import Settings
from soulsgen_lib.storage.layout import HISTORY_KEY, POSTING_LOCK_KEY

if TYPE_CHECKING:
    from soulsgen_lib.storage import ArtifactStore


PENDING = "pending"  # written before sending; an attempt with no later line may have posted
POSTED = "posted"
UNKNOWN = "unknown"  # sent, but no usable answer: the post may exist
DUPLICATE = "duplicate"  # the network already holds this text
FAILED = "failed"  # refused before anything was published
RATE_LIMITED = "rate_limited"
DRY_RUN = "dry_run"  # returned by a dry run, never written
OUTCOMES = (PENDING, POSTED, UNKNOWN, DUPLICATE, FAILED, RATE_LIMITED)
# Outcomes that may have put the text on the account: these count against the budget and block the text.
MAY_BE_PUBLISHED = frozenset({PENDING, POSTED, UNKNOWN})
BLOCKS_TEXT = frozenset({PENDING, POSTED, UNKNOWN, DUPLICATE})


@dataclass(frozen=True)
class PostRecord:
    """One post attempt on one network: a line of the history and what posting returns."""

    time: datetime
    network: str
    text: str
    outcome: str
    attempt: str | None = None  # shared by an attempt's pending line and its outcome line
    post_id: str | None = None
    model_version: str | None = None
    detail: str | None = None
    retry_at: datetime | None = None  # a rate limit's reset: nothing is sent to the network before it

    def to_dict(self) -> dict:
        """JSON-able fields (small enough for an Airflow XCom)."""
        fields = asdict(self)
        fields["time"] = self.time.isoformat()
        fields["retry_at"] = self.retry_at.isoformat() if self.retry_at else None
        return fields

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, line: str) -> PostRecord:
        fields = json.loads(line)
        if not isinstance(fields, dict):
            raise ValueError("not a JSON object")
        if "target" in fields:  # lines written before the history knew several networks
            fields["network"] = fields.pop("target")
        fields["time"] = _utc(fields["time"])
        if fields.get("retry_at"):
            fields["retry_at"] = _utc(fields["retry_at"])
        if fields["outcome"] not in OUTCOMES:
            raise ValueError(f"unknown outcome {fields['outcome']!r}")
        return cls(**fields)

    def settled_as(self, outcome: str, **changes: object) -> PostRecord:
        """The outcome line of this (pending) attempt."""
        return replace(self, outcome=outcome, **changes)


def _utc(text: str) -> datetime:
    time = datetime.fromisoformat(text)
    return time if time.tzinfo else time.replace(tzinfo=UTC)  # hand-written lines may lack a zone


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


def settled(records: list[PostRecord]) -> list[PostRecord]:
    """One record per attempt: its latest line (a pending line stays pending until its outcome is written)."""
    latest: dict[object, PostRecord] = {}
    for index, record in enumerate(records):
        latest[record.attempt or index] = record
    return list(latest.values())


def on_network(records: list[PostRecord], network: str) -> list[PostRecord]:
    """The settled attempts on one network."""
    return [record for record in settled(records) if record.network == network]


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
    """Normalized texts that must not be posted again (pass the settled records of one network)."""
    return {normalized(record.text) for record in records if record.outcome in BLOCKS_TEXT}
