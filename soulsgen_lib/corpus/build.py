"""Build the training corpus from game text: read, clean, link, join dialogue, drop boilerplate, split, write."""

from __future__ import annotations

import hashlib
import json
import logging
import marshal
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from soulsgen_lib.atomic import atomic_dir
from soulsgen_lib.gametext import FmgTable, GameTextError, clean
from soulsgen_lib.gametext import catalog as cat
from soulsgen_lib.gametext.sources import SourceFile, discover, read_tables

log = logging.getLogger(__name__)

CORPUS_FILES = ("train.txt", "test.txt", "words.txt", "corpus.jsonl")
MANIFEST = "manifest.json"
_SPILL = "records.tmp.marshal"
_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*")
_CAPITALISED = re.compile(r" ([A-Z][a-z]+)\b")  # a capital word after a space: not a sentence's first word
_WORD_BATCH = 4096
_SPILL_CHUNK = 1024  # records per marshal call: one call per record costs more than the records themselves
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


@dataclass
class _Record:
    """One entry after cleaning: its sentences, where it came from and its split score."""

    game: str
    table: str
    kind: str
    ids: list[int]
    item: str | None
    score: float
    sentences: list[str]


class SentenceCounter:
    """How many distinct entries hold each sentence, in fixed memory whatever the input size.

    A count-min sketch: two rows of saturating byte counters indexed by a stable hash. It can overcount (a
    sentence sharing both cells with others), never undercount, and gives the same answer on every run.
    """

    WIDTH_BITS = 22

    def __init__(self) -> None:
        self.rows = (bytearray(1 << self.WIDTH_BITS), bytearray(1 << self.WIDTH_BITS))

    def _cells(self, sentence: str) -> tuple[int, int]:
        digest = int.from_bytes(hashlib.blake2b(sentence.encode("utf-8"), digest_size=8).digest(), "little")
        mask = (1 << self.WIDTH_BITS) - 1
        return digest & mask, (digest >> 32) & mask

    def add(self, sentence: str) -> None:
        first, second = self._cells(sentence)
        if self.rows[0][first] < 255:
            self.rows[0][first] += 1
        if self.rows[1][second] < 255:
            self.rows[1][second] += 1

    def count(self, sentence: str) -> int:
        first, second = self._cells(sentence)
        return min(self.rows[0][first], self.rows[1][second])


def build_corpus(sources: list[Path], out_dir: Path, options: CorpusOptions | None = None) -> CorpusSummary:
    """Read every table under `sources`, clean it and write the corpus folder `out_dir` in one atomic swap."""
    options = options or CorpusOptions()
    if not 0.0 <= options.test_fraction < 1.0:
        raise CorpusError(f"test fraction must be in [0, 1), got {options.test_fraction}")
    files, ignored = discover([Path(p) for p in sources])
    if not files:
        raise CorpusError(
            f"no game text found under {', '.join(map(str, sources))}: expected *.fmg.xml exports, *.fmg, "
            "*.msgbnd or *.msgbnd.dcx files"
        )
    counts = clean.RuleCounts()
    builder = _Builder(options, counts)
    with atomic_dir(out_dir) as tmp:
        spill = tmp / _SPILL
        with spill.open("wb") as handle:
            chunk: list[list] = []
            for record in builder.records(files):
                chunk.append(
                    [record.game, record.table, record.kind, record.ids, record.item, record.score, record.sentences]
                )
                if len(chunk) == _SPILL_CHUNK:
                    marshal.dump(chunk, handle)
                    chunk = []
            marshal.dump(chunk, handle)
        if builder.errors and not options.skip_bad:
            raise CorpusError(
                f"{len(builder.errors)} bad input file(s), corpus not written (use --skip-bad to build without "
                "them):\n  " + "\n  ".join(builder.errors)
            )
        summary = _write_outputs(tmp, spill, builder, files, ignored, options, out_dir)
        spill.unlink()
    return summary


class _Builder:
    """Streams records out of the source files and keeps what the second pass needs (counts, entry hashes)."""

    def __init__(self, options: CorpusOptions, counts: clean.RuleCounts) -> None:
        self.options = options
        self.counts = counts
        self.errors: list[str] = []
        self.names: dict[tuple[str, str], dict[int, str]] = defaultdict(dict)
        self.sentence_entries = SentenceCounter()
        self.tables: dict[str, dict[str, dict]] = defaultdict(dict)
        self.unknown: set[str] = set()
        self.smallest_split_key: tuple[float, str] | None = None
        self.any_test = False

    def _kind_of(self, name: str) -> cat.TableKind:
        kind = cat.classify(name)
        if kind.kind == cat.UNKNOWN and name in self.options.include_tables:
            return cat.TableKind(cat.OTHER)
        return kind

    def _read(self, source: SourceFile, kinds: tuple[str, ...]) -> Iterator[FmgTable]:
        try:
            yield from read_tables(source, lambda name: self._kind_of(name).kind in kinds, self.options.max_file_bytes)
        except GameTextError as error:
            self.errors.append(str(error))

    def records(self, files: list[SourceFile]) -> Iterator[_Record]:
        """All records, game by game; a game's name tables are read first so its lore can be linked to items.

        Only one game's names are held at a time, so memory follows the largest game, not the whole input.
        """
        by_game: dict[str, list[SourceFile]] = defaultdict(list)
        for source in files:
            by_game[source.game].append(source)
        progress = _progress(len(files), self.options.progress)
        for game_files in by_game.values():
            self.names = defaultdict(dict)
            bad = set()
            for source in game_files:
                errors = len(self.errors)
                for table in self._read(source, (cat.NAME,)):
                    self._add_names(source.game, table)
                if len(self.errors) > errors:
                    bad.add(source.path)
            wanted = (*self.options.kinds, cat.OTHER, cat.UNKNOWN)
            for source in game_files:
                progress.update(1)
                if source.path in bad:
                    continue
                for table in self._read(source, wanted):
                    kind = self._kind_of(table.name)
                    if kind.kind == cat.UNKNOWN:
                        self.unknown.add(table.name)
                        self.counts.entries[clean.EXCLUDED_TABLE] += len(table.entries)
                        continue
                    yield from self._table_records(source.game, table, kind)
        progress.close()

    def _add_names(self, game: str, table: FmgTable) -> None:
        category = self._kind_of(table.name).category
        names = self.names[(game, category)]
        for entry_id, text in table.entries:
            if text is not None and not clean.is_null(text):
                name = clean.strip_markup(text).strip()
                if name and not clean.in_other_script(name):
                    names[entry_id] = clean.normalise_name(name, self.counts)

    def _table_records(self, game: str, table: FmgTable, kind: cat.TableKind) -> Iterator[_Record]:
        entries: list[tuple[list[int], str]] = []
        # Variants (upgrade levels, infusions) repeat one text many times: clean each text once, count every entry.
        cleaned_texts: dict[str | None, tuple[str | None, clean.RuleCounts]] = {}
        for entry_id, text in sorted(table.entries, key=lambda entry: entry[0]):
            if text not in cleaned_texts:
                entry_counts = clean.RuleCounts()
                cleaned_texts[text] = (clean.clean_entry(text, entry_counts), entry_counts)
            cleaned, entry_counts = cleaned_texts[text]
            if entry_counts.entries or entry_counts.edits:
                self.counts.add(entry_counts)
            if cleaned is not None:
                entries.append(([entry_id], cleaned))
        if kind.kind == cat.DIALOGUE:
            entries = clean.join_dialogue(entries, self.counts, self.options.dialogue_join_gap)
        else:
            entries = self._collapse_variants(entries)
        names = self.names.get((game, kind.category), {}) if kind.kind in cat.LINKED_KINDS else {}
        stats = self.tables[game].setdefault(table.name, {"kind": kind.kind, "entries": 0, "sentences": 0})
        for ids, text in entries:
            sentences = self._sentences(text)
            if not sentences:
                continue
            for sentence in set(sentences):
                self.sentence_entries.add(sentence)
            key = f"{game}/{table.name}/{min(ids)}"
            record = _Record(game, table.name, kind.kind, ids, _item_name(ids, names), split_score(key), sentences)
            self._note_split_key(record)
            stats["entries"] += 1
            stats["sentences"] += len(sentences)
            yield record

    def _collapse_variants(self, entries: list[tuple[list[int], str]]) -> list[tuple[list[int], str]]:
        """Entries with identical text (upgrade levels, infusions, scroll copies) become one keeping every id."""
        by_text: dict[str, list[int]] = {}
        for ids, text in entries:
            if text in by_text:
                by_text[text].extend(ids)
                self.counts.entries[clean.IDENTICAL_VARIANT] += 1
            else:
                by_text[text] = list(ids)
        return [(ids, text) for text, ids in by_text.items()]

    def _sentences(self, text: str) -> list[str]:
        kept = []
        for sentence in clean.split_sentences(text):
            if clean.in_other_script(sentence):
                self.counts.sentences[clean.OTHER_SCRIPT] += 1
            elif len(sentence.split()) < self.options.min_words:
                self.counts.sentences[clean.TOO_SHORT] += 1
            else:
                kept.append(sentence)
        return kept

    def _note_split_key(self, record: _Record) -> None:
        if record.score < self.options.test_fraction:
            self.any_test = True
        key = (record.score, _entry_key(record))
        if self.smallest_split_key is None or key < self.smallest_split_key:
            self.smallest_split_key = key


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
) -> CorpusSummary:
    """Second pass over the spilled records: boilerplate, train/test split, words, manifest."""
    threshold = options.boilerplate_threshold
    boilerplate_seen: set[str] = set()
    forced_test = None if builder.any_test or options.test_fraction == 0 else builder.smallest_split_key
    words: Counter[str] = Counter()
    capitalised: Counter[str] = Counter()
    pending_words: list[str] = []
    totals = Counter()
    with (
        spill.open("rb") as records,
        (tmp / "corpus.jsonl").open("w", encoding="utf-8") as rows,
        (tmp / "train.txt").open("w", encoding="utf-8") as train,
        (tmp / "test.txt").open("w", encoding="utf-8") as test,
    ):
        for record in _spilled(records):
            is_test = record.score < options.test_fraction or (
                forced_test is not None and _entry_key(record) == forced_test[1]
            )
            split = "test" if is_test else "train"
            item = "null" if record.item is None else _json_string(record.item)
            prefix = (
                f'{{"game": {_json_string(record.game)}, "table": {_json_string(record.table)}, '
                f'"kind": "{record.kind}", "ids": {record.ids}, "item": {item}, "split": "{split}"'
            )
            kept = 0
            for sentence in record.sentences:
                if builder.sentence_entries.count(sentence) >= threshold:
                    if sentence in boilerplate_seen:
                        builder.counts.sentences[clean.BOILERPLATE] += 1
                        continue
                    boilerplate_seen.add(sentence)
                kept += 1
                rows.write(f'{prefix}, "sentence": {_json_string(sentence)}}}\n')
                (test if is_test else train).write(sentence + "\n")
                totals[split] += 1
                if not is_test:
                    pending_words.append(sentence)
            if len(pending_words) >= _WORD_BATCH:
                _count_words(pending_words, words, capitalised)
            if kept:
                totals["entries"] += 1
    _count_words(pending_words, words, capitalised)
    familiar = _familiar_words(words, capitalised, options.min_word_count)
    (tmp / "words.txt").write_text("".join(f"{word}\t{count}\n" for word, count in familiar), encoding="utf-8")
    file_hashes = {name: _sha256_file(tmp / name) for name in CORPUS_FILES}
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
            {"path": str(f.path), "game": f.game, "sha256": _sha256_file(f.path), "bytes": f.path.stat().st_size}
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
        "options": {k: v for k, v in asdict(options).items() if k not in ("progress", "skip_bad")},
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


def _count_words(sentences: list[str], words: Counter[str], capitalised: Counter[str]) -> None:
    """Count the words of a batch of sentences (one regex pass over the batch), then empty the batch."""
    text = "\n".join(sentences)
    words.update(_WORD.findall(text.lower()))
    capitalised.update(_CAPITALISED.findall(text))
    sentences.clear()


def _spilled(handle: BinaryIO) -> Iterator[_Record]:
    """Records written by the first pass (marshal: the fastest safe format for our own plain lists)."""
    while True:
        try:
            chunk = marshal.load(handle)
        except EOFError:
            return
        for row in chunk:
            yield _Record(*row)


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


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
