"""Real game archives, one at a time under a neutral file name: tables, entries, kinds, game, and corpus build time.

    python bench/gametext.py /path/to/item.msgbnd.dcx /path/to/mod/msg/engus/ ...

Folders are searched for archives (backup copies included). Each archive is copied to `archive.bin` first, so the
figures also show that nothing depends on the file's name. Prints one Markdown table row per archive.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path

from soulsgen_lib.corpus import CorpusOptions, build_corpus
from soulsgen_lib.gametext import GameTextError
from soulsgen_lib.gametext.dcx import is_dcx
from soulsgen_lib.gametext.scan import ScanFilter, ScanRow, scan


def archives(paths: list[Path]) -> list[Path]:
    """The DCX archives named or lying under `paths`."""
    found = []
    for path in paths:
        candidates = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        found += [candidate for candidate in candidates if is_dcx(candidate.read_bytes()[:4])]
    return found


def measure(archive: Path, work: Path) -> str:
    """One Markdown row: archive, compression, game, language, tables, entries, kinds, sentences, build seconds."""
    copy = work / "archive.bin"
    shutil.copyfile(archive, copy)
    compression = archive.read_bytes()[0x28:0x2C].decode()
    rows = [row for row in scan([copy], ScanFilter(), 256 << 20) if isinstance(row, ScanRow)]
    kinds = Counter()
    for row in rows:
        kinds[row.kind] += row.entries
    started = time.perf_counter()
    try:
        summary = build_corpus([copy], work / "corpus", CorpusOptions(workers=1))
        built = f"{summary.sentences} | {time.perf_counter() - started:.2f}"
    except GameTextError as error:
        built = f"failed: {error} | -"
    shutil.rmtree(work / "corpus", ignore_errors=True)
    game = rows[0].game if rows else "?"
    language = rows[0].language if rows else "?"
    kind_list = ", ".join(f"{kind} {count}" for kind, count in kinds.most_common())
    return (
        f"| {archive} | {compression} | {game} | {language} | {len(rows)} | {sum(row.entries for row in rows)} "
        f"| {kind_list} | {built} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path)
    args = parser.parse_args()
    print("| archive | compression | game | language | tables | entries | entries by kind | sentences | build s |")
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as work:
        for archive in archives(args.paths):
            print(measure(archive, Path(work)), flush=True)


if __name__ == "__main__":
    main()
