"""The quality gate's verdicts on scorecards as `evaluate_model` writes them."""

from __future__ import annotations

import json

from soulsgen_lib.quality_gate import CARD_KEY, Baseline, QualityFloors, Verdict, judge, mauve_of, record_verdict


def scorecard(pass_rate: float, perplexity: float = 50.0, **model: object) -> dict:
    return {"test_perplexity_per_word": perplexity, "model": {"first_try_pass_rate": pass_rate, **model}}


def test_floors_on_the_first_try_pass_rate():
    assert judge(scorecard(0.9), QualityFloors()).passed
    verdict = judge(scorecard(0.25), QualityFloors())
    assert not verdict.passed and not verdict.promote
    assert verdict.reasons == ["first-try pass rate 0.25 < floor 0.5"]
    assert "quality gate failed: first-try pass rate 0.25 < floor 0.5" in verdict.summary()


def test_mauve_is_read_when_the_scorecard_has_it():
    assert mauve_of(scorecard(0.9)) is None
    assert mauve_of(scorecard(0.9, mauve=0.61)) == 0.61
    assert mauve_of(scorecard(0.9, mauve=None)) is None  # too few sentences to measure it
    low = judge(scorecard(0.9, mauve=0.01), QualityFloors())
    assert not low.passed and low.figures["mauve"] == 0.01 and "mauve 0.01 < floor 0.05" in low.reasons[0]
    assert judge(scorecard(0.9, mauve=0.5), QualityFloors()).passed


def test_on_the_same_corpus_no_worse_than_latest():
    latest = Baseline("v1", test_perplexity_per_word=40.0, first_try_pass_rate=0.9)
    assert judge(scorecard(0.88, perplexity=40.5), QualityFloors(), latest).passed  # within the margins
    worse = judge(scorecard(0.8, perplexity=60.0), QualityFloors(), latest)
    assert not worse.passed and len(worse.reasons) == 2
    assert "test perplexity per word 60.0 > 40.8 (latest v1: 40.0, same test split)" in worse.reasons[0]
    assert worse.baseline == {"version": "v1", "test_perplexity_per_word": 40.0, "first_try_pass_rate": 0.9}


def test_force_promotes_a_failing_model_and_says_so(tmp_path):
    verdict = judge(scorecard(0.0), QualityFloors(), force=True)
    assert verdict.promote and not verdict.passed
    assert "(forced: latest moves anyway)" in verdict.summary()
    (tmp_path / "model_card.json").write_text(json.dumps({"model_version": "abc"}))
    record_verdict(tmp_path, verdict)
    card = json.loads((tmp_path / "model_card.json").read_text())
    assert card["model_version"] == "abc"
    assert Verdict.from_dict(card[CARD_KEY]) == verdict
