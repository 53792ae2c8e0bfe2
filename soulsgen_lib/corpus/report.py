"""The lexical report of a corpus or any sentence file (`soulsgen corpus inspect`): statistics, HTML, a summary."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from soulsgen_lib.atomic import write_text_atomic
from soulsgen_lib.corpus.build import CorpusError
from soulsgen_lib.corpus.lexical import lexical_stats, render_report
from soulsgen_lib.folders import CorpusFolder


def sentences_to_inspect(path: Path) -> list[str]:
    """Sentences of a corpus folder (train + test), a `.jsonl` file (`sentence` or `text` field) or a text file."""
    if path.is_dir():
        folder = CorpusFolder(path)
        parts = [part for part in (folder.train_file, folder.test_file) if part.is_file()]
        if not parts:
            raise CorpusError(f"{path}: not a corpus folder (no train.txt or test.txt); run `soulsgen corpus build`")
        return [sentence for part in parts for sentence in _lines(part)]
    if not path.is_file():
        raise CorpusError(f"{path}: no such file or folder")
    if path.suffix == ".jsonl":
        return list(_jsonl_sentences(path))
    return list(_lines(path))


def _lines(path: Path) -> Iterator[str]:
    try:
        with path.open(encoding="utf-8-sig") as handle:
            for line in handle:
                if line.strip():
                    yield line.strip()
    except UnicodeDecodeError as error:
        raise CorpusError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None


def _jsonl_sentences(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise CorpusError(f"{path}:{number}: not JSON ({error.msg})") from None
            text = row.get("sentence", row.get("text")) if isinstance(row, dict) else None
            if not isinstance(text, str):
                raise CorpusError(f"{path}:{number}: expected an object with a 'sentence' or 'text' string")
            yield text


def inspect_paths(paths: list[Path], out: Path, nlp: Any = None) -> dict[str, dict]:
    """Statistics of each path (one report column each); the HTML report is written to `out`."""
    columns: dict[str, dict] = {}
    for path in paths:
        label = path.name or str(path)
        while label in columns:
            label += "'"
        sentences = sentences_to_inspect(path)
        if not sentences:
            raise CorpusError(f"{path}: holds no sentences")
        columns[label] = lexical_stats(sentences, nlp=nlp)
    title = "Lexical report: " + ", ".join(columns)
    write_text_atomic(out, render_report(columns, title))
    return columns


def summary_lines(name: str, stats: dict) -> list[str]:
    """A few lines that sum up one column of statistics for the terminal."""
    chars, words = stats["chars"], stats["words"]
    lines = [
        f"{name}: {stats['sentences']} sentences, {stats['tokens']} words, {stats['vocabulary']} distinct",
        f"  characters per sentence: mean {chars['mean']}, min {chars['min']}, max {chars['max']}",
        f"  words per sentence: mean {words['mean']}, min {words['min']}, max {words['max']}",
        f"  stopword share: {stats['stopword_share']:.1%}",
        "  top content words: " + ", ".join(word for word, _ in stats["top_content_words"][:12]),
        "  top bigrams: " + ", ".join(pair for pair, _ in stats["top_bigrams"][:6]),
    ]
    pos = stats["pos"]
    if pos.get("available"):
        lines.append("  parts of speech: " + ", ".join(f"{tag} {count}" for tag, count in pos["parts_of_speech"][:6]))
    else:
        lines.append(f"  {pos['note']}")
    return lines
