"""Untrusted game text: memory linear in the file's size, the size limit for XML too, one-line errors."""

import struct
import tracemalloc

import pytest

from soulsgen_lib.corpus import CorpusError, CorpusOptions, build_corpus
from soulsgen_lib.gametext import FmgTable, GameTextError
from soulsgen_lib.gametext.binary import read_binary_tables
from soulsgen_lib.gametext.binder import BinderFile
from soulsgen_lib.gametext.fmgbin import fmg_bytes, read_fmg
from soulsgen_lib.gametext.writers import binder_bytes
from soulsgen_lib.gametext.xmlfmg import read_fmg_xml


def crafted_fmg(groups: list[tuple[int, int, int]], offsets: list[int], strings: bytes = b"") -> bytes:
    """A version-1 FMG with the given (slot, first id, last id) groups and string offsets (0: no text)."""
    header = 0x1C
    table_at = header + 12 * len(groups)
    strings_at = table_at + 4 * len(offsets)
    data = bytearray(bytes((0, 0, 1, 0)) + struct.pack("<i", 0) + bytes((1, 0, 0, 0)))
    data += struct.pack("<iiii", len(groups), len(offsets), table_at, 0)
    for group in groups:
        data += struct.pack("<iii", *group)
    data += b"".join(struct.pack("<i", strings_at + offset if offset >= 0 else 0) for offset in offsets)
    data += strings
    struct.pack_into("<i", data, 4, len(data))
    return bytes(data)


def test_groups_that_reuse_string_slots_are_refused():
    # 650 groups each mapping the same 2,000 slots: 1.3 million entries from 16 KB, unless refused.
    data = crafted_fmg([(0, group * 10_000, group * 10_000 + 1999) for group in range(650)], [-1] * 2000)
    assert len(data) < 16_500
    with pytest.raises(GameTextError, match=r"^mem: not a readable FMG table: group 1 \(slot 0\) reuses the string"):
        read_fmg(data, "t", "mem")


def test_slots_sharing_one_string_cost_memory_once():
    text = "The bell tolls for the drowned city, and none answer. " * 90  # about 5,000 characters
    data = crafted_fmg([(0, 1, 1000)], [0] * 1000, text.encode("utf-16-le") + b"\x00\x00")
    tracemalloc.start()
    try:
        table = read_fmg(data, "t", "mem")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(table.entries) == 1000 and table.entries[-1] == (1000, text)
    assert peak < 20 * len(data)  # each slot decoding its own copy would take 5 MB


def test_strings_that_overlap_one_another_are_refused():
    text = ("x" * 4000).encode("utf-16-le") + b"\x00\x00"
    data = crafted_fmg([(0, 1, 1000)], [2 * index for index in range(1000)], text)
    with pytest.raises(GameTextError, match="overlaps other strings"):
        read_fmg(data, "t", "mem")


def test_a_28_byte_version_2_fmg_is_one_clear_error():
    data = fmg_bytes(FmgTable("t", [(1, "text")], ""), 2)[:28]
    with pytest.raises(GameTextError, match=r"^mem: not a readable FMG table: 28 bytes is shorter than the version 2"):
        read_fmg(data, "t", "mem")


def write_xml(path, entries: str, doctype: str = "") -> None:
    path.write_text(
        f'<?xml version="1.0" encoding="utf-8"?>\n{doctype}<fmg>\n<entries>\n{entries}\n</entries>\n</fmg>\n'
    )


def test_a_non_ascii_digit_id_is_one_clear_error(tmp_path):
    path = tmp_path / "t.fmg.xml"
    write_xml(path, '<text id="1">fine</text>\n<text id="²">squared</text>')
    with pytest.raises(GameTextError, match=r":5: <text> needs a whole-number id attribute, got '²'$"):
        read_fmg_xml(path)


@pytest.mark.parametrize(
    ("entries", "doctype", "message"),
    [
        ('<text id="1">before <i>styled</i> after</text>', "", r":4: <text id='1'> holds a <i> element"),
        (
            '<text id="1">before &bell; after</text>',
            '<!DOCTYPE fmg [<!ENTITY bell "BELL">]>\n',
            "entity reference &bell;",
        ),
    ],
)
def test_markup_inside_an_entry_is_reported_not_dropped(tmp_path, entries, doctype, message):
    path = tmp_path / "t.fmg.xml"
    write_xml(path, entries, doctype)
    with pytest.raises(GameTextError, match=message):
        read_fmg_xml(path)


def test_text_around_a_comment_is_kept(tmp_path):
    path = tmp_path / "t.fmg.xml"
    write_xml(path, '<text id="1">before <!-- a translator note --> after</text>')
    assert read_fmg_xml(path).entries == [(1, "before  after")]


def test_the_file_size_limit_holds_for_xml_exports(tmp_path):
    game = tmp_path / "game"
    game.mkdir()
    lines = "\n".join(
        f'<text id="{index}">A grey wind over the marsh, and then silence.</text>' for index in range(30_000)
    )
    write_xml(game / "Item_long_desc_.fmg.xml", lines)
    assert (game / "Item_long_desc_.fmg.xml").stat().st_size > 1 << 20
    with pytest.raises(CorpusError, match=r"Item_long_desc_\.fmg\.xml: 2 MiB is over the 1 MiB limit"):
        build_corpus([game], tmp_path / "corpus", CorpusOptions(max_file_bytes=1 << 20))


def test_an_error_inside_a_binder_stays_on_one_line_whatever_the_member_is_called(tmp_path):
    path = tmp_path / "item.msgbnd"
    path.write_bytes(binder_bytes([BinderFile(24, "Item_long\ndesc_.fmg", b"\x00\x00\x07\x00" + bytes(40))]))
    with pytest.raises(GameTextError) as caught:
        list(read_binary_tables(path, lambda name: True, 1 << 20))
    assert str(caught.value) == f"{path}[Item_long\\ndesc_.fmg]: not a readable FMG table: unknown FMG version 7 " + (
        "(known: 0 Demon's Souls, 1 Dark Souls, 2 Dark Souls III)"
    )
