"""`soulsgen corpus`: build the training corpus from game text, and inspect a corpus or generated sentences."""

from __future__ import annotations

import logging
import unicodedata
from pathlib import Path

import click

from soulsgen_lib.cli.common import load_settings, setting_option
from soulsgen_lib.gametext import DEFAULT_LANGUAGES, MAX_FILE_BYTES
from soulsgen_lib.gametext.catalog import ALL_KINDS, CORPUS_KINDS
from soulsgen_lib.gametext.games import GAMES

_MAX_FILE_MIB = click.option(
    "--max-file-mib",
    type=click.IntRange(1),
    default=MAX_FILE_BYTES >> 20,
    show_default=True,
    help="Largest file, or declared unpacked archive, accepted.",
)
_SELECTION_OPTIONS = (
    click.option(
        "--game",
        "game_ids",
        multiple=True,
        type=click.Choice(list(GAMES)),
        help="Read only this game (repeatable). [default: every game]",
    ),
    click.option(
        "--kinds",
        default=",".join(CORPUS_KINDS),
        show_default=True,
        help=f"Table kinds to keep, comma-separated, from: {', '.join(ALL_KINDS)}.",
    ),
    click.option(
        "--language",
        "languages",
        multiple=True,
        default=DEFAULT_LANGUAGES,
        show_default=True,
        help="Language folder to read (repeatable), e.g. engus, jpnjp; files of unknown language are always read.",
    ),
    click.option(
        "--include-table",
        "include_tables",
        multiple=True,
        metavar="NAME",
        help="Take in a table the catalog does not know (repeatable), e.g. --include-table Chronicle_.",
    ),
    _MAX_FILE_MIB,
)


def _selection_options(command):
    """The options that choose what a build reads, shared by `build` and `scan`."""
    for option in reversed(_SELECTION_OPTIONS):
        command = option(command)
    return command


@click.group()
def corpus() -> None:
    """Build the training corpus from game text, or report on its words and sentences."""


@corpus.command()
@click.argument("sources", nargs=-1, type=click.Path(path_type=Path))
@setting_option(
    "datasource_dir",
    "--datasource-dir",
    type=click.Path(path_type=Path),
    help="Game text to read when no SOURCES are given.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Corpus folder to write: new, empty or an earlier corpus (replaced atomically). "
    "[default: $SOULSGEN_HOME/work/corpus]",
)
@click.option(
    "--test-fraction",
    type=click.FloatRange(0.0, 0.5),
    default=0.05,
    show_default=True,
    help="Share of source entries held out in test.txt (split by entry, deterministic; a test entry keeps only "
    "sentences no other entry holds).",
)
@click.option(
    "--boilerplate-threshold",
    type=click.IntRange(2),
    default=3,
    show_default=True,
    help="A sentence found in this many distinct entries is kept only once.",
)
@click.option(
    "--min-words", type=click.IntRange(1), default=3, show_default=True, help="Sentences with fewer words are dropped."
)
@click.option(
    "--keep-fragments",
    is_flag=True,
    help="Keep captions and labels that do not end like a sentence (dropped by default: the bot posts sentences).",
)
@_selection_options
@click.option("--skip-bad", is_flag=True, help="Build without unreadable files instead of failing.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def build(
    sources: tuple[Path, ...],
    datasource_dir: Path | None,
    out_dir: Path | None,
    test_fraction: float,
    boilerplate_threshold: int,
    min_words: int,
    keep_fragments: bool,
    game_ids: tuple[str, ...],
    kinds: str,
    languages: tuple[str, ...],
    include_tables: tuple[str, ...],
    max_file_mib: int,
    skip_bad: bool,
    quiet: bool,
) -> None:
    """Read game text from SOURCES and write a clean corpus folder.

    SOURCES are folders (searched recursively: a game's msg/<language>/ folder, a folder of Yabber or
    WitchyBND XML), FMG XML exports, loose FMG tables, BND3/BND4 binders or DCX archives, in any mix and under
    any file name: files are recognised by their contents (backup copies such as *.bak are read only when
    named). Oodle (KRAK) archives need the optional `oodle` extra. The folder gets train.txt, test.txt,
    words.txt, corpus.jsonl and manifest.json. A malformed file is named
    with its line; the command then fails (the previous corpus stays) unless --skip-bad is given.
    """
    from soulsgen_lib.corpus import CorpusError, CorpusOptions, build_corpus
    from soulsgen_lib.gametext.catalog import parse_kinds

    logging.basicConfig(level=logging.WARNING, format="warning: %(message)s")
    settings = load_settings(datasource_dir=datasource_dir)
    paths = list(sources) or ([settings.datasource_dir] if settings.datasource_dir else [])
    if not paths:
        raise CorpusError("no game text given: pass SOURCES or set DATASOURCE_DIR (e.g. DATASOURCE_DIR=sample_data)")
    out_dir = out_dir or settings.work_corpus_dir
    options = CorpusOptions(
        kinds=parse_kinds(kinds),
        games=game_ids,
        languages=languages,
        include_tables=include_tables,
        test_fraction=test_fraction,
        boilerplate_threshold=boilerplate_threshold,
        min_words=min_words,
        keep_fragments=keep_fragments,
        skip_bad=skip_bad,
        max_file_bytes=max_file_mib * 1024 * 1024,
        progress=not quiet,
    )
    summary = build_corpus(paths, out_dir, options)
    for message in summary.skipped:
        click.secho(f"skipped: {message}", err=True, fg="yellow")
    click.echo(
        f"{out_dir}: {summary.sentences} sentences from {summary.entries} entries in {summary.files} files "
        f"(train {summary.train_sentences}, test {summary.test_sentences}, {summary.words} familiar words)"
    )
    click.echo(f"corpus hash {summary.corpus_hash}")


@corpus.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@_selection_options
def scan(
    sources: tuple[Path, ...],
    game_ids: tuple[str, ...],
    kinds: str,
    languages: tuple[str, ...],
    include_tables: tuple[str, ...],
    max_file_mib: int,
) -> None:
    """List the game text under SOURCES: game, language, archive, table, kind, entries, and whether a build keeps it.

    Takes the same selection options as `corpus build`, so `kept` shows what that build would read as corpus text
    (name tables are read only to label descriptions and lore). An unreadable file is reported and the scan goes on.
    """
    from soulsgen_lib.gametext import GameTextError
    from soulsgen_lib.gametext.catalog import parse_kinds
    from soulsgen_lib.gametext.scan import ScanFilter, scan

    selection = ScanFilter(game_ids, languages, parse_kinds(kinds), include_tables)
    header = ("game", "language", "archive", "table", "kind", "entries", "kept")
    rows, errors = [], 0
    for row in scan(list(sources), selection, max_file_mib * 1024 * 1024):
        if isinstance(row, GameTextError):
            click.secho(f"unreadable: {row}", err=True, fg="yellow")
            errors += 1
        else:
            rows.append(
                (row.game, row.language or "?", row.archive, row.table, row.kind, str(row.entries), _yes(row.kept))
            )
    widths = [max(_width(cells[column]) for cells in [header, *rows]) for column in range(len(header))]
    for cells in [header, *rows]:
        padded = (cell + " " * (width - _width(cell)) for cell, width in zip(cells, widths, strict=True))
        click.echo("  ".join(padded).rstrip())
    kept = [row for row in rows if row[-1] == "yes"]
    click.echo(
        f"{len(rows)} tables, {len(kept)} kept by a build ({sum(int(row[5]) for row in kept)} entries)"
        + (f"; {errors} unreadable file(s)" if errors else "")
    )


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _width(text: str) -> int:
    """Columns `text` takes in a terminal: Japanese table names take two per character."""
    return sum(2 if unicodedata.east_asian_width(character) in "WF" else 1 for character in text)


@corpus.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("corpus-report.html"),
    show_default=True,
    help="HTML report to write (self-contained, opens offline).",
)
def inspect(paths: tuple[Path, ...], out: Path) -> None:
    """Report on the sentences of a corpus folder or any sentence file (one per line, or .jsonl).

    Several PATHS are shown side by side, e.g. the corpus beside generated text. Parts of speech and named
    entities need spaCy's en_core_web_sm (python -m spacy download en_core_web_sm); without it the report
    says so and shows the rest.
    """
    from soulsgen_lib.corpus.report import inspect_paths, summary_lines

    columns = inspect_paths(list(paths), out)
    for name, stats in columns.items():
        click.echo("\n".join(summary_lines(name, stats)))
    click.echo(f"report: {out}")
