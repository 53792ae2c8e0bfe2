import base64
import json
import re

import pytest
import spacy

from soulsgen_lib.corpus.lexical import lexical_stats, render_report

SENTENCES = [
    "The flame fades, and the lords go without thrones.",
    "Thou hath returned to the flame.",
    "Lord Aldrith fell in the first war.",
    "",
]


def test_lengths_words_and_ngrams():
    stats = lexical_stats(SENTENCES)
    kept = [s for s in SENTENCES if s]
    assert stats["sentences"] == 3
    assert stats["chars"]["min"] == min(map(len, kept)) and stats["chars"]["max"] == max(map(len, kept))
    assert stats["words"]["mean"] == round(sum(len(s.split()) for s in kept) / 3, 2)
    assert sum(stats["chars"]["counts"]) == 3
    assert dict(stats["top_words"])["flame"] == 2
    assert dict(stats["top_bigrams"])["the flame"] == 2
    assert "the" in dict(stats["top_stopwords"]) and "the" not in dict(stats["top_content_words"])
    assert 0 < stats["stopword_share"] < 1
    json.dumps(stats)


def test_without_english_pipeline_the_stats_say_how_to_add_it():
    pos = lexical_stats(SENTENCES)["pos"]
    assert pos["available"] is False
    assert "python -m spacy download en_core_web_sm" in pos["note"]


def test_tagged_path_with_a_pipeline_built_here():
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("attribute_ruler")
    ruler.add([[{"LOWER": "flame"}]], {"POS": "NOUN"})
    ruler.add([[{"LOWER": "fell"}]], {"POS": "VERB"})
    nlp.add_pipe("entity_ruler").add_patterns([{"label": "PERSON", "pattern": "Lord Aldrith"}])
    pos = lexical_stats(SENTENCES, nlp=nlp)["pos"]
    assert pos["available"] is True
    assert dict(pos["parts_of_speech"]) == {"NOUN": 2, "VERB": 1}
    assert pos["top_entities"] == [["Lord Aldrith", "PERSON", 1]]
    html = render_report({"corpus": lexical_stats(SENTENCES, nlp=nlp)}, "Tagged")
    assert "Lord Aldrith" in html and "PERSON" in html


def test_report_is_self_contained_with_columns_side_by_side_and_extra_sections():
    columns = {"corpus": lexical_stats(SENTENCES), "generated": lexical_stats(["A new flame, kindled by none."])}
    html = render_report(columns, "Corpus <vs> generated", [("Samples", "<ul><li>A new flame</li></ul>")])
    assert "Corpus &lt;vs&gt; generated" in html
    assert html.index("<h2>Samples</h2>") < html.index("<h2>Sentence length</h2>")
    images = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html)
    assert len(images) == 2
    assert all(base64.b64decode(image).startswith(b"\x89PNG") for image in images)
    assert "<h3>corpus</h3>" in html and "<h3>generated</h3>" in html
    assert not re.search(r"(src|href)=['\"]https?:", html), "opens offline"
    assert "en_core_web_sm" in html


def test_empty_input_gives_empty_stats():
    stats = lexical_stats([])
    assert stats["sentences"] == 0 and stats["chars"]["counts"] == []
    assert "data:image/png" in render_report({"empty": stats}, "Empty")


def test_inspect_reads_text_and_jsonl_side_by_side(tmp_path):
    from soulsgen_lib.corpus import CorpusError
    from soulsgen_lib.corpus.report import inspect_paths, sentences_to_inspect

    generated = tmp_path / "generated.txt"
    generated.write_text("\ufeffThe bell tolls for none.\n\nA new flame rises.\n", encoding="utf-8")
    rows = tmp_path / "samples.jsonl"
    rows.write_text('{"text": "Ash falls on the road."}\n{"sentence": "The king sleeps."}\n', encoding="utf-8")
    assert sentences_to_inspect(generated) == ["The bell tolls for none.", "A new flame rises."]
    columns = inspect_paths([generated, rows], tmp_path / "report.html")
    assert list(columns) == ["generated.txt", "samples.jsonl"]
    assert columns["samples.jsonl"]["sentences"] == 2
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<h3>generated.txt</h3>" in html and "<h3>samples.jsonl</h3>" in html
    rows.write_text('{"text": "fine"}\nnot json\n', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"samples\.jsonl:2: not JSON"):
        sentences_to_inspect(rows)
    with pytest.raises(CorpusError, match="not a corpus folder"):
        sentences_to_inspect(tmp_path)
