"""Fuzzing the game-text readers: mutated FMG, BND3/BND4, DCX (zlib, Zstandard, Kraken) and XML files.

The fuzz runs in a child process (this file run as a script) so that its peak memory is its own to measure.
"""

import json
import random
import resource
import struct
import subprocess
import sys
import time
import traceback
from pathlib import Path

from soulsgen_lib.gametext import FmgTable, GameTextError
from soulsgen_lib.gametext.binder import BinderFile
from soulsgen_lib.gametext.fmgbin import fmg_bytes
from soulsgen_lib.gametext.sources import discover, read_tables
from soulsgen_lib.gametext.writers import binder_bytes, dcx_bytes
from soulsgen_lib.gametext.xmlfmg import fmg_xml_bytes

INPUTS = 1200
MAX_BYTES = 4 << 20
ADDRESS_SPACE = 2 << 30  # a reader that runs away hits this as a MemoryError, which the fuzz reports
ENTRIES = [(1, "Ashen mist, and a door."), (2, None), (3, "The old king sleeps."), (10, "Ember"), (11, "…")]


def seed_inputs() -> dict[str, bytes]:
    """One valid file of every format and compression the readers take."""
    table = FmgTable("Item_long_desc_", ENTRIES, "")
    fmgs = {f"fmg-v{version}": fmg_bytes(table, version) for version in (0, 1, 2)}
    fmgs["fmg-v1-big-endian"] = fmg_bytes(table, 1, big_endian=True)
    members = [
        BinderFile(24, "N:\\GR\\data\\INTERROOT_win64\\msg\\engUS\\GoodsCaption.fmg", fmgs["fmg-v2"]),
        BinderFile(10, "N:\\GR\\data\\INTERROOT_win64\\msg\\engUS\\GoodsName.fmg", fmgs["fmg-v2"]),
    ]
    bnd4 = binder_bytes(members)
    return {
        **fmgs,
        "bnd3": binder_bytes([BinderFile(25, "Weapon_long_desc_.fmg", fmgs["fmg-v1"])], 3),
        "bnd4": bnd4,
        "dcx-dflt": dcx_bytes(bnd4),
        "dcx-zstd": dcx_bytes(bnd4, "ZSTD"),
        "dcx-krak": dcx_bytes(bnd4, "KRAK"),
        "dcx-in-binder": binder_bytes([BinderFile(24, "a.fmg", dcx_bytes(fmgs["fmg-v2"]))]),
        "xml": fmg_xml_bytes(table),
    }


def mutate(data: bytes, rng: random.Random) -> bytes:
    """`data` with one to three random edits: flipped bytes, extreme integers, cuts, repeats or junk."""
    data = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        edit = rng.randrange(6)
        at = rng.randrange(max(len(data), 1))
        if edit == 0 and data:
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif edit == 1 and len(data) >= 8:
            value = rng.choice([0, 1, -1, 0x7FFFFFFF, -0x80000000, len(data), len(data) + 1, rng.randrange(1 << 32)])
            header_at = rng.randrange(min(len(data), 0x80) - 4)
            struct.pack_into("<I" if rng.random() < 0.5 else ">I", data, header_at, value & 0xFFFFFFFF)
        elif edit == 2:
            del data[at:]
        elif edit == 3:
            data[at:at] = data[at : at + rng.randint(1, 4096)] * rng.randint(1, 4)
        elif edit == 4:
            data[at:at] = rng.randbytes(rng.randint(1, 64))
        else:
            del data[at : at + rng.randint(1, 64)]
    return bytes(data)


def peak_rss_mib() -> float:
    """This process's peak resident memory since it started its program.

    `ru_maxrss` would not do: Linux carries the peak of the process that forked this one across the exec.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def fuzz(count: int, seed: int, folder: Path) -> dict:
    """Read `count` mutated files through discovery and the readers; report what escaped besides GameTextError."""
    rng = random.Random(seed)
    seeds = seed_inputs()
    outcomes = {name: {"read": 0, "refused": 0} for name in seeds}
    escapes = []
    started = time.perf_counter()
    for index in range(count):
        name = rng.choice(sorted(seeds))
        path = folder / f"input{index}{rng.choice(['', '.fmg', '.dcx', '.fmg.xml', '.bin'])}"
        path.write_bytes(mutate(seeds[name], rng))
        try:
            for source in discover([path], MAX_BYTES)[0]:
                for _ in read_tables(source, lambda table: True, MAX_BYTES):
                    pass
            outcomes[name]["read"] += 1
        except GameTextError as error:
            if "\n" in str(error) or not str(error).startswith(str(path)):
                escapes.append(f"{name} #{index}: error not one line naming the file: {str(error)[:200]!r}")
            outcomes[name]["refused"] += 1
        except BaseException:  # anything else is what the fuzz is looking for
            escapes.append(f"{name} #{index}: {traceback.format_exc(limit=3)[-600:]}")
        path.unlink()
    return {
        "inputs": count,
        "seconds": time.perf_counter() - started,
        "peak_rss_mib": peak_rss_mib(),
        "outcomes": outcomes,
        "escapes": escapes,
    }


def test_mutated_game_files_only_ever_raise_the_stage_error(tmp_path):
    child = subprocess.run(
        [sys.executable, __file__, str(INPUTS), "20261201", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    report = json.loads(child.stdout)
    assert report["escapes"] == []
    assert report["inputs"] >= 1000
    assert report["seconds"] < 60
    assert report["peak_rss_mib"] < 200
    # Every format was both read after some mutations and refused after others: the mutations reach the parsers.
    for name, outcome in report["outcomes"].items():
        assert outcome["refused"] > 0, name
    assert sum(outcome["read"] for outcome in report["outcomes"].values()) > 50


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
    print(json.dumps(fuzz(int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]))))
