"""Find game text under the paths a user gives: folders (recursively), XML exports, loose FMG files, binders."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from soulsgen_lib.gametext import FmgTable, GameTextError
from soulsgen_lib.gametext.xmlfmg import read_fmg_xml, table_name_of

XML = "xml"
BINARY = "binary"
_BINARY_SUFFIXES = (".fmg", ".msgbnd", ".bnd", ".dcx")
# Folder names that say nothing about the game: unpacked binders, language and layout folders.
_UNINFORMATIVE = re.compile(
    r"^(msg|menu|text|data|64bit|win64|engus|enggb|english|eng|en|en_us|enus|.*-(msgbnd|bnd|fmg)(-dcx)?)$",
    re.IGNORECASE,
)
_SNIFF_BYTES = 2048


@dataclass(frozen=True)
class SourceFile:
    """A file to read, the game it belongs to (a folder name) and whether it is an XML export or binary."""

    path: Path
    game: str
    format: str


def discover(paths: list[Path]) -> tuple[list[SourceFile], list[Path]]:
    """Every readable game-text file under `paths` in a stable order, and the files that were passed over."""
    found: list[SourceFile] = []
    ignored: list[Path] = []
    for root in paths:
        if not root.exists():
            raise GameTextError(f"{root}: no such file or folder")
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        present = set(files)
        for path in files:
            kind = _format_of(path)
            if kind is None or _unpacked_copy_exists(path, present):
                ignored.append(path)
            else:
                found.append(SourceFile(path, game_of(path, root), kind))
    return found, ignored


def _format_of(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(".fmg.xml"):
        return XML
    if name.endswith(".xml"):
        # Yabber and WitchyBND leave binder manifests (`_yabber-bnd4.xml`) beside the tables: look inside.
        with path.open("rb") as handle:
            head = handle.read(_SNIFF_BYTES)
        return XML if b"<fmg>" in head or b"<fmg " in head else None
    if name.endswith(_BINARY_SUFFIXES):
        return BINARY
    return None


def _unpacked_copy_exists(path: Path, present: set[Path]) -> bool:
    """True for a binary that Yabber/WitchyBND already unpacked beside itself; reading both would double the text.

    `Weapon_name_.fmg` has `Weapon_name_.fmg.xml` beside it; `item.msgbnd.dcx` has the folder `item-msgbnd-dcx/`.
    """
    if not path.name.lower().endswith(_BINARY_SUFFIXES):
        return False
    if path.with_name(path.name + ".xml") in present:
        return True
    return path.with_name(path.name.replace(".", "-")).is_dir()


def game_of(path: Path, root: Path) -> str:
    """The game a file belongs to: the nearest folder, from the file up to `root`, whose name says something."""
    root = root if root.is_dir() else path.parent
    folder = path.parent
    while True:
        if not _UNINFORMATIVE.match(folder.name) and folder.name:
            return folder.name
        if folder == root or folder.parent == folder:
            break
        folder = folder.parent
    return root.resolve().name or "game"


def read_tables(source: SourceFile, wanted: Callable[[str], bool], max_bytes: int) -> Iterator[FmgTable]:
    """The tables of `source` whose name passes `wanted`; binders holding a table twice give the newer copy."""
    if source.format == XML:
        if wanted(table_name_of(source.path)):
            yield read_fmg_xml(source.path)
        return
    from soulsgen_lib.gametext.binary import read_binary_tables

    yield from read_binary_tables(source.path, wanted, max_bytes)
