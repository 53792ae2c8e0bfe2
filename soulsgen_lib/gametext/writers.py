"""Binders and DCX containers written as the games lay them out: for tests, fixtures and the sample-data tool.

The reading path never imports this module.
"""

from __future__ import annotations

import struct
import zlib

from soulsgen_lib.gametext.binder import FILE_STANDARD, MSG_FORMAT, BinderFile, _reverse_bits
from soulsgen_lib.gametext.dcx import MAGIC
from soulsgen_lib.gametext.kraken import BLOCK_SIZE

_BND4_FILE_HEADER = 0x10 + 4 + 8 + 4 + 4  # flags, -1, size, unpacked size, offset, id, name offset
_BND3_FILE_HEADER = 8 + 4 + 4 + 4 + 4  # flags, size, offset, id, name offset, unpacked size


def binder_bytes(files: list[BinderFile], version: int = 4, unicode: bool = True) -> bytes:
    """A little-endian BND3 or BND4 with ids, names and sizes, as the games' `*.msgbnd` files are laid out.

    BND3 (Dark Souls) names are always Shift-JIS; BND4 names are UTF-16 unless `unicode` is False.
    """
    if version not in (3, 4):
        raise ValueError(f"binder version must be 3 or 4, not {version}")
    wide_names = unicode and version == 4
    header_at, file_header = (0x40, _BND4_FILE_HEADER) if version == 4 else (0x20, _BND3_FILE_HEADER)
    names_at = header_at + len(files) * file_header
    names = bytearray()
    name_offsets = []
    for file in files:
        name_offsets.append(names_at + len(names))
        names += file.name.encode("utf-16-le") + b"\x00\x00" if wide_names else file.name.encode("shift_jis") + b"\x00"
    data_at = _align(names_at + len(names), 16)
    headers = bytearray()
    body = bytearray()
    for file, name_offset in zip(files, name_offsets, strict=True):
        offset, size = data_at + len(body), len(file.data)
        if version == 4:
            headers += bytes((_reverse_bits(FILE_STANDARD), 0, 0, 0)) + struct.pack("<i", -1)
            headers += struct.pack("<qqIiI", size, size, offset, file.id, name_offset)
        else:
            headers += bytes((_reverse_bits(FILE_STANDARD), 0, 0, 0))
            headers += struct.pack("<iIiii", size, offset, file.id, name_offset, size)
        body += file.data
        body += bytes(_align(len(body), 16) - len(body))
    if version == 4:
        head = b"BND4" + bytes((0, 0, 0, 0, 0, 0, 1, 0)) + struct.pack("<iq", len(files), 0x40) + b"07D7R6\x00\x00"
        head += struct.pack("<qq", file_header, data_at)
        head += bytes((1 if unicode else 0, _reverse_bits(MSG_FORMAT), 0, 0)) + struct.pack("<iq", 0, 0)
    else:
        head = b"BND3" + b"07D7R6\x00\x00" + bytes((_reverse_bits(MSG_FORMAT), 0, 0, 0))
        head += struct.pack("<iiii", len(files), names_at + len(names), 0, 0)
    return bytes(head + headers + names + bytes(data_at - names_at - len(names)) + body)


def dcx_bytes(content: bytes, algorithm: str = "DFLT", level: int = 9) -> bytes:
    """`content` in a DCX: zlib as Dark Souls III writes it, Zstandard, or Kraken in stored (uncompressed) blocks.

    No Kraken encoder is free to use, so `KRAK` writes the format's stored block type, which the decoder reads
    like any other block.
    """
    if algorithm == "DFLT":
        packed = zlib.compress(content, level)
        version, flags = 0x10000, 0x00010100
    elif algorithm == "ZSTD":
        import zstandard

        packed = zstandard.ZstdCompressor(level=min(level, 19)).compress(content)
        version, flags = 0x11000, 0x00010100
    elif algorithm == "KRAK":
        packed = kraken_stored_bytes(content)
        version, flags = 0x11000, 0x00010100
    else:
        raise ValueError(f"DCX algorithm must be DFLT, ZSTD or KRAK, not {algorithm!r}")
    header = MAGIC + struct.pack(">iiiii", version, 0x18, 0x24, 0x44, 0x4C)
    header += b"DCS\x00" + struct.pack(">II", len(content), len(packed))
    header += b"DCP\x00" + algorithm.encode() + struct.pack(">iBBBBiiii", 0x20, level, 0, 0, 0, 0, 0, 0, flags)
    header += b"DCA\x00" + struct.pack(">i", 8)
    return header + packed


def kraken_stored_bytes(content: bytes) -> bytes:
    """A Kraken payload of stored blocks: each 256 KiB of `content` behind a block header (restart, stored)."""
    return b"".join(
        bytes((0xCC, 0x06)) + content[start : start + BLOCK_SIZE] for start in range(0, len(content), BLOCK_SIZE)
    )


def _align(value: int, alignment: int) -> int:
    return (value + alignment - 1) // alignment * alignment
