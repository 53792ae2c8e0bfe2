"""BND3 and BND4 binders (`*.msgbnd`): a bounds-checked reader (the writer for tests and tools is `writers`)."""

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
    unicode, big_endian, headers = _file_headers(data, source)
    return [
        BinderFile(
            file_id,
            "" if name_at is None else _name_at(data, name_at, unicode, big_endian, source),
            _member(data, offset, size, source, index),
        )
        for index, (file_id, name_at, offset, size) in enumerate(headers)
    ]


def member_names(data: bytes, source: str) -> list[str]:
    """The member names of a binder from its header alone: `data` may stop before the members' contents."""
    unicode, big_endian, headers = _file_headers(data, source)
    return [_name_at(data, name_at, unicode, big_endian, source) for _, name_at, _, _ in headers if name_at is not None]


def _file_headers(data: bytes, source: str) -> tuple[bool, bool, list[tuple[int, int | None, int, int]]]:
    """Whether names are UTF-16 and big-endian, and each file's (id, name offset, data offset, size)."""
    if data[:4] == b"BND4":
        return _read_bnd4(data, source)
    if data[:4] == b"BND3":
        return False, False, _read_bnd3(data, source)
    raise _fail(source, f"magic {data[:4]!r} is neither BND3 nor BND4")


def _read_bnd4(data: bytes, source: str) -> tuple[bool, bool, list[tuple[int, int | None, int, int]]]:
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
    headers = []
    for index in range(count):
        at = 0x40 + index * header_size
        at += 8  # flags byte, padding and -1
        (size,) = struct.unpack_from(f"{order}q", data, at)
        at += 8
        if fmt & FORMAT_COMPRESSION:
            at += 8
        offset, file_id, name_offset = _offset_id_name(data, at, order, fmt, "I")
        headers.append((file_id, name_offset, offset, size))
    return unicode, big_endian, headers


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


def _read_bnd3(data: bytes, source: str) -> list[tuple[int, int | None, int, int]]:
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
    headers = []
    for index in range(count):
        at = 0x20 + index * header_size
        (size,) = struct.unpack_from(f"{order}i", data, at + 4)
        at += 8
        offset, file_id, name_offset = _offset_id_name(data, at, order, fmt, "i")
        headers.append((file_id, name_offset, offset, size))
    return headers


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
