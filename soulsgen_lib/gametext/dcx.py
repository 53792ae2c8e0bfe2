"""DCX containers: zlib (`DFLT`), Oodle Kraken (`KRAK`, with the `oodle` extra) and Zstandard (`ZSTD`)."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from soulsgen_lib.gametext import GameTextError

MAGIC = b"DCX\x00"
HEADER_SIZE = 0x4C
_UNPACK_HINT = "unpack it with WitchyBND or Yabber first and point soulsgen at the unpacked folder"
_UNSUPPORTED = {b"EDGE": "EDGE compression (PS3)"}


@dataclass(frozen=True)
class DcxHeader:
    """What a DCX header says: the algorithm, the unpacked size and where the packed payload lies."""

    algorithm: bytes
    size: int
    payload_at: int
    payload_size: int


def is_dcx(data: bytes) -> bool:
    return data[:4] == MAGIC


def read_header(data: bytes, source: str, max_bytes: int, partial: bool = False) -> DcxHeader:
    """The DCX header, checked against the data and against `max_bytes` before anything is unpacked.

    `partial`: `data` is only the file's start (to peek at a binder's header), so neither the payload's end
    nor the unpacked size limit is checked.
    """
    if len(data) < HEADER_SIZE or data[:4] != MAGIC:
        raise GameTextError(f"{source}: not a readable DCX: {len(data)} bytes is shorter than the header (truncated?)")
    if data[0x18:0x1C] != b"DCS\x00" or data[0x24:0x28] != b"DCP\x00":
        raise GameTextError(f"{source}: not a readable DCX: the DCS/DCP blocks are missing (corrupt header)")
    size, payload_size = struct.unpack_from(">II", data, 0x1C)
    algorithm = data[0x28:0x2C]
    if algorithm in _UNSUPPORTED:
        raise GameTextError(f"{source}: this DCX uses {_UNSUPPORTED[algorithm]}; {_UNPACK_HINT}")
    if algorithm not in (b"DFLT", b"KRAK", b"ZSTD"):
        raise GameTextError(f"{source}: unknown DCX compression {algorithm!r}; {_UNPACK_HINT}")
    if size > max_bytes and not partial:
        raise GameTextError(
            f"{source}: DCX declares {size / 2**20:.0f} MiB unpacked, over the "
            f"{max_bytes / 2**20:.0f} MiB limit (raise --max-file-mib if the file is genuine)"
        )
    (dcp_size,) = struct.unpack_from(">I", data, 0x2C)
    dca_at = 0x24 + dcp_size
    if dcp_size < 8 or dca_at + 8 > len(data) or data[dca_at : dca_at + 4] != b"DCA\x00":
        raise GameTextError(f"{source}: not a readable DCX: the DCA block is missing (corrupt header)")
    (dca_size,) = struct.unpack_from(">I", data, dca_at + 4)
    payload_at = dca_at + dca_size
    if dca_size < 8 or (payload_at + payload_size > len(data) and not partial):
        raise GameTextError(
            f"{source}: DCX declares {payload_size} compressed bytes but holds {max(0, len(data) - payload_at)} "
            "(truncated?)"
        )
    return DcxHeader(algorithm, size, payload_at, payload_size)


def read_dcx(data: bytes, source: str, max_bytes: int, head: int | None = None) -> bytes:
    """The unpacked content of a DCX, or about its first `head` bytes (a binder's header) from the file's start."""
    header = read_header(data, source, max_bytes, partial=head is not None)
    payload = data[header.payload_at : header.payload_at + header.payload_size]
    wanted = header.size if head is None else min(head, header.size)
    if header.algorithm == b"KRAK":
        from soulsgen_lib.gametext.kraken import decode_kraken

        content = decode_kraken(payload, header.size, source, head)
    elif header.algorithm == b"ZSTD":
        content = _inflate_zstd(payload, wanted, source)
    else:
        content = _inflate_zlib(payload, wanted, source)
    if head is None and len(content) != header.size:
        raise GameTextError(
            f"{source}: DCX unpacks to {len(content)} bytes, not the declared {header.size} (corrupt or truncated)"
        )
    return content


def _inflate_zlib(payload: bytes, wanted: int, source: str) -> bytes:
    try:
        return zlib.decompressobj().decompress(payload, wanted + 1)
    except zlib.error as error:
        raise GameTextError(f"{source}: DCX zlib stream is corrupt ({error})") from None


def _inflate_zstd(payload: bytes, wanted: int, source: str) -> bytes:
    import zstandard

    try:
        with zstandard.ZstdDecompressor().stream_reader(payload) as reader:
            pieces, left = [], wanted + 1  # one byte more than declared shows a stream that runs long
            while left > 0 and (piece := reader.read(left)):
                pieces.append(piece)
                left -= len(piece)
    except zstandard.ZstdError as error:
        raise GameTextError(f"{source}: DCX Zstandard stream is corrupt ({error})") from None
    return b"".join(pieces)
