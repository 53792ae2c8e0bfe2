"""Which table is which: table names of every supported game mapped to a kind (docs/game-tables.md: evidence)."""

from __future__ import annotations

import re
from dataclasses import dataclass

NAME = "name"
DESCRIPTION = "description"
LORE = "lore"
DIALOGUE = "dialogue"
EVENT = "event"
MENU = "menu"
PLAYER_MESSAGE = "player_message"
UNKNOWN = "unknown"
OTHER = "other"  # an unknown table the user asked to include

CORPUS_KINDS = (LORE, DESCRIPTION, DIALOGUE, EVENT)
ALL_KINDS = (NAME, DESCRIPTION, LORE, DIALOGUE, EVENT, PLAYER_MESSAGE, MENU)
# Words a user may write for a kind: the kind itself, its plural, and `templates` for player messages.
_KIND_WORDS = {
    **{kind: kind for kind in ALL_KINDS},
    **{f"{kind}s": kind for kind in ALL_KINDS},
    "template": PLAYER_MESSAGE,
    "templates": PLAYER_MESSAGE,
}
LINKED_KINDS = (DESCRIPTION, LORE)


@dataclass(frozen=True)
class TableKind:
    """What a table holds (`kind`) and, for item tables, which item family its ids belong to (`category`)."""

    kind: str
    category: str = ""


_DLC_SUFFIX = re.compile(r"_dlc\d+$", re.IGNORECASE)
_PATCH_SUFFIX = "パッチ"  # Dark Souls (PTDE) patch tables: `アイテムうんちくパッチ` updates `アイテムうんちく`

# Dark Souls / Dark Souls Remastered (English table names), also used for our Dark Souls II-style sample tables.
_ENGLISH_PART = {"name": NAME, "description": DESCRIPTION, "long_desc": LORE}
_ENGLISH_ITEM_TABLE = re.compile(
    r"^(item|weapon|armor|accessory|magic|npc|place)_(name|description|long_desc)_?$", re.I
)
_ENGLISH_EXACT = {
    "conversation_": DIALOGUE,
    "movie_subtitles_": DIALOGUE,
    "event_text_": EVENT,
    "blood_writing_": PLAYER_MESSAGE,
    "ingame_menu_": MENU,
    "dialogue_": MENU,  # yes/no dialog boxes of the menus, not conversation
    "key_guide_": MENU,
    "text_display_tag_list_": MENU,
}
_ENGLISH_MENU = re.compile(r"^(menu_.*|system_.*|.*_help_?|feature_.*|.*_menu_?)$", re.I)

# Dark Souls II: loose `menu/text/<language>/*.fmg` files with lower-case names (SoapstoneLib's table list).
_DS2_TABLES = {
    "itemname": TableKind(NAME, "item"),
    "simpleexplanation": TableKind(DESCRIPTION, "item"),
    "detailedexplanation": TableKind(LORE, "item"),
    "mapname": TableKind(NAME, "place"),
    "bonfirename": TableKind(NAME, "bonfire"),
    "charaname": TableKind(NAME, "npc"),
    "mapevent": TableKind(EVENT),
    "prologue": TableKind(LORE),  # the opening narration
    "bloodmessageconjunction": TableKind(PLAYER_MESSAGE),
    "bloodmessagesentence": TableKind(PLAYER_MESSAGE),
    "bloodmessageword": TableKind(PLAYER_MESSAGE),
    "bloodmessagewordcategory": TableKind(PLAYER_MESSAGE),
    **{
        name: TableKind(MENU)
        for name in (
            "bofire",
            "charamaking",
            "common",
            "dconlymessage",
            "iconhelp",
            "ingamemenu",
            "ingamesystem",
            "keyguide",
            "npcmenu",
            "pluralselect",
            "shop",
            "staffroll",
            "titleflow",
            "titlemenu",
            "weapontype",
            "win32onlymessage",
        )
    },
}

# Dark Souls III / Sekiro / Armored Core VI (Japanese table names; AC6 adds its frame parts).
_JAPANESE_ITEMS = {
    "アイテム": "item",
    "武器": "weapon",
    "防具": "armor",
    "アクセサリ": "accessory",
    "魔法": "magic",
    "ジェネレーター": "generator",
    "ブースター": "booster",
    "FCS": "fcs",
    "魔石": "blood_gem",  # Bloodborne
}
_JAPANESE_NAMES = {**{f"{k}名": v for k, v in _JAPANESE_ITEMS.items()}, "NPC名": "npc", "地名": "place"}
_JAPANESE_EXACT = {
    "会話": DIALOGUE,
    "ムービー字幕": DIALOGUE,
    "イベントテキスト": EVENT,
    "血文字": PLAYER_MESSAGE,
    "インゲームメニュー": MENU,
    "ダイアログ": MENU,
    "キーガイド": MENU,
    "テキスト表示用タグ一覧": MENU,
    "戦技種別": DESCRIPTION,  # Sekiro: what each combat art and martial art does
    "魔石効果": DESCRIPTION,  # Bloodborne: blood gem effects
    "魔石接頭語": MENU,  # Bloodborne: name prefixes, not text
    "死因": MENU,  # Bloodborne: causes of death
    "ランカープロフィール": LORE,  # AC6: pilot profiles
    "ミッション目標": MENU,
    "ミッション地点名": MENU,
    "チュートリアルタイトル": MENU,
    "チュートリアル本文": MENU,
}
# Armored Core VI's missions and archive logs, each labelled by its name table's same ids.
_JAPANESE_LINKED = {
    "ミッション名": TableKind(NAME, "mission"),
    "ミッション概要": TableKind(DESCRIPTION, "mission"),  # briefings
    "アーカイブ名": TableKind(NAME, "archive"),
    "アーカイブ内容": TableKind(LORE, "archive"),
}
_JAPANESE_MENU = re.compile(r"^(メニュー.*|.*ヘルプ|FDP_.*)$")

# Elden Ring and Nightreign: item families whose tables are `<Family>Name`, `<Family>Info`, `<Family>Caption`.
_ELDEN_ITEMS = {
    "Goods": "item",
    "Weapon": "weapon",
    "Protector": "armor",
    "Accessory": "accessory",
    "Magic": "magic",
    "Gem": "ash_of_war",
    "Arts": "skill",
    "Antique": "relic",
    "AttachEffect": "relic_effect",
    "PermanentBuff": "buff",
    "SpEffect": "effect",
}
_ELDEN_PART = {"Name": NAME, "Info": DESCRIPTION, "Caption": LORE}
_ELDEN_ITEM_TABLE = re.compile(rf"^({'|'.join(_ELDEN_ITEMS)})(Name|Info|Caption)$")
_ELDEN_EXACT = {
    "NpcName": TableKind(NAME, "npc"),
    "PlaceName": TableKind(NAME, "place"),
    "GoodsInfo2": TableKind(DESCRIPTION, "item"),
    "WeaponEffect": TableKind(DESCRIPTION),  # short effect lines keyed by effect, not by weapon
    "GemEffect": TableKind(DESCRIPTION),
    "LoadingTitle": TableKind(NAME, "loading_screen"),
    "LoadingText": TableKind(LORE, "loading_screen"),  # loading-screen lore, titled by LoadingTitle's same ids
    "PersonalScenarioBody": TableKind(LORE),  # Nightreign's character journals
    "TalkMsg": TableKind(DIALOGUE),
    "MovieSubtitle": TableKind(DIALOGUE),
    "EventTextForTalk": TableKind(EVENT),
    "EventTextForMap": TableKind(EVENT),
    "BloodMsg": TableKind(PLAYER_MESSAGE),
    "LineHelp": TableKind(MENU),
    "KeyGuide": TableKind(MENU),
}
# Menus, prompts, tutorials, legal text and the chat word filter (`GR_NGWord`): never corpus text.
_ELDEN_MENU = re.compile(
    r"^((GR|CL)_.*|.*Menu.*|SystemMessage.*|GoodsDialog|NetworkMessage|ActionButtonText|Tutorial(Title|Body)"
    r"|TextEmbedImageName.*|ToS.*|PersonalScenario(Title|Objective))$"
)


def parse_kinds(text: str) -> tuple[str, ...]:
    """`lore,descriptions` -> `("lore", "description")`; an unknown word is a clear error."""
    from soulsgen_lib.gametext import GameTextError

    kinds = []
    for word in filter(None, (word.strip().lower() for word in text.split(","))):
        if word not in _KIND_WORDS:
            raise GameTextError(f"unknown table kind {word!r}: choose from {', '.join(ALL_KINDS)}")
        kinds.append(_KIND_WORDS[word])
    if not kinds:
        raise GameTextError(f"no table kind given: choose from {', '.join(ALL_KINDS)}")
    return tuple(dict.fromkeys(kinds))


def base_table_name(name: str) -> str:
    """The table name without DLC suffix (`Weapon_name_dlc1` -> `Weapon_name_`)."""
    return _DLC_SUFFIX.sub("", name)


def classify(name: str) -> TableKind:
    """The kind of table `name` (an FMG file name without extension); UNKNOWN when the catalog does not know it."""
    base = base_table_name(name)
    english = _ENGLISH_ITEM_TABLE.match(base)
    if english:
        family, part = english.group(1).lower(), english.group(2).lower()
        return TableKind(_ENGLISH_PART[part], family)
    if base.lower() in _ENGLISH_EXACT:
        return TableKind(_ENGLISH_EXACT[base.lower()])
    if base in _DS2_TABLES:
        return _DS2_TABLES[base]
    if base in _JAPANESE_NAMES:
        return TableKind(NAME, _JAPANESE_NAMES[base])
    for prefix, family in _JAPANESE_ITEMS.items():
        if base == f"{prefix}説明":
            return TableKind(DESCRIPTION, family)
        if base == f"{prefix}うんちく":
            return TableKind(LORE, family)
    if base in _JAPANESE_EXACT:
        return TableKind(_JAPANESE_EXACT[base])
    if base in _JAPANESE_LINKED:
        return _JAPANESE_LINKED[base]
    elden = _ELDEN_ITEM_TABLE.match(base)
    if elden:
        return TableKind(_ELDEN_PART[elden.group(2)], _ELDEN_ITEMS[elden.group(1)])
    if base in _ELDEN_EXACT:
        return _ELDEN_EXACT[base]
    if _ENGLISH_MENU.match(base) or _JAPANESE_MENU.match(base) or _ELDEN_MENU.match(base):
        return TableKind(MENU)
    return TableKind(UNKNOWN)


# Binder file ids of the tables in the games' item and menu binders (DS1/DS1R/DS3 layout, as documented by the
# DSMapStudio text editor), used when a binder member has no usable name. DS1R patch tables (100+) map to the same
# table as their base, so the newer copy overlays it.
_BINDER_ID_NAMES = {
    1: "Conversation_",
    2: "Blood_writing_",
    3: "Movie_subtitles_",
    10: "Item_name_",
    11: "Weapon_name_",
    12: "Armor_name_",
    13: "Accessory_name_",
    14: "Magic_name_",
    18: "NPC_name_",
    19: "Place_name_",
    20: "Item_description_",
    21: "Weapon_description_",
    22: "Armor_description_",
    23: "Accessory_description_",
    24: "Item_long_desc_",
    25: "Weapon_long_desc_",
    26: "Armor_long_desc_",
    27: "Accessory_long_desc_",
    28: "Magic_description_",
    29: "Magic_long_desc_",
    30: "Event_text_",
    100: "Item_long_desc_",
    101: "Event_text_",
    104: "Conversation_",
    105: "Magic_long_desc_",
    106: "Weapon_long_desc_",
    107: "Blood_writing_",
    108: "Armor_long_desc_",
    109: "Accessory_long_desc_",
    **{menu_id: f"Menu_file_{menu_id}" for menu_id in range(70, 93)},
}


def binder_table_name(member_name: str, file_id: int) -> str:
    """The table name of a binder member: its own name when the catalog knows it, else the name its file id has.

    A patch table is named as the table it updates, so that its entries overlay that table's.
    """
    unpatched = member_name.removesuffix(_PATCH_SUFFIX)
    if unpatched and classify(unpatched).kind != UNKNOWN:
        return unpatched
    return _BINDER_ID_NAMES.get(file_id, member_name or f"file_{file_id}")
