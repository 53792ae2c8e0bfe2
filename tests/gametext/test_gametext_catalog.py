"""The table catalogue: real table names of each game (docs/game-tables.md has the evidence) sorted into kinds."""

import pytest

from soulsgen_lib.gametext import FmgTable, GameTextError
from soulsgen_lib.gametext import catalog as cat
from soulsgen_lib.gametext.binary import read_binary_tables
from soulsgen_lib.gametext.binder import BinderFile
from soulsgen_lib.gametext.fmgbin import fmg_bytes
from soulsgen_lib.gametext.games import game_of_folder, game_of_tables
from soulsgen_lib.gametext.writers import binder_bytes


@pytest.mark.parametrize(
    ("table", "kind", "category"),
    [
        # Elden Ring (also with the _dlc01 / _dlc02 suffixes of the Shadow of the Erdtree archives)
        ("GoodsName", cat.NAME, "item"),
        ("GoodsInfo", cat.DESCRIPTION, "item"),
        ("GoodsCaption_dlc01", cat.LORE, "item"),
        ("GoodsInfo2", cat.DESCRIPTION, "item"),
        ("GemName", cat.NAME, "ash_of_war"),
        ("GemInfo", cat.DESCRIPTION, "ash_of_war"),
        ("GemCaption_dlc02", cat.LORE, "ash_of_war"),
        ("ArtsName", cat.NAME, "skill"),
        ("ArtsCaption", cat.LORE, "skill"),
        ("WeaponEffect", cat.DESCRIPTION, ""),
        ("GoodsDialog", cat.MENU, ""),
        ("LoadingTitle", cat.NAME, "loading_screen"),
        ("LoadingText", cat.LORE, "loading_screen"),
        ("TalkMsg_dlc01", cat.DIALOGUE, ""),
        ("EventTextForMap", cat.EVENT, ""),
        ("BloodMsg", cat.PLAYER_MESSAGE, ""),
        ("GR_MenuText", cat.MENU, ""),
        ("GR_System_Message_win64_dlc01", cat.MENU, ""),
        ("GR_NGWord", cat.MENU, ""),
        ("TutorialBody", cat.MENU, ""),
        ("ToS_win64", cat.MENU, ""),
        # Nightreign
        ("AntiqueName", cat.NAME, "relic"),
        ("AntiqueCaption", cat.LORE, "relic"),
        ("AttachEffectInfo", cat.DESCRIPTION, "relic_effect"),
        ("PermanentBuffCaption", cat.LORE, "buff"),
        ("SpEffectInfo", cat.DESCRIPTION, "effect"),
        ("PersonalScenarioBody", cat.LORE, ""),
        ("PersonalScenarioObjective", cat.MENU, ""),
        ("CL_LineHelp", cat.MENU, ""),
        # Sekiro
        ("戦技種別", cat.DESCRIPTION, ""),
        ("武器うんちく", cat.LORE, "weapon"),
        # Armored Core VI
        ("ジェネレーター名", cat.NAME, "generator"),
        ("ブースター説明", cat.DESCRIPTION, "booster"),
        ("FCS名", cat.NAME, "fcs"),
        ("FCS説明", cat.DESCRIPTION, "fcs"),
        # Armored Core VI's menu archive, Bloodborne and Dark Souls II: names from SoapstoneLib's table list
        ("ミッション概要", cat.DESCRIPTION, "mission"),
        ("アーカイブ内容", cat.LORE, "archive"),
        ("ランカープロフィール", cat.LORE, ""),
        ("魔石うんちく", cat.LORE, "blood_gem"),
        ("魔石効果", cat.DESCRIPTION, ""),
        ("死因", cat.MENU, ""),
        ("itemname", cat.NAME, "item"),
        ("detailedexplanation", cat.LORE, "item"),
        ("simpleexplanation", cat.DESCRIPTION, "item"),
        ("mapevent", cat.EVENT, ""),
        ("bloodmessagesentence", cat.PLAYER_MESSAGE, ""),
        ("titlemenu", cat.MENU, ""),
        # Dark Souls III
        ("武器うんちく_dlc1", cat.LORE, "weapon"),
        ("会話_dlc2", cat.DIALOGUE, ""),
        ("FDP_システムメッセージ_win64_dlc1", cat.MENU, ""),
        ("一行ヘルプ", cat.MENU, ""),
        ("メニュー共通テキスト", cat.MENU, ""),
        # Dark Souls Remastered
        ("Weapon_long_desc_", cat.LORE, "weapon"),
        ("Magic_description_", cat.DESCRIPTION, "magic"),
        ("Single_line_help_", cat.MENU, ""),
        ("System_message_win32_", cat.MENU, ""),
        ("Feature_long_desc_", cat.MENU, ""),
        # More spellings of the same kinds, English and Japanese
        ("Weapon_name_dlc1", cat.NAME, "weapon"),
        ("Armor_description_", cat.DESCRIPTION, "armor"),
        ("Conversation_", cat.DIALOGUE, ""),
        ("Event_text_", cat.EVENT, ""),
        ("Blood_writing_", cat.PLAYER_MESSAGE, ""),
        ("Menu_text_", cat.MENU, ""),
        ("Dialogue_", cat.MENU, ""),
        ("防具説明_dlc2", cat.DESCRIPTION, "armor"),
        ("アイテム名", cat.NAME, "item"),
        ("会話", cat.DIALOGUE, ""),
        ("血文字", cat.PLAYER_MESSAGE, ""),
        ("FDP_メニューテキスト", cat.MENU, ""),
        ("WeaponCaption", cat.LORE, "weapon"),
        ("ProtectorName", cat.NAME, "armor"),
        ("TalkMsg", cat.DIALOGUE, ""),
        ("Chronicle_", cat.UNKNOWN, ""),
    ],
)
def test_real_table_names_have_their_kind(table, kind, category):
    assert cat.classify(table) == cat.TableKind(kind, category)


def test_kinds_are_read_from_the_words_people_use():
    assert cat.parse_kinds("lore, descriptions,Dialogue,templates,lore") == (
        cat.LORE,
        cat.DESCRIPTION,
        cat.DIALOGUE,
        cat.PLAYER_MESSAGE,
    )
    with pytest.raises(GameTextError, match="unknown table kind 'gossip': choose from name, description"):
        cat.parse_kinds("lore,gossip")
    with pytest.raises(GameTextError, match="no table kind given"):
        cat.parse_kinds(" , ")


@pytest.mark.parametrize(
    ("tables", "expected"),
    [
        (["GoodsName", "GoodsCaption"], ("eldenring", True)),
        (["GoodsName", "AntiqueName"], ("nightreign", True)),
        (["TalkMsg_dlc01"], ("eldenring", True)),
        (["武器名", "ジェネレーター名"], ("ac6", True)),
        (["武器名"], ("ds3", False)),
        (["Item_name_"], ("ds1", False)),
        (["itemname", "detailedexplanation"], ("ds2", True)),
        (["魔石名", "武器名"], ("bloodborne", True)),
        (["Chronicle_"], (None, False)),
    ],
)
def test_table_names_point_to_a_game(tables, expected):
    assert game_of_tables(tables) == expected


@pytest.mark.parametrize(
    ("folders", "game"),
    [
        (["Elden Ring Shadowfall"], "eldenring"),
        (["ELDEN RING NIGHTREIGN"], "nightreign"),
        (["engus", "msg", "DARK SOULS III"], "ds3"),
        (["Dark Souls II Scholar"], "ds2"),
        (["ds1r_mods"], "ds1"),
        (["er"], "eldenring"),
        (["error_logs"], None),  # a short name counts only as a whole folder name
        (["Armored Core VI"], "ac6"),
    ],
)
def test_folder_names_point_to_a_game(folders, game):
    assert game_of_folder(folders) == game


def test_a_patch_table_is_named_as_the_table_it_updates():
    assert cat.binder_table_name("アイテムうんちくパッチ", 100) == "アイテムうんちく"
    assert cat.binder_table_name("Item_long_desc_", 100) == "Item_long_desc_"
    assert cat.binder_table_name("", 24) == "Item_long_desc_"
    assert cat.binder_table_name("Chronicle_", 500) == "Chronicle_"


def test_a_patch_table_overlays_its_base_table_in_a_binder(tmp_path):
    path = tmp_path / "item.msgbnd"
    members = [
        BinderFile(
            24,
            "N:\\FRPG\\data\\Msg\\Data_JAPANESE\\アイテムうんちく.fmg",
            fmg_bytes(FmgTable("", [(1, "old"), (2, "kept")], "")),
        ),
        BinderFile(
            100,
            "N:\\FRPG\\data\\Msg\\Data_JAPANESE\\アイテムうんちくパッチ.fmg",
            fmg_bytes(FmgTable("", [(1, "new")], "")),
        ),
    ]
    path.write_bytes(binder_bytes(members, 3))
    (table,) = read_binary_tables(path, lambda name: True, 1 << 20)
    assert (table.name, table.entries) == ("アイテムうんちく", [(1, "new"), (2, "kept")])
