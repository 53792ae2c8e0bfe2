"""Binary FMG tables (format versions 0, 1 and 2; little- or big-endian): a bounds-checked reader and a writer."""

from __future__ import annotations

import struct

from soulsgen_lib.gametext import FmgTable, GameTextError

VERSION_NAMES = {0: "DemonsSouls", 1: "DarkSouls1", 2: "DarkSouls3"}


def _fail(source: str, reason: str) -> GameTextError:
    return GameTextError(f"{source}: not a readable FMG table: {reason}")


def looks_like_fmg(data: bytes) -> bool:
    """True when `data` starts like an FMG header of any version (the format has no magic word)."""
    return len(data) >= 4 and data[0] == 0 and data[1] in (0, 1) and data[3] == 0


def read_fmg(data: bytes, name: str, source: str) -> FmgTable:
    """Parse a binary FMG; every offset and count is checked against the data, so corrupt input fails fast."""
    if len(data) < 0x1C:
        raise _fail(source, f"{len(data)} bytes is shorter than the header")
    if data[0] != 0 or data[3] != 0 or data[1] not in (0, 1):
        raise _fail(source, "header bytes 0-3 do not match any FMG version")
    big_endian = data[1] == 1
    version = data[2]
    if version not in VERSION_NAMES:
        raise _fail(source, f"unknown FMG version {version} (known: 0 Demon's Souls, 1 Dark Souls, 2 Dark Souls III)")
    order = ">" if big_endian else "<"
    wide = version == 2
    if wide and len(data) < 0x28:
        raise _fail(source, f"{len(data)} bytes is shorter than the version 2 header")
    unicode = data[8] == 1
    group_count, string_count = struct.unpack_from(f"{order}ii", data, 0x0C)
    if wide:
        (table_offset,) = struct.unpack_from(f"{order}q", data, 0x18)
        groups_at, group_size, slot_size = 0x28, 16, 8
    else:
        (table_offset,) = struct.unpack_from(f"{order}i", data, 0x14)
        groups_at, group_size, slot_size = 0x1C, 12, 4
    if group_count < 0 or groups_at + group_count * group_size > len(data):
        raise _fail(source, f"group count {group_count} runs past the end of the data (truncated?)")
    if string_count < 0 or not 0 <= table_offset <= len(data) - string_count * slot_size:
        raise _fail(source, f"string table ({string_count} offsets at {table_offset}) runs past the end (truncated?)")
    groups = [struct.unpack_from(f"{order}iii", data, groups_at + group * group_size) for group in range(group_count)]
    _check_groups(groups, string_count, source)
    slot_format = f"{order}{'q' if wide else 'i'}"
    encoding = ("utf-16-be" if big_endian else "utf-16-le") if unicode else "shift_jis"
    # Slots may share a string: each is decoded once. Strings that overlap could make a small file decode to
    # far more text than it holds, so the text read may not outgrow the file (every character takes a byte).
    strings: dict[int, str | None] = {}
    characters = 0
    entries: list[tuple[int, str | None]] = []
    for index, first_id, last_id in groups:
        for slot in range(last_id - first_id + 1):
            (offset,) = struct.unpack_from(slot_format, data, table_offset + (index + slot) * slot_size)
            if offset not in strings:
                strings[offset] = text = _string_at(data, offset, unicode, encoding, source)
                characters += len(text or "")
                if characters > len(data):
                    raise _fail(source, f"string at {offset} overlaps other strings (corrupt)")
            entries.append((first_id + slot, strings[offset]))
    return FmgTable(name=name, entries=entries, source=source, version=VERSION_NAMES[version], big_endian=big_endian)


def _check_groups(groups: list[tuple[int, int, int]], string_count: int, source: str) -> None:
    """Each group's ids map to its own run of string slots: in range, and never shared with another group."""
    previous_end = 0
    for number, (index, first_id, last_id) in sorted(enumerate(groups), key=lambda group: group[1][0]):
        count = last_id - first_id + 1
        if count < 1 or index < 0 or index + count > string_count:
            raise _fail(source, f"group {number} (ids {first_id}..{last_id}, slot {index}) is out of range")
        if index < previous_end:
            raise _fail(source, f"group {number} (slot {index}) reuses the string slots of another group (corrupt)")
        previous_end = index + count


def _string_at(data: bytes, offset: int, unicode: bool, encoding: str, source: str) -> str | None:
    if offset == 0:
        return None
    if not 0 < offset < len(data):
        raise _fail(source, f"string offset {offset} lies outside the {len(data)}-byte table")
    if unicode:
        end = offset
        while True:
            end = data.find(b"\x00\x00", end, len(data))
            if end < 0:
                raise _fail(source, f"string at {offset} has no terminator (truncated?)")
            if (end - offset) % 2 == 0:
                break
            end += 1
    else:
        end = data.find(b"\x00", offset)
        if end < 0:
            raise _fail(source, f"string at {offset} has no terminator (truncated?)")
    try:
        return data[offset:end].decode(encoding)
    except UnicodeDecodeError:
        raise _fail(source, f"string at {offset} is not valid {encoding}") from None


def fmg_bytes(table: FmgTable, version: int = 1, big_endian: bool = False) -> bytes:
    """Write `table` as a binary FMG of `version` (0, 1 or 2); ids are sorted and grouped into consecutive runs."""
    if version not in VERSION_NAMES:
        raise ValueError(f"FMG version must be 0, 1 or 2, not {version}")
    order = ">" if big_endian else "<"
    wide = version == 2
    entries = sorted(table.entries, key=lambda entry: entry[0])
    groups: list[tuple[int, int, int]] = []  # (first slot, first id, last id)
    for slot, (entry_id, _) in enumerate(entries):
        if groups and entry_id == groups[-1][2] + 1:
            groups[-1] = (groups[-1][0], groups[-1][1], entry_id)
        else:
            groups.append((slot, entry_id, entry_id))
    header_size = 0x28 if wide else 0x1C
    group_size = 16 if wide else 12
    slot_size = 8 if wide else 4
    table_offset = header_size + len(groups) * group_size
    strings = bytearray()
    offsets = []
    strings_at = table_offset + len(entries) * slot_size
    encoding = "utf-16-be" if big_endian else "utf-16-le"
    for _, text in entries:
        if text is None:
            offsets.append(0)
        else:
            offsets.append(strings_at + len(strings))
            strings += text.encode(encoding) + b"\x00\x00"
    out = bytearray()
    out += bytes((0, 1 if big_endian else 0, version, 0))
    out += struct.pack(f"{order}i", 0)  # file size, filled in below
    out += bytes((1, 0xFF if version == 0 else 0, 0, 0))
    out += struct.pack(f"{order}ii", len(groups), len(entries))
    if wide:
        out += struct.pack(f"{order}iqq", 0xFF, table_offset, 0)
    else:
        out += struct.pack(f"{order}ii", table_offset, 0)
    for first_slot, first_id, last_id in groups:
        out += struct.pack(f"{order}iii", first_slot, first_id, last_id)
        if wide:
            out += struct.pack(f"{order}i", 0)
    out += b"".join(struct.pack(f"{order}{'q' if wide else 'i'}", offset) for offset in offsets)
    out += strings
    struct.pack_into(f"{order}i", out, 4, len(out))
    return bytes(out)
