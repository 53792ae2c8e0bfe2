"""What game text lies under some paths, table by table, and which tables a corpus build would keep."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from soulsgen_lib.gametext import DEFAULT_LANGUAGES, GameTextError
from soulsgen_lib.gametext import catalog as cat
from soulsgen_lib.gametext.sources import discover, read_tables, wanted_source


@dataclass(frozen=True)
class ScanRow:
    """One table found: where it lives, what the catalogue calls it, its entries with text, and if a build keeps it."""

    game: str
    language: str
    archive: str
    table: str
    kind: str
    entries: int
    kept: bool


@dataclass(frozen=True)
class ScanFilter:
    """What a build would keep: its games (empty: all), languages, table kinds and unknown tables taken in."""

    games: tuple[str, ...] = ()
    languages: tuple[str, ...] = DEFAULT_LANGUAGES
    kinds: tuple[str, ...] = cat.CORPUS_KINDS
    include_tables: tuple[str, ...] = ()

    def keeps(self, kind: str, table: str) -> bool:
        return kind in self.kinds or (kind == cat.UNKNOWN and table in self.include_tables)


def scan(paths: list[Path], selection: ScanFilter, max_bytes: int) -> Iterator[ScanRow | GameTextError]:
    """Every table under `paths` as a row, in file order; an unreadable file yields its error and the scan goes on."""
    files, _ = discover(paths, max_bytes)
    for source in files:
        selected = wanted_source(source, selection.games, selection.languages)
        try:
            for table in read_tables(source, lambda name: True, max_bytes):
                kind = cat.classify(table.name).kind
                yield ScanRow(
                    game=source.game,
                    language=source.language,
                    archive=str(source.path),
                    table=table.name,
                    kind=kind,
                    entries=sum(1 for _, text in table.entries if text),
                    kept=selected and selection.keeps(kind, table.name),
                )
        except GameTextError as error:
            yield error
