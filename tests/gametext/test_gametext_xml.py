import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from soulsgen_lib.gametext import FmgTable, GameTextError
from soulsgen_lib.gametext.xmlfmg import fmg_xml_bytes, read_fmg_xml


def test_reads_bom_crlf_and_elements_in_any_order(tmp_path):
    path = tmp_path / "Item_long_desc_.fmg.xml"
    xml = (
        '\ufeff<?xml version="1.0" encoding="utf-8"?>\r\n<fmg>\r\n<entries>\r\n'
        '<text id="7">First line.\r\n\r\nSecond &amp; last.</text>\r\n<text id="9">%null%</text>\r\n'
        '<text id="11"></text>\r\n</entries>\r\n<bigendian>True</bigendian>\r\n<version>DarkSouls3</version>\r\n'
        "<filename>N:\\FDP\\data\\msg\\engUS\\アイテムうんちく.fmg</filename>\r\n<extra>ignored</extra>\r\n</fmg>\r\n"
    )
    path.write_bytes(xml.encode("utf-8"))
    table = read_fmg_xml(path)
    assert table.entries == [(7, "First line.\n\nSecond & last."), (9, None), (11, None)]
    assert table.version == "DarkSouls3"
    assert table.big_endian is True
    assert table.name == "アイテムうんちく"


def test_malformed_xml_names_file_and_line(tmp_path):
    path = tmp_path / "Weapon_name_.fmg.xml"
    path.write_text('<?xml version="1.0"?>\n<fmg>\n<entries>\n<text id="1">ok</text>\n<text id="2">broken</txt>\n')
    with pytest.raises(GameTextError, match=r"Weapon_name_\.fmg\.xml:5: malformed XML"):
        read_fmg_xml(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("<bnd4><files/></bnd4>", "not an FMG export"),
        ('<fmg><entries><text id="x">a</text></entries></fmg>', "whole-number id"),
        ("", "malformed XML"),
    ],
)
def test_other_bad_exports_get_one_clear_error(tmp_path, content, message):
    path = tmp_path / "t.fmg.xml"
    path.write_text(content)
    with pytest.raises(GameTextError, match=message):
        read_fmg_xml(path)


texts = st.one_of(
    st.none(),
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\r"),
        min_size=1,
        max_size=40,
    ).filter(lambda t: t != "%null%" and t.strip() == t),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=st.lists(st.tuples(st.integers(-(2**31), 2**31 - 1), texts), max_size=12))
def test_write_read_round_trip(tmp_path, entries):
    path = tmp_path / "Round_trip_.fmg.xml"
    for witchy in (False, True):
        path.write_bytes(fmg_xml_bytes(FmgTable("Round_trip_", entries, ""), with_filename=witchy))
        table = read_fmg_xml(path)
        assert table.entries == entries
        assert table.name == "Round_trip_"
