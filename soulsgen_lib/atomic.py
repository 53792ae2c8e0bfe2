"""Write files and folders so that a failure never leaves a half-written artifact behind, and a command
writes only into a folder that is new, empty, or its own earlier output.

Temporary files and folders sit beside their target as `.<name>.<random>.tmp` and are locked (flock) while
their process lives; a later write of the same target deletes the unlocked ones a killed run left.
"""

from __future__ import annotations

import fcntl
import glob
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from soulsgen_lib.errors import SoulsgenError

# mkstemp makes 0600 files; artifacts are shared (TorchServe, other users), so give them the umask's mode.
_UMASK = os.umask(0)
os.umask(_UMASK)
_FILE_MODE = 0o666 & ~_UMASK
_DIR_MODE = 0o777 & ~_UMASK
_TEMP_SUFFIX = ".tmp"  # a new file or folder being written
_ASIDE_SUFFIX = ".old"  # a replaced folder, between the swap and its deletion
# `.<target name>.<mkstemp's 8 random characters><suffix>`
_TEMP_NAME = re.compile(rf"\.(.+)\.[a-z0-9_]{{8}}({re.escape(_TEMP_SUFFIX)}|{re.escape(_ASIDE_SUFFIX)})")
_SHOWN_NAMES = 5  # foreign files named in an error, at most


class OutputFolderError(SoulsgenError):
    """An output folder that must not be written: a file, a source, or a folder of other files."""


@dataclass(frozen=True)
class OutputKind:
    """A kind of folder a command writes, and how to recognise its earlier output there."""

    name: str  # as messages call it, e.g. "corpus folder"
    markers: tuple[str, ...]  # glob patterns: a folder holding a match is an earlier output of this kind
    # The names an output holds, for a folder replaced whole: then any other file in it makes it someone else's.
    files: tuple[str, ...] | None = None


def check_output_folder(target: str | Path, kind: OutputKind, sources: Iterable[str | Path] = ()) -> Path:
    """The resolved `target` if a command may write its `kind` of output there, else an `OutputFolderError`.

    Allowed: a missing or empty folder, or an earlier output of the same kind (recognised by its markers).
    Refused: a file, a folder that is, holds or lies inside one of `sources`, and any other folder.
    """
    given = Path(target)
    path = given.resolve()
    if path.exists() and not path.is_dir():
        raise OutputFolderError(f"{given} is a file, not a folder: give a folder path for the {kind.name}")
    blocking = next((parent for parent in path.parents if parent.exists() and not parent.is_dir()), None)
    if blocking is not None:
        raise OutputFolderError(f"{given} lies under the file {blocking}: give a folder path for the {kind.name}")
    for source in sources:
        source_path = Path(source).resolve()
        if path == source_path:
            raise OutputFolderError(f"{given} is the source {source}: choose another folder for the {kind.name}")
        if path in source_path.parents:
            raise OutputFolderError(
                f"{given} holds the source {source}: choose a folder apart from it for the {kind.name}"
            )
        if source_path in path.parents:
            raise OutputFolderError(
                f"{given} lies inside the source {source}: choose a folder outside it for the {kind.name}"
            )
    if kind.files is not None and (path == Path.cwd() or path in Path.cwd().parents):
        raise OutputFolderError(
            f"{given} is the current folder or holds it, and a {kind.name} is replaced whole: "
            "name a new folder inside it"
        )
    if not path.exists():
        return path
    try:
        names = sorted(entry.name for entry in path.iterdir())
    except OSError as error:
        raise OutputFolderError(f"{given}: cannot list the folder ({error.strerror})") from None
    if not names:
        return path
    if not any(any(path.glob(marker)) for marker in kind.markers):
        raise OutputFolderError(
            f"{given} is not empty ({_some(names)}) and is no earlier {kind.name}: "
            f"choose a new or empty folder, or move those files away"
        )
    foreign = [name for name in names if kind.files is not None and name not in kind.files]
    if foreign:
        raise OutputFolderError(
            f"{given} is an earlier {kind.name} that also holds {_some(foreign)}, which replacing it would delete: "
            "move them away or choose another folder"
        )
    return path


def _some(names: list[str]) -> str:
    shown = ", ".join(names[:_SHOWN_NAMES])
    return shown if len(names) <= _SHOWN_NAMES else f"{shown} and {len(names) - _SHOWN_NAMES} more"


@contextmanager
def atomic_path(target: str | Path, mode: int | None = None) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success it replaces `target` in one rename.

    The file gets `mode`, or the umask's usual mode; mkstemp creates it 0600, so a private file
    (mode=0o600) is never readable by others, not even while it is being written. A symlinked
    `target` is written through: the link stays and its file is replaced.
    """
    target = Path(target).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(target)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=_TEMP_SUFFIX, dir=target.parent)
    tmp = Path(tmp_name)
    try:
        _hold_lock(fd)
        yield tmp
        os.chmod(tmp, _FILE_MODE if mode is None else mode)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
        os.close(fd)


def write_text_atomic(target: str | Path, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_bytes_atomic(target: str | Path, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


@contextmanager
def atomic_dir(target: str | Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside `target`; on success it takes `target`'s place.

    The previous `target` is moved aside first and deleted only after the new folder is in place;
    if this process is killed between the two renames, the next write of `target` puts it back.
    Check the target with `check_output_folder` first: whatever it holds is replaced.
    """
    target = Path(target).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(target)
    with _locked_temp_dir(target, _TEMP_SUFFIX) as tmp:
        try:
            yield tmp
            os.chmod(tmp, _DIR_MODE)
            if not target.exists():
                os.replace(tmp, target)
                return
            with _locked_temp_dir(target, _ASIDE_SUFFIX) as aside:
                os.replace(target, aside / target.name)
                os.replace(tmp, target)
                shutil.rmtree(aside, ignore_errors=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def _locked_temp_dir(target: Path, suffix: str) -> Iterator[Path]:
    """A new hidden folder beside `target`, locked for as long as this process holds it."""
    folder = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent))
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        _hold_lock(fd)
        yield folder
    finally:
        os.close(fd)


def _hold_lock(fd: int) -> None:
    """Lock `fd` until it is closed; the kernel releases the lock when this process ends, however it ends."""
    # On a filesystem without locks, go without: the cleaner cannot lock there either, so it deletes nothing.
    with suppress(OSError):
        fcntl.flock(fd, fcntl.LOCK_EX)


def remove_stale_temps(target: str | Path) -> list[Path]:
    """Delete the temporary files and folders of `target` that no live process holds; return them.

    A folder moved aside during a swap is put back in `target`'s place when `target` is missing.
    """
    target = Path(target)
    removed = []
    for candidate in target.parent.glob(f".{glob.escape(target.name)}.*"):
        match = _TEMP_NAME.fullmatch(candidate.name)
        if match is None or match.group(1) != target.name or candidate.is_symlink():
            continue
        try:
            fd = os.open(candidate, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # a live process is writing it (or this filesystem has no locks: leave it)
            os.close(fd)
            continue
        try:
            if match.group(2) == _ASIDE_SUFFIX and not target.exists() and (candidate / target.name).is_dir():
                os.replace(candidate / target.name, target)
            if candidate.is_dir():
                shutil.rmtree(candidate, ignore_errors=True)
            else:
                candidate.unlink(missing_ok=True)
            removed.append(candidate)
        finally:
            os.close(fd)
    return removed
