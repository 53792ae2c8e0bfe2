"""The games SoulsGen reads, and how a file tells its game and language: binder paths, table names, folders."""

from __future__ import annotations

import re
from collections.abc import Iterable

# Game ids, as the manifest, `--game` and the pipeline's Params spell them, with the names people use.
GAMES = {
    "ds1": "Dark Souls (Prepare to Die Edition, Remastered)",
    "ds2": "Dark Souls II",
    "ds3": "Dark Souls III",
    "bloodborne": "Bloodborne",
    "sekiro": "Sekiro: Shadows Die Twice",
    "eldenring": "Elden Ring",
    "ac6": "Armored Core VI: Fires of Rubicon",
    "nightreign": "Elden Ring Nightreign",
}
UNKNOWN_GAME = "unknown"

# Binder member paths start with the studio's project code: `N:\GR\data\INTERROOT_win64\msg\engUS\GoodsName.fmg`.
# GR, CL, NTC, FNR, FDP and FRPG were read from real archives; SPRJ and FRPG2 come from the modding tools' docs.
_PROJECT_CODES = {
    "FRPG": "ds1",
    "FRPG2": "ds2",
    "FDP": "ds3",
    "SPRJ": "bloodborne",
    "NTC": "sekiro",
    "GR": "eldenring",
    "FNR": "ac6",
    "CL": "nightreign",
}
_MEMBER_PATH = re.compile(r"^[A-Za-z]:\\+([A-Za-z0-9]+)\\")
_MEMBER_LANGUAGE = re.compile(r"\\msg\\+([^\\]+)\\", re.IGNORECASE)

# Folder names that name a game (lower case, letters and digits only); longer names are matched first.
_FOLDER_NAMES = {
    "ds1": ("darksoulsremastered", "darksoulsptde", "darksouls1", "darksouls", "ds1r", "ds1", "dsr", "ptde"),
    "ds2": ("darksoulsii", "darksouls2", "sotfs", "ds2"),
    "ds3": ("darksoulsiii", "darksouls3", "ds3"),
    "bloodborne": ("bloodborne", "bb"),
    "sekiro": ("sekiro",),
    "eldenring": ("eldenring", "er"),
    "ac6": ("armoredcorevi", "armoredcore6", "ac6"),
    "nightreign": ("eldenringnightreign", "nightreign", "nr"),
}
_SHORT_NAME = 3  # names this short must match a whole folder name, not only its start
_FOLDER_NAMES_LONGEST_FIRST = sorted(
    ((name, game) for game, names in _FOLDER_NAMES.items() for name in names), key=lambda pair: -len(pair[0])
)
_DLC_SUFFIX = re.compile(r"_dlc\d+$", re.IGNORECASE)

# Table names only one game uses (exactly, or as a prefix ending in `*`), for exports that lost their binder.
# Checked in this order; the last two are guesses (Sekiro and AC6 share Dark Souls III's Japanese names, and
# Dark Souls II-style exports may use Dark Souls' English ones), so a folder naming a game outranks them.
_TABLE_MARKERS = (
    ("nightreign", True, ("CL_*", "Antique*", "AttachEffect*", "PermanentBuff*", "PersonalScenario*")),
    ("eldenring", True, ("GR_*", "Gem*", "Arts*", "GoodsInfo2", "WeaponEffect", "TalkMsg", "GoodsName")),
    ("ac6", True, ("ジェネレーター*", "ブースター*", "FCS名", "FCS説明", "ランカープロフィール", "アーカイブ*")),
    ("bloodborne", True, ("魔石*", "死因")),
    ("ds2", True, ("itemname", "simpleexplanation", "detailedexplanation", "bonfirename", "bloodmessage*")),
    ("ds3", False, ("アイテム名", "武器名", "武器うんちく", "会話", "NPC名", "イベントテキスト")),
    ("ds1", False, ("Item_name_", "Weapon_name_", "Item_long_desc_", "Conversation_", "Event_text_")),
)

# Language folders of the games (`msg/engUS`, DS2's `menu/text/english`), as one code each.
LANGUAGES = {
    "engus": "engus",
    "enggb": "enggb",
    "english": "engus",
    "jpnjp": "jpnjp",
    "japanese": "jpnjp",
    "frafr": "frafr",
    "french": "frafr",
    "deude": "deude",
    "german": "deude",
    "itait": "itait",
    "italian": "itait",
    "spaes": "spaes",
    "spanish": "spaes",
    "spaar": "spaar",
    "polpl": "polpl",
    "polish": "polpl",
    "porbr": "porbr",
    "rusru": "rusru",
    "russian": "rusru",
    "korkr": "korkr",
    "zhotw": "zhotw",
    "zhocn": "zhocn",
    "thath": "thath",
    "araae": "araae",
}
UNKNOWN_LANGUAGE = ""


def game_of_members(names: Iterable[str]) -> str | None:
    """The game named by the project code at the start of binder member paths, if any."""
    for name in names:
        match = _MEMBER_PATH.match(name)
        if match and match.group(1).upper() in _PROJECT_CODES:
            return _PROJECT_CODES[match.group(1).upper()]
    return None


def language_of_members(names: Iterable[str]) -> str:
    """The language folder in binder member paths (`...\\msg\\engUS\\...` -> `engus`), or `UNKNOWN_LANGUAGE`."""
    for name in names:
        match = _MEMBER_LANGUAGE.search(name)
        if match:
            folder = _language_folder(match.group(1))
            return LANGUAGES.get(folder, folder)
    return UNKNOWN_LANGUAGE


def _language_folder(folder: str) -> str:
    """A language folder's name as `LANGUAGES` spells it: Dark Souls Remastered writes `Data_ENGLISH`."""
    return folder.lower().removeprefix("data_")


def game_of_tables(table_names: Iterable[str]) -> tuple[str | None, bool]:
    """The game these table names point to (None if none) and whether the names are that game's alone."""
    names = {_DLC_SUFFIX.sub("", name) for name in table_names}
    for game, certain, markers in _TABLE_MARKERS:
        for marker in markers:
            if marker.endswith("*"):
                if any(name.startswith(marker[:-1]) for name in names):
                    return game, certain
            elif marker in names:
                return game, certain
    return None, False


def game_of_folder(folder_names: Iterable[str]) -> str | None:
    """The game named by the nearest folder that names one (`Elden Ring Shadowfall/` -> `eldenring`)."""
    for folder in folder_names:
        key = re.sub(r"[^a-z0-9]", "", folder.lower())
        for name, game in _FOLDER_NAMES_LONGEST_FIRST:
            if key == name or (len(name) > _SHORT_NAME and key.startswith(name)):
                return game
    return None


def language_of_folder(folder_names: Iterable[str]) -> str:
    """The language named by the nearest language folder (`msg/engUS/`, `text/english/`), or `UNKNOWN_LANGUAGE`."""
    for folder in folder_names:
        if _language_folder(folder) in LANGUAGES:
            return LANGUAGES[_language_folder(folder)]
    return UNKNOWN_LANGUAGE


def check_games(game_ids: Iterable[str]) -> None:
    """Raise a clear error for a game id that is not one of `GAMES`."""
    from soulsgen_lib.gametext import GameTextError

    for game in game_ids:
        if game not in GAMES:
            raise GameTextError(f"unknown game {game!r}: choose from {', '.join(GAMES)}")
