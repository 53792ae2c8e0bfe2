import json
import struct

import pytest
from fixtures_corpus import SAMPLE_DATA
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from soulsgen_lib.corpus import CorpusError, CorpusOptions, build_corpus
from soulsgen_lib.gametext import FmgTable, GameTextError
from soulsgen_lib.gametext.binary import read_binary_tables
from soulsgen_lib.gametext.binder import BinderFile, read_binder
from soulsgen_lib.gametext.dcx import read_dcx
from soulsgen_lib.gametext.fmgbin import fmg_bytes, read_fmg
from soulsgen_lib.gametext.writers import binder_bytes, dcx_bytes
from soulsgen_lib.gametext.xmlfmg import fmg_xml_bytes

LIMIT = 1 << 20
text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30)
tables = st.dictionaries(st.integers(-(2**31), 2**31 - 1), st.one_of(st.none(), text), max_size=20).map(
    lambda entries: sorted(entries.items())
)


@settings(max_examples=60, deadline=None)
@given(entries=tables, version=st.sampled_from([0, 1, 2]), big_endian=st.booleans())
def test_fmg_write_read_round_trip(entries, version, big_endian):
    table = read_fmg(fmg_bytes(FmgTable("t", entries, ""), version, big_endian), "t", "mem")
    assert table.entries == entries
    assert table.big_endian is big_endian


binder_files = st.lists(
    st.builds(
        BinderFile,
        id=st.integers(0, 10**6),
        name=st.text(alphabet="abcXYZ_\\.0123456789", min_size=1, max_size=20),
        data=st.binary(max_size=64),
    ),
    max_size=6,
)


@settings(max_examples=40, deadline=None)
@given(files=binder_files, kind=st.sampled_from(["bnd3", "bnd4", "bnd4-shift-jis"]), packed=st.booleans())
def test_binder_and_dcx_write_read_round_trip(files, kind, packed):
    data = {
        "bnd3": lambda f: binder_bytes(f, 3),
        "bnd4": binder_bytes,
        "bnd4-shift-jis": lambda f: binder_bytes(f, unicode=False),
    }[kind](files)
    if packed:
        data = read_dcx(dcx_bytes(data), "mem", LIMIT)
    assert read_binder(data, "mem") == files


def _valid_inputs() -> list[bytes]:
    fmg = fmg_bytes(FmgTable("t", [(1, "Ashen one"), (2, None), (7, "Ember")], ""), 2)
    binder = binder_bytes([BinderFile(10, "N:\\msg\\会話.fmg", fmg)])
    return [
        fmg,
        fmg_bytes(FmgTable("t", [(3, "Hollow")], ""), 1, True),
        binder,
        binder_bytes([BinderFile(1, "a.fmg", fmg)], 3),
    ]


def _read_any(data: bytes) -> None:
    from soulsgen_lib.gametext.binder import is_binder
    from soulsgen_lib.gametext.dcx import is_dcx

    if is_dcx(data):
        data = read_dcx(data, "fuzz", LIMIT)
    if is_binder(data):
        for member in read_binder(data, "fuzz"):
            read_fmg(member.data, "m", "fuzz")
    else:
        read_fmg(data, "t", "fuzz")


@settings(max_examples=300, deadline=None)
@given(
    base=st.sampled_from(range(4)),
    packed=st.booleans(),
    cut=st.integers(0, 400),
    flips=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=6),
)
def test_fuzzed_binaries_fail_with_one_clear_error(base, packed, cut, flips):
    data = bytearray(_valid_inputs()[base])
    if packed:
        data = bytearray(dcx_bytes(bytes(data)))
    for position, value in flips:
        if position < len(data):
            data[position] = value
    data = data[: max(len(data) - cut, 0)] if cut % 3 == 0 else data
    try:
        _read_any(bytes(data))
    except GameTextError as error:
        assert str(error).startswith("fuzz: ")


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=200))
def test_random_bytes_fail_with_one_clear_error(data):
    try:
        _read_any(data)
    except GameTextError as error:
        assert str(error).startswith("fuzz: ")


def _dcx_with(algorithm: bytes = b"DFLT", declared: int | None = None) -> bytes:
    data = bytearray(dcx_bytes(b"x" * 100))
    data[0x28:0x2C] = algorithm
    if declared is not None:
        struct.pack_into(">I", data, 0x1C, declared)
    return bytes(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_dcx_with(b"KRAK"), "Kraken DCX: block 0 at byte 0 has no block header"),
        (_dcx_with(b"ZSTD"), "Zstandard stream is corrupt"),
        (_dcx_with(b"EDGE"), "EDGE compression.*WitchyBND or Yabber"),
        (_dcx_with(b"ABCD"), "unknown DCX compression"),
        (_dcx_with(declared=0xFFFFFFF0), "over the 1 MiB limit"),
        (_dcx_with(declared=50), "not the declared 50"),
        (dcx_bytes(b"y" * 1000)[:-5], "truncated"),
        (b"DCX\x00" + bytes(20), "shorter than the header"),
        (bytes((0, 0, 7, 0)) + bytes(40), "unknown FMG version 7"),
        (fmg_bytes(FmgTable("t", [(1, "a long enough text")], ""), 1)[:-6], "no terminator"),
        (binder_bytes([BinderFile(1, "a.fmg", b"abc")])[:0x50], "run past the end"),
    ],
)
def test_bad_binaries_get_one_clear_error(tmp_path, data, message):
    path = tmp_path / "bad.msgbnd.dcx"
    path.write_bytes(data)
    with pytest.raises(GameTextError, match=message):
        list(read_binary_tables(path, lambda name: True, LIMIT))


def test_file_over_the_size_limit_is_refused_before_reading(tmp_path):
    path = tmp_path / "big.fmg"
    path.write_bytes(bytes(2 * LIMIT))
    with pytest.raises(GameTextError, match="over the 1 MiB limit"):
        list(read_binary_tables(path, lambda name: True, LIMIT))


def test_sample_binder_merges_the_patch_table_over_the_base_table():
    path = SAMPLE_DATA / "ds3" / "msg" / "engUS" / "menu_dlc2.msgbnd.dcx"
    tables = {table.name: table for table in read_binary_tables(path, lambda name: True, 1 << 28)}
    assert {"会話", "イベントテキスト", "血文字"} <= set(tables)
    patched = [text for _, text in tables["会話"].entries if text and text.endswith("so it has always gone.")]
    assert len(patched) == 10


def test_build_reads_binaries_and_names_a_truncated_one(tmp_path):
    game = tmp_path / "game"
    game.mkdir()
    lore = FmgTable("Item_long_desc_", [(5, "A shard of grey ember, warm to the touch.")], "")
    (game / "Item_long_desc_.fmg").write_bytes(fmg_bytes(lore, 1, big_endian=True))
    talk = FmgTable("会話", [(1, "So you have come,"), (2, "as the old songs foretold.")], "")
    (game / "menu.msgbnd.dcx").write_bytes(
        dcx_bytes(binder_bytes([BinderFile(10, "N:\\msg\\会話.fmg", fmg_bytes(talk, 2))]))
    )
    (game / "broken.fmg").write_bytes(fmg_bytes(lore, 1)[:30])
    with pytest.raises(CorpusError, match=r"broken\.fmg"):
        build_corpus([game], tmp_path / "corpus")
    summary = build_corpus([game], tmp_path / "corpus", CorpusOptions(skip_bad=True))
    sentences = (tmp_path / "corpus" / "train.txt").read_text(encoding="utf-8").splitlines()
    sentences += (tmp_path / "corpus" / "test.txt").read_text(encoding="utf-8").splitlines()
    assert sorted(sentences) == [
        "A shard of grey ember, warm to the touch.",
        "So you have come, as the old songs foretold.",
    ]
    assert len(summary.skipped) == 1


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=tables)
def test_loose_fmg_file_round_trip_through_the_reader(tmp_path, entries):
    path = tmp_path / "Weapon_long_desc_.fmg"
    path.write_bytes(fmg_bytes(FmgTable("Weapon_long_desc_", entries, ""), 2))
    (table,) = read_binary_tables(path, lambda name: True, LIMIT)
    assert table.name == "Weapon_long_desc_" and table.entries == entries


def test_binder_members_without_names_are_classified_by_file_id(tmp_path):
    lore = fmg_bytes(FmgTable("", [(7, "A blade of river clay, soft as a promise.")], ""), 1)
    newer_lore = fmg_bytes(FmgTable("", [(7, "A blade of river clay, hard as a broken promise.")], ""), 1)
    names = fmg_bytes(FmgTable("", [(7, "Clay Blade+3")], ""), 1)
    path = tmp_path / "item.msgbnd"
    path.write_bytes(
        binder_bytes([BinderFile(11, "", names), BinderFile(106, "", newer_lore), BinderFile(25, "", lore)], 3)
    )
    tables = {table.name: table.entries for table in read_binary_tables(path, lambda name: True, LIMIT)}
    assert tables == {
        "Weapon_name_": [(7, "Clay Blade+3")],
        "Weapon_long_desc_": [(7, "A blade of river clay, hard as a broken promise.")],
    }
    build_corpus([path], tmp_path / "corpus")
    row = json.loads((tmp_path / "corpus" / "corpus.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert row["item"] == "Clay Blade" and row["ids"] == [7]


def test_binaries_already_unpacked_beside_themselves_are_read_once(tmp_path):
    from soulsgen_lib.gametext.sources import discover

    game = tmp_path / "game"
    (game / "item-msgbnd-dcx").mkdir(parents=True)
    table = FmgTable("Item_long_desc_", [(1, "A pale stone that hums at dusk.")], "")
    (game / "item-msgbnd-dcx" / "Item_long_desc_.fmg").write_bytes(fmg_bytes(table, 1))
    (game / "item-msgbnd-dcx" / "Item_long_desc_.fmg.xml").write_bytes(fmg_xml_bytes(table))
    (game / "item.msgbnd.dcx").write_bytes(
        dcx_bytes(binder_bytes([BinderFile(24, "Item_long_desc_.fmg", fmg_bytes(table))]))
    )
    found, ignored = discover([game])
    assert [source.path.name for source in found] == ["Item_long_desc_.fmg.xml"]
    assert sorted(path.name for path in ignored) == ["Item_long_desc_.fmg", "item.msgbnd.dcx"]
