"""Worker processes that run the corpus build's per-file work, results in input order.

A worker that dies (the out-of-memory killer, a crash in a decoder) ends the run at once with the
task it was running; `multiprocessing.Pool` would wait for that task's result for ever.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection, wait
from typing import Any

_TASKS_AHEAD = 2  # batches queued per worker, so that none waits for its next one
_BATCH_BYTES = 1 << 20  # tasks go to a worker in batches of about this much input: a message per file costs more


class WorkerDied(Exception):
    """A worker process ended while it ran `task` (None: between tasks)."""

    def __init__(self, task: Any, exitcode: int | None) -> None:
        super().__init__(f"worker ended with {describe_exit(exitcode)} while running {task!r}")
        self.task = task
        self.exitcode = exitcode


def describe_exit(exitcode: int | None) -> str:
    """`SIGKILL (as the out-of-memory killer sends)`, `SIGSEGV`, `exit code 1`, ..."""
    if exitcode is None or exitcode >= 0:
        return f"exit code {exitcode}"
    name = signal.Signals(-exitcode).name
    return f"{name} (as the out-of-memory killer sends)" if name == "SIGKILL" else name


def worker_count(requested: int, tasks: int) -> int:
    """`requested`, else one per idle CPU (as `make --load-average` does); never more than there are tasks."""
    if multiprocessing.current_process().daemon:
        return 1  # a daemonic process (a Celery worker, say) may not start processes of its own
    if requested:
        return max(1, min(requested, tasks))
    # Workers cost more CPU time in all (forks, transfers): they pay on idle CPUs, not on busy ones.
    try:
        busy = max(0.0, os.getloadavg()[0] - 1.0)  # the last minute's load, less this process
    except (AttributeError, OSError):  # no load average on this system
        busy = 0.0
    return max(1, min(round((os.cpu_count() or 1) - busy), tasks))


def pool_context() -> multiprocessing.context.BaseContext:
    """fork, unless this process runs other threads (an Airflow task's): then a fork server.

    A fork copies locks that another thread may hold at that moment, and a worker that needs one
    waits for ever (an `airflow dags test` run hung that way). The fork server is a clean
    single-thread parent; it needs an importable, guarded `__main__`, as Airflow and our CLIs have.
    """
    return multiprocessing.get_context("forkserver" if threading.active_count() > 1 else "fork")


class Workers:
    """Up to `count` worker processes (with one, tasks run in this process instead)."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.workers: list[_Worker] = []
        self.limit = _TASKS_AHEAD * count  # batches handed out and not yet taken

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop()

    def in_order(self, function: Callable[[Any], Any], tasks: list, sizes: list[int]) -> Iterator[Any]:
        """`map(function, tasks)` on the workers, `sizes` being each task's input bytes; raises `WorkerDied`.

        Results come in task order, at most `limit` batches ahead of the one being taken. The workers start
        here, before the caller starts other threads (a progress bar's), and get `function` and `tasks` then;
        later messages are batch numbers, so none can fill a pipe while its reader is busy sending.
        """
        if self.count < 2:
            return map(function, tasks)
        self._stop()
        context = pool_context()
        self.workers = [_Worker(context, function, tasks) for _ in range(self.count)]
        return self._results(tasks, list(_batches(sizes)))

    def _results(self, tasks: list, batches: list[tuple[int, int]]) -> Iterator[Any]:
        done: dict[int, list] = {}
        sent = taken = 0
        while taken < len(batches):
            for worker in self.workers:  # results wait in `done` for earlier ones: memory stays bounded if we lag
                while sent < len(batches) and len(worker.pending) < _TASKS_AHEAD and sent - taken < self.limit:
                    worker.send(sent, batches[sent])
                    sent += 1
            while taken in done:
                yield from done.pop(taken)
                taken += 1
            if taken == len(batches):
                break
            busy = [worker for worker in self.workers if worker.pending]
            ready = wait([worker.connection for worker in busy] + [worker.process.sentinel for worker in self.workers])
            for worker in self.workers:
                if worker.process.sentinel in ready:
                    raise worker.died(tasks)
            for worker in busy:
                if worker.connection in ready:
                    try:
                        number, results = worker.receive()
                    except (EOFError, OSError):  # it died: its end of the pipe closed (or reset mid-message)
                        raise worker.died(tasks) from None
                    done[number] = results

    def _stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.workers = []


class _Worker:
    """One worker process, the batches (ranges of task indexes) sent to it and the task it is running."""

    def __init__(self, context: multiprocessing.context.BaseContext, function: Callable[[Any], Any], tasks: list):
        self.connection, child_end = context.Pipe()
        self.running = context.RawValue("q", -1)  # index of the task the worker is on
        self.process = context.Process(
            target=_serve,
            args=(child_end, self.connection, self.running, function, tasks),
            name="corpus-worker",
            daemon=True,
        )
        self.process.start()
        child_end.close()
        self.pending: deque[tuple[int, int]] = deque()  # (first, end) task indexes of the batches sent, unanswered

    def send(self, number: int, batch: tuple[int, int]) -> None:
        self.pending.append(batch)
        try:
            self.connection.send((number, *batch))
        except OSError:  # the worker is gone
            self.process.join(timeout=5)
            raise WorkerDied(None, self.process.exitcode) from None

    def receive(self) -> tuple[int, list]:
        number, results = self.connection.recv()
        if isinstance(results, _Failure):
            raise RuntimeError(f"a corpus worker failed:\n{results.trace}")
        self.pending.popleft()
        return number, results

    def died(self, tasks: list) -> WorkerDied:
        """The error for this dead worker: the task it was running, or the next one it was sent."""
        self.process.join(timeout=5)  # its exit code is known once it is reaped
        task = None
        if self.pending:
            first, end = self.pending[0]
            index = self.running.value
            task = tasks[index if first <= index < end else first]
        return WorkerDied(task, self.process.exitcode)

    def stop(self) -> None:
        """End the process: at once if it is busy (the run failed), else after it reads the stop message."""
        if self.process.is_alive() and not self.pending:
            try:
                self.connection.send(None)
                self.process.join(timeout=5)
            except OSError:  # it ended already
                pass
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.connection.close()


class _Failure:
    """An exception raised in a worker, as its formatted traceback (the exception may not pickle)."""

    def __init__(self, trace: str) -> None:
        self.trace = trace


def _serve(
    connection: Connection, parent_end: Connection, running: Any, function: Callable[[Any], Any], tasks: list
) -> None:
    """A worker's loop: run each batch of `tasks` it is sent and send back the results, until told to stop.

    It also ends when the build's process is gone (the pipe reads end of file), killed or not.
    """
    parent_end.close()  # a copy of the build's end, which would keep the pipe open after the build is gone
    while True:
        try:
            message = connection.recv()
        except EOFError:
            return
        if message is None:
            return
        number, first, end = message
        try:
            results = []
            for index in range(first, end):
                running.value = index
                results.append(function(tasks[index]))
        except Exception:
            results = _Failure(traceback.format_exc())
        connection.send((number, results))


def _batches(sizes: list[int]) -> Iterator[tuple[int, int]]:
    """(first, end) index ranges of consecutive tasks, grouped until their input reaches `_BATCH_BYTES`."""
    first, batch_bytes = 0, 0
    for index, size in enumerate(sizes):
        batch_bytes += size
        if batch_bytes >= _BATCH_BYTES:
            yield first, index + 1
            first, batch_bytes = index + 1, 0
    if first < len(sizes):
        yield first, len(sizes)
