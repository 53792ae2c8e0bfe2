"""Read FromSoftware game text (FMG tables as XML or binary, BND3/BND4 binders, DCX containers) and clean it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from soulsgen_lib.errors import SoulsgenError

MAX_FILE_BYTES = 256 << 20  # the default limit on a file's size, or an archive's declared unpacked size
DEFAULT_LANGUAGES = ("engus",)  # English: a build reads it, and files whose language is not known


class GameTextError(SoulsgenError):
    """Game text that cannot be read: the message names the file (and line or offset) and what to do."""


def check_file_size(path: Path, max_bytes: int) -> None:
    """Raise GameTextError when the file is larger than `max_bytes` (OSError when it cannot be read)."""
    size = path.stat().st_size
    if size > max_bytes:
        raise GameTextError(
            f"{path}: {size / 2**20:.0f} MiB is over the {max_bytes / 2**20:.0f} MiB limit "
            "(raise --max-file-mib if the file is genuine)"
        )


@dataclass
class FmgTable:
    """One text table: `entries` are (id, text) in file order; text None means the entry has no text."""

    name: str
    entries: list[tuple[int, str | None]]
    source: str
    version: str = ""
    big_endian: bool = False
