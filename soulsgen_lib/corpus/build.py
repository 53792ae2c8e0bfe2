"""Build the training corpus from game text: read, clean, link, join dialogue, drop boilerplate, split, write."""

from __future__ import annotations

import hashlib
import json
import logging
import marshal
import multiprocessing
import os
import re
import string
import threading
from array import array
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from soulsgen_lib.atomic import OutputKind, atomic_dir, check_output_folder
from soulsgen_lib.checksum import file_sha256
from soulsgen_lib.gametext import FmgTable, GameTextError, clean
from soulsgen_lib.gametext import catalog as cat
from soulsgen_lib.gametext.sources import SourceFile, discover, read_tables

log = logging.getLogger(__name__)

CORPUS_FILES = ("train.txt", "test.txt", "words.txt", "corpus.jsonl")
MANIFEST = "manifest.json"
CORPUS_OUTPUT = OutputKind("corpus folder", markers=(MANIFEST,), files=(*CORPUS_FILES, MANIFEST))
_SPILL = "records.tmp.marshal"
_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*")
_WORD_CHARACTERS = frozenset(string.ascii_lowercase + "'’")
_CAPITALISED = re.compile(r" ([A-Z][a-z]+)\b")  # a capital word after a space: not a sentence's first word
_WORD_BATCH = 4096
_SPILL_HEADER = 8  # bytes of a spilled block's length
_NAMES, _TABLES = "names", "tables"  # the two reads of a file: item names first (for linking), then corpus text
_TASKS_AHEAD = 2  # batches handed to each worker before its oldest result is taken
_BATCH_BYTES = 1 << 20  # files go to the workers in batches of about this much input: one per file costs more
_json_string = json.encoder.encode_basestring  # the C encoder json.dumps(..., ensure_ascii=False) uses for a str


class CorpusError(GameTextError):
    """The corpus cannot be built: bad input files (named with line) or options."""


@dataclass
class CorpusOptions:
    """How to build a corpus; the defaults suit the games' text."""

    kinds: tuple[str, ...] = cat.CORPUS_KINDS
    include_tables: tuple[str, ...] = ()  # unknown tables to take in anyway, by name
    test_fraction: float = 0.05
    boilerplate_threshold: int = 3  # a sentence found in this many distinct entries is kept once
    min_words: int = 3
    dialogue_join_gap: int = 1000  # ids further apart than this are never one conversation line
    min_word_count: int = 3  # words.txt keeps words seen at least this often
    skip_bad: bool = False
    max_file_bytes: int = 256 * 1024 * 1024
    progress: bool = False
    workers: int = 0  # processes that read and clean files; 0: one per idle CPU. The corpus is the same either way.


@dataclass
class CorpusSummary:
    """What a build produced."""

    out_dir: Path
    files: int
    entries: int
    sentences: int
    train_sentences: int
    test_sentences: int
    words: int
    corpus_hash: str
    skipped: list[str] = field(default_factory=list)
    unknown_tables: list[str] = field(default_factory=list)
    workers: int = 1  # processes that read the files


class _Record(NamedTuple):
    """One entry after cleaning: where it came from, its split score, its sentences and their counter keys."""

    game: str
    table: str
    kind: str
    category: str | None  # the item family whose names label the entry (description and lore tables)
    ids: list[int]
    score: float
    sentences: list[str]
    keys: list[int]


class SentenceCounter:
    """How many distinct entries hold each sentence, in fixed memory whatever the input size.

    A count-min sketch: two rows of saturating byte counters indexed by a stable hash. It can overcount (a
    sentence sharing both cells with others), never undercount, and gives the same answer on every run.
    """

    WIDTH_BITS = 22
    _MASK = (1 << WIDTH_BITS) - 1

    def __init__(self) -> None:
        self.rows = (bytearray(1 << self.WIDTH_BITS), bytearray(1 << self.WIDTH_BITS))

    @staticmethod
    def key(sentence: str) -> int:
        """The sentence's stable 64-bit hash: computed once in the first pass, kept for the second."""
        return int.from_bytes(hashlib.blake2b(sentence.encode("utf-8"), digest_size=8).digest(), "little")

    def add(self, keys: Iterable[int]) -> None:
        """Count one more entry for each key (a sentence's `key`)."""
        first, second, mask = *self.rows, self._MASK
        for key in keys:
            if first[key & mask] < 255:
                first[key & mask] += 1
            if second[(key >> 32) & mask] < 255:
                second[(key >> 32) & mask] += 1

    def counts(self, keys: list[int]) -> list[int]:
        """How many entries hold each key's sentence (never fewer than the truth)."""
        first, second, mask = *self.rows, self._MASK
        return [min(first[key & mask], second[(key >> 32) & mask]) for key in keys]


def build_corpus(sources: list[Path], out_dir: Path, options: CorpusOptions | None = None) -> CorpusSummary:
    """Read every table under `sources`, clean it and write the corpus folder `out_dir` in one atomic swap."""
    options = options or CorpusOptions()
    if not 0.0 <= options.test_fraction < 1.0:
        raise CorpusError(f"test fraction must be in [0, 1), got {options.test_fraction}")
    if (Path(out_dir) / "latest").is_file():
        raise CorpusError(
            f"{out_dir} holds published corpus versions (it has a `latest` pointer): write the corpus elsewhere"
        )
    target = check_output_folder(out_dir, CORPUS_OUTPUT, sources)
    files, ignored = discover([Path(p) for p in sources])
    if not files:
        raise CorpusError(
            f"no game text found under {', '.join(map(str, sources))}: expected *.fmg.xml exports, *.fmg, "
            "*.msgbnd or *.msgbnd.dcx files"
        )
    counts = clean.RuleCounts()
    with _Workers(_worker_count(options, len(files))) as workers, atomic_dir(target) as tmp:
        builder = _Builder(options, counts, workers)
        spill = tmp / _SPILL
        with spill.open("wb") as handle:
            builder.spill(files, handle)
        if builder.errors and not options.skip_bad:
            raise CorpusError(
                f"{len(builder.errors)} bad input file(s), corpus not written (use --skip-bad to build without "
                "them):\n  " + "\n  ".join(builder.errors)
            )
        summary = _write_outputs(tmp, spill, builder, files, ignored, options, out_dir, _WordCounter(workers))
        summary.workers = workers.count
        spill.unlink()
    return summary


class _Builder:
    """The first pass: files read and cleaned by the workers, their records spilled in file order.

    This process only merges what the workers report (counts, name tables, sentence keys) and copies their
    records, already serialised, to the spill; the output is the same whatever the number of workers.
    """

    def __init__(self, options: CorpusOptions, counts: clean.RuleCounts, workers: _Workers) -> None:
        self.options = options
        self.counts = counts
        self.workers = workers
        self.errors: list[str] = []
        self.sentence_entries = SentenceCounter()
        self.tables: dict[str, dict[str, dict]] = defaultdict(dict)
        self.unknown: set[str] = set()
        self.smallest_split_key: tuple[float, str] | None = None

    def spill(self, files: list[SourceFile], handle: BinaryIO) -> None:
        """Spill every record, game by game, each game's item names first so the second pass can link its lore.

        Only one game's names are held at a time, so memory follows the largest game, not the whole input.
        """
        by_game: dict[str, list[SourceFile]] = defaultdict(list)
        for source in files:
            by_game[source.game].append(source)
        tasks = [(phase, source) for sources in by_game.values() for phase in (_NAMES, _TABLES) for source in sources]
        sizes = [source.path.stat().st_size for _, source in tasks]
        results = self.workers.in_order(_FileReader(self.options).read, tasks, sizes)
        progress = _progress(len(files), self.options.progress)
        game = None
        for (phase, source), result in zip(tasks, results, strict=True):
            if source.game != game:
                game, bad, names, names_spilled = source.game, set(), {}, False
            if phase == _NAMES:
                if result.error:
                    self.errors.append(result.error)
                    bad.add(source.path)
                for category, table_names in result.names.items():
                    names.setdefault(category, {}).update(table_names)
            else:
                progress.update(1)
                if not names_spilled:  # the game's first corpus file: all its names are in
                    _spill_block(marshal.dumps((_NAMES, names)), handle)
                    names_spilled = True
                if source.path in bad:
                    continue
                self._merge(game, result)
                _spill_block(result.records, handle)
            self.counts.add(result.counts)
        progress.close()

    def _merge(self, game: str, result: _FileResult) -> None:
        if result.error:
            self.errors.append(result.error)
        self.unknown.update(result.unknown)
        for name, kind, entries, sentences in result.tables:
            stats = self.tables[game].setdefault(name, {"kind": kind, "entries": 0, "sentences": 0})
            stats["entries"] += entries
            stats["sentences"] += sentences
        self.sentence_entries.add(result.entry_sentence_keys)
        smallest = result.smallest_split_key
        if smallest and (self.smallest_split_key is None or smallest < self.smallest_split_key):
            self.smallest_split_key = smallest


@dataclass
class _FileResult:
    """One file read and cleaned: its item names or its records, what the rules did, and the error if any."""

    names: dict[str, dict[int, str]] = field(default_factory=dict)  # item names by category, then id
    records: bytes = marshal.dumps((_TABLES, []))  # a spill block: the records, marshalled
    tables: list[tuple[str, str, int, int]] = field(default_factory=list)  # (name, kind, entries, sentences)
    entry_sentence_keys: array = field(default_factory=lambda: array("Q"))  # each entry's distinct sentences
    smallest_split_key: tuple[float, str] | None = None  # (score, entry key) of the lowest-scoring entry
    unknown: list[str] = field(default_factory=list)
    counts: clean.RuleCounts = field(default_factory=clean.RuleCounts)
    error: str | None = None


class _FileReader:
    """Reads and cleans one file's tables: all the work that needs no other file, so worker processes do it."""

    def __init__(self, options: CorpusOptions) -> None:
        self.options = options

    def read(self, task: tuple[str, SourceFile]) -> _FileResult:
        """The file's name tables (phase `_NAMES`) or its corpus tables cleaned into records (phase `_TABLES`)."""
        phase, source = task
        result = _FileResult()
        kinds = (cat.NAME,) if phase == _NAMES else (*self.options.kinds, cat.OTHER, cat.UNKNOWN)

        def wanted(name: str) -> bool:
            return self._kind_of(name).kind in kinds

        records: list[tuple] = []
        try:
            for table in read_tables(source, wanted, self.options.max_file_bytes):
                kind = self._kind_of(table.name)
                if phase == _NAMES:
                    result.names.setdefault(kind.category, {}).update(self._names(table, result.counts))
                elif kind.kind == cat.UNKNOWN:
                    result.unknown.append(table.name)
                    result.counts.entries[clean.EXCLUDED_TABLE] += len(table.entries)
                else:
                    records += self._records(source.game, table, kind, result)
        except GameTextError as error:
            result.error = str(error)
        result.records = marshal.dumps((_TABLES, records))
        return result

    def _kind_of(self, name: str) -> cat.TableKind:
        kind = cat.classify(name)
        if kind.kind == cat.UNKNOWN and name in self.options.include_tables:
            return cat.TableKind(cat.OTHER)
        return kind

    @staticmethod
    def _names(table: FmgTable, counts: clean.RuleCounts) -> dict[int, str]:
        names = {}
        for entry_id, text in table.entries:
            if text is not None and not clean.is_null(text):
                name = clean.strip_markup(text).strip()
                if name and not clean.in_other_script(name):
                    names[entry_id] = clean.normalise_name(name, counts)
        return names

    def _records(self, game: str, table: FmgTable, kind: cat.TableKind, result: _FileResult) -> list[tuple]:
        """The table's records (`_Record` fields in a plain tuple, for marshal), noted in `result` as well."""
        # Variants (upgrade levels, infusions) repeat one text many times: clean each text once, count every entry.
        occurrences = Counter(text for _, text in table.entries)
        cleaned = {text: clean.clean_entry(text, result.counts, times) for text, times in occurrences.items()}
        entries = [
            ([entry_id], cleaned[text])
            for entry_id, text in sorted(table.entries, key=itemgetter(0))
            if cleaned[text] is not None
        ]
        if kind.kind == cat.DIALOGUE:
            entries = clean.join_dialogue(entries, result.counts, self.options.dialogue_join_gap)
        else:
            entries = _collapse_variants(entries, result.counts)
        category = kind.category if kind.kind in cat.LINKED_KINDS else None
        records = []
        sentence_count = 0
        for ids, text in entries:
            sentences = self._sentences(text, result.counts)
            if not sentences:
                continue
            keys = [SentenceCounter.key(sentence) for sentence in sentences]
            entry_key = f"{game}/{table.name}/{min(ids)}"
            score = split_score(entry_key)
            records.append((game, table.name, kind.kind, category, ids, score, sentences, keys))
            sentence_count += len(sentences)
            result.entry_sentence_keys.extend(dict(zip(sentences, keys, strict=True)).values())  # once per entry
            if result.smallest_split_key is None or (score, entry_key) < result.smallest_split_key:
                result.smallest_split_key = (score, entry_key)
        result.tables.append((table.name, kind.kind, len(records), sentence_count))
        return records

    def _sentences(self, text: str, counts: clean.RuleCounts) -> list[str]:
        kept = []
        for sentence in clean.split_sentences(text):
            if clean.in_other_script(sentence):
                counts.sentences[clean.OTHER_SCRIPT] += 1
            elif len(sentence.split()) < self.options.min_words:
                counts.sentences[clean.TOO_SHORT] += 1
            else:
                kept.append(sentence)
        return kept


def _collapse_variants(entries: list[tuple[list[int], str]], counts: clean.RuleCounts) -> list[tuple[list[int], str]]:
    """Entries with identical text (upgrade levels, infusions, scroll copies) become one keeping every id."""
    by_text: dict[str, list[int]] = {}
    for ids, text in entries:
        if text in by_text:
            by_text[text].extend(ids)
            counts.entries[clean.IDENTICAL_VARIANT] += 1
        else:
            by_text[text] = list(ids)
    return [(ids, text) for text, ids in by_text.items()]


def _worker_count(options: CorpusOptions, files: int) -> int:
    """`options.workers`, else one per idle CPU (as `make --load-average` does); never more than there are files."""
    if multiprocessing.current_process().daemon:
        return 1  # a daemonic process (a Celery worker, say) may not start processes of its own
    if options.workers:
        return max(1, min(options.workers, files))
    # Workers cost some 15% more CPU time in all (forks, transfers): they pay on idle CPUs, not on busy ones.
    try:
        busy = max(0.0, os.getloadavg()[0] - 1.0)  # the last minute's load, less this process
    except (AttributeError, OSError):  # no load average on this system
        busy = 0.0
    return max(1, min(round((os.cpu_count() or 1) - busy), files))


def _pool_context() -> multiprocessing.context.BaseContext:
    """fork, unless this process runs other threads (an Airflow task's): then a fork server.

    A fork copies locks that another thread may hold at that moment, and a worker that needs one
    waits for ever (an `airflow dags test` run hung that way). The fork server is a clean
    single-thread parent; it needs an importable, guarded `__main__`, as Airflow and our CLIs have.
    """
    return multiprocessing.get_context("forkserver" if threading.active_count() > 1 else "fork")


class _Workers:
    """Worker processes that run tasks for this one (with one worker, tasks run here instead)."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.pool = _pool_context().Pool(count) if count > 1 else None
        self.limit = _TASKS_AHEAD * count  # batches handed out and not yet collected: memory stays flat if we lag

    def __enter__(self) -> _Workers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.pool is not None:
            self.pool.terminate()

    def in_order(self, function: Callable[[Any], Any], tasks: list, sizes: list[int]) -> Iterator[Any]:
        """`map(function, tasks)` on the workers, in batches of about `_BATCH_BYTES` (`sizes`: each task's bytes).

        Results come in task order, at most `limit` batches ahead.
        """
        if self.pool is None:
            yield from map(function, tasks)
            return
        pending: deque = deque()
        for batch in _batches(tasks, sizes):
            pending.append(self.pool.apply_async(_map_list, (function, batch)))
            if len(pending) > self.limit:
                yield from pending.popleft().get()
        while pending:
            yield from pending.popleft().get()


def _batches(tasks: list, sizes: list[int]) -> Iterator[list]:
    """Consecutive tasks grouped until their input reaches `_BATCH_BYTES`."""
    batch, batch_bytes = [], 0
    for task, size in zip(tasks, sizes, strict=True):
        batch.append(task)
        batch_bytes += size
        if batch_bytes >= _BATCH_BYTES:
            yield batch
            batch, batch_bytes = [], 0
    if batch:
        yield batch


def _map_list(function: Callable[[Any], Any], tasks: list) -> list:
    """`function` over a batch of tasks, in a worker."""
    return [function(task) for task in tasks]


def _item_name(ids: list[int], names: dict[int, str]) -> str | None:
    for entry_id in sorted(ids):
        if entry_id in names:
            return names[entry_id]
    return None


def _entry_key(record: _Record) -> str:
    return f"{record.game}/{record.table}/{min(record.ids)}"


def split_score(entry_key: str) -> float:
    """A number in [0, 1) fixed by the entry alone: entries scoring under the test fraction are test entries."""
    digest = hashlib.blake2b(entry_key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _progress(total: int, enabled: bool) -> Any:
    """A tqdm bar on stderr, switched off when `enabled` is false."""
    from tqdm import tqdm

    return tqdm(total=total, desc="reading game text", unit="file", disable=not enabled)


def _write_outputs(
    tmp: Path,
    spill: Path,
    builder: _Builder,
    files: list[SourceFile],
    ignored: list[Path],
    options: CorpusOptions,
    out_dir: Path,
    word_counter: _WordCounter,
) -> CorpusSummary:
    """Second pass over the spilled records: boilerplate, train/test split, words, manifest."""
    threshold = options.boilerplate_threshold
    boilerplate_seen: set[str] = set()
    smallest = builder.smallest_split_key
    # With no entry under the test fraction, the lowest-scoring entry becomes the test set.
    forced_test = smallest if smallest and smallest[0] >= options.test_fraction > 0 else None
    totals = Counter()
    with (
        spill.open("rb") as records,
        (tmp / "corpus.jsonl").open("w", encoding="utf-8") as rows,
        (tmp / "train.txt").open("w", encoding="utf-8") as train,
        (tmp / "test.txt").open("w", encoding="utf-8") as test,
    ):
        for record, item_name in _spilled(records):
            is_test = record.score < options.test_fraction or (
                forced_test is not None and _entry_key(record) == forced_test[1]
            )
            split = "test" if is_test else "train"
            item = "null" if item_name is None else _json_string(item_name)
            prefix = (
                f'{{"game": {_json_string(record.game)}, "table": {_json_string(record.table)}, '
                f'"kind": "{record.kind}", "ids": {record.ids}, "item": {item}, "split": "{split}"'
            )
            kept = record.sentences
            entry_counts = builder.sentence_entries.counts(record.keys)
            if max(entry_counts) >= threshold:
                kept = []
                for sentence, entries in zip(record.sentences, entry_counts, strict=True):
                    if entries >= threshold:
                        if sentence in boilerplate_seen:
                            builder.counts.sentences[clean.BOILERPLATE] += 1
                            continue
                        boilerplate_seen.add(sentence)
                    kept.append(sentence)
            if not kept:
                continue
            rows.write("".join(f'{prefix}, "sentence": {_json_string(sentence)}}}\n' for sentence in kept))
            (test if is_test else train).write("\n".join(kept) + "\n")
            totals[split] += len(kept)
            totals["entries"] += 1
            if not is_test:
                word_counter.add(kept)
    familiar = _familiar_words(*word_counter.counts(), options.min_word_count)
    (tmp / "words.txt").write_text("".join(f"{word}\t{count}\n" for word, count in familiar), encoding="utf-8")
    file_hashes = {name: file_sha256(tmp / name) for name in CORPUS_FILES}
    corpus_hash = hashlib.sha256(
        "".join(f"{name} {digest}\n" for name, digest in sorted(file_hashes.items())).encode()
    ).hexdigest()
    unknown = sorted(builder.unknown)
    if unknown:
        log.warning(
            "left out %d unknown table(s): %s (include one with --include-table NAME)", len(unknown), ", ".join(unknown)
        )
    manifest = {
        "created_by": "soulsgen corpus build",
        "inputs": [
            {"path": str(f.path), "game": f.game, "sha256": file_sha256(f.path), "bytes": f.path.stat().st_size}
            for f in files
        ],
        "ignored_files": [str(p) for p in ignored],
        "skipped_bad_files": builder.errors,
        "unknown_tables": unknown,
        "tables": {game: dict(sorted(tables.items())) for game, tables in sorted(builder.tables.items())},
        "rules": builder.counts.as_dict(),
        "counts": {
            "entries": totals["entries"],
            "sentences": totals["train"] + totals["test"],
            "train_sentences": totals["train"],
            "test_sentences": totals["test"],
            "words": len(familiar),
        },
        "options": {k: v for k, v in asdict(options).items() if k not in ("progress", "skip_bad", "workers")},
        "files": file_hashes,
        "corpus_hash": corpus_hash,
    }
    (tmp / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return CorpusSummary(
        out_dir=out_dir,
        files=len(files),
        entries=totals["entries"],
        sentences=totals["train"] + totals["test"],
        train_sentences=totals["train"],
        test_sentences=totals["test"],
        words=len(familiar),
        corpus_hash=corpus_hash,
        skipped=list(builder.errors),
        unknown_tables=unknown,
    )


class _WordCounter:
    """Counts the words of the train sentences, a batch at a time, on the pool's workers while this process writes."""

    def __init__(self, workers: _Workers) -> None:
        self.pool = workers.pool
        self.limit = workers.limit
        self.batch: list[str] = []
        self.pending: deque = deque()
        self.words: Counter[str] = Counter()
        self.capitalised: Counter[str] = Counter()

    def add(self, sentences: list[str]) -> None:
        self.batch.extend(sentences)
        if len(self.batch) >= _WORD_BATCH:
            self._count_batch()

    def counts(self) -> tuple[Counter[str], Counter[str]]:
        """All words (lowercase) and the capitalised words found after a space, each with its count."""
        self._count_batch()
        while self.pending:
            self._merge(self.pending.popleft().get())
        return self.words, self.capitalised

    def _count_batch(self) -> None:
        text = "\n".join(self.batch)
        self.batch = []
        if self.pool is None:
            self._merge(_word_counts(text))
            return
        self.pending.append(self.pool.apply_async(_word_counts, (text,)))
        if len(self.pending) > self.limit:
            self._merge(self.pending.popleft().get())

    def _merge(self, counts: tuple[Counter[str], Counter[str]]) -> None:
        self.words.update(counts[0])
        self.capitalised.update(counts[1])


def _word_counts(text: str) -> tuple[Counter[str], Counter[str]]:
    """Words (lowercase, as `_WORD` finds them) and capitalised words of a batch of sentences.

    Words are letters joined by apostrophes: turning every other character into a space and splitting takes a
    third less time than the regex, which then only runs on the few tokens that hold an apostrophe.
    """
    lower = text.lower()
    separators = str.maketrans(dict.fromkeys(set(lower) - _WORD_CHARACTERS, " "))
    tokens = Counter(lower.translate(separators).split())
    words: Counter[str] = Counter()
    for token, count in tokens.items():
        if "'" in token or "’" in token:
            for word in _WORD.findall(token):
                words[word] += count
        else:
            words[token] += count
    return words, Counter(_CAPITALISED.findall(text))


def _spill_block(block: bytes, handle: BinaryIO) -> None:
    """Append a marshalled block (a game's names, or a file's records) to the spill, behind its length."""
    handle.write(len(block).to_bytes(_SPILL_HEADER, "little"))
    handle.write(block)


def _spilled(handle: BinaryIO) -> Iterator[tuple[_Record, str | None]]:
    """The spilled records, each with its item name (`marshal.load` on a file reads in tiny pieces: slow)."""
    names: dict[str, dict[int, str]] = {}
    while header := handle.read(_SPILL_HEADER):
        phase, block = marshal.loads(handle.read(int.from_bytes(header, "little")))
        if phase == _NAMES:
            names = block
            continue
        for row in block:
            record = _Record._make(row)
            item = None if record.category is None else _item_name(record.ids, names.get(record.category, {}))
            yield record, item


def _familiar_words(words: Counter[str], capitalised: Counter[str], min_count: int) -> list[tuple[str, int]]:
    """Content words seen often enough, each in its usual spelling (`Lordran`, `ember`), most frequent first."""
    from soulsgen_lib.corpus.lexical import english_stopwords

    stopwords = english_stopwords()
    familiar = []
    for word, count in words.items():
        if count < min_count or len(word) < 3 or word in stopwords or "'" in word or "’" in word:
            continue
        # Capitalised inside sentences more often than not: a name (`Lordran`), shown as such.
        spelling = word.capitalize() if capitalised[word.capitalize()] * 2 > count else word
        familiar.append((spelling, count))
    familiar.sort(key=lambda item: (-item[1], item[0]))
    return familiar
