"""Corpus build speed and memory: parse + clean + split generated XML game text of two sizes.

    python bench/corpus.py [--mb 50] [--small-mb 12] [--workers N]

Prints MB/s, peak memory and an in-run yardstick (the bare XML parse of the same files) for 1 MB and both
sizes, beside the original bot's figure (13 MB/s on ~7 MB of real XML, from shared/notes/reference-figures.md).
Each build runs in its own process; its peak resident memory (interpreter and libraries included, the largest
of the build process and its workers) stays flat as the input grows because files are read one at a time and
sentence counts live in a fixed-size sketch. The build starts one worker per idle CPU unless --workers says
otherwise (the corpus is the same either way). Figures are noisy on a shared machine: the load is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFERENCE_MB_PER_S = 13.0


def generate(folder: Path, megabytes: float) -> int:
    """Write `megabytes` of generated XML games (tools/make_sample_data.py --bench-mb); returns their bytes."""
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools" / "make_sample_data.py"),
            "--bench-mb",
            str(megabytes),
            "--out",
            str(folder),
        ],
        check=True,
    )
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


_CHILD = """
import json, resource, sys, time
from pathlib import Path
from soulsgen_lib.corpus import CorpusOptions, build_corpus
from soulsgen_lib.gametext.xmlfmg import read_fmg_xml

def cpu_seconds():
    own, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime

wall, cpu = time.perf_counter(), cpu_seconds()
summary = build_corpus([Path(sys.argv[1])], Path(sys.argv[2]), CorpusOptions(workers=int(sys.argv[3])))
build_cpu = cpu_seconds() - cpu
wall = time.perf_counter() - wall
parse_cpu = time.process_time()
for path in sorted(Path(sys.argv[1]).rglob("*.fmg.xml")):
    read_fmg_xml(path)
parse_cpu = time.process_time() - parse_cpu
rss_kib = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
print(json.dumps({"wall": wall, "cpu": build_cpu, "parse_cpu": parse_cpu, "rss_mib": rss_kib / 1024,
                  "sentences": summary.sentences, "workers": summary.workers}))
"""


def measure(megabytes: float, workers: int) -> dict:
    """One build over freshly generated input, in a child process so that its peak memory is its own."""
    with tempfile.TemporaryDirectory() as tmp:
        size = generate(Path(tmp) / "input", megabytes)
        result = subprocess.run(
            [sys.executable, "-c", _CHILD, str(Path(tmp) / "input"), str(Path(tmp) / "corpus"), str(workers)],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        return {"mb": size / 1e6, **json.loads(result.stdout.strip().splitlines()[-1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=50.0)
    parser.add_argument("--small-mb", type=float, default=12.0)
    parser.add_argument("--workers", type=int, default=0, help="worker processes for the build; 0: one per idle CPU")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    rows = [measure(1.0, args.workers), measure(args.small_mb, args.workers), measure(args.mb, args.workers)]
    print(
        f"{'input':>9} {'sentences':>10} {'workers':>8} {'wall s':>7} {'MB/s wall':>10} {'MB/s CPU':>9} "
        f"{'peak RSS MiB':>13} {'parse-only MB/s CPU':>20}"
    )
    for row in rows:
        print(
            f"{row['mb']:>7.1f}MB {row['sentences']:>10} {row['workers']:>8} {row['wall']:>7.2f} "
            f"{row['mb'] / row['wall']:>10.1f} {row['mb'] / row['cpu']:>9.1f} {row['rss_mib']:>13.1f} "
            f"{row['mb'] / row['parse_cpu']:>20.1f}"
        )
    print(
        f"{'reference':>9} {'':>10} {'':>8} {'':>7} {REFERENCE_MB_PER_S:>10.1f} {'':>9} {'':>13}   "
        "original bot, ~7 MB real XML"
    )
    print(
        f"machine load (1-minute average of runnable processes, {os.cpu_count()} CPUs): {load_before:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after"
    )
    print("MB/s CPU divides by the build's CPU time (its workers' included), which a busy machine distorts less.")
    print("parse-only: lxml streaming parse of the same files in the same process, the in-run yardstick.")


if __name__ == "__main__":
    main()
