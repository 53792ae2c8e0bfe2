"""`soulsgen corpus`: build the training corpus from game text, and inspect a corpus or generated sentences."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from soulsgen_lib.cli.common import load_settings, setting_option


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
    help="Share of source entries held out in test.txt (split by entry, deterministic).",
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
    "--include-table",
    "include_tables",
    multiple=True,
    metavar="NAME",
    help="Take in a table the catalog does not know (repeatable), e.g. --include-table Chronicle_.",
)
@click.option("--skip-bad", is_flag=True, help="Build without unreadable files instead of failing.")
@click.option(
    "--max-file-mib",
    type=click.IntRange(1),
    default=256,
    show_default=True,
    help="Largest binder or DCX (declared unpacked size) accepted.",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def build(
    sources: tuple[Path, ...],
    datasource_dir: Path | None,
    out_dir: Path | None,
    test_fraction: float,
    boilerplate_threshold: int,
    min_words: int,
    include_tables: tuple[str, ...],
    skip_bad: bool,
    max_file_mib: int,
    quiet: bool,
) -> None:
    """Read game text from SOURCES and write a clean corpus folder.

    SOURCES are folders (searched recursively: a game's msg/<language>/ folder, a folder of Yabber or
    WitchyBND XML), *.fmg.xml exports, loose *.fmg files, *.msgbnd binders or *.msgbnd.dcx files, in any mix.
    The folder gets train.txt, test.txt, words.txt, corpus.jsonl and manifest.json. A malformed file is named
    with its line; the command then fails (the previous corpus stays) unless --skip-bad is given.
    """
    from soulsgen_lib.corpus import CorpusError, CorpusOptions, build_corpus

    logging.basicConfig(level=logging.WARNING, format="warning: %(message)s")
    settings = load_settings(datasource_dir=datasource_dir)
    paths = list(sources) or ([settings.datasource_dir] if settings.datasource_dir else [])
    if not paths:
        raise CorpusError("no game text given: pass SOURCES or set DATASOURCE_DIR (e.g. DATASOURCE_DIR=sample_data)")
    out_dir = out_dir or settings.work_corpus_dir
    options = CorpusOptions(
        include_tables=include_tables,
        test_fraction=test_fraction,
        boilerplate_threshold=boilerplate_threshold,
        min_words=min_words,
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
