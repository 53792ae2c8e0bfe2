"""BND3 and BND4 binders (`*.msgbnd`): a bounds-checked reader and a writer for the layouts the games use."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from soulsgen_lib.gametext import GameTextError

# Format bits (as SoulsFormats names them), stored bit-reversed on disk unless the binder says otherwise.
FORMAT_BIG_ENDIAN = 0x01
FORMAT_IDS = 0x02
FORMAT_NAMES1 = 0x04
FORMAT_NAMES2 = 0x08
FORMAT_LONG_OFFSETS = 0x10
FORMAT_COMPRESSION = 0x20
FILE_STANDARD = 0x02  # set on every file of the games' binders
MSG_FORMAT = FORMAT_IDS | FORMAT_NAMES1 | FORMAT_NAMES2 | FORMAT_COMPRESSION


@dataclass
class BinderFile:
    """One file of a binder: its id, full (Windows) path name and content."""

    id: int
    name: str
    data: bytes


def is_binder(data: bytes) -> bool:
    return data[:4] in (b"BND3", b"BND4")


def _reverse_bits(value: int) -> int:
    return int(f"{value:08b}"[::-1], 2)


def _read_format(raw: int, bit_big_endian: bool) -> int:
    reverse = bit_big_endian or (raw & 1 and not raw & 0x80)
    return raw if reverse else _reverse_bits(raw)


def _fail(source: str, reason: str) -> GameTextError:
    return GameTextError(f"{source}: not a readable binder: {reason}")


def read_binder(data: bytes, source: str) -> list[BinderFile]:
    """The files of a BND3 or BND4 binder; a compressed member (a DCX inside) is returned still packed."""
    if data[:4] == b"BND4":
        return _read_bnd4(data, source)
    if data[:4] == b"BND3":
        return _read_bnd3(data, source)
    raise _fail(source, f"magic {data[:4]!r} is neither BND3 nor BND4")


def _read_bnd4(data: bytes, source: str) -> list[BinderFile]:
    if len(data) < 0x40:
        raise _fail(source, f"{len(data)} bytes is shorter than the BND4 header (truncated?)")
    big_endian = data[9] == 1
    bit_big_endian = data[10] == 0
    unicode = data[0x30] == 1
    fmt = _read_format(data[0x31], bit_big_endian)
    order = ">" if big_endian or fmt & FORMAT_BIG_ENDIAN else "<"
    (count,) = struct.unpack_from(f"{order}i", data, 0x0C)
    (header_size,) = struct.unpack_from(f"{order}q", data, 0x20)
    expected = 0x10 + (8 if fmt & FORMAT_LONG_OFFSETS else 4) + (8 if fmt & FORMAT_COMPRESSION else 0)
    expected += (4 if fmt & FORMAT_IDS else 0) + (4 if fmt & (FORMAT_NAMES1 | FORMAT_NAMES2) else 0)
    expected += 8 if fmt == FORMAT_NAMES1 else 0
    if header_size != expected:
        raise _fail(source, f"file header size {header_size} does not match format 0x{fmt:02X} (corrupt header)")
    if count < 0 or 0x40 + count * header_size > len(data):
        raise _fail(source, f"{count} file headers run past the end of the data (truncated?)")
    files = []
    for index in range(count):
        at = 0x40 + index * header_size
        at += 8  # flags byte, padding and -1
        (size,) = struct.unpack_from(f"{order}q", data, at)
        at += 8
        if fmt & FORMAT_COMPRESSION:
            at += 8
        offset, file_id, name_offset = _offset_id_name(data, at, order, fmt, "I")
        name = "" if name_offset is None else _name_at(data, name_offset, unicode, big_endian, source)
        files.append(BinderFile(file_id, name, _member(data, offset, size, source, index)))
    return files


def _offset_id_name(data: bytes, at: int, order: str, fmt: int, name_format: str) -> tuple[int, int, int | None]:
    """The data offset, file id (-1 when absent) and name offset (None when absent) of one file header.

    Both binder versions lay these fields out alike from `at`; BND4 stores the name offset unsigned.
    """
    if fmt & FORMAT_LONG_OFFSETS:
        (offset,) = struct.unpack_from(f"{order}q", data, at)
        at += 8
    else:
        (offset,) = struct.unpack_from(f"{order}I", data, at)
        at += 4
    file_id = -1
    if fmt & FORMAT_IDS:
        (file_id,) = struct.unpack_from(f"{order}i", data, at)
        at += 4
    name_offset = None
    if fmt & (FORMAT_NAMES1 | FORMAT_NAMES2):
        (name_offset,) = struct.unpack_from(f"{order}{name_format}", data, at)
    return offset, file_id, name_offset


def _read_bnd3(data: bytes, source: str) -> list[BinderFile]:
    if len(data) < 0x20:
        raise _fail(source, f"{len(data)} bytes is shorter than the BND3 header (truncated?)")
    bit_big_endian = data[0x0E] == 1
    fmt = _read_format(data[0x0C], bit_big_endian)
    order = ">" if data[0x0D] == 1 or fmt & FORMAT_BIG_ENDIAN else "<"
    (count,) = struct.unpack_from(f"{order}i", data, 0x10)
    header_size = 8 + (8 if fmt & FORMAT_LONG_OFFSETS else 4) + (4 if fmt & FORMAT_IDS else 0)
    header_size += (4 if fmt & (FORMAT_NAMES1 | FORMAT_NAMES2) else 0) + (4 if fmt & FORMAT_COMPRESSION else 0)
    if count < 0 or 0x20 + count * header_size > len(data):
        raise _fail(source, f"{count} file headers run past the end of the data (truncated?)")
    files = []
    for index in range(count):
        at = 0x20 + index * header_size
        (size,) = struct.unpack_from(f"{order}i", data, at + 4)
        at += 8
        offset, file_id, name_offset = _offset_id_name(data, at, order, fmt, "i")
        name = "" if name_offset is None else _name_at(data, name_offset, False, False, source)
        files.append(BinderFile(file_id, name, _member(data, offset, size, source, index)))
    return files


def _member(data: bytes, offset: int, size: int, source: str, index: int) -> bytes:
    if size < 0 or offset < 0 or offset + size > len(data):
        raise _fail(source, f"file {index} ({size} bytes at {offset}) runs past the end of the data (truncated?)")
    return data[offset : offset + size]


def _name_at(data: bytes, offset: int, unicode: bool, big_endian: bool, source: str) -> str:
    if not 0 <= offset < len(data):
        raise _fail(source, f"file name offset {offset} lies outside the data")
    if unicode:
        end = offset
        while True:
            end = data.find(b"\x00\x00", end)
            if end < 0:
                raise _fail(source, f"file name at {offset} has no terminator")
            if (end - offset) % 2 == 0:
                break
            end += 1
        raw, encoding = data[offset:end], "utf-16-be" if big_endian else "utf-16-le"
    else:
        end = data.find(b"\x00", offset)
        if end < 0:
            raise _fail(source, f"file name at {offset} has no terminator")
        raw, encoding = data[offset:end], "shift_jis"
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError:
        raise _fail(source, f"file name at {offset} is not valid {encoding}") from None


def bnd4_bytes(files: list[BinderFile], unicode: bool = True) -> bytes:
    """A little-endian BND4 with ids, names and sizes, as the games' `*.msgbnd` files are laid out."""
    header_size = 0x10 + 4 + 8 + 4 + 4
    names_at = 0x40 + len(files) * header_size
    names = bytearray()
    name_offsets = []
    for file in files:
        name_offsets.append(names_at + len(names))
        names += file.name.encode("utf-16-le") + b"\x00\x00" if unicode else file.name.encode("shift_jis") + b"\x00"
    data_at = _align(names_at + len(names), 16)
    headers = bytearray()
    body = bytearray()
    for file, name_offset in zip(files, name_offsets, strict=True):
        offset = data_at + len(body)
        headers += bytes((_reverse_bits(FILE_STANDARD), 0, 0, 0)) + struct.pack("<i", -1)
        headers += struct.pack("<qqIiI", len(file.data), len(file.data), offset, file.id, name_offset)
        body += file.data
        body += bytes(_align(len(body), 16) - len(body))
    head = b"BND4" + bytes((0, 0, 0, 0, 0, 0, 1, 0)) + struct.pack("<iq", len(files), 0x40) + b"07D7R6\x00\x00"
    head += struct.pack("<qq", header_size, data_at) + bytes((1 if unicode else 0, _reverse_bits(MSG_FORMAT), 0, 0))
    head += struct.pack("<iq", 0, 0)
    return bytes(head + headers + names + bytes(data_at - names_at - len(names)) + body)


def bnd3_bytes(files: list[BinderFile]) -> bytes:
    """A little-endian BND3 with ids, names and sizes (Dark Souls layout)."""
    header_size = 8 + 4 + 4 + 4 + 4
    names_at = 0x20 + len(files) * header_size
    names = bytearray()
    name_offsets = []
    for file in files:
        name_offsets.append(names_at + len(names))
        names += file.name.encode("shift_jis") + b"\x00"
    data_at = _align(names_at + len(names), 16)
    headers = bytearray()
    body = bytearray()
    for file, name_offset in zip(files, name_offsets, strict=True):
        headers += bytes((_reverse_bits(FILE_STANDARD), 0, 0, 0))
        headers += struct.pack("<iIiii", len(file.data), data_at + len(body), file.id, name_offset, len(file.data))
        body += file.data
        body += bytes(_align(len(body), 16) - len(body))
    head = b"BND3" + b"07D7R6\x00\x00" + bytes((_reverse_bits(MSG_FORMAT), 0, 0, 0))
    head += struct.pack("<iiii", len(files), names_at + len(names), 0, 0)
    return bytes(head + headers + names + bytes(data_at - names_at - len(names)) + body)


def _align(value: int, alignment: int) -> int:
    return (value + alignment - 1) // alignment * alignment
