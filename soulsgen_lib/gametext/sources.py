"""Find game text under the paths a user gives, by content: XML exports, loose FMG tables, binders, DCX archives.

Files are recognised by their first bytes, never by their names: a renamed archive is read like any other.
Each file's game and language come from its binder's member paths, else from its table names and folders.
"""

from __future__ import annotations

import re
import struct
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from soulsgen_lib.gametext import MAX_FILE_BYTES, FmgTable, GameTextError, games
from soulsgen_lib.gametext.binary import read_binary_tables, table_name_of_member
from soulsgen_lib.gametext.binder import is_binder, member_names
from soulsgen_lib.gametext.dcx import is_dcx, read_dcx
from soulsgen_lib.gametext.fmgbin import looks_like_fmg
from soulsgen_lib.gametext.xmlfmg import declared_table_name, read_fmg_xml

XML = "xml"
BINARY = "binary"
_BINARY_SUFFIXES = (".fmg", ".msgbnd", ".bnd", ".dcx")
# Copies the modding tools keep of a file they overwrite: read only when named explicitly.
_BACKUP = re.compile(r"\.(bak|prev|old|backup|orig)$|~$", re.IGNORECASE)
_SNIFF_BYTES = 2048
_HEADER_PEEK = 1 << 18  # unpacked bytes read to find a binder's member names (its header comes first)
_PEEK_READ = 1 << 20  # bytes of the file read for that: one packed Kraken block at most, and the DCX header


@dataclass(frozen=True)
class SourceFile:
    """A file to read: its format (XML export or binary), the game and language it holds (`""`: not known)."""

    path: Path
    game: str
    format: str
    language: str = games.UNKNOWN_LANGUAGE
    member_tables: tuple[str, ...] = field(default=(), repr=False)  # a binder's table names, for game detection


def discover(paths: list[Path], max_bytes: int = MAX_FILE_BYTES) -> tuple[list[SourceFile], list[Path]]:
    """Every game-text file under `paths` in a stable order, and the files that were passed over.

    A file named in `paths` is read whatever its name and fails clearly when it holds no game text; inside a
    folder, files that are not game text (or are backup copies) are passed over.
    """
    found: list[SourceFile] = []
    ignored: list[Path] = []
    for root in paths:
        if not root.exists():
            raise GameTextError(f"{root}: no such file or folder")
        if root.is_file():
            found.append(_explicit_source(root, max_bytes))
            continue
        files = sorted(p for p in root.rglob("*") if p.is_file())
        present = set(files)
        for path in files:
            source = None
            if not _BACKUP.search(path.name) and not _unpacked_copy_exists(path, present):
                source = _source_of(path, max_bytes)
            if source is None:
                ignored.append(path)
            else:
                found.append(source)
    return _settle_games(found), ignored


def _explicit_source(path: Path, max_bytes: int) -> SourceFile:
    source = _source_of(path, max_bytes, explicit=True)
    if source is None:
        with path.open("rb") as handle:
            start = handle.read(4)
        raise GameTextError(
            f"{path}: not game text: expected an FMG table, a BND3/BND4 binder, a DCX archive or an FMG XML export "
            f"(starts with {start!r})"
        )
    return source


def _source_of(path: Path, max_bytes: int, explicit: bool = False) -> SourceFile | None:
    """The file as a source, its game and language filled in from its binder when it has one; None if not text."""
    try:
        with path.open("rb") as handle:
            head = handle.read(_SNIFF_BYTES)
        size = path.stat().st_size
    except OSError as error:
        raise GameTextError(f"{path}: cannot read: {error.strerror or error}") from None
    if b"<fmg>" in head or b"<fmg " in head:
        return SourceFile(path, games.UNKNOWN_GAME, XML)
    if is_dcx(head) or is_binder(head):
        names = [name for name in _binder_member_names(path, max_bytes) or [] if name]
        if names and not any(name.lower().endswith(".fmg") for name in names):
            if explicit:
                raise GameTextError(f"{path}: this archive holds no FMG text tables (its first member: {names[0]!r})")
            return None
        game = games.game_of_members(names) or games.UNKNOWN_GAME
        tables = tuple(table_name_of_member(name) for name in names)
        return SourceFile(path, game, BINARY, games.language_of_members(names), tables)
    # A name never hides a file, but a broken file named as game text is still read, so that its error is shown.
    if path.name.lower().endswith(".fmg.xml"):
        return SourceFile(path, games.UNKNOWN_GAME, XML)
    if _is_fmg_file(head, size) or (explicit and looks_like_fmg(head)) or path.name.lower().endswith(_BINARY_SUFFIXES):
        return SourceFile(path, games.UNKNOWN_GAME, BINARY)
    return None


def _is_fmg_file(head: bytes, size: int) -> bool:
    """True when `head` starts an FMG header whose declared file size is this file's (FMG has no magic word)."""
    if len(head) < 0x1C or not looks_like_fmg(head) or head[2] not in (0, 1, 2):
        return False
    (declared,) = struct.unpack_from(">i" if head[1] == 1 else "<i", head, 4)
    return declared == size


def _binder_member_names(path: Path, max_bytes: int) -> list[str] | None:
    """The member names of a binder or DCX-packed binder, from the file's start; None when unreadable.

    Only the start is read, so a folder of large archives that hold no text is passed over quickly. An unreadable
    file stays a source: reading it in full later gives the error with the whole story.
    """
    try:
        with path.open("rb") as handle:
            data = handle.read(_PEEK_READ)
        if is_dcx(data):
            data = read_dcx(data, str(path), max_bytes, head=_HEADER_PEEK)
        return member_names(data, str(path)) if is_binder(data) else []
    except (GameTextError, OSError):
        return None


def _settle_games(found: list[SourceFile]) -> list[SourceFile]:
    """Each file's game and language where its binder did not say: from table names, then folder names.

    Exports and loose tables are judged a folder at a time, so one game's tables are never split between two;
    a binder by its own tables.
    """
    tables_by_folder: dict[Path, list[str]] = defaultdict(list)
    for source in found:
        if not source.member_tables:
            tables_by_folder[source.path.parent].append(_table_name(source))
    settled = []
    for source in found:
        folders = source.path.parent.parts[::-1]  # nearest first
        language = source.language or games.language_of_folder(folders)
        game = source.game
        if game == games.UNKNOWN_GAME:
            tables = source.member_tables or tables_by_folder[source.path.parent]
            by_tables, certain = games.game_of_tables(tables)
            by_folder = games.game_of_folder(folders)
            game = (by_tables if certain else by_folder or by_tables) or games.UNKNOWN_GAME
        settled.append(replace(source, game=game, language=language))
    return settled


def _table_name(source: SourceFile) -> str:
    return declared_table_name(source.path) if source.format == XML else table_name_of_member(source.path.name)


def _unpacked_copy_exists(path: Path, present: set[Path]) -> bool:
    """True for a binary that Yabber/WitchyBND already unpacked beside itself; reading both would double the text.

    `Weapon_name_.fmg` has `Weapon_name_.fmg.xml` beside it; `item.msgbnd.dcx` has the folder `item-msgbnd-dcx/`.
    """
    if not path.name.lower().endswith(_BINARY_SUFFIXES):
        return False
    if path.with_name(path.name + ".xml") in present:
        return True
    return path.with_name(path.name.replace(".", "-")).is_dir()


def wanted_source(source: SourceFile, game_ids: Iterable[str], languages: Iterable[str]) -> bool:
    """True when a build asked for the file's game (no games: every game) and language (unknown: always)."""
    game_ids = tuple(game_ids)
    if game_ids and source.game not in game_ids:
        return False
    return source.language == games.UNKNOWN_LANGUAGE or source.language in tuple(languages)


def read_tables(source: SourceFile, wanted: Callable[[str], bool], max_bytes: int) -> Iterator[FmgTable]:
    """The tables of `source` whose name passes `wanted`; binders holding a table twice give the newer copy."""
    if source.format == XML:
        if wanted(declared_table_name(source.path)):
            yield read_fmg_xml(source.path, max_bytes)
        return
    yield from read_binary_tables(source.path, wanted, max_bytes)
