"""The artifact store interface and the logic both backends share (folders, publishing, pointers)."""

from __future__ import annotations

import os
import random
import shutil
import sys
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from soulsgen_lib.storage.layout import StorageError, check_kind, check_version, latest_key, version_key

LOCK_WAIT_S = 120.0
# Longer than the longest post: X rate-limit waits alone may hold a post for about an hour.
LOCK_STALE_S = 7200.0


class ArtifactStore(ABC):
    """Files under string keys like `corpus/v1/train.txt`, in a local folder or a bucket.

    Prefixes are folders: `list("corpus/v1")` covers `corpus/v1/...` but not `corpus/v10/...`.
    Hidden files (names starting with '.') are temporary or lock files and are never transferred.
    """

    root: str

    @abstractmethod
    def location(self, key: str) -> str:
        """The full path or gs:// URL of `key`, for messages and logs."""

    @abstractmethod
    def put_file(self, local: str | Path, key: str) -> None:
        """Copy a local file to `key`, replacing it."""

    @abstractmethod
    def get_file(self, key: str, local: str | Path) -> Path:
        """Copy `key` to a local file (written atomically) and return its path."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether an object (not a folder) is stored at `key`."""

    @abstractmethod
    def list(self, prefix: str = "") -> list[str]:
        """Every key under the folder `prefix`, sorted."""

    @abstractmethod
    def read_bytes(self, key: str) -> bytes:
        """The content of `key`; StorageError when it is missing."""

    @abstractmethod
    def write_bytes(self, key: str, data: bytes) -> None:
        """Store `data` at `key` in one step (readers see the old or the new content, never a mix)."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove `key`; a missing key is not an error."""

    @abstractmethod
    def append_line(self, key: str, line: str) -> None:
        """Append one line to the text object `key` without losing a concurrent writer's line."""

    @abstractmethod
    def lock(
        self, key: str, wait_s: float = LOCK_WAIT_S, stale_s: float = LOCK_STALE_S
    ) -> AbstractContextManager[None]:
        """Hold the lock `key` for the `with` block: one holder at a time across processes and machines.

        Waits up to `wait_s` for another holder, then raises StorageError naming it. A lock left by a
        holder that died is taken over once it is `stale_s` old (a local lock ends with its process).
        """

    @abstractmethod
    def matches(self, local: Path, key: str) -> bool:
        """Whether `key` already holds exactly the content of the local file."""

    def read_text(self, key: str) -> str:
        return self.read_bytes(key).decode("utf-8")

    def write_text(self, key: str, text: str) -> None:
        self.write_bytes(key, text.encode("utf-8"))

    def put_dir(self, local_dir: str | Path, prefix: str, progress: bool = True) -> list[str]:
        """Copy every file of `local_dir` under `prefix`, skipping files already stored unchanged; return the keys."""
        files = local_files(local_dir)
        prefix = folder(prefix)
        keys = []
        for path in tqdm(files, desc=f"upload {self.location(prefix)}", unit="file", **_bar(progress, len(files))):
            key = prefix + path.relative_to(local_dir).as_posix()
            if not self.matches(path, key):
                self.put_file(path, key)
            keys.append(key)
        return keys

    def replace_dir(self, local_dir: str | Path, prefix: str, progress: bool = True) -> list[str]:
        """Make `prefix` hold exactly the files of `local_dir` (stored files it lacks are removed); return the keys."""
        keys = self.put_dir(local_dir, prefix, progress=progress)
        for stale in sorted(set(self.list(prefix)) - set(keys)):
            self.delete(stale)
        return keys

    def get_dir(self, prefix: str, local_dir: str | Path, progress: bool = True) -> list[Path]:
        """Copy every object under `prefix` into `local_dir`; files appear only once all are downloaded."""
        prefix = folder(prefix)
        keys = self.list(prefix)
        if not keys:
            raise StorageError(f"nothing stored under {self.location(prefix)}: check the version and the store root")
        local_dir = Path(local_dir)
        local_dir.mkdir(parents=True, exist_ok=True)
        # Stage inside the target so the final renames stay on one file system.
        staging = Path(tempfile.mkdtemp(prefix=".download-", suffix=".tmp", dir=local_dir))
        try:
            for key in tqdm(keys, desc=f"download {self.location(prefix)}", unit="file", **_bar(progress, len(keys))):
                self.get_file(key, staging / key[len(prefix) :])
            targets = []
            for key in keys:
                relative = key[len(prefix) :]
                target = local_dir / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging / relative, target)
                targets.append(target)
            return targets
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def publish(self, kind: str, version: str, local_dir: str | Path, progress: bool = True) -> str:
        """Store a complete version, then point `latest` at it; return the version's location."""
        location = self.upload(kind, version, local_dir, progress=progress)
        self.point_latest(kind, version)
        return location

    def upload(self, kind: str, version: str, local_dir: str | Path, progress: bool = True) -> str:
        """Store a complete version without moving `latest`; return the version's location.

        Re-uploading a version makes it equal to `local_dir` again (unchanged files are not re-sent,
        files no longer present are removed), so a retried task never leaves a mix. For `mar`,
        `local_dir` may be the .mar file itself or a folder holding exactly one.
        """
        key = version_key(kind, version)
        if kind == "mar":
            archive = single_archive(Path(local_dir))
            if not self.matches(archive, key):
                self.put_file(archive, key)
        else:
            self.replace_dir(local_dir, key, progress=progress)
        return self.location(key)

    def point_latest(self, kind: str, version: str) -> None:
        """Make `version` the one `latest` names; call it only once the version is completely stored."""
        self.write_text(latest_key(kind), check_version(version) + "\n")

    def latest(self, kind: str) -> str | None:
        """The most recently published (complete) version of `kind`, or None when there is none."""
        pointer = latest_key(kind)
        if not self.exists(pointer):
            return None
        return check_version(self.read_text(pointer).strip())

    def resolve(self, kind: str, version: str | None = "latest") -> str:
        """An explicit version, or the one `latest` names; StorageError when nothing is published."""
        if version and version != "latest":
            return check_version(version)
        found = self.latest(kind)
        if found is None:
            raise StorageError(
                f"no {kind} published in {self.root} yet: publish one with "
                f"`soulsgen upload DIR --kind {kind} --version V` (or run the pipeline)"
            )
        return found

    def download(self, kind: str, version: str | None, out_dir: str | Path, progress: bool = True) -> Path:
        """Fetch a version (or `latest`) into `out_dir`; return the folder, or the .mar file for `mar`."""
        version = self.resolve(check_kind(kind), version)
        key = version_key(kind, version)
        out_dir = Path(out_dir)
        if kind == "mar":
            return self.get_file(key, out_dir / PurePosixPath(key).name)
        self.get_dir(key, out_dir, progress=progress)
        return out_dir


def append_with_retry(
    read: Callable[[], tuple[bytes, int]],
    write: Callable[[bytes, int], bool],
    line: str,
    where: str,
    attempts: int = 8,
    pause: float = 0.05,
) -> int:
    """Append `line` by read-modify-write: `read` gives (content, generation), `write(content, generation)`
    stores only if the object is still at that generation and returns False when another writer got there
    first. Retries with jittered backoff; returns the number of attempts used."""
    line = check_line(line)
    for attempt in range(1, attempts + 1):
        content, generation = read()
        if content and not content.endswith(b"\n"):
            content += b"\n"
        if write(content + line.encode("utf-8") + b"\n", generation):
            return attempt
        time.sleep(pause * attempt * random.random())
    raise StorageError(f"could not append to {where}: {attempts} attempts lost to concurrent writers, try again")


def check_line(line: str) -> str:
    line = line.rstrip("\n")
    if "\n" in line:
        raise StorageError("append_line takes one line: the text contains a newline")
    return line


def check_key(key: str) -> str:
    """Keys are relative POSIX paths without '..' so they map safely onto folders and buckets."""
    parts = key.split("/")
    if not key or key.startswith("/") or "\\" in key or any(part in ("", ".", "..") for part in parts):
        raise StorageError(f"invalid key {key!r}: use a relative path like corpus/v1/train.txt")
    return key


def folder(prefix: str) -> str:
    """`prefix` as a folder prefix ending in '/', or '' for the whole store."""
    prefix = prefix.strip("/")
    return f"{check_key(prefix)}/" if prefix else ""


def local_files(local_dir: str | Path) -> list[Path]:
    """The non-hidden files under a local folder, sorted; StorageError when there are none."""
    local_dir = Path(local_dir)
    if not local_dir.is_dir():
        raise StorageError(f"{local_dir} is not a folder: pass the folder to upload")
    files = sorted(
        path
        for path in local_dir.rglob("*")
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(local_dir).parts)
    )
    if not files:
        raise StorageError(f"{local_dir} has no files to upload")
    return files


def single_archive(path: Path) -> Path:
    """The .mar file at `path`, or the only .mar file inside the folder `path`."""
    if path.is_file() and path.suffix == ".mar":
        return path
    archives = sorted(path.glob("*.mar")) if path.is_dir() else []
    if len(archives) != 1:
        raise StorageError(f"{path}: expected a .mar file or a folder with exactly one, found {len(archives)}")
    return archives[0]


def _bar(progress: bool, count: int) -> dict:
    return {"disable": not progress or count < 2, "file": sys.stderr, "leave": False}
