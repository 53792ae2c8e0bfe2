"""DCX containers: zlib (`DFLT`) read and write; other algorithms get a message saying how to unpack them."""

from __future__ import annotations

import struct
import zlib

from soulsgen_lib.gametext import GameTextError

MAGIC = b"DCX\x00"
_UNPACK_HINT = "unpack it with WitchyBND or Yabber first and point soulsgen at the unpacked folder"
_OTHER_ALGORITHMS = {
    b"KRAK": "Oodle Kraken compression (Sekiro, Elden Ring), which needs Oodle",
    b"ZSTD": "Zstandard compression (newest games)",
    b"EDGE": "EDGE compression (PS3)",
}


def is_dcx(data: bytes) -> bool:
    return data[:4] == MAGIC


def read_dcx(data: bytes, source: str, max_bytes: int) -> bytes:
    """The unpacked content of a DCX; the declared size is checked against `max_bytes` before inflating."""
    if len(data) < 0x4C or data[:4] != MAGIC:
        raise GameTextError(f"{source}: not a readable DCX: {len(data)} bytes is shorter than the header (truncated?)")
    if data[0x18:0x1C] != b"DCS\x00" or data[0x24:0x28] != b"DCP\x00":
        raise GameTextError(f"{source}: not a readable DCX: the DCS/DCP blocks are missing (corrupt header)")
    uncompressed_size, compressed_size = struct.unpack_from(">II", data, 0x1C)
    algorithm = data[0x28:0x2C]
    if algorithm in _OTHER_ALGORITHMS:
        raise GameTextError(f"{source}: this DCX uses {_OTHER_ALGORITHMS[algorithm]}; {_UNPACK_HINT}")
    if algorithm != b"DFLT":
        raise GameTextError(f"{source}: unknown DCX compression {algorithm!r}; {_UNPACK_HINT}")
    if uncompressed_size > max_bytes:
        raise GameTextError(
            f"{source}: DCX declares {uncompressed_size / 2**20:.0f} MiB unpacked, over the "
            f"{max_bytes / 2**20:.0f} MiB limit (raise --max-file-mib if the file is genuine)"
        )
    (dcp_size,) = struct.unpack_from(">I", data, 0x2C)
    dca_at = 0x24 + dcp_size
    if dcp_size < 8 or dca_at + 8 > len(data) or data[dca_at : dca_at + 4] != b"DCA\x00":
        raise GameTextError(f"{source}: not a readable DCX: the DCA block is missing (corrupt header)")
    (dca_size,) = struct.unpack_from(">I", data, dca_at + 4)
    start = dca_at + dca_size
    if dca_size < 8 or start + compressed_size > len(data):
        raise GameTextError(
            f"{source}: DCX declares {compressed_size} compressed bytes but holds {max(0, len(data) - start)} "
            "(truncated?)"
        )
    inflater = zlib.decompressobj()
    try:
        content = inflater.decompress(data[start : start + compressed_size], uncompressed_size + 1)
    except zlib.error as error:
        raise GameTextError(f"{source}: DCX zlib stream is corrupt ({error})") from None
    if len(content) != uncompressed_size:
        raise GameTextError(
            f"{source}: DCX unpacks to {len(content)} bytes, not the declared {uncompressed_size} "
            "(corrupt or truncated)"
        )
    return content


def dcx_bytes(content: bytes, level: int = 9) -> bytes:
    """`content` in a DCX with zlib compression, laid out as Dark Souls Remastered and Dark Souls III write it."""
    packed = zlib.compress(content, level)
    header = MAGIC + struct.pack(">iiiii", 0x10000, 0x18, 0x24, 0x44, 0x4C)
    header += b"DCS\x00" + struct.pack(">II", len(content), len(packed))
    header += b"DCP\x00" + b"DFLT" + struct.pack(">iBBBBiiii", 0x20, level, 0, 0, 0, 0, 0, 0, 0x00010100)
    header += b"DCA\x00" + struct.pack(">i", 8)
    return header + packed
