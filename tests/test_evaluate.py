import json

import pytest
from click.testing import CliRunner

from soulsgen_lib.cli import main as soulsgen
from soulsgen_lib.model import ModelError
from soulsgen_lib.model.evaluate import collect, distinct_2, evaluate_model, js_divergence, length_histogram

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_js_divergence_is_zero_for_equal_and_one_for_disjoint_histograms():
    assert js_divergence([1, 2, 3], [2, 4, 6]) == pytest.approx(0.0)
    assert js_divergence([1, 0], [0, 1]) == pytest.approx(1.0)
    assert 0 < js_divergence([1, 1], [1, 3]) < 1


def test_distinct_2_and_length_histogram():
    assert distinct_2(["a b a b", "a b"]) == pytest.approx(2 / 4)
    assert length_histogram(["one two", "three"])[1:3] == [1, 1]


def test_collect_resamples_failures_and_duplicates():
    pool = iter([("x", None), ("x", None), ("bad", "too_few_words"), ("y", None), ("z", None)])

    def draft(count, round_number):
        return [next(pool) for _ in range(count)]

    first, collected = collect(draft, 3)
    assert [text for text, _ in first] == ["x", "x", "bad"]
    assert collected["accepted_sentences"] == ["x", "y", "z"]
    assert collected["rejected"] == {"duplicate": 1, "too_few_words": 1}
    assert collected["acceptance_rate"] == pytest.approx(3 / 5)


def test_evaluate_writes_a_scorecard_beside_markovify(tmp_path, tiny_model_dir, model_corpus_dir):
    args = ["--model", str(tiny_model_dir), "--corpus", str(model_corpus_dir), "--out", str(tmp_path), "-n", "40"]
    result = CliRunner().invoke(soulsgen, ["evaluate", *args])
    assert result.exit_code == 0, result.output
    scorecard = json.loads((tmp_path / "scorecard.json").read_text())
    assert json.loads(result.stdout) == scorecard
    for name in ("model", "markovify"):
        card = scorecard[name]
        assert card["filtered"]["sentences"] == 40
        assert card["filtered"]["copy_rate"] == card["filtered"]["near_copy_rate"] == 0
        assert card["filtered"]["invented_word_rate"] == 0
        assert 0 <= card["first_try_pass_rate"] <= 1 and 0 < card["distinct_2"] <= 1
        assert 0 <= card["length_js_divergence"] <= 1
    assert scorecard["test_perplexity"] > 1 and scorecard["tokenizer"] == "word"
    # Word tokens are words, so per word is per token plus the cheap `<s>` after each packed sentence.
    per_token, per_word = scorecard["test_perplexity"], scorecard["test_perplexity_per_word"]
    assert per_token <= per_word <= per_token**1.2
    report = (tmp_path / "report.html").read_text()
    assert "Scorecard" in report and "markovify (state size 2)" in report and "corpus (test.txt)" in report


def test_same_seed_gives_the_same_scorecard(tmp_path, tiny_model_dir, model_corpus_dir):
    first = evaluate_model(tiny_model_dir, model_corpus_dir, tmp_path / "a", count=20, baseline=False, progress=False)
    second = evaluate_model(tiny_model_dir, model_corpus_dir, tmp_path / "b", count=20, baseline=False, progress=False)
    assert first == second and "markovify" not in first


def test_sampling_overrides_are_applied_and_checked(tmp_path, tiny_model_dir, model_corpus_dir):
    no_prompt = {"prompt": "none"}
    scorecard = evaluate_model(
        tiny_model_dir, model_corpus_dir, tmp_path, count=10, baseline=False, progress=False, sampling=no_prompt
    )
    assert scorecard["sampling"]["prompt"] == "none"
    with pytest.raises(ModelError, match="unknown sampling settings: warmth"):
        evaluate_model(tiny_model_dir, model_corpus_dir, tmp_path, count=10, progress=False, sampling={"warmth": 1})
