"""DCX compressions: Kraken through the real `ooz` decoder in its child process, Zstandard, and what goes wrong."""

import struct
import sys

import pytest

from soulsgen_lib.gametext import FmgTable, GameTextError, kraken
from soulsgen_lib.gametext.binary import read_binary_tables
from soulsgen_lib.gametext.binder import BinderFile
from soulsgen_lib.gametext.dcx import HEADER_SIZE, read_dcx
from soulsgen_lib.gametext.fmgbin import fmg_bytes
from soulsgen_lib.gametext.kraken import BLOCK_SIZE, decode_kraken, kraken_blocks
from soulsgen_lib.gametext.writers import binder_bytes, dcx_bytes, kraken_stored_bytes

LIMIT = 16 << 20


def _content(size: int) -> bytes:
    """Bytes that differ from block to block, so a block decoded in the wrong place shows."""
    return bytes((index * 7 + index // BLOCK_SIZE) % 251 for index in range(size))


def _compressed_block(packed: bytes, flags: int = 0x8C) -> bytes:
    """A Kraken block header and quantum header in front of `packed` (what an encoder would write)."""
    return bytes((flags, 0x06)) + (len(packed) - 1).to_bytes(3, "big") + packed


@pytest.mark.parametrize("size", [1, 1000, BLOCK_SIZE, 2 * BLOCK_SIZE + 123])
def test_stored_kraken_blocks_decode_through_ooz(size):
    content = _content(size)
    assert read_dcx(dcx_bytes(content, "KRAK"), "mem", LIMIT) == content


def test_block_walker_splits_a_payload_into_256_kib_blocks():
    payload = kraken_stored_bytes(_content(2 * BLOCK_SIZE + 5))
    blocks = kraken_blocks(payload, 2 * BLOCK_SIZE + 5, "mem")
    assert [(block.end - block.start, block.size) for block in blocks] == [
        (BLOCK_SIZE + 2, BLOCK_SIZE),
        (BLOCK_SIZE + 2, BLOCK_SIZE),
        (7, 5),
    ]
    compressed = _compressed_block(b"x" * 40) + bytes((0x8C, 0x86)) + (9).to_bytes(3, "big") + b"sum" + b"y" * 10
    blocks = kraken_blocks(compressed, BLOCK_SIZE + 100, "mem")
    assert [(block.start, block.end, block.size) for block in blocks] == [(0, 45, BLOCK_SIZE), (45, 63, 100)]
    # A block of one repeated byte: a 4-byte quantum header and no data.
    (block,) = kraken_blocks(bytes((0x8C, 0x06, 0x07, 0xFF, 0xFF, 0x41)), 300, "mem")
    assert (block.start, block.end) == (0, 6)


def test_reading_the_head_decodes_only_the_first_blocks():
    content = _content(3 * BLOCK_SIZE)
    assert read_dcx(dcx_bytes(content, "KRAK"), "mem", LIMIT, head=1000) == content[:BLOCK_SIZE]
    assert len(kraken_blocks(kraken_stored_bytes(content), len(content), "mem", head=1000)) == 1


@pytest.mark.parametrize(
    ("payload", "size", "message"),
    [
        (b"", 10, "block 0 starts past the end"),
        (bytes((0x8C,)), 10, "block 0 starts past the end"),
        (bytes((0x12, 0x06)) + bytes(10), 10, "block 0 at byte 0 has no block header"),
        (bytes((0x8C, 0x03)) + bytes(10), 10, "no block header"),
        (bytes((0xCC, 0x06)) + bytes(5), 10, "block 0 runs past the end"),
        (bytes((0xCC, 0x06)) + bytes(12), 10, "2 bytes follow the last block"),
        (bytes((0x8C, 0x06, 0x00)), 10, "block 0 header runs past the end"),
        (_compressed_block(bytes(20)), 10, "block 0 packs 20 bytes into 10"),
        (_compressed_block(bytes(20))[:-1], 100, "block 0 runs past the end"),
        (bytes((0x8C, 0x06, 0x0F, 0xFF, 0xFF, 0x00)), 10, "unknown quantum header"),
        (kraken_stored_bytes(bytes(BLOCK_SIZE)) + _compressed_block(b"abc", 0x0C), BLOCK_SIZE + 9, "refers back"),
    ],
)
def test_block_walker_names_what_is_wrong_before_decoding(payload, size, message):
    with pytest.raises(GameTextError, match=f"^mem: not a readable Kraken DCX: .*{message}"):
        kraken_blocks(payload, size, "mem")


def test_a_block_the_decoder_rejects_is_one_named_error():
    with pytest.raises(GameTextError, match=r"^mem: not a readable Kraken DCX: block 0 does not decode"):
        decode_kraken(_compressed_block(b"\x01\x02\x03\x04\x05\x06"), 100, "mem")


def test_a_decoder_crash_is_one_named_error(tmp_path, monkeypatch):
    crashing = tmp_path / "python"
    crashing.write_text("#!/bin/sh\nkill -SEGV $$\n")
    crashing.chmod(0o755)
    monkeypatch.setattr(kraken.sys, "executable", str(crashing))
    with pytest.raises(GameTextError, match=r"^mem: not a readable Kraken DCX: the decoder crashed \(exit -11\)"):
        decode_kraken(kraken_stored_bytes(b"abc"), 3, "mem")


def test_without_the_oodle_extra_the_message_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ooz", None)  # what `import ooz` meets when pyooz is not installed
    path = tmp_path / "item.msgbnd.dcx"
    path.write_bytes(dcx_bytes(binder_bytes([BinderFile(24, "a.fmg", b"")]), "KRAK"))
    with pytest.raises(GameTextError) as caught:
        list(read_binary_tables(path, lambda name: True, LIMIT))
    message = str(caught.value)
    assert message.startswith(f"{path}: this DCX uses Oodle Kraken compression")
    for named in ("Elden Ring", "Sekiro", "Armored Core VI", "Nightreign", "soulsgen[oodle]", "GPL-3.0", "WitchyBND"):
        assert named in message
    assert "\n" not in message


def test_a_kraken_archive_reads_like_any_other():
    lore = FmgTable("GoodsCaption", [(1, "A lantern that burns with a cold, patient flame.")], "")
    binder = binder_bytes(
        [BinderFile(24, "N:\\GR\\data\\INTERROOT_win64\\msg\\engUS\\GoodsCaption.fmg", fmg_bytes(lore, 2))]
    )
    assert read_dcx(dcx_bytes(binder, "KRAK"), "mem", LIMIT) == binder


def test_zstd_archives_round_trip():
    content = _content(300_000)
    assert read_dcx(dcx_bytes(content, "ZSTD"), "mem", LIMIT) == content
    assert read_dcx(dcx_bytes(content, "ZSTD"), "mem", LIMIT, head=100) == content[:101]


def _with_payload_byte(data: bytes, at: int, value: int) -> bytes:
    data = bytearray(data)
    data[HEADER_SIZE + at] = value
    return bytes(data)


def _cut_payload(data: bytes, cut: int) -> bytes:
    """The DCX with its last `cut` payload bytes gone and its header saying so (a consistently truncated stream)."""
    data = bytearray(data[:-cut])
    struct.pack_into(">I", data, 0x20, len(data) - HEADER_SIZE)
    return bytes(data)


def _with_declared_size(data: bytes, size: int) -> bytes:
    data = bytearray(data)
    struct.pack_into(">I", data, 0x1C, size)
    return bytes(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_with_payload_byte(dcx_bytes(b"a" * 100, "ZSTD"), 0, 0x29), "Zstandard stream is corrupt"),
        (_cut_payload(dcx_bytes(_content(5000), "ZSTD"), 3), "Zstandard stream is corrupt|not the declared 5000"),
        (_with_declared_size(dcx_bytes(b"a" * 100, "ZSTD"), 50), "unpacks to 51 bytes, not the declared 50"),
        (_with_declared_size(dcx_bytes(b"a" * 100, "ZSTD"), 150), "unpacks to 100 bytes, not the declared 150"),
        (_with_declared_size(dcx_bytes(b"a" * 100, "KRAK"), 50), "50 bytes follow the last block"),
        (_with_declared_size(dcx_bytes(b"a" * 100, "ZSTD"), LIMIT + 1), "over the 16 MiB limit"),
        (_with_declared_size(dcx_bytes(b"a" * 100, "KRAK"), LIMIT + 1), "over the 16 MiB limit"),
    ],
)
def test_bad_zstd_and_kraken_archives_get_one_clear_error(data, message):
    with pytest.raises(GameTextError, match=f"^mem: .*({message})"):
        read_dcx(data, "mem", LIMIT)
