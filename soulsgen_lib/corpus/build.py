"""Build the training corpus from game text: read → clean → dedupe → split → write.

Two passes. The first reads and cleans each file on worker processes (`workers`) and spills its records to
disk (`spill`), counting in a fixed-size sketch (`sketch`) how many entries hold each sentence. The second reads
the spill back in file order, keeps boilerplate once, splits train and test by entry (a test entry keeps only the
sentences no other entry holds, so the test split is unseen) and writes the corpus.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import string
from array import array
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from soulsgen_lib.atomic import OutputKind, atomic_dir, check_output_folder
from soulsgen_lib.checksum import file_sha256
from soulsgen_lib.corpus import spill
from soulsgen_lib.corpus.lexical import WORD
from soulsgen_lib.corpus.sketch import SentenceCounter
from soulsgen_lib.corpus.workers import WorkerDied, Workers, describe_exit, worker_count
from soulsgen_lib.folders import CorpusFolder
from soulsgen_lib.gametext import DEFAULT_LANGUAGES, MAX_FILE_BYTES, FmgTable, GameTextError, clean
from soulsgen_lib.gametext import catalog as cat
from soulsgen_lib.gametext.games import check_games
from soulsgen_lib.gametext.sources import SourceFile, discover, read_tables, wanted_source
from soulsgen_lib.textcheck import ends_like_sentence

log = logging.getLogger(__name__)

CORPUS_FILES = (CorpusFolder.TRAIN, CorpusFolder.TEST, CorpusFolder.WORDS, CorpusFolder.RECORDS)
MANIFEST = CorpusFolder.MANIFEST
CORPUS_OUTPUT = OutputKind("corpus folder", markers=(MANIFEST,), files=(*CORPUS_FILES, MANIFEST))
_SPILL = "records.tmp.marshal"
_WORD_CHARACTERS = frozenset(string.ascii_lowercase + "'’")
_CAPITALISED = re.compile(r" ([A-Z][a-z]+)\b")  # a capital word after a space: not a sentence's first word
_WORD_BATCH = 4096  # sentences counted in one pass of `str.translate`
_NAMES, _TABLES = "names", "tables"  # the two reads of a file: item names first (for linking), then corpus text
_json_string = json.encoder.encode_basestring  # the C encoder json.dumps(..., ensure_ascii=False) uses for a str


class CorpusError(GameTextError):
    """The corpus cannot be built: bad input files (named with line) or options."""


@dataclass
class CorpusOptions:
    """How to build a corpus; the defaults suit the games' text."""

    kinds: tuple[str, ...] = cat.CORPUS_KINDS
    games: tuple[str, ...] = ()  # game ids (gametext.games.GAMES) to read; empty: every game
    languages: tuple[str, ...] = DEFAULT_LANGUAGES  # files of another known language are passed over
    include_tables: tuple[str, ...] = ()  # unknown tables to take in anyway, by name
    test_fraction: float = 0.05
    boilerplate_threshold: int = 3  # a sentence found in this many distinct entries is kept once
    min_words: int = 3
    keep_fragments: bool = False  # captions and labels that do not end like a sentence ("Raises attack power")
    dialogue_join_gap: int = 1000  # ids further apart than this are never one conversation line
    min_word_count: int = 3  # words.txt keeps words seen at least this often
    skip_bad: bool = False
    max_file_bytes: int = MAX_FILE_BYTES
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
    language: str
    table: str
    kind: str
    category: str | None  # the item family whose names label the entry (description and lore tables)
    ids: list[int]
    score: float
    sentences: list[str]
    keys: list[int]


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
    check_games(options.games)
    found, ignored = discover([Path(p) for p in sources], options.max_file_bytes)
    files = [f for f in found if wanted_source(f, options.games, options.languages)]
    ignored += [f.path for f in found if not wanted_source(f, options.games, options.languages)]
    if not files:
        present = sorted({f"{f.game} ({f.language or 'language unknown'})" for f in found})
        raise CorpusError(
            f"no game text found under {', '.join(map(str, sources))}: "
            + (
                f"found {', '.join(present)} but none of game {', '.join(options.games) or 'any'} in language "
                f"{', '.join(options.languages)} (see `soulsgen corpus scan`)"
                if found
                else "expected FMG XML exports, FMG tables, BND3/BND4 binders or DCX archives"
            )
        )
    with Workers(worker_count(options.workers, len(files))) as workers, atomic_dir(target) as tmp:
        first_pass = _FirstPass(options, workers)
        with (tmp / _SPILL).open("wb") as handle:
            first_pass.read_and_clean(files, handle)
        if first_pass.errors and not options.skip_bad:
            raise CorpusError(
                f"{len(first_pass.errors)} bad input file(s), corpus not written (use --skip-bad to build without "
                "them):\n  " + "\n  ".join(first_pass.errors)
            )
        with (tmp / _SPILL).open("rb") as handle:
            totals, words = _dedupe_split_write(tmp, spill.read_records(handle), first_pass, options)
        (tmp / _SPILL).unlink()
        familiar = _write_words(tmp / CorpusFolder.WORDS, *words.counts(), options.min_word_count)
        corpus_hash = _write_manifest(tmp, first_pass, files, ignored, options, totals, len(familiar))
    return CorpusSummary(
        out_dir=out_dir,
        files=len(files),
        entries=totals["entries"],
        sentences=totals["train"] + totals["test"],
        train_sentences=totals["train"],
        test_sentences=totals["test"],
        words=len(familiar),
        corpus_hash=corpus_hash,
        skipped=list(first_pass.errors),
        unknown_tables=sorted(first_pass.unknown),
        workers=workers.count,
    )


class _FirstPass:
    """Read → clean: files read and cleaned by the workers, their records spilled in file order.

    This process only merges what the workers report (counts, name tables, sentence keys) and copies their
    records, already serialised, to the spill; the output is the same whatever the number of workers.
    """

    def __init__(self, options: CorpusOptions, workers: Workers) -> None:
        self.options = options
        self.workers = workers
        self.counts = clean.RuleCounts()
        self.errors: list[str] = []
        self.sentence_entries = SentenceCounter()
        self.tables: dict[str, dict[str, dict]] = defaultdict(dict)
        self.unknown: set[str] = set()
        self.smallest_split_key: tuple[float, str] | None = None

    def read_and_clean(self, files: list[SourceFile], handle: BinaryIO) -> None:
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
        try:
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
                        spill.write_block(handle, spill.names_block(names))
                        names_spilled = True
                    if source.path in bad:
                        continue
                    self._merge(game, result)
                    spill.write_block(handle, result.records)
                self.counts.add(result.counts)
        except WorkerDied as died:
            where = f"{died.task[1].path}: the worker reading this file" if died.task else "a corpus worker"
            raise CorpusError(f"{where} died ({describe_exit(died.exitcode)}); the corpus was not written") from None
        finally:
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
    records: bytes = spill.records_block([])  # the records, as a spill block
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
                    records += self._records(source, table, kind, result)
        except GameTextError as error:
            result.error = str(error)
        result.records = spill.records_block(records)
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

    def _records(self, source: SourceFile, table: FmgTable, kind: cat.TableKind, result: _FileResult) -> list[tuple]:
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
            entry_key = f"{source.game}/{table.name}/{min(ids)}"
            score = split_score(entry_key)
            records.append((source.game, source.language, table.name, kind.kind, category, ids, score, sentences, keys))
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
            elif not self.options.keep_fragments and not ends_like_sentence(sentence):
                # The bot only posts sentences; captions would teach the model to stop without one.
                counts.sentences[clean.FRAGMENT] += 1
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


def _dedupe_split_write(
    tmp: Path, spilled: Iterator[tuple[tuple, dict]], first_pass: _FirstPass, options: CorpusOptions
) -> tuple[Counter[str], _WordCounter]:
    """Dedupe → split → write: boilerplate kept once, each entry to train or test, the rows of corpus.jsonl.

    Returns the sentence and entry totals, and the words of the train sentences.
    """
    threshold = options.boilerplate_threshold
    boilerplate_seen: set[str] = set()
    smallest = first_pass.smallest_split_key
    # With no entry under the test fraction, the lowest-scoring entry becomes the test set.
    forced_test = smallest if smallest and smallest[0] >= options.test_fraction > 0 else None
    totals: Counter[str] = Counter()
    words = _WordCounter()
    with (
        (tmp / CorpusFolder.RECORDS).open("w", encoding="utf-8") as rows,
        (tmp / CorpusFolder.TRAIN).open("w", encoding="utf-8") as train,
        (tmp / CorpusFolder.TEST).open("w", encoding="utf-8") as test,
    ):
        for row, names in spilled:
            record = _Record._make(row)
            is_test = record.score < options.test_fraction or (
                forced_test is not None and _entry_key(record) == forced_test[1]
            )
            kept = []
            entry_counts = first_pass.sentence_entries.counts(record.keys)
            for sentence, entries in zip(record.sentences, entry_counts, strict=True):
                # Held out means unseen: a sentence other entries hold too (train ones, nearly always) is not a
                # test sentence; scored on it, a model is rewarded for replaying the train split. The one
                # forced test entry keeps its sentences, so the test split is never empty.
                if is_test and entries > 1 and forced_test is None:
                    first_pass.counts.sentences[clean.HELD_OUT_DUPLICATE] += 1
                    continue
                if entries >= threshold:
                    if sentence in boilerplate_seen:
                        first_pass.counts.sentences[clean.BOILERPLATE] += 1
                        continue
                    boilerplate_seen.add(sentence)
                kept.append(sentence)
            if not kept:
                continue
            split = "test" if is_test else "train"
            item = None if record.category is None else _item_name(record.ids, names.get(record.category, {}))
            rows.write(_jsonl_rows(record, item, split, kept))
            (test if is_test else train).write("\n".join(kept) + "\n")
            totals[split] += len(kept)
            totals["entries"] += 1
            if not is_test:
                words.add(kept)
    return totals, words


def _jsonl_rows(record: _Record, item: str | None, split: str, sentences: list[str]) -> str:
    """corpus.jsonl's lines for one entry: what `json.dumps(row, ensure_ascii=False)` writes, without a dict and
    an encoder call per sentence (the entry's fields are encoded once)."""
    prefix = (
        f'{{"game": {_json_string(record.game)}, "language": {_json_string(record.language)}, '
        f'"table": {_json_string(record.table)}, '
        f'"kind": "{record.kind}", "ids": {record.ids}, "item": {"null" if item is None else _json_string(item)}, '
        f'"split": "{split}"'
    )
    return "".join(f'{prefix}, "sentence": {_json_string(sentence)}}}\n' for sentence in sentences)


def _write_words(path: Path, words: Counter[str], capitalised: Counter[str], min_count: int) -> list[tuple[str, int]]:
    """words.txt: the familiar words of the train sentences with their counts; returns them."""
    familiar = _familiar_words(words, capitalised, min_count)
    path.write_text("".join(f"{word}\t{count}\n" for word, count in familiar), encoding="utf-8")
    return familiar


def _write_manifest(
    tmp: Path,
    first_pass: _FirstPass,
    files: list[SourceFile],
    ignored: list[Path],
    options: CorpusOptions,
    totals: Counter[str],
    words: int,
) -> str:
    """manifest.json: inputs, rules applied, counts, options and each file's hash; returns the corpus hash."""
    file_hashes = {name: file_sha256(tmp / name) for name in CORPUS_FILES}
    corpus_hash = hashlib.sha256(
        "".join(f"{name} {digest}\n" for name, digest in sorted(file_hashes.items())).encode()
    ).hexdigest()
    unknown = sorted(first_pass.unknown)
    if unknown:
        log.warning(
            "left out %d unknown table(s): %s (include one with --include-table NAME)", len(unknown), ", ".join(unknown)
        )
    manifest = {
        "created_by": "soulsgen corpus build",
        "inputs": [
            {
                "path": str(f.path),
                "game": f.game,
                "language": f.language,
                "sha256": file_sha256(f.path),
                "bytes": f.path.stat().st_size,
            }
            for f in files
        ],
        "ignored_files": [str(p) for p in ignored],
        "skipped_bad_files": first_pass.errors,
        "unknown_tables": unknown,
        "tables": {game: dict(sorted(tables.items())) for game, tables in sorted(first_pass.tables.items())},
        "rules": first_pass.counts.as_dict(),
        "counts": {
            "entries": totals["entries"],
            "sentences": totals["train"] + totals["test"],
            "train_sentences": totals["train"],
            "test_sentences": totals["test"],
            "words": words,
        },
        "options": {k: v for k, v in asdict(options).items() if k not in ("progress", "skip_bad", "workers")},
        "files": file_hashes,
        "corpus_hash": corpus_hash,
    }
    (tmp / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return corpus_hash


class _WordCounter:
    """The words of the train sentences, counted a batch at a time (one `str.translate` over many sentences)."""

    def __init__(self) -> None:
        self.batch: list[str] = []
        self.words: Counter[str] = Counter()
        self.capitalised: Counter[str] = Counter()

    def add(self, sentences: list[str]) -> None:
        self.batch.extend(sentences)
        if len(self.batch) >= _WORD_BATCH:
            self._count_batch()

    def counts(self) -> tuple[Counter[str], Counter[str]]:
        """All words (lowercase) and the capitalised words found after a space, each with its count."""
        self._count_batch()
        return self.words, self.capitalised

    def _count_batch(self) -> None:
        words, capitalised = _word_counts("\n".join(self.batch))
        self.batch = []
        self.words.update(words)
        self.capitalised.update(capitalised)


def _word_counts(text: str) -> tuple[Counter[str], Counter[str]]:
    """Words (lowercase, as `lexical.WORD` finds them) and capitalised words of a batch of sentences.

    Words are letters joined by apostrophes: turning every other character into a space and splitting is faster
    than the regex, which then only runs on the few tokens that hold an apostrophe.
    """
    lower = text.lower()
    separators = str.maketrans(dict.fromkeys(set(lower) - _WORD_CHARACTERS, " "))
    tokens = Counter(lower.translate(separators).split())
    words: Counter[str] = Counter()
    for token, count in tokens.items():
        if "'" in token or "’" in token:
            for word in WORD.findall(token):
                words[word] += count
        else:
            words[token] += count
    return words, Counter(_CAPITALISED.findall(text))


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
