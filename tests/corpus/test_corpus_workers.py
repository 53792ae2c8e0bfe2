"""A corpus worker that dies (the out-of-memory killer's SIGKILL) fails the build at once, naming its file."""

import multiprocessing
import os
import signal
import threading
import time

import psutil
import pytest
from fixtures_corpus import write_table

from soulsgen_lib.corpus import CorpusError, CorpusOptions, build_corpus
from soulsgen_lib.corpus import build as corpus_build
from soulsgen_lib.corpus import workers as worker_processes

_TABLES = ("Weapon_long_desc_", "Armor_long_desc_", "Item_long_desc_", "Magic_long_desc_", "Accessory_long_desc_")


def _game(folder, entries: int):
    for table in _TABLES:
        lines = [
            (i, f"Relic {i} of the drowned {table} archive. It hums when the moon is near.") for i in range(entries)
        ]
        write_table(folder, table, lines)
    write_table(folder, "Item_name_", [(i, f"Relic {i}") for i in range(entries)])
    return folder


def _tree(folder):
    return {path.name: path.read_bytes() for path in folder.iterdir() if path.name != "manifest.json"}


def _children() -> set[int]:
    return {child.pid for child in psutil.Process().children(recursive=True)}


def _workers_left(before: set[int]) -> list[psutil.Process]:
    """Processes started since `before` that still run, the fork server and its resource tracker aside.

    Those two are this process's children running `multiprocessing` code; workers are forked from this
    process or from the fork server.
    """
    new = [child for child in psutil.Process().children(recursive=True) if child.pid not in before]
    _, alive = psutil.wait_procs(new, timeout=10)
    return [
        child
        for child in alive
        if not (child.ppid() == os.getpid() and "from multiprocessing" in " ".join(child.cmdline()))
    ]


def test_a_worker_killed_while_reading_fails_the_build_naming_the_file(tmp_path, monkeypatch):
    game = _game(tmp_path / "game", entries=50)
    out = tmp_path / "corpus"
    previous = build_corpus([game], out, CorpusOptions(workers=2))
    poisoned = game / "Magic_long_desc_.fmg.xml"
    read_tables = corpus_build.read_tables

    def killed_by_the_oom_killer(source, *args):
        if source.path == poisoned:  # runs in the worker (forked, so it has this patch)
            os.kill(os.getpid(), signal.SIGKILL)
        return read_tables(source, *args)

    monkeypatch.setattr(corpus_build, "read_tables", killed_by_the_oom_killer)
    monkeypatch.setattr(worker_processes, "pool_context", lambda: multiprocessing.get_context("fork"))
    before = _children()
    started = time.monotonic()
    with pytest.raises(CorpusError) as failure:
        build_corpus([game], out, CorpusOptions(workers=2))
    assert time.monotonic() - started < 30
    message = str(failure.value)
    assert message.startswith(f"{poisoned}: the worker reading this file died (SIGKILL")
    assert "\n" not in message
    monkeypatch.undo()
    assert build_corpus([game], tmp_path / "again").corpus_hash == previous.corpus_hash
    assert _tree(out) == _tree(tmp_path / "again"), "the earlier corpus is untouched"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["again", "corpus", "game"], "no temporary folder"
    assert _workers_left(before) == []


def test_a_worker_killed_from_outside_fails_the_build_within_seconds(tmp_path):
    # Files big enough that a worker is still reading when the killer looks: with 6,000 entries and
    # a 0.2 s threshold a fresh-clone run finished the build before any worker was killed.
    game = _game(tmp_path / "game", entries=24000)
    inputs = {str(path) for path in game.iterdir()}
    killed: list[int] = []

    def oom_killer() -> None:
        """SIGKILL the first worker (a child of the fork server) once it has spent some CPU time reading."""
        deadline = time.monotonic() + 60
        while not killed and time.monotonic() < deadline:
            for server in psutil.Process().children():
                if "forkserver" not in " ".join(server.cmdline()):
                    continue
                for worker in server.children():
                    # On the CPU, so most likely mid-file rather than idle between batches.
                    if worker.cpu_times().user > 0.1 and worker.status() == psutil.STATUS_RUNNING:
                        worker.send_signal(signal.SIGKILL)
                        killed.append(worker.pid)
                        return
            time.sleep(0.01)

    before = _children()
    killer = threading.Thread(target=oom_killer)
    killer.start()  # another thread: the build's workers now come from a fork server, as in an Airflow task
    started = time.monotonic()
    try:
        with pytest.raises(
            CorpusError, match=r"(the worker reading this file|a corpus worker) died \(SIGKILL"
        ) as failure:
            build_corpus([game], tmp_path / "corpus", CorpusOptions(workers=2))
    finally:
        killer.join()
    assert killed, "the killer found a busy worker"
    assert time.monotonic() - started < 60
    # A worker killed between batches was reading no file, and the error says so; one killed mid-file names it.
    message = str(failure.value)
    assert message.startswith("a corpus worker") or message.split(": the worker")[0] in inputs
    assert not (tmp_path / "corpus").exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["game"]
    assert _workers_left(before) == []


@pytest.mark.timeout(120)
def test_thousands_of_small_files_go_through_the_workers(tmp_path):
    # Many files make long task lists: the workers get them when they start, not through their pipes.
    names = [f"Chronicle_{number}_" for number in range(2500)]
    for name in names:
        write_table(tmp_path / "game", name, [(1, f"The {name} hums when the moon is near.")])
    options = CorpusOptions(include_tables=tuple(names), workers=2)
    summary = build_corpus([tmp_path / "game"], tmp_path / "corpus", options)
    assert summary.workers == 2 and summary.sentences == 2500
