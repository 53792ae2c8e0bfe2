"""An artifact store in a Google Cloud Storage bucket (or the storage emulator in tests)."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from soulsgen_lib.atomic import atomic_path
from soulsgen_lib.storage.base import LOCK_STALE_S, LOCK_WAIT_S, ArtifactStore, append_with_retry, check_key, folder
from soulsgen_lib.storage.layout import StorageError, object_name, split_gs_url

if TYPE_CHECKING:
    from google.cloud import storage

log = logging.getLogger(__name__)
_RELEASE_RETRY_S = 30.0  # a lock we fail to delete is taken over once stale, so do not hold the caller long

CREDENTIALS_HELP = (
    "run `gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS to a service-account "
    "key file; on Compute Engine give the VM a service account with storage access"
)


def make_client() -> storage.Client:
    """A storage client: anonymous against STORAGE_EMULATOR_HOST, Application Default Credentials otherwise."""
    from google.auth import exceptions as auth_exceptions
    from google.cloud import storage

    if os.environ.get("STORAGE_EMULATOR_HOST"):
        from google.auth.credentials import AnonymousCredentials

        return storage.Client(project="emulator", credentials=AnonymousCredentials())
    try:
        return storage.Client()
    except auth_exceptions.DefaultCredentialsError as error:
        raise StorageError(f"no Google Cloud credentials ({error}): {CREDENTIALS_HELP}") from None


class GcsStore(ArtifactStore):
    """Keys are object names under `gs://bucket/prefix`; each object write is atomic on the server."""

    def __init__(self, root: str, client: storage.Client | None = None) -> None:
        self.bucket_name, self.prefix = split_gs_url(root)
        self.root = f"gs://{self.bucket_name}/{self.prefix}".rstrip("/")
        self.client = client or make_client()
        self.bucket = self.client.bucket(self.bucket_name)
        self._bucket_seen = False

    def __repr__(self) -> str:
        return f"GcsStore({self.root!r})"

    def object_name(self, key: str) -> str:
        """The object name of `key` inside the bucket (for sensors and hooks that take bucket + object)."""
        return object_name(self.prefix, key)

    def location(self, key: str) -> str:
        return f"gs://{self.bucket_name}/{self.object_name(key)}" if key else self.root

    def _blob(self, key: str) -> storage.Blob:
        return self.bucket.blob(self.object_name(check_key(key)))

    @contextmanager
    def _errors(self, key: str) -> Iterator[None]:
        """Turn client errors into StorageError messages that name the object and the fix."""
        import requests
        from google.api_core import exceptions as api
        from google.auth import exceptions as auth_exceptions

        where = self.location(key)
        try:
            yield
        except api.NotFound:
            self._check_bucket()
            raise StorageError(f"{where} not found: check the key/version or publish it first") from None
        except api.Forbidden as error:
            raise StorageError(
                f"permission denied on {where} ({error.message}): grant the account "
                f"roles/storage.objectAdmin on gs://{self.bucket_name}"
            ) from None
        except auth_exceptions.GoogleAuthError as error:
            raise StorageError(f"Google Cloud credentials failed for {where} ({error}): {CREDENTIALS_HELP}") from None
        except api.GoogleAPICallError as error:
            raise StorageError(f"{where}: {error.message}") from None
        except api.RetryError as error:  # transient failures until the client's retry deadline
            raise StorageError(f"{where}: gave up retrying ({error.cause or error}); try again later") from None
        except requests.exceptions.ConnectionError:
            emulator = os.environ.get("STORAGE_EMULATOR_HOST")
            target = f"the storage emulator at {emulator}" if emulator else "storage.googleapis.com"
            raise StorageError(f"cannot reach {target} for {where}: check the network and try again") from None

    def _check_bucket(self) -> None:
        """StorageError when the bucket itself is missing; checked once, when something is first not found."""
        from google.api_core import exceptions as api

        if self._bucket_seen:
            return
        try:
            self._bucket_seen = self.bucket.exists()
        except api.Forbidden:  # objectAdmin may not read bucket metadata; then the object is what is missing
            self._bucket_seen = True
        if not self._bucket_seen:
            raise StorageError(
                f"bucket gs://{self.bucket_name} not found: create it with "
                f"`gcloud storage buckets create gs://{self.bucket_name}` or fix BUCKET / --bucket"
            )

    def put_file(self, local: str | Path, key: str) -> None:
        local = Path(local)
        if not local.is_file():
            raise StorageError(f"{local} is not a file")
        with self._errors(key):
            self._blob(key).upload_from_filename(str(local))

    def get_file(self, key: str, local: str | Path) -> Path:
        local = Path(local)
        with self._errors(key), atomic_path(local) as tmp:
            self._blob(key).download_to_filename(str(tmp))
        return local

    def exists(self, key: str) -> bool:
        with self._errors(key):
            found = self._blob(key).exists()
            if not found:
                self._check_bucket()
            return found

    def list(self, prefix: str = "") -> list[str]:
        prefix = folder(prefix)
        start = len(self.object_name(""))
        with self._errors(prefix):
            names = [blob.name for blob in self.client.list_blobs(self.bucket_name, prefix=self.object_name(prefix))]
        # Names ending in '/' are the console's folder placeholders, not artifacts.
        return sorted(name[start:] for name in names if not name.endswith("/"))

    def read_bytes(self, key: str) -> bytes:
        with self._errors(key):
            return self._blob(key).download_as_bytes()

    def write_bytes(self, key: str, data: bytes) -> None:
        with self._errors(key):
            self._blob(key).upload_from_string(data)

    def delete(self, key: str) -> None:
        from google.api_core.exceptions import NotFound

        with self._errors(key), suppress(NotFound):
            self._blob(key).delete()

    def append_line(self, key: str, line: str) -> None:
        """Read, append and rewrite with an if-generation-match precondition; retry when another writer won."""
        from google.api_core.exceptions import NotFound, PreconditionFailed

        def read() -> tuple[bytes, int]:
            blob = self._blob(key)
            try:
                content = blob.download_as_bytes()
            except NotFound:
                return b"", 0  # generation 0 means "only if the object does not exist yet"
            return content, blob.generation

        def write(content: bytes, generation: int) -> bool:
            try:
                self._blob(key).upload_from_string(content, content_type="text/plain", if_generation_match=generation)
            except PreconditionFailed:
                return False
            return True

        with self._errors(key):
            append_with_retry(read, write, line, self.location(key))

    @contextmanager
    def lock(self, key: str, wait_s: float = LOCK_WAIT_S, stale_s: float = LOCK_STALE_S) -> Iterator[None]:
        """A lock object created only if absent (generation 0) and deleted only at the generation we created.

        Its age is the bucket's own creation time, so the holder's clock does not matter; a random
        token recognises our own lock when a create was retried after it had already succeeded.
        """
        from google.api_core.exceptions import NotFound, PreconditionFailed
        from google.cloud.storage.retry import DEFAULT_RETRY

        blob = self._blob(key)
        token = uuid.uuid4().hex
        holder = {"holder": f"{socket.gethostname()}:{os.getpid()}", "token": token}
        deadline = time.monotonic() + wait_s
        with self._errors(key):
            while True:
                # Looking first spares a doomed write; the precondition makes taking it atomic.
                held = self.bucket.get_blob(blob.name)
                if held is None:
                    try:
                        blob.upload_from_string(json.dumps(holder), "application/json", if_generation_match=0)
                        generation = blob.generation
                        break
                    except PreconditionFailed:
                        continue  # another holder created it first, or our retried create did
                generation = held.generation  # a download may reset it from headers the emulator lacks
                try:
                    other = json.loads(held.download_as_bytes(if_generation_match=generation))
                except (NotFound, PreconditionFailed):
                    continue
                except ValueError:  # not one of ours: name it, and let it go stale like any other
                    other = {"holder": "an unreadable holder"}
                if isinstance(other, dict) and other.get("token") == token:
                    break
                age = (datetime.now(UTC) - held.time_created).total_seconds()
                if age > stale_s:
                    with suppress(NotFound, PreconditionFailed):  # its holder died: take it over
                        held.delete(if_generation_match=generation)
                    continue
                if time.monotonic() >= deadline:
                    who = other.get("holder") if isinstance(other, dict) else None
                    raise StorageError(
                        f"{self.location(key)} is held by {who or 'another poster'} for {age:.0f} s; try again "
                        f"later, or delete that object if nothing is running (it is taken over after {stale_s:.0f} s)"
                    )
                time.sleep(0.25)
        try:
            yield
        finally:
            try:
                with self._errors(key), suppress(NotFound, PreconditionFailed):
                    blob.delete(if_generation_match=generation, retry=DEFAULT_RETRY.with_timeout(_RELEASE_RETRY_S))
            except StorageError as error:  # never hide the error that may be leaving the block
                log.warning("could not release %s (%s); it is taken over after %.0f s", key, error, stale_s)

    def matches(self, local: Path, key: str) -> bool:
        with self._errors(key):
            blob = self.bucket.get_blob(self.object_name(check_key(key)))
        if blob is None or blob.md5_hash is None or blob.size != local.stat().st_size:
            return False
        with open(local, "rb") as stream:
            digest = hashlib.file_digest(stream, lambda: hashlib.md5(usedforsecurity=False)).digest()
        return base64.b64encode(digest).decode("ascii") == blob.md5_hash
