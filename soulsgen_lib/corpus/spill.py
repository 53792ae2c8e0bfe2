"""The spill file between the build's two passes: blocks of marshalled records, each game's item names first.

Records wait on disk so that memory follows one file, not the whole input. marshal is the fastest serialiser of
plain tuples of str, int, float and list, and a spill is written and read by one process of one Python.
"""

from __future__ import annotations

import marshal
from collections.abc import Iterator
from typing import BinaryIO

_HEADER = 8  # bytes of a block's length
_NAMES, _RECORDS = "names", "records"


def names_block(names: dict[str, dict[int, str]]) -> bytes:
    """A block of item names by category, then id: they label the records that follow, up to the next names."""
    return marshal.dumps((_NAMES, names))


def records_block(records: list[tuple]) -> bytes:
    """A block of records (plain tuples); workers make these, the build only copies them to the spill."""
    return marshal.dumps((_RECORDS, records))


def write_block(handle: BinaryIO, block: bytes) -> None:
    """Append a block to the spill, behind its length."""
    handle.write(len(block).to_bytes(_HEADER, "little"))
    handle.write(block)


def read_records(handle: BinaryIO) -> Iterator[tuple[tuple, dict[str, dict[int, str]]]]:
    """Each spilled record with the item names in force (`marshal.load` on a file reads in tiny pieces: slow)."""
    names: dict[str, dict[int, str]] = {}
    while header := handle.read(_HEADER):
        kind, block = marshal.loads(handle.read(int.from_bytes(header, "little")))
        if kind == _NAMES:
            names = block
            continue
        for row in block:
            yield row, names
