"""FMG tables exported as XML by Yabber and WitchyBND: a streaming reader and a writer in the same layout."""

from __future__ import annotations

import re
from pathlib import Path

from lxml import etree

from soulsgen_lib.gametext import MAX_FILE_BYTES, FmgTable, GameTextError, check_file_size

NULL_TEXT = "%null%"
_READ_TAGS = ("text", "version", "bigendian", "filename")
_HEAD_BYTES = 4096
_FILENAME = re.compile(rb"<filename>([^<]*)</filename>")


def table_name_of(path: Path) -> str:
    """The table name behind an exported file name: `Weapon_long_desc_.fmg.xml` -> `Weapon_long_desc_`."""
    name = path.name
    for suffix in (".xml", ".fmg"):
        name = name.removesuffix(suffix)
    return name


def declared_table_name(path: Path) -> str:
    """The table's name without parsing the file: its `<filename>` (WitchyBND) if near the top, else the file name."""
    try:
        with path.open("rb") as handle:
            head = handle.read(_HEAD_BYTES)
    except OSError:
        return table_name_of(path)  # reading it in full gives the error
    match = _FILENAME.search(head)
    if not match:
        return table_name_of(path)
    return table_name_of(Path(match.group(1).decode("utf-8", "replace").strip().replace("\\", "/")))


def read_fmg_xml(path: Path, max_bytes: int = MAX_FILE_BYTES) -> FmgTable:
    """Parse one exported table; elements are found by name and `%null%` becomes None.

    The parse streams (each element is freed once read), so memory follows the table, not the file's markup.
    Only the elements read here raise events: lxml passes over the rest without calling back into Python.
    """
    table = FmgTable(name=table_name_of(path), entries=[], source=str(path))
    try:
        check_file_size(path, max_bytes)
        elements = etree.iterparse(str(path), tag=_READ_TAGS, resolve_entities=False, no_network=True, huge_tree=True)
        for _, element in elements:
            tag = element.tag
            if tag == "text":
                raw_id = element.get("id")
                simple = raw_id and raw_id.isascii() and raw_id.isdigit() and len(raw_id) < 19
                entry_id = int(raw_id) if simple else _entry_id(path, element)
                text = _text_around_comments(path, element) if len(element) else element.text
                table.entries.append((entry_id, _entry_text(text)))
                # Free what was read: memory then follows the entries kept, not the document tree.
                element.clear(keep_tail=False)
                while element.getprevious() is not None:
                    del element.getparent()[0]
            elif tag == "version":
                table.version = (element.text or "").strip()
            elif tag == "bigendian":
                table.big_endian = (element.text or "").strip().lower() == "true"
            elif tag == "filename" and element.text:
                table.name = table_name_of(Path(element.text.strip().replace("\\", "/")))
    except etree.XMLSyntaxError as error:
        line = error.lineno if error.lineno else "?"
        reason = " ".join(error.msg.split())  # lxml's message may hold line breaks
        raise GameTextError(f"{path}:{line}: malformed XML: {reason}; fix or re-export the file") from None
    except OSError as error:
        raise GameTextError(f"{path}: cannot read: {error.strerror or error}") from None
    if elements.root is None:
        raise GameTextError(f"{path}:1: malformed XML: the file is empty")
    if elements.root.tag != "fmg":
        raise GameTextError(f"{path}: not an FMG export (root element <{elements.root.tag}>, expected <fmg>)")
    return table


def _entry_id(path: Path, element: etree._Element) -> int:
    """A negative or malformed id: parsed if it is a whole number, else a clear error naming the line."""
    raw = element.get("id")
    try:
        return int(raw.strip())
    except (AttributeError, ValueError):
        raise GameTextError(
            f"{path}:{element.sourceline}: <text> needs a whole-number id attribute, got {raw!r}"
        ) from None


def _text_around_comments(path: Path, element: etree._Element) -> str:
    """The text of a `<text>` holding comments; an element or unexpanded entity inside is a clear error.

    Exports hold plain text (`<`, `&` escaped), so markup there means a hand edit went wrong: its text is
    neither kept as markup nor silently dropped.
    """
    parts = [element.text or ""]
    for child in element:
        if isinstance(child, etree._Entity):
            raise GameTextError(
                f"{path}:{child.sourceline}: <text id={element.get('id')!r}> holds the entity reference {child.text}, "
                "which is not expanded: write the character itself"
            )
        if not isinstance(child, etree._Comment | etree._ProcessingInstruction):
            raise GameTextError(
                f"{path}:{child.sourceline}: <text id={element.get('id')!r}> holds a <{child.tag}> element; "
                "entry text is plain: escape '<' as &lt;"
            )
        parts.append(child.tail or "")
    return "".join(parts)


def _entry_text(text: str | None) -> str | None:
    if text is None or text == NULL_TEXT:
        return None
    return text


def fmg_xml_bytes(table: FmgTable, version: str = "DarkSouls1", with_filename: bool = True) -> bytes:
    """The table as Yabber/WitchyBND write it: UTF-8 with BOM, CRLF line ends, `%null%` for no text."""
    lines = ['<?xml version="1.0" encoding="utf-8"?>', "<fmg>"]
    if with_filename:
        lines.append(f"  <filename>{_escape(table.name)}.fmg</filename>")
    else:
        lines.append("  <compression>None</compression>")
    lines.append(f"  <version>{table.version or version}</version>")
    lines.append(f"  <bigendian>{'True' if table.big_endian else 'False'}</bigendian>")
    lines.append("  <entries>")
    for entry_id, text in table.entries:
        lines.append(f'    <text id="{entry_id}">{NULL_TEXT if text is None else _escape(text)}</text>')
    lines += ["  </entries>", "</fmg>", ""]
    return ("\ufeff" + "\n".join(lines).replace("\n", "\r\n")).encode("utf-8")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
