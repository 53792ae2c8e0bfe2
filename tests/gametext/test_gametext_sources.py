"""Files found by their contents whatever their names, each with its game and language, and what a build keeps."""

import json
import random

import pytest
from click.testing import CliRunner
from fixtures_corpus import SAMPLE_DATA, write_table

from soulsgen_lib.cli import main as soulsgen
from soulsgen_lib.corpus import CorpusError, CorpusOptions, build_corpus
from soulsgen_lib.gametext import FmgTable, GameTextError
from soulsgen_lib.gametext.binder import BinderFile
from soulsgen_lib.gametext.fmgbin import fmg_bytes
from soulsgen_lib.gametext.games import GAMES
from soulsgen_lib.gametext.sources import discover
from soulsgen_lib.gametext.writers import binder_bytes, dcx_bytes
from soulsgen_lib.gametext.xmlfmg import fmg_xml_bytes

LORE = "A candle of pale tallow, lit for travellers who never came home."
TALK = "Stay a while, and hear the tolling of the distant bell."
NAME = "Pale Candle"


def archive(code: str = "GR", language: str = "engUS", algorithm: str = "DFLT", japanese: bool = False) -> bytes:
    """An Elden Ring-style item archive (DCX around a BND4 of version-2 FMGs) with member paths like the games'."""
    names = ("アイテム名", "アイテムうんちく", "会話") if japanese else ("GoodsName", "GoodsCaption", "TalkMsg")
    tables = {names[0]: [(10, NAME)], names[1]: [(10, LORE)], names[2]: [(500, TALK)]}
    members = [
        BinderFile(
            index,
            f"N:\\{code}\\data\\INTERROOT_win64\\msg\\{language}\\{name}.fmg",
            fmg_bytes(FmgTable(name, entries, ""), 2),
        )
        for index, (name, entries) in zip((10, 24, 1), tables.items(), strict=True)
    ]
    return dcx_bytes(binder_bytes(members), algorithm)


def corpus_rows(folder):
    return [json.loads(line) for line in (folder / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("file_name", ["ds1r_item.msgbnd.dcx", "item", "er item (copy).bin", "archive.txt"])
def test_an_archive_named_explicitly_is_read_whatever_its_name(tmp_path, file_name):
    path = tmp_path / file_name
    path.write_bytes(archive())
    summary = build_corpus([path], tmp_path / "corpus")
    assert summary.sentences == 2
    rows = corpus_rows(tmp_path / "corpus")
    assert {row["item"] for row in rows if row["table"] == "GoodsCaption"} == {NAME}
    assert {(row["game"], row["language"]) for row in rows} == {("eldenring", "engus")}


def test_inside_a_folder_files_are_recognised_by_their_contents(tmp_path):
    mods = tmp_path / "mods"
    mods.mkdir()
    (mods / "renamed_archive").write_bytes(archive("NTC", japanese=True))
    (mods / "loose_table.bin").write_bytes(fmg_bytes(FmgTable("", [(1, LORE)], ""), 1))
    (mods / "export.txt").write_text('<?xml version="1.0"?>\n<fmg><entries><text id="1">x</text></entries></fmg>\n')
    (mods / "notes.txt").write_text("not game text\n")
    (mods / "picture.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    (mods / "item.msgbnd.dcx.bak").write_bytes(archive())
    (mods / "models.chrbnd.dcx").write_bytes(dcx_bytes(binder_bytes([BinderFile(1, "N:\\GR\\chr\\c0000.flver", b"x")])))
    found, ignored = discover([mods])
    assert {source.path.name: source.format for source in found} == {
        "renamed_archive": "binary",
        "loose_table.bin": "binary",
        "export.txt": "xml",
    }
    assert sorted(path.name for path in ignored) == [
        "item.msgbnd.dcx.bak",
        "models.chrbnd.dcx",
        "notes.txt",
        "picture.png",
    ]
    # A backup copy is read when it is named.
    (backup,) = discover([mods / "item.msgbnd.dcx.bak"])[0]
    assert backup.game == "eldenring"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"just some notes\n", r"notes: not game text: expected an FMG table.*starts with b'just'"),
        (
            dcx_bytes(binder_bytes([BinderFile(1, "N:\\GR\\chr\\c0000.flver", b"x")])),
            r"notes: this archive holds no FMG text tables \(its first member: 'N:\\\\GR\\\\chr\\\\c0000.flver'\)",
        ),
    ],
)
def test_a_named_file_that_is_not_game_text_is_one_clear_error(tmp_path, content, message):
    (tmp_path / "notes").write_bytes(content)
    with pytest.raises(GameTextError, match=message):
        discover([tmp_path / "notes"])


@pytest.mark.parametrize(
    ("code", "language", "game", "language_id"),
    [
        ("GR", "engUS", "eldenring", "engus"),
        ("CL", "engUS", "nightreign", "engus"),
        ("NTC", "jpnJP", "sekiro", "jpnjp"),
        ("FNR", "frafr", "ac6", "frafr"),
        ("FDP", "engUS", "ds3", "engus"),
        ("FRPG", "Data_ENGLISH", "ds1", "engus"),  # Dark Souls Remastered's language folder
        ("XYZ", "engUS", "eldenring", "engus"),  # unknown code: the table names still say Elden Ring
    ],
)
def test_game_and_language_come_from_the_binder_member_paths(tmp_path, code, language, game, language_id):
    folder = tmp_path / "ds2"  # a folder name that says otherwise: the binder wins
    folder.mkdir()
    (folder / "a").write_bytes(archive(code, language))
    ((source,), _) = discover([folder])
    assert (source.game, source.language) == (game, language_id)


@pytest.mark.parametrize(
    ("folder", "tables", "game"),
    [
        ("exports", ["GR_MenuText", "GoodsCaption"], "eldenring"),
        ("exports", ["CL_MenuText", "GoodsCaption"], "nightreign"),
        ("exports", ["ジェネレーター名", "武器説明"], "ac6"),
        ("exports", ["武器名", "武器うんちく"], "ds3"),
        ("Sekiro Shadows Die Twice", ["武器名", "武器うんちく"], "sekiro"),  # a guess from names yields to the folder
        ("dark_souls_ii", ["Weapon_name_", "Weapon_long_desc_"], "ds2"),
        ("exports", ["Weapon_name_", "Weapon_long_desc_"], "ds1"),
        ("Elden Ring Nightreign", ["GR_MenuText"], "eldenring"),  # names only one game uses outrank the folder
        ("exports", ["Chronicle_"], "unknown"),
    ],
)
def test_exports_without_a_binder_get_their_game_from_table_names_then_folders(tmp_path, folder, tables, game):
    for table in tables:
        write_table(tmp_path / folder / "msg" / "engus" / "item-msgbnd-dcx", table, [(1, LORE)])
    found, _ = discover([tmp_path / folder])
    assert {(source.game, source.language) for source in found} == {(game, "engus")}


def test_the_sample_data_games_are_detected():
    found, _ = discover([SAMPLE_DATA])
    assert {source.path.relative_to(SAMPLE_DATA).parts[0]: source.game for source in found} == {
        "ds1": "ds1",
        "ds2": "ds2",
        "ds3": "ds3",
    }
    languages = {source.path.relative_to(SAMPLE_DATA).parts[0]: source.language for source in found}
    assert languages == {"ds1": "", "ds2": "engus", "ds3": "engus"}  # ds1/ has no language folder
    assert set(GAMES) >= {source.game for source in found}


def test_build_keeps_chosen_games_and_languages_and_records_them_per_entry(tmp_path):
    (tmp_path / "er").mkdir()
    (tmp_path / "er" / "item_en").write_bytes(archive("GR", "engUS"))
    (tmp_path / "er" / "item_jp").write_bytes(archive("GR", "jpnJP"))
    (tmp_path / "nr").mkdir()
    (tmp_path / "nr" / "item").write_bytes(archive("CL", "engUS", algorithm="ZSTD"))
    sources = [tmp_path / "er", tmp_path / "nr"]
    build_corpus(sources, tmp_path / "all")
    rows = corpus_rows(tmp_path / "all")
    assert {(row["game"], row["language"]) for row in rows} == {("eldenring", "engus"), ("nightreign", "engus")}
    manifest = json.loads((tmp_path / "all" / "manifest.json").read_text(encoding="utf-8"))
    assert {(entry["game"], entry["language"]) for entry in manifest["inputs"]} == {
        ("eldenring", "engus"),
        ("nightreign", "engus"),
    }
    assert str(tmp_path / "er" / "item_jp") in manifest["ignored_files"]
    assert set(manifest["tables"]) == {"eldenring", "nightreign"}

    build_corpus(sources, tmp_path / "nr_only", CorpusOptions(games=("nightreign",)))
    assert {row["game"] for row in corpus_rows(tmp_path / "nr_only")} == {"nightreign"}
    build_corpus(
        [tmp_path / "er", tmp_path / "nr"],
        tmp_path / "japanese",
        CorpusOptions(games=("eldenring",), languages=("jpnjp",)),
    )
    assert {row["language"] for row in corpus_rows(tmp_path / "japanese")} == {"jpnjp"}
    build_corpus(sources, tmp_path / "dialogue", CorpusOptions(kinds=("dialogue",)))
    assert {row["kind"] for row in corpus_rows(tmp_path / "dialogue")} == {"dialogue"}


def test_a_filter_that_leaves_nothing_says_what_was_found(tmp_path):
    (tmp_path / "game").mkdir()
    (tmp_path / "game" / "item").write_bytes(archive("GR", "engUS"))
    with pytest.raises(CorpusError, match=r"found eldenring \(engus\) but none of game sekiro in language engus"):
        build_corpus([tmp_path / "game"], tmp_path / "corpus", CorpusOptions(games=("sekiro",)))
    with pytest.raises(GameTextError, match="unknown game 'zelda': choose from ds1, ds2"):
        build_corpus([tmp_path / "game"], tmp_path / "corpus", CorpusOptions(games=("zelda",)))


def test_corpus_scan_lists_every_table_and_what_a_build_keeps(tmp_path):
    (tmp_path / "er_item").write_bytes(archive("GR", "engUS", algorithm="KRAK"))
    (tmp_path / "broken.msgbnd.dcx").write_bytes(archive()[:100])
    result = CliRunner().invoke(soulsgen, ["corpus", "scan", str(tmp_path), "--kinds", "lore,names"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["game", "language", "archive", "table", "kind", "entries", "kept"]
    rows = {line.split()[3]: line.split() for line in lines[1:-1]}
    archive_path = str(tmp_path / "er_item")
    assert rows["GoodsName"] == ["eldenring", "engus", archive_path, "GoodsName", "name", "1", "yes"]
    assert rows["GoodsCaption"] == ["eldenring", "engus", archive_path, "GoodsCaption", "lore", "1", "yes"]
    assert rows["TalkMsg"] == ["eldenring", "engus", archive_path, "TalkMsg", "dialogue", "1", "no"]
    assert lines[-1] == "3 tables, 2 kept by a build (2 entries); 1 unreadable file(s)"
    assert "unreadable: " in result.stderr and "broken.msgbnd.dcx" in result.stderr

    result = CliRunner().invoke(soulsgen, ["corpus", "scan", str(tmp_path / "er_item"), "--game", "sekiro"])
    assert result.stdout.splitlines()[-1] == "3 tables, 0 kept by a build (0 entries)"
    result = CliRunner().invoke(soulsgen, ["corpus", "scan", str(tmp_path), "--kinds", "gossip"])
    assert result.exit_code == 1 and "unknown table kind 'gossip'" in result.output


def test_corpus_build_cli_takes_game_kinds_and_language(tmp_path, monkeypatch):
    monkeypatch.setenv("SOULSGEN_HOME", str(tmp_path / "home"))
    (tmp_path / "game").mkdir()
    (tmp_path / "game" / "er").write_bytes(archive("GR", "jpnJP"))
    out = tmp_path / "corpus"
    args = ["corpus", "build", str(tmp_path / "game"), "--out", str(out), "--quiet"]
    result = CliRunner().invoke(soulsgen, [*args, "--game", "eldenring", "--kinds", "dialogue", "--language", "jpnjp"])
    assert result.exit_code == 0, result.output
    assert [(row["kind"], row["language"]) for row in corpus_rows(out)] == [("dialogue", "jpnjp")]
    result = CliRunner().invoke(soulsgen, [*args, "--game", "eldenring"])
    assert result.exit_code == 1 and "none of game eldenring in language engus" in result.output


@pytest.mark.parametrize("algorithm", ["DFLT", "ZSTD", "KRAK"])
def test_large_archives_are_recognised_from_their_start(tmp_path, algorithm):
    noise = random.Random(0).randbytes(3_000_000)  # packs poorly: the payload runs far past what is peeked
    text = archive("GR", algorithm=algorithm)
    models = [BinderFile(1, "N:\\GR\\chr\\c0000.flver", noise)]
    (tmp_path / "text.bin").write_bytes(text)
    (tmp_path / "models.bin").write_bytes(dcx_bytes(binder_bytes(models), algorithm))
    big_text = [
        BinderFile(
            10, "N:\\GR\\data\\INTERROOT_win64\\msg\\engUS\\GoodsName.fmg", fmg_bytes(FmgTable("", [(1, NAME)], ""), 2)
        )
    ]
    big_text.append(BinderFile(99, "N:\\GR\\data\\INTERROOT_win64\\msg\\engUS\\Padding.fmg", noise))
    (tmp_path / "big_text.bin").write_bytes(dcx_bytes(binder_bytes(big_text), algorithm))
    found, ignored = discover([tmp_path], max_bytes=1 << 20)  # the models archive is also over the size limit
    assert {(source.path.name, source.game) for source in found} == {
        ("text.bin", "eldenring"),
        ("big_text.bin", "eldenring"),
    }
    assert [path.name for path in ignored] == ["models.bin"]


def test_a_renamed_xml_export_keeps_the_table_name_it_declares(tmp_path):
    (tmp_path / "er").mkdir()
    (tmp_path / "er" / "export 1.txt").write_bytes(fmg_xml_bytes(FmgTable("GoodsCaption", [(10, LORE)], "")))
    (tmp_path / "er" / "export 2.txt").write_bytes(fmg_xml_bytes(FmgTable("GoodsName", [(10, NAME)], "")))
    build_corpus([tmp_path / "er"], tmp_path / "corpus")
    (row,) = corpus_rows(tmp_path / "corpus")
    assert (row["table"], row["kind"], row["item"], row["game"]) == ("GoodsCaption", "lore", NAME, "eldenring")
