import dataclasses
import json
import shutil
from dataclasses import dataclass

import pytest
import torch
from click.testing import CliRunner
from fixtures_model import rule_tagger, word_salad

from soulsgen_lib.cli import main as soulsgen
from soulsgen_lib.folders import ModelFolder
from soulsgen_lib.model import ModelError
from soulsgen_lib.model.calibrate import CalibrationConfig, calibrate_sampling, read_calibration
from soulsgen_lib.model.data import read_sentences
from soulsgen_lib.model.evaluate import evaluate_model
from soulsgen_lib.model.generate import Generator
from soulsgen_lib.model.likelihood import LikelihoodConfig, calibrate_ceiling, likely_enough, sentence_losses

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(autouse=True)
def no_english_tagger(monkeypatch):
    """The same figures whether or not spaCy's English model is installed here; tests that tag pass a tagger."""
    monkeypatch.setattr("soulsgen_lib.corpus.lexical.load_english", lambda disable=(): None)


@dataclass
class _Context:
    model: object
    tokenizer: object
    device: torch.device
    likelihood_ceiling: float | None


def test_real_sentences_are_likelier_than_word_salad_and_the_ceiling_passes_its_quantile(
    tiny_model_dir, model_corpus_dir
):
    generator = Generator.load(tiny_model_dir, device="cpu")
    model, tok, device = generator.model, generator.tokenizer, generator.device
    test = read_sentences(model_corpus_dir / "test.txt")
    real = sentence_losses(model, tok, test, device, batch_size=7)
    salad = sentence_losses(model, tok, word_salad(test), device)
    assert len(real) == len(test) and sum(real) / len(real) < sum(salad) / len(salad)
    assert real[:3] == pytest.approx(sentence_losses(model, tok, test[:3], device))  # batching changes nothing
    ceiling = calibrate_ceiling(model, tok, test, device, LikelihoodConfig(quantile=0.9))
    passed = [likely_enough(text, _Context(model, tok, device, ceiling)) for text in test]
    assert 0.85 <= sum(passed) / len(passed) < 1
    assert sum(likely_enough(text, _Context(model, tok, device, ceiling)) for text in word_salad(test)) < sum(passed)
    assert likely_enough("anything at all", _Context(model, tok, device, None))
    with pytest.raises(ModelError, match="quantile must be in"):
        calibrate_ceiling(model, tok, test, device, LikelihoodConfig(quantile=1.5))


def test_evaluate_with_the_likelihood_filter_turns_back_unlikely_drafts(tmp_path, tiny_model_dir, model_corpus_dir):
    scorecard = evaluate_model(
        tiny_model_dir,
        model_corpus_dir,
        tmp_path,
        count=40,
        sampling_seeds=1,
        baseline=False,
        progress=False,
        likelihood_quantile=0.8,
    )
    assert scorecard["likelihood_filter"]["quantile"] == 0.8 and scorecard["likelihood_filter"]["ceiling"] > 0
    assert scorecard["model"]["rejected"].get("unlikely", 0) > 0
    assert scorecard["model"]["filtered"]["sentences"] >= 10


def test_calibration_stores_the_best_setting_beside_the_model(tmp_path, tiny_model_dir, model_corpus_dir):
    model_dir = shutil.copytree(tiny_model_dir, tmp_path / "model")
    config = CalibrationConfig(
        temperatures=(1.0, 1.5),
        class_temperatures=(0.7,),
        count=20,
        min_gain=0.0,
        max_near_copy_rate=1.0,
        max_fluency_ratio=100.0,
        likelihood_quantile=0.9,
    )
    own = Generator.load(model_dir).defaults
    calibration = calibrate_sampling(model_dir, model_corpus_dir, config)
    trials = calibration["trials"]
    # The model's own pair is tried first, beside the grid.
    assert [(t["temperature"], t["class_temperature"]) for t in trials] == [
        (own.temperature, own.class_temperature),
        (1.0, 0.7),
        (1.5, 0.7),
    ]
    assert all(t["mauve"] is None or 0 < t["mauve"] <= 1 for t in trials)
    best = max((t for t in trials if t["mauve"] is not None), key=lambda t: t["mauve"])
    assert calibration["sampling"] == {
        "temperature": best["temperature"],
        "class_temperature": best["class_temperature"],
    }
    assert calibration["likelihood_ceiling"] == best["likelihood_ceiling"] > 0
    version = calibration["model_version"]
    assert read_calibration(model_dir, version) == calibration
    assert read_calibration(model_dir, "other weights") is None
    assert read_calibration(tmp_path, version) is None
    (model_dir / ModelFolder.CALIBRATION).write_text("{not json")
    with pytest.raises(ModelError, match=f"{ModelFolder.CALIBRATION}: unreadable"):
        read_calibration(model_dir, version)
    with pytest.raises(ModelError, match="at least one temperature"):
        calibrate_sampling(model_dir, model_corpus_dir, CalibrationConfig(temperatures=()))


def test_calibration_keeps_the_models_own_setting_unless_beaten_by_the_margin(
    tmp_path, tiny_model_dir, model_corpus_dir
):
    model_dir = shutil.copytree(tiny_model_dir, tmp_path / "model")
    own = Generator.load(model_dir).defaults
    grid = {"temperatures": (0.8, 2.0), "class_temperatures": (0.5,), "count": 20, "max_near_copy_rate": 1.0}
    # No setting can add more than 1.0 to a MAUVE: the model's own pair stays, whatever the grid scores.
    kept = calibrate_sampling(
        model_dir, model_corpus_dir, CalibrationConfig(**grid, min_gain=1.0, max_fluency_ratio=100.0)
    )
    assert kept["sampling"] == {"temperature": own.temperature, "class_temperature": own.class_temperature}
    assert len(kept["trials"]) == 3 and kept["likelihood_ceiling"] is None  # no likelihood filter by default
    with pytest.raises(ModelError, match="one MAUVE seed"):
        calibrate_sampling(model_dir, model_corpus_dir, CalibrationConfig(**grid, mauve_seeds=0))


def test_calibration_with_no_fluent_enough_setting_takes_the_most_fluent(tmp_path, tiny_model_dir, model_corpus_dir):
    model_dir = shutil.copytree(tiny_model_dir, tmp_path / "model")
    config = CalibrationConfig(
        temperatures=(1.0,), class_temperatures=(0.5, 2.0), count=20, max_near_copy_rate=1.0, max_fluency_ratio=0.0
    )
    calibration = calibrate_sampling(model_dir, model_corpus_dir, config)
    most_fluent = min(calibration["trials"], key=lambda t: t["fluency_ratio"])
    assert calibration["sampling"]["class_temperature"] == most_fluent["class_temperature"]
    assert all(t["fluency_ratio"] > 0 for t in calibration["trials"])


def test_calibration_turns_back_settings_whose_part_of_speech_fluency_falls_short(
    tmp_path, tiny_model_dir, model_corpus_dir
):
    model_dir = shutil.copytree(tiny_model_dir, tmp_path / "model")
    grid = {"temperatures": (1.0,), "class_temperatures": (0.5, 3.0), "count": 20, "max_near_copy_rate": 1.0}
    loose = CalibrationConfig(**grid, min_gain=0.0, max_fluency_ratio=100.0, max_pos_ratio=100.0)
    calibration = calibrate_sampling(model_dir, model_corpus_dir, loose, nlp=rule_tagger())
    assert all(t["pos_ratio"] > 0 for t in calibration["trials"])
    assert "part-of-speech perplexity <= 100.0" in calibration["rule"]
    # No setting within the part-of-speech limit: the most fluent by it, whatever MAUVE says.
    strict = dataclasses.replace(loose, max_pos_ratio=0.0)
    calibration = calibrate_sampling(model_dir, model_corpus_dir, strict, nlp=rule_tagger())
    most_fluent = min(calibration["trials"], key=lambda t: t["pos_ratio"])
    chosen = calibration["sampling"]
    assert (chosen["temperature"], chosen["class_temperature"]) == (
        most_fluent["temperature"],
        most_fluent["class_temperature"],
    )


def test_calibration_without_an_english_tagger_skips_the_part_of_speech_check(
    tmp_path, tiny_model_dir, model_corpus_dir
):
    model_dir = shutil.copytree(tiny_model_dir, tmp_path / "model")
    config = CalibrationConfig(
        temperatures=(1.0,), class_temperatures=(0.5,), count=20, max_near_copy_rate=1.0, max_pos_ratio=0.0
    )
    calibration = calibrate_sampling(model_dir, model_corpus_dir, config)
    assert all(t["pos_ratio"] is None for t in calibration["trials"])


def test_evaluate_cli_calibrates_then_scores_with_the_chosen_setting(tmp_path, tiny_model_dir, model_corpus_dir):
    model_dir = shutil.copytree(tiny_model_dir, tmp_path / "model")
    args = ["--model", str(model_dir), "--corpus", str(model_corpus_dir), "--out", str(tmp_path / "out")]
    args += ["-n", "20", "--seeds", "1", "--no-baseline", "--calibrate", "--calibration-sentences", "20"]
    result = CliRunner().invoke(soulsgen, ["evaluate", *args])
    assert result.exit_code == 0, result.output
    calibration = json.loads((model_dir / ModelFolder.CALIBRATION).read_text())
    scorecard = json.loads((tmp_path / "out" / "scorecard.json").read_text())
    assert scorecard["sampling"]["temperature"] == calibration["sampling"]["temperature"]
    assert scorecard["likelihood_filter"]["ceiling"] == calibration["likelihood_ceiling"]


def test_a_loaded_model_samples_as_its_calibration_says(tmp_path, tiny_model_dir):
    model_dir = shutil.copytree(tiny_model_dir, tmp_path / "model")
    plain = Generator.load(model_dir)
    calibration = {"format": "soulsgen-calibration-1", "sampling": {"temperature": 0.77, "top_p": 0.93}}
    calibration_file = model_dir / ModelFolder.CALIBRATION
    calibration_file.write_text(json.dumps({**calibration, "model_version": "other weights"}))
    assert Generator.load(model_dir).defaults == plain.defaults  # made for other weights: ignored
    calibration_file.write_text(json.dumps({**calibration, "model_version": plain.model_version}))
    calibrated = Generator.load(model_dir).defaults
    assert (calibrated.temperature, calibrated.top_p) == (0.77, 0.93)
    assert calibrated.top_k == plain.defaults.top_k
