"""Where each artifact lives inside a store: one versioned layout shared by local folders and buckets.

corpus/<version>/...                   a corpus folder (train.txt, test.txt, words.txt, ...)
corpus/latest                          text object holding the newest complete corpus version
models/soulsgen/<version>/...          a model folder (model.pt, tokenizer.json, words.txt, ...)
models/soulsgen/latest
model-store/soulsgen-<version>.mar     a TorchServe archive (TorchServe ignores the pointer file)
model-store/latest
posted/history.jsonl                   one JSON line per posted sentence
jobs/train/<version>/_SUCCESS|_FAILED  markers written by a remote training job
"""

from __future__ import annotations

import re

from soulsgen_lib.errors import SoulsgenError


class StorageError(SoulsgenError):
    """A store operation failed; the message names the location and the fix."""


KINDS = ("corpus", "model", "mar")
HISTORY_KEY = "posted/history.jsonl"
POSTING_LOCK_KEY = "posted/.posting.lock"  # held from the history check to the record of a post
SUCCESS_MARKER = "_SUCCESS"
FAILED_MARKER = "_FAILED"

_KIND_ROOTS = {"corpus": "corpus", "model": "models/soulsgen", "mar": "model-store"}
_VERSION_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise StorageError(f"unknown artifact kind {kind!r}: use one of {', '.join(KINDS)}")
    return kind


def check_version(version: str) -> str:
    """A version is a short name safe in object keys, file names and labels; `latest` is reserved."""
    if not _VERSION_PATTERN.fullmatch(version) or version == "latest":
        raise StorageError(
            f"invalid version {version!r}: use letters, digits, '.', '_' or '-' (not 'latest'), e.g. 2026-11-28"
        )
    return version


def version_key(kind: str, version: str) -> str:
    """The folder prefix (corpus, model) or object key (mar) of one version."""
    check_kind(kind)
    check_version(version)
    if kind == "mar":
        return f"{_KIND_ROOTS[kind]}/soulsgen-{version}.mar"
    return f"{_KIND_ROOTS[kind]}/{version}"


def latest_key(kind: str) -> str:
    """The pointer object naming the newest complete version of `kind`."""
    return f"{_KIND_ROOTS[check_kind(kind)]}/latest"


def train_marker_key(version: str, succeeded: bool) -> str:
    """The marker a remote training job writes when it ends: `_SUCCESS` or `_FAILED`."""
    return f"{train_marker_prefix(version)}{SUCCESS_MARKER if succeeded else FAILED_MARKER}"


def train_marker_prefix(version: str) -> str:
    """The prefix both training markers of `version` share (for a prefix sensor)."""
    return f"jobs/train/{check_version(version)}/"


def split_gs_url(url: str) -> tuple[str, str]:
    """`gs://bucket/some/prefix` -> ("bucket", "some/prefix"); StorageError on a malformed URL."""
    bucket, _, prefix = url.removeprefix("gs://").partition("/")
    if not url.startswith("gs://") or not _BUCKET_PATTERN.fullmatch(bucket):
        raise StorageError(f"invalid bucket URL {url!r}: expected gs://bucket-name or gs://bucket-name/prefix")
    return bucket, prefix.strip("/")


def object_name(prefix: str, key: str) -> str:
    """The object name of a store key inside its bucket, for a store rooted at gs://bucket/<prefix>."""
    return f"{prefix}/{key}" if prefix else key


_BUCKET_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]")
