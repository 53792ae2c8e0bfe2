"""Fixtures of the corpus stage: tiny game-text tables written by the tests, and a small built corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from soulsgen_lib.corpus import build_corpus
from soulsgen_lib.gametext import FmgTable
from soulsgen_lib.gametext.xmlfmg import fmg_xml_bytes

SAMPLE_DATA = Path(__file__).resolve().parent.parent / "sample_data"

Entries = list[tuple[int, str | None]]


def write_table(folder: Path, name: str, entries: Entries, version: str = "DarkSouls1") -> Path:
    """Write one table as a Yabber-style XML export (BOM, CRLF) and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.fmg.xml"
    path.write_bytes(fmg_xml_bytes(FmgTable(name, entries, "", version=version)))
    return path


TINY_TABLES: dict[str, Entries] = {
    "Weapon_name_": [(100, "Ashwood Spear"), (101, "Ashwood Spear+1"), (102, "Ashwood Spear+2"), (200, "Pale Rod")],
    "Weapon_long_desc_": [
        (100, "A spear of ashwood, carried by the wardens of the fen.\n\nIt still smells of rain and smoke."),
        (101, "A spear of ashwood, carried by the wardens of the fen.\n\nIt still smells of rain and smoke."),
        (102, "A spear of ashwood, carried by the wardens of the fen.\n\nIt still smells of rain and smoke."),
        (200, "A rod of pale silver that hums when the moon is near.\nWeapon type: Catalyst"),
        (300, "%null%"),
    ],
    "Conversation_": [
        (5000, "Ahh, a visitor... the first in many years."),
        (5001, "And beyond the old gate,"),
        (5002, "the wardens keep their silent watch."),
        (5003, "ダミーテキスト"),
    ],
    "Menu_text_": [(1, "Quit to title screen?")],
}


@pytest.fixture
def tiny_game_text(tmp_path: Path) -> Path:
    """A folder `game/` holding a few DS1-style tables (names, lore, dialogue, a menu) as XML exports."""
    folder = tmp_path / "game"
    for name, entries in TINY_TABLES.items():
        write_table(folder, name, entries)
    return folder


@pytest.fixture(scope="session")
def sample_corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A corpus folder built from the Dark Souls-style part of `sample_data/` (about 2,000 sentences)."""
    out = tmp_path_factory.mktemp("sample_corpus") / "corpus"
    build_corpus([SAMPLE_DATA / "ds1"], out)
    return out
