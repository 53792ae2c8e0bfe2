"""Read the games' own files: loose `.fmg` tables, BND3/BND4 binders, and either of them inside a DCX."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

from soulsgen_lib.gametext import FmgTable, GameTextError, check_file_size
from soulsgen_lib.gametext.binder import is_binder, read_binder
from soulsgen_lib.gametext.catalog import binder_table_name
from soulsgen_lib.gametext.dcx import is_dcx, read_dcx
from soulsgen_lib.gametext.fmgbin import looks_like_fmg, read_fmg

_EXTENSIONS = re.compile(r"(\.fmg|\.msgbnd|\.bnd|\.dcx)+$", re.IGNORECASE)


def table_name_of_member(name: str) -> str:
    """`N:\\FDP\\data\\msg\\engUS\\64bit\\武器うんちく.fmg` -> `武器うんちく`."""
    return _EXTENSIONS.sub("", name.replace("\\", "/").rsplit("/", 1)[-1])


def unpack(data: bytes, source: str, max_bytes: int) -> bytes:
    """`data` with any DCX layer removed."""
    return read_dcx(data, source, max_bytes) if is_dcx(data) else data


def read_binary_tables(path: Path, wanted: Callable[[str], bool], max_bytes: int) -> Iterator[FmgTable]:
    """Tables in a loose FMG or a binder (DCX-packed or not) whose name passes `wanted`.

    A binder may hold one table twice (Dark Souls Remastered patch tables): the copy with the higher file id
    is newer, so its entries replace the older copy's, entry by entry.
    """
    try:
        check_file_size(path, max_bytes)
        data = unpack(path.read_bytes(), str(path), max_bytes)
    except OSError as error:
        raise GameTextError(f"{path}: cannot read: {error.strerror or error}") from None
    if is_binder(data):
        merged: dict[str, FmgTable] = {}
        for member in sorted(read_binder(data, str(path)), key=lambda member: member.id):
            if member.name and not member.name.lower().endswith(".fmg"):
                continue  # binders can hold other files; only FMG members are text tables
            name = binder_table_name(table_name_of_member(member.name), member.id)
            if not wanted(name):
                continue
            source = f"{path}[{_printable(member.name) or member.id}]"
            table = read_fmg(unpack(member.data, source, max_bytes), name, source)
            if name in merged:
                merged[name] = _overlay(merged[name], table)
            else:
                merged[name] = table
        yield from merged.values()
    elif looks_like_fmg(data):
        name = table_name_of_member(path.name)
        if wanted(name):
            yield read_fmg(data, name, str(path))
    else:
        raise GameTextError(f"{path}: not an FMG table, BND3/BND4 binder or DCX (starts with {data[:4]!r})")


def _printable(name: str) -> str:
    """A member name fit for a one-line message: control characters (a corrupt binder's) written as escapes."""
    return "".join(character if character.isprintable() else repr(character)[1:-1] for character in name)


def _overlay(older: FmgTable, newer: FmgTable) -> FmgTable:
    texts = dict(older.entries)
    texts.update((entry_id, text) for entry_id, text in newer.entries if text is not None)
    return FmgTable(newer.name, sorted(texts.items()), newer.source, newer.version, newer.big_endian)
