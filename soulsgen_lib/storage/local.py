"""An artifact store in a local folder (the default: SOULSGEN_HOME)."""

from __future__ import annotations

import fcntl
import filecmp
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from soulsgen_lib.atomic import atomic_path, write_bytes_atomic
from soulsgen_lib.storage.base import LOCK_STALE_S, LOCK_WAIT_S, ArtifactStore, check_key, check_line, folder
from soulsgen_lib.storage.layout import StorageError


class LocalStore(ArtifactStore):
    """Keys are paths under `root`; every write goes to a temporary file renamed into place."""

    def __init__(self, root: str | Path) -> None:
        self.path = Path(root).expanduser()
        self.root = str(self.path)

    def __repr__(self) -> str:
        return f"LocalStore({self.root!r})"

    def location(self, key: str) -> str:
        return str(self.path / key) if key else self.root

    def _file(self, key: str) -> Path:
        return self.path / check_key(key)

    @contextmanager
    def _errors(self, path: Path) -> Iterator[None]:
        try:
            yield
        except OSError as error:
            reason = error.strerror or error
            raise StorageError(f"{path}: {reason}; check the folder's permissions and free space") from None

    def put_file(self, local: str | Path, key: str) -> None:
        local, target = Path(local), self._file(key)
        if not local.is_file():
            raise StorageError(f"{local} is not a file")
        if local.resolve() == target.resolve():
            return
        with self._errors(target), atomic_path(target) as tmp:
            shutil.copyfile(local, tmp)

    def get_file(self, key: str, local: str | Path) -> Path:
        source, local = self._file(key), Path(local)
        if not source.is_file():
            raise StorageError(f"{source} not found: check the key/version or publish it first")
        if source.resolve() != local.resolve():
            with self._errors(local), atomic_path(local) as tmp:
                shutil.copyfile(source, tmp)
        return local

    def exists(self, key: str) -> bool:
        return self._file(key).is_file()

    def list(self, prefix: str = "") -> list[str]:
        base = self.path / folder(prefix)
        if not base.is_dir():
            return []
        return sorted(
            path.relative_to(self.path).as_posix()
            for path in base.rglob("*")
            if path.is_file() and not any(part.startswith(".") for part in path.relative_to(base).parts)
        )

    def read_bytes(self, key: str) -> bytes:
        path = self._file(key)
        if not path.is_file():
            raise StorageError(f"{path} not found: check the key/version or publish it first")
        return path.read_bytes()

    def write_bytes(self, key: str, data: bytes) -> None:
        path = self._file(key)
        with self._errors(path):
            write_bytes_atomic(path, data)

    def delete(self, key: str) -> None:
        self._file(key).unlink(missing_ok=True)

    def append_line(self, key: str, line: str) -> None:
        line = check_line(line)
        path = self._file(key)
        with self._errors(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            # A lock file serialises writers: the data file is replaced by rename, so it cannot hold the lock.
            with open(path.with_name(f".{path.name}.lock"), "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                content = path.read_bytes() if path.is_file() else b""
                if content and not content.endswith(b"\n"):
                    content += b"\n"
                write_bytes_atomic(path, content + line.encode("utf-8") + b"\n")

    @contextmanager
    def lock(self, key: str, wait_s: float = LOCK_WAIT_S, stale_s: float = LOCK_STALE_S) -> Iterator[None]:
        path = self._file(key)
        with self._errors(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(path, "a")  # noqa: SIM115 - the lock lives as long as this open file
        deadline = time.monotonic() + wait_s
        try:
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise StorageError(
                            f"{path} is held by another process for over {wait_s:.0f} s; try again later"
                        ) from None
                    time.sleep(0.1)
            yield
        finally:
            handle.close()  # closing the file releases the lock

    def matches(self, local: Path, key: str) -> bool:
        target = self._file(key)
        return target.is_file() and filecmp.cmp(local, target, shallow=False)
