import html
import json
import math
import random
import re

import pytest
from click.testing import CliRunner
from fixtures_model import rule_tagger, toy_sentences, word_salad

from soulsgen_lib.cli import main as soulsgen
from soulsgen_lib.model import ModelError
from soulsgen_lib.model.evaluate import (
    collect,
    distinct_2,
    distribution_measures,
    evaluate_model,
    js_divergence,
    length_histogram,
    new_train_sentences,
    pos_fluency,
    reference_card,
)
from soulsgen_lib.model.fluency import ClassNgramModel, PartOfSpeechFluency, word_class
from soulsgen_lib.model.mauve import mauve_score, sentence_embeddings

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_js_divergence_is_zero_for_equal_and_one_for_disjoint_histograms():
    assert js_divergence([1, 2, 3], [2, 4, 6]) == pytest.approx(0.0)
    assert js_divergence([1, 0], [0, 1]) == pytest.approx(1.0)
    assert 0 < js_divergence([1, 1], [1, 3]) < 1


def test_distinct_2_and_length_histogram():
    assert distinct_2(["a b a b", "a b"]) == pytest.approx(2 / 4)
    assert length_histogram(["one two", "three"])[1:3] == [1, 1]


def _distinct_sentences(count):
    """Sentences that share no word with each other: every one is new to the rest."""
    return [" ".join(f"w{n}x{k}" for k in range(6)) + "." for n in range(count)]


def test_new_train_sentences_keep_only_those_the_novelty_filter_passes_against_the_rest():
    distinct = _distinct_sentences(30)
    kept = new_train_sentences(distinct, 10, seed=4)
    assert len(kept) == 10 and set(kept) <= set(distinct)
    assert kept == new_train_sentences(distinct, 10, seed=4) != new_train_sentences(distinct, 10, seed=5)
    # Each sentence has a twin that differs in its last word: a near-copy, which the rest still holds.
    twins = [s for sentence in distinct for s in (sentence, sentence.replace("x5.", "x5 again."))]
    assert new_train_sentences(twins, 1, seed=4) == []


def test_reference_card_scores_real_sentences_by_the_generators_measures():
    test = ["The moon is pale tonight.", "A knight stands at the gate."]
    same = reference_card(test, test)
    assert same == {
        "sentences": 2,
        "distinct_2": 1.0,
        "mean_words": 5.5,
        "test_mean_words": 5.5,
        "length_js_divergence": 0.0,
    }
    longer = reference_card(["One two three four five six seven eight nine ten eleven."], test)
    assert longer["length_js_divergence"] == 1.0 and longer["mean_words"] == 11


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


def test_word_classes_keep_glue_words_and_punctuation():
    glue = frozenset({"the", "of"})
    classes = [word_class(t, glue) for t in ["The", "of", "Ranni", "slowly", "burning", "7", ",", "moon"]]
    assert classes == ["the", "of", "<Name>", "<ly>", "<ing>", "<num>", ",", "<word>"]


def test_fluency_ranks_word_salad_far_below_real_text():
    model = ClassNgramModel(toy_sentences(400, seed=0))
    real = toy_sentences(60, seed=1)
    real_perplexity = model.perplexity(real)
    assert 1 < real_perplexity < 20
    assert model.perplexity(word_salad(real)) > 3 * real_perplexity
    assert model.perplexity([]) == math.inf


def test_part_of_speech_fluency_ranks_word_salad_far_below_real_text():
    real = toy_sentences(60, seed=1)
    tagging = PartOfSpeechFluency(toy_sentences(400, seed=0), rule_tagger())
    real_figures, salad_figures = tagging.perplexities(real), tagging.perplexities(word_salad(real))
    assert set(real_figures) == set(salad_figures) == {"upos", "penn"}
    for tag_set, perplexity in real_figures.items():
        assert 1 < perplexity < 4
        assert salad_figures[tag_set] > 2 * perplexity


def test_pos_fluency_tags_at_most_its_limit_of_train_sentences(monkeypatch):
    tagger, tagged = rule_tagger(), []

    class CountingTagger:
        def pipe(self, sentences, batch_size):
            sentences = list(sentences)
            tagged.append(len(sentences))
            return tagger.pipe(sentences, batch_size=batch_size)

    monkeypatch.setattr("soulsgen_lib.model.evaluate.POS_TRAIN_LIMIT", 50)
    figures = pos_fluency(
        toy_sentences(400, seed=0), toy_sentences(30, seed=1), {"model": ["A pale witch burns."]}, CountingTagger()
    )
    assert tagged == [50, 30, 1]  # train (sampled down), test, the run
    assert set(figures) == {"test", "model"} and all(figures["test"][tag_set] > 1 for tag_set in ("upos", "penn"))


def test_evaluate_scores_part_of_speech_fluency_beside_the_test_split(
    tmp_path, monkeypatch, tiny_model_dir, model_corpus_dir
):
    monkeypatch.setattr("soulsgen_lib.corpus.lexical.load_english", lambda disable=(): rule_tagger())
    scorecard = evaluate_model(tiny_model_dir, model_corpus_dir, tmp_path, count=30, sampling_seeds=1, progress=False)
    assert scorecard["pos_fluency_note"] is None
    assert all(scorecard["test_pos_perplexity"][tag_set] > 1 for tag_set in ("upos", "penn"))
    for name in ("model", "markovify"):
        assert all(scorecard[name]["pos_perplexity"][tag_set] > 1 for tag_set in ("upos", "penn"))
    assert "pos_perplexity" not in scorecard["train_sentences"]  # the tag model was counted from them
    report = (tmp_path / "report.html").read_text()
    test_cell = f"{scorecard['test_pos_perplexity']['upos']} / {scorecard['test_pos_perplexity']['penn']}"
    assert "part-of-speech 4-gram perplexity, UPOS / Penn" in report and test_cell in report


def test_evaluate_without_an_english_tagger_says_how_to_add_one(
    tmp_path, monkeypatch, tiny_model_dir, model_corpus_dir
):
    monkeypatch.setattr("soulsgen_lib.corpus.lexical.load_english", lambda disable=(): None)
    scorecard = evaluate_model(tiny_model_dir, model_corpus_dir, tmp_path, count=10, baseline=False, progress=False)
    assert scorecard["test_pos_perplexity"] is None and "pos_perplexity" not in scorecard["model"]
    assert "python -m spacy download en_core_web_sm" in scorecard["pos_fluency_note"]
    assert "python -m spacy download en_core_web_sm" in (tmp_path / "report.html").read_text()


def _weather_reports(count, seed=0):
    """Sentences of another subject and shape than the toy grammar's."""
    rng = random.Random(seed)
    days, skies = ["Monday", "Friday", "Sunday", "Tomorrow"], ["sunny", "rainy", "windy", "cloudy", "humid"]
    return [
        f"{rng.choice(days)} will be {rng.choice(skies)} with {rng.randrange(5, 35)} degrees in the afternoon."
        for _ in range(count)
    ]


@pytest.mark.slow
def test_mauve_is_high_for_one_distribution_and_low_for_another():
    real = sentence_embeddings(toy_sentences(300, seed=1))
    same = sentence_embeddings(toy_sentences(300, seed=2))
    other = sentence_embeddings(_weather_reports(300))
    assert real.shape == (300, 384)
    same_score, other_score = mauve_score(same, real), mauve_score(other, real)
    assert same_score > 0.8 and other_score < 0.2
    with pytest.raises(ModelError, match="at least 10 sentences"):
        mauve_score(same[:5], real)


def test_report_shows_mauve_fluency_and_random_sentences_beside_test_ones(tmp_path, tiny_model_dir, model_corpus_dir):
    scorecard = evaluate_model(tiny_model_dir, model_corpus_dir, tmp_path, count=30, sampling_seeds=2, progress=False)
    assert scorecard["sampling_seeds"] == 2
    for name in ("model", "markovify"):
        card = scorecard[name]
        assert len(card["mauve_by_seed"]) == 2 and all(0 < m <= 1 for m in card["mauve_by_seed"])
        assert card["mauve"] == pytest.approx(sum(card["mauve_by_seed"]) / 2, abs=1e-4)
        assert card["fluency_perplexity"] > 1
        assert len(card["examples"]) == 20
    assert scorecard["test_fluency_perplexity"] > 1
    # The yardstick: the same count of real train sentences, scored by the same measures.
    reference = scorecard["train_sentences"]
    assert reference["sentences"] == 30 and len(reference["mauve_by_seed"]) == 2
    assert all(0 < m <= 1 for m in reference["mauve_by_seed"])
    assert 0 < reference["distinct_2"] <= 1 and 0 <= reference["length_js_divergence"] <= 1
    # No filters, and no fluency: the tag model was counted from these very sentences.
    assert not {"examples", "first_try_pass_rate", "fluency_perplexity"} & set(reference)
    # The yardstick under the novelty filter: train sentences new to the rest of train.txt.
    new = scorecard["new_train_sentences"]
    assert 0 < new["sentences"] <= 30 and len(new["mauve_by_seed"]) == 2
    assert not {"examples", "fluency_perplexity", "pos_perplexity"} & set(new)
    report = (tmp_path / "report.html").read_text()
    assert "real train sentences (yardstick)" in report and "yardstick under the novelty filter" in report
    assert "MAUVE vs test split" in report and "word-class 4-gram perplexity" in report
    assert "test split: 20 random real sentences" in report and "model: 20 random accepted sentences" in report
    test_sentences = (model_corpus_dir / "test.txt").read_text().splitlines()
    shown = [html.unescape(s) for s in re.findall(r"<li>(.*?)</li>", report)]
    assert sum(s in test_sentences for s in shown) >= 20
    assert all(html.escape(s) in report for s in scorecard["model"]["examples"])


def test_a_model_that_wrote_nothing_gets_a_json_scorecard_not_infinity():
    real = ["The bell tolls for the drowned keep.", "A grey knight guards the old gate."] * 10
    measures = distribution_measures({"model": [[]]}, real, real, seed=0)
    assert measures["model"]["fluency_perplexity"] is None and measures["model"]["mauve"] is None
    json.dumps(measures, allow_nan=False)  # XCom and strict JSON readers refuse infinity
