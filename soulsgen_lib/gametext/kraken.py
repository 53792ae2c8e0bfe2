"""Oodle Kraken payloads of DCX archives: a bounds-checked block walker and a decoder that runs in a subprocess.

The decoder is `ooz` (PyPI `pyooz`, GPL-3.0-or-later, the optional `oodle` extra). It decodes one 256 KiB block
per call and is not hardened against hostile input, so blocks are checked here first and decoded in a child
process: a crash there is one named error, never the end of the build.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from soulsgen_lib.gametext import GameTextError

BLOCK_SIZE = 0x40000  # unpacked bytes per block; the last one holds the rest
_DECODERS = (5, 6, 10, 11, 12)  # Oodle's codec ids the `ooz` decoder knows (6 is Kraken)
_STORED = 0x40  # block header bit: the block's bytes follow as they are
_RESTART = 0x80  # block header bit: the block does not refer back to earlier blocks
_CHECKSUMS = 0x80  # second header byte: quantum headers carry a 3-byte checksum
_WHOLE = 0x3FFFF  # quantum size field value of a block filled with one byte value
_LENGTHS = struct.Struct(">II")  # each block sent to the decoder: packed length, unpacked length
_MISSING = (
    "this DCX uses Oodle Kraken compression (Elden Ring, Sekiro, Armored Core VI, Nightreign), which needs the "
    "optional decoder: pip install 'soulsgen[oodle]' (pyooz, GPL-3.0-or-later), or {hint}"
)
_UNPACK_HINT = "unpack the archive with WitchyBND or Yabber and point soulsgen at the unpacked folder"


@dataclass(frozen=True)
class KrakenBlock:
    """One block of a Kraken payload: its packed bytes `payload[start:end]` and its unpacked size."""

    start: int
    end: int
    size: int


def _fail(source: str, reason: str) -> GameTextError:
    return GameTextError(f"{source}: not a readable Kraken DCX: {reason}")


def kraken_blocks(payload: bytes, size: int, source: str, head: int | None = None) -> list[KrakenBlock]:
    """The blocks that unpack to `size` bytes (or to the first `head` of them), every length checked first."""
    wanted = size if head is None else min(head, size)
    blocks: list[KrakenBlock] = []
    at = produced = 0
    while produced < wanted:
        index, out = len(blocks), min(BLOCK_SIZE, size - produced)
        if at + 2 > len(payload):
            raise _fail(source, f"block {index} starts past the end of the payload (truncated?)")
        flags, codec = payload[at], payload[at + 1]
        if flags & 0x3F != 0x0C or codec & 0x7F not in _DECODERS:
            raise _fail(source, f"block {index} at byte {at} has no block header (corrupt)")
        if flags & _STORED:
            end = at + 2 + out
        else:
            if not flags & _RESTART and blocks:
                raise _fail(source, f"block {index} refers back to earlier blocks, which this decoder cannot follow")
            if at + 5 > len(payload):
                raise _fail(source, f"block {index} header runs past the end of the payload (truncated?)")
            quantum = int.from_bytes(payload[at + 2 : at + 5], "big")
            packed = quantum & _WHOLE
            if packed == _WHOLE:
                if quantum >> 18 != 1:
                    raise _fail(source, f"block {index} at byte {at} has an unknown quantum header (corrupt)")
                end = at + 6  # a block of one repeated byte: the byte follows the header
            else:
                if packed + 1 > out:
                    raise _fail(source, f"block {index} packs {packed + 1} bytes into {out} (corrupt)")
                end = at + 5 + (3 if codec & _CHECKSUMS else 0) + packed + 1
        if end > len(payload):
            raise _fail(source, f"block {index} runs past the end of the payload (truncated?)")
        blocks.append(KrakenBlock(at, end, out))
        at, produced = end, produced + out
    if head is None and at != len(payload):
        raise _fail(source, f"{len(payload) - at} bytes follow the last block (corrupt)")
    return blocks


def decode_kraken(payload: bytes, size: int, source: str, head: int | None = None, timeout: float = 120) -> bytes:
    """The unpacked payload (or its first blocks up to `head` bytes), decoded block by block in a child process."""
    blocks = kraken_blocks(payload, size, source, head)
    try:
        import ooz  # noqa: F401  (only its presence is checked here; the child process decodes)
    except ImportError:
        raise GameTextError(f"{source}: {_MISSING.format(hint=_UNPACK_HINT)}") from None
    request = b"".join(
        _LENGTHS.pack(block.end - block.start, block.size) + payload[block.start : block.end] for block in blocks
    )
    expected = sum(block.size for block in blocks)
    package_root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
    try:
        child = subprocess.run(
            [sys.executable, "-m", "soulsgen_lib.gametext.kraken", str(expected)],
            input=request,
            capture_output=True,
            env=env,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise _fail(source, f"the Kraken decoder ran past {timeout:.0f} s (corrupt?)") from None
    if child.returncode != 0:
        said = child.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = said[-1] if said and child.returncode > 0 else f"the decoder crashed (exit {child.returncode})"
        raise _fail(source, reason[:300])
    if len(child.stdout) != expected:
        raise _fail(source, f"the decoder gave {len(child.stdout)} bytes, not {expected}")
    return child.stdout


def _decode_requests(limit: int) -> None:
    """Child process: decode the blocks sent on stdin and write their output to stdout, or say which failed."""
    import ooz

    if sys.platform != "win32":
        import resource

        # Output is bounded by the checked block sizes; the address-space cap stops a decoder gone wrong early.
        cap = (1 << 30) + 4 * limit
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    request = sys.stdin.buffer.read()
    out = sys.stdout.buffer
    at = index = 0
    while at < len(request):
        packed, size = _LENGTHS.unpack_from(request, at)
        at += _LENGTHS.size
        try:
            data = ooz.decompress(request[at : at + packed], size)
        except (RuntimeError, ValueError, MemoryError) as error:
            sys.exit(f"block {index} does not decode ({error}; corrupt)")
        if len(data) != size:
            sys.exit(f"block {index} decodes to {len(data)} bytes, not {size} (corrupt)")
        out.write(data)
        at, index = at + packed, index + 1
    out.flush()


if __name__ == "__main__":
    _decode_requests(int(sys.argv[1]))
