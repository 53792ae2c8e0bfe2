"""Lexical statistics of a set of sentences and a self-contained HTML report that shows them side by side.

Used for the corpus (`soulsgen corpus inspect`) and for generated text (`soulsgen evaluate`). spaCy is imported
lazily; parts of speech and named entities need an English pipeline (`en_core_web_sm`) and are reported as
unavailable without one.
"""

from __future__ import annotations

import base64
import functools
import html
import importlib.util
import io
import itertools
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*")
SPACY_MODEL = "en_core_web_sm"
SPACY_HINT = f"python -m spacy download {SPACY_MODEL}"
TOP_N = 30
HISTOGRAM_BINS = 20
POS_SAMPLE = 2000  # sentences tagged by spaCy: tags stabilise long before that, and tagging is the slow part


def lexical_stats(sentences: Iterable[str], nlp: Any = None, pos_sample: int = POS_SAMPLE) -> dict:
    """Length, word, n-gram, part-of-speech and entity statistics of `sentences` as a JSON-able dict.

    `nlp` is a spaCy pipeline to tag with; None loads `en_core_web_sm` when it is installed.
    """
    stopwords = english_stopwords()
    char_lengths: list[int] = []
    word_lengths: list[int] = []
    words: Counter[str] = Counter()
    bigrams: Counter[str] = Counter()
    trigrams: Counter[str] = Counter()
    sample: list[str] = []
    for sentence in sentences:
        sentence = sentence.strip()
        if not sentence:
            continue
        char_lengths.append(len(sentence))
        word_lengths.append(len(sentence.split()))
        tokens = [token.lower() for token in WORD.findall(sentence)]
        words.update(tokens)
        bigrams.update(" ".join(pair) for pair in itertools.pairwise(tokens))
        trigrams.update(" ".join(triple) for triple in zip(tokens, tokens[1:], tokens[2:], strict=False))
        if len(sample) < pos_sample:
            sample.append(sentence)
    total_words = sum(words.values())
    stopword_count = sum(count for word, count in words.items() if word in stopwords)
    content = Counter({word: count for word, count in words.items() if word not in stopwords})
    return {
        "sentences": len(char_lengths),
        "chars": _distribution(char_lengths),
        "words": _distribution(word_lengths),
        "tokens": total_words,
        "vocabulary": len(words),
        "top_words": words.most_common(TOP_N),
        "stopword_share": round(stopword_count / total_words, 4) if total_words else 0.0,
        "top_stopwords": Counter({w: c for w, c in words.items() if w in stopwords}).most_common(TOP_N),
        "top_content_words": content.most_common(TOP_N),
        "top_bigrams": bigrams.most_common(TOP_N),
        "top_trigrams": trigrams.most_common(TOP_N),
        "pos": _tag(sample, nlp),
    }


@functools.cache
def english_stopwords() -> frozenset[str]:
    """spaCy's English stop words, loaded from its stop-word module alone: importing spaCy itself takes seconds."""
    spec = importlib.util.find_spec("spacy")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("spaCy is not installed; it is part of requirements.txt (pip install -r ...)")
    path = Path(spec.origin).parent / "lang" / "en" / "stop_words.py"
    module_spec = importlib.util.spec_from_file_location("soulsgen_english_stop_words", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return frozenset(module.STOP_WORDS)


def _distribution(values: Sequence[int]) -> dict:
    """Mean, min, max and a histogram (bin edges and counts) of `values`."""
    if not values:
        return {"mean": 0.0, "min": 0, "max": 0, "edges": [], "counts": []}
    low, high = min(values), max(values)
    width = max(1, -(-(high - low + 1) // HISTOGRAM_BINS))
    counts = [0] * (-(-(high - low + 1) // width))
    for value in values:
        counts[(value - low) // width] += 1
    return {
        "mean": round(sum(values) / len(values), 2),
        "min": low,
        "max": high,
        "edges": [low + i * width for i in range(len(counts) + 1)],
        "counts": counts,
    }


def load_english(disable: Sequence[str] = ("lemmatizer",)) -> Any:
    """spaCy's English pipeline without the `disable`d components, or None when it is not installed."""
    import spacy
    import spacy.util

    if not spacy.util.is_package(SPACY_MODEL):
        return None
    return spacy.load(SPACY_MODEL, disable=list(disable))


def _tag(sample: list[str], nlp: Any) -> dict:
    """Part-of-speech and entity counts over `sample`, or a note saying why they are missing."""
    nlp = nlp if nlp is not None else load_english()
    if nlp is None:
        return {
            "available": False,
            "note": f"spaCy's English pipeline ({SPACY_MODEL}) is not installed; add it with `{SPACY_HINT}`.",
        }
    tags: Counter[str] = Counter()
    labels: Counter[str] = Counter()
    entities: Counter[tuple[str, str]] = Counter()
    for doc in nlp.pipe(sample, batch_size=256):
        tags.update(token.pos_ for token in doc if token.pos_)
        for entity in doc.ents:
            labels[entity.label_] += 1
            entities[(entity.text, entity.label_)] += 1
    return {
        "available": True,
        "pipeline": f"{nlp.meta.get('lang', '?')}_{nlp.meta.get('name', '?')}",
        "tagged_sentences": len(sample),
        "parts_of_speech": tags.most_common(),
        "entity_labels": labels.most_common(),
        "top_entities": [[text, label, count] for (text, label), count in entities.most_common(TOP_N)],
    }


def render_report(columns: dict[str, dict], title: str, extra_sections: Sequence[tuple[str, str]] = ()) -> str:
    """A self-contained HTML page (charts embedded as PNG) showing each column's `lexical_stats` side by side."""
    names = list(columns)
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        _summary_table(columns),
    ]
    for heading, body in extra_sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>{body}")
    parts.append("<h2>Sentence length</h2>")
    parts.append(_row([_histograms(name, columns[name]) for name in names], names))
    for key, heading in _RANKED:
        parts.append(f"<h2>{heading}</h2>")
        parts.append(_row([_ranked_table(columns[name].get(key, [])) for name in names], names))
    parts.append("<h2>Parts of speech and named entities</h2>")
    parts.append(_row([_pos_section(columns[name].get("pos", {})) for name in names], names))
    parts.append("</body></html>")
    return "\n".join(parts)


_RANKED = (
    ("top_words", "Top words"),
    ("top_content_words", "Content words (stopwords removed)"),
    ("top_stopwords", "Stopwords"),
    ("top_bigrams", "Top bigrams"),
    ("top_trigrams", "Top trigrams"),
)

_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;margin:.3em 0}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}"
    ".row{display:flex;gap:2em;align-items:flex-start}.col{flex:1;min-width:0}.note{color:#a60}"
    "img{max-width:100%}"
)


def _summary_table(columns: dict[str, dict]) -> str:
    rows = [
        ("sentences", lambda s: s["sentences"]),
        ("characters: mean / min / max", lambda s: _triple(s["chars"])),
        ("words: mean / min / max", lambda s: _triple(s["words"])),
        ("word tokens", lambda s: s["tokens"]),
        ("distinct words", lambda s: s["vocabulary"]),
        ("stopword share", lambda s: f"{s['stopword_share']:.1%}"),
    ]
    head = "".join(f"<th>{html.escape(name)}</th>" for name in columns)
    body = "".join(
        f"<tr><th>{label}</th>" + "".join(f"<td>{html.escape(str(get(s)))}</td>" for s in columns.values()) + "</tr>"
        for label, get in rows
    )
    return f"<table><tr><th></th>{head}</tr>{body}</table>"


def _triple(dist: dict) -> str:
    return f"{dist['mean']} / {dist['min']} / {dist['max']}"


def _row(cells: list[str], names: list[str]) -> str:
    inner = "".join(
        f"<div class='col'><h3>{html.escape(name)}</h3>{cell}</div>" for name, cell in zip(names, cells, strict=True)
    )
    return f"<div class='row'>{inner}</div>"


def _ranked_table(items: list) -> str:
    if not items:
        return "<p>none</p>"
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in item) + "</tr>" for item in items)
    return f"<table>{rows}</table>"


def _pos_section(pos: dict) -> str:
    if not pos.get("available"):
        return f"<p class='note'>{html.escape(pos.get('note', 'not computed'))}</p>"
    return (
        f"<p>spaCy pipeline {html.escape(pos['pipeline'])}, {pos['tagged_sentences']} sentences tagged.</p>"
        f"<h4>Parts of speech</h4>{_ranked_table(pos['parts_of_speech'])}"
        f"<h4>Entity labels</h4>{_ranked_table(pos['entity_labels'])}"
        f"<h4>Top entities</h4>{_ranked_table(pos['top_entities'])}"
    )


def _histograms(name: str, stats: dict) -> str:
    """Two histograms (characters, words) of one column as an embedded PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(8, 2.8))
    for axis, key, label in ((axes[0], "chars", "characters"), (axes[1], "words", "words")):
        dist = stats[key]
        if dist["counts"]:
            edges = dist["edges"]
            axis.bar(
                edges[:-1],
                dist["counts"],
                width=[b - a for a, b in itertools.pairwise(edges)],
                align="edge",
                color="#557",
                edgecolor="white",
            )
        axis.set_title(f"{label}: mean {dist['mean']}, min {dist['min']}, max {dist['max']}", fontsize=9)
        axis.set_xlabel(f"{label} per sentence", fontsize=8)
        axis.tick_params(labelsize=7)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    plt.close(figure)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"<img alt='length histograms of {html.escape(name)}' src='data:image/png;base64,{encoded}'>"
