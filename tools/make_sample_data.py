"""Write SoulsGen's sample game text: original souls-like writing in the games' table layouts and file formats.

Nothing here is game text: a seeded grammar (`sample_grammar.py`) writes item lore, descriptions, dialogue and
event text, and the project's own writers store it as Yabber/WitchyBND XML, loose binary FMG and a DCX-compressed
BND4 binder. Every quirk the corpus builder handles is planted on purpose (null markers, markup, label lines,
upgrade suffixes, identical variants, boilerplate, split dialogue, Japanese placeholders, duplicate binder tables).

    python tools/make_sample_data.py [--out sample_data] [--seed 7]
    python tools/make_sample_data.py --bench-mb 50 --out DIR    # bench/corpus.py's input: XML games of that size
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from sample_grammar import WORDS, Grammar

from soulsgen_lib.atomic import OutputFolderError, OutputKind, atomic_dir, check_output_folder
from soulsgen_lib.gametext import FmgTable
from soulsgen_lib.gametext.binder import BinderFile
from soulsgen_lib.gametext.fmgbin import fmg_bytes
from soulsgen_lib.gametext.writers import binder_bytes, dcx_bytes
from soulsgen_lib.gametext.xmlfmg import fmg_xml_bytes

SAMPLE_DATA = Path(__file__).resolve().parent.parent / "sample_data"
SAMPLE_OUTPUT = OutputKind("sample data folder", markers=("README.md",), files=("README.md", "ds1", "ds2", "ds3"))
BENCH_OUTPUT = OutputKind("benchmark input folder", markers=())
BENCH_SIZES = {"weapon": 150, "armor": 110, "item": 140, "magic": 50, "accessory": 45}  # items per family and game


def _with_quirks(rng: random.Random, text: str, index: int) -> str:
    """Plant the markup and layout quirks of real tables into some entries."""
    roll = index % 23
    if roll == 3:
        return text.replace(" ", ' <font color="#e0c080">', 1).replace(".", "</font>.", 1)
    if roll == 5:
        return text + "<?keyIcon@31?>"
    if roll == 7:
        return "#cC8A060" + text
    if roll == 11:
        return text.replace(" ", "\t", 1)
    if roll == 13:
        words = text.split(" ")
        cut = min(len(words) - 1, 5)
        return " ".join(words[:cut]) + "\n" + " ".join(words[cut:])
    if roll == 17:
        return text + "\n"  # an entry ending in punctuation and a newline must be kept
    if roll == 19:
        return text.replace(" ", " &lt;font&gt;", 1)  # escaped tag, read back as literal text
    return text


def _null_marker(index: int) -> str | None:
    return (None, "no_text", "(dummyText)", "", "   ", "%null%", "none text")[index % 7]


def item_tables(grammar: Grammar, kind: str, count: int, first_id: int, variants: int) -> dict[str, FmgTable]:
    """Name, description and lore tables of one item family; `variants` ids per item share one description."""
    names, descriptions, lore = [], [], []
    rng = grammar.rng
    for number in range(count):
        base_id = first_id + number * 1000
        name = grammar.item_name(kind)
        description = grammar.description(kind)
        if kind == "weapon":
            description += (
                f"\n\nWeapon type: {grammar.word('weapon_types')}\nAttack type: {grammar.word('attack_types')}"
            )
            if number % 3 == 0:
                description += f"\nSkill: {grammar.word('skills')}"
        if number % 9 == 0:
            description += " " + WORDS["boilerplate"][number % len(WORDS["boilerplate"])]
        thing = {
            "weapon": name.split()[-1].lower(),
            "armor": "garment",
            "item": "relic",
            "magic": "spell",
            "accessory": "ring",
        }[kind]
        story = grammar.lore(thing)
        story = _with_quirks(rng, story, number)
        for level in range(variants):
            entry_id = base_id + level
            if kind == "magic" and level == 1:
                names.append((entry_id, f"{grammar.word('spell_kinds')}: {name}"))  # the spell's scroll
            else:
                names.append((entry_id, f"{name}+{level}" if level and kind == "weapon" else name))
            descriptions.append((entry_id, description))
            lore.append((entry_id, story))
        if number % 25 == 4:
            lore.append((base_id + 900, _null_marker(number)))
            descriptions.append((base_id + 901, grammar.word("japanese_placeholders")))
    if kind == "item":
        names.append((first_id + count * 1000, "Flask of Embers +2"))
    return {
        "name": FmgTable("name", names, ""),
        "description": FmgTable("description", descriptions, ""),
        "lore": FmgTable("lore", lore, ""),
    }


def dialogue_table(grammar: Grammar, speakers: int, first_id: int) -> list[tuple[int, str | None]]:
    entries: list[tuple[int, str | None]] = []
    for speaker in range(speakers):
        entry_id = first_id + speaker * 100
        for line in grammar.dialogue():
            entries.append((entry_id, line))
            entry_id += 1
        if speaker % 30 == 0:
            entries.append((entry_id, _null_marker(speaker)))
    return entries


def event_table(grammar: Grammar, count: int) -> list[tuple[int, str | None]]:
    templates = (
        "the {adj} {barrier} of {place} {barrier_state}",
        "a {adj} {barrier} {barrier_state}",
        "you {sense} {presence} {where}",
        "somewhere in {place}, you {sense} {presence}",
        "the {beacon} has been lit once more; you {sense} {presence} {where}",
        "this {barrier} {barrier_state}; perhaps the {order} hold the key",
    )
    return [(10000 + i, grammar.sentence(templates) + ".") for i in range(count)]


def menu_tables() -> dict[str, list[tuple[int, str | None]]]:
    """Tables the corpus leaves out: menus, key guides and player-message templates."""
    return {
        "menu": [(1, "Quit to title screen?"), (2, "Are you sure you wish to leave?"), (3, "Settings"), (4, None)],
        "key_guide": [(10, "Confirm"), (11, "Back"), (12, "Switch item")],
        "blood_writing": [(1, "Be wary of ****"), (2, "Try jumping"), (3, "Praise the ****!")],
    }


ENGLISH_TABLES = {
    ("weapon", "name"): "Weapon_name_",
    ("weapon", "description"): "Weapon_description_",
    ("weapon", "lore"): "Weapon_long_desc_",
    ("armor", "name"): "Armor_name_",
    ("armor", "description"): "Armor_description_",
    ("armor", "lore"): "Armor_long_desc_",
    ("item", "name"): "Item_name_",
    ("item", "description"): "Item_description_",
    ("item", "lore"): "Item_long_desc_",
    ("magic", "name"): "Magic_name_",
    ("magic", "description"): "Magic_description_",
    ("magic", "lore"): "Magic_long_desc_",
    ("accessory", "name"): "Accessory_name_",
    ("accessory", "description"): "Accessory_description_",
    ("accessory", "lore"): "Accessory_long_desc_",
}
JAPANESE_FAMILY = {"weapon": "武器", "armor": "防具", "item": "アイテム", "magic": "魔法", "accessory": "アクセサリ"}
JAPANESE_PART = {"name": "名", "description": "説明", "lore": "うんちく"}


def game_tables(grammar: Grammar, sizes: dict[str, int], japanese: bool) -> dict[str, list[tuple[int, str | None]]]:
    """Every table of one game, keyed by the game's table name."""
    tables: dict[str, list[tuple[int, str | None]]] = {}
    first_ids = {"weapon": 1000000, "armor": 2000000, "item": 100000, "magic": 3000000, "accessory": 4000000}
    variants = {"weapon": 6, "armor": 1, "item": 1, "magic": 2, "accessory": 1}
    for kind, count in sizes.items():
        for part, table in item_tables(grammar, kind, count, first_ids[kind], variants[kind]).items():
            name = JAPANESE_FAMILY[kind] + JAPANESE_PART[part] if japanese else ENGLISH_TABLES[(kind, part)]
            tables[name] = table.entries
    return tables


def write_xml_tables(folder: Path, tables: dict[str, list[tuple[int, str | None]]], version: str, witchy: bool) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, entries in tables.items():
        table = FmgTable(name, entries, "", version=version)
        (folder / f"{name}.fmg.xml").write_bytes(fmg_xml_bytes(table, with_filename=witchy))


def write_bench_input(out: Path, megabytes: float) -> None:
    """Games of XML tables, each from its own grammar seed, until `megabytes` of input is written."""
    total = 0
    game = 0
    while total < megabytes * 1e6:
        grammar = Grammar(1000 + game)
        tables = game_tables(grammar, BENCH_SIZES, japanese=game % 2 == 1)
        tables["Conversation_"] = dialogue_table(grammar, 260, 10000000)
        tables["Event_text_"] = event_table(grammar, 80)
        folder = out / f"game{game:03d}" / "item-msgbnd-dcx"
        write_xml_tables(folder, tables, "DarkSouls1", witchy=game % 2 == 1)
        total += sum(path.stat().st_size for path in folder.iterdir())
        game += 1


def write_sample_data(out: Path, seed: int) -> None:
    """The sample set: three games' tables in the formats and layouts of Dark Souls, II and III."""
    ds1 = Grammar(seed)
    tables = game_tables(ds1, {"weapon": 150, "armor": 110, "item": 140, "magic": 50, "accessory": 45}, japanese=False)
    write_xml_tables(out / "ds1" / "item-msgbnd-dcx", tables, "DarkSouls1", witchy=False)
    menu = menu_tables()
    write_xml_tables(
        out / "ds1" / "menu-msgbnd-dcx",
        {
            "Conversation_": dialogue_table(ds1, 260, 10000000),
            "Event_text_": event_table(ds1, 80),
            "Menu_text_": menu["menu"],
            "Key_guide_": menu["key_guide"],
            "Blood_writing_": menu["blood_writing"],
            "Chronicle_of_the_unknown_": [(1, "A table the catalog does not know about.")],
        },
        "DarkSouls1",
        witchy=False,
    )
    (out / "ds1" / "menu-msgbnd-dcx" / "_yabber-bnd4.xml").write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<bnd4>\n  <filename>menu.msgbnd.dcx</filename>\n</bnd4>\n',
        encoding="utf-8",
    )

    ds3 = Grammar(seed + 1)
    tables = game_tables(ds3, {"weapon": 130, "armor": 100, "item": 120, "magic": 45, "accessory": 40}, japanese=True)
    write_xml_tables(out / "ds3" / "msg" / "engUS" / "item_dlc2-msgbnd-dcx", tables, "DarkSouls3", witchy=True)

    # Dark Souls III-style menu binder, binary: dialogue, events and menus in a DCX-packed BND4. The dialogue
    # table appears twice (base id and a later patch id), as in Dark Souls Remastered's binders.
    binder_tables = {
        "会話": dialogue_table(ds3, 200, 20000000),
        "イベントテキスト": event_table(ds3, 70),
        "メニューテキスト": menu["menu"],
        "キーガイド": menu["key_guide"],
        "血文字": menu["blood_writing"],
    }
    patch = [(entry_id, text) for entry_id, text in binder_tables["会話"][:40] if text and text.endswith(".")]
    patch = [(entry_id, f"{text} So it goes, and so it has always gone.") for entry_id, text in patch[:10]]
    members = [
        BinderFile(
            index + 10,
            f"N:\\FDP\\data\\INTERROOT_win64\\msg\\engUS\\64bit\\{name}.fmg",
            fmg_bytes(FmgTable(name, entries, ""), version=2),
        )
        for index, (name, entries) in enumerate(binder_tables.items())
    ]
    members.append(
        BinderFile(
            110,
            "N:\\FDP\\data\\INTERROOT_win64\\msg\\engUS\\64bit\\会話.fmg",
            fmg_bytes(FmgTable("会話", patch, ""), version=2),
        )
    )
    binder_path = out / "ds3" / "msg" / "engUS" / "menu_dlc2.msgbnd.dcx"
    binder_path.write_bytes(dcx_bytes(binder_bytes(members)))

    # Dark Souls II-style loose binary tables (FMG version 1, little-endian).
    ds2 = Grammar(seed + 2)
    tables = game_tables(ds2, {"weapon": 70, "armor": 50, "item": 60, "magic": 25, "accessory": 25}, japanese=False)
    tables["Conversation_"] = dialogue_table(ds2, 120, 30000000)
    folder = out / "ds2" / "menu" / "text" / "english"
    folder.mkdir(parents=True, exist_ok=True)
    for name, entries in tables.items():
        (folder / f"{name}.fmg").write_bytes(fmg_bytes(FmgTable(name, entries, ""), version=1))

    readme = (
        "# SoulsGen sample game text\n\n"
        "Original writing generated by `tools/make_sample_data.py` (seeded grammar); no game text.\n"
        "Regenerate with `python tools/make_sample_data.py`. Layout follows the games' files:\n"
        "- `ds1/`: Dark Souls-style English table names as Yabber XML (`<compression>`, no `<filename>`).\n"
        "- `ds3/`: Dark Souls III-style Japanese table names: item tables as WitchyBND XML (`<filename>`),\n"
        "  dialogue, events and menus as a binary `menu_dlc2.msgbnd.dcx` (DCX zlib around a BND4) written by\n"
        "  SoulsGen's own writer, with a patch copy of the dialogue table under a later file id.\n"
        "- `ds2/`: loose binary `.fmg` tables (version 1). They use the Dark Souls English table names, which\n"
        "  the catalog knows; real Dark Souls II table names have not been checked.\n"
    )
    (out / "README.md").write_text(readme, encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help=f"folder to write (default: {SAMPLE_DATA})")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--bench-mb", type=float, default=None, help="write this many MB of XML games instead")
    args = parser.parse_args(argv)
    if args.bench_mb is not None and args.out is None:
        parser.error("--bench-mb needs --out")
    try:
        out = check_output_folder(args.out or SAMPLE_DATA, SAMPLE_OUTPUT if args.bench_mb is None else BENCH_OUTPUT)
    except OutputFolderError as error:
        parser.exit(1, f"error: {error}\n")
    with atomic_dir(out) as folder:
        if args.bench_mb is None:
            write_sample_data(folder, args.seed)
        else:
            write_bench_input(folder, args.bench_mb)


if __name__ == "__main__":
    main()
