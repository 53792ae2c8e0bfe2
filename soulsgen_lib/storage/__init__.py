"""The artifact store: one versioned layout over a local folder or a `gs://` bucket.

store = open_store("gs://my-soulsgen/prod")      # or open_store("artifacts")
store.publish("corpus", "v3", Path("work/corpus"))   # upload everything, then move corpus/latest
store.download("model", "latest", Path("work/model"))
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from soulsgen_lib.settings import Settings
from soulsgen_lib.storage.base import ArtifactStore, append_with_retry
from soulsgen_lib.storage.layout import (
    HISTORY_KEY,
    KINDS,
    StorageError,
    check_version,
    latest_key,
    split_gs_url,
    train_marker_key,
    train_marker_prefix,
    version_key,
)
from soulsgen_lib.storage.local import LocalStore

__all__ = [
    "HISTORY_KEY",
    "KINDS",
    "ArtifactStore",
    "LocalStore",
    "StorageError",
    "append_with_retry",
    "check_version",
    "latest_key",
    "open_settings_store",
    "open_store",
    "split_gs_url",
    "train_marker_key",
    "train_marker_prefix",
    "version_key",
]


def open_store(root: str | Path, client: Any = None) -> ArtifactStore:
    """A store for a local folder or `gs://bucket[/prefix]` (google-cloud-storage is imported only for buckets).

    `client` is an optional `google.cloud.storage.Client` for buckets, e.g. `GCSHook(conn_id).get_conn()`
    in Airflow; without one the store uses Application Default Credentials (or STORAGE_EMULATOR_HOST).
    """
    root_text = str(root)
    if root_text.startswith("gs://"):
        from soulsgen_lib.storage.gcs import GcsStore

        return GcsStore(root_text, client=client)
    if "://" in root_text:
        raise StorageError(f"unsupported store {root_text!r}: use a local folder or gs://bucket/prefix")
    return LocalStore(root_text)


def open_settings_store(settings: Settings) -> ArtifactStore:
    """The store the settings name: BUCKET when set, the local SOULSGEN_HOME folder otherwise."""
    return open_store(settings.bucket or settings.home)
