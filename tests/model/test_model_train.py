import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from soulsgen_lib.cli import main as soulsgen
from soulsgen_lib.folders import ModelFolder
from soulsgen_lib.model import MODEL_FILES, ModelError
from soulsgen_lib.model import train as training
from soulsgen_lib.model.config import PRESETS, GPTConfig, SamplingDefaults, resolve_configs
from soulsgen_lib.model.data import drop_words
from soulsgen_lib.model.generate import GenerationRequest, Generator, texts_or_error
from soulsgen_lib.model.gpt import GPT, head_cutoff
from soulsgen_lib.model.tokenizer import load_tokenizer
from soulsgen_lib.model.train import train_model

FAST = {"eval_every": 10, "log_every": 5}
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def weights(model_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(model_dir / "model.pt", weights_only=False)["model"]


def folder_snapshot(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in folder.iterdir() if path.is_file()}


@contextmanager
def killed_at_checkpoint(step: int | None = None) -> Iterator[None]:
    """Within: training dies (KeyboardInterrupt) right after it writes the checkpoint of `step` (None: its first)."""
    original = training._TrainingRun._write_checkpoint

    def killed(run):
        original(run)
        if step is None or run.step == step:
            raise KeyboardInterrupt

    training._TrainingRun._write_checkpoint = killed
    try:
        yield
    finally:
        training._TrainingRun._write_checkpoint = original


def test_training_writes_a_complete_model_folder(tiny_model_dir, model_corpus_dir):
    for name in (*MODEL_FILES, "metrics.jsonl", "loss_curve.png"):
        assert (tiny_model_dir / name).is_file(), name
    assert not (tiny_model_dir / ModelFolder.CHECKPOINT).exists()
    train_split = (model_corpus_dir / "train.txt").read_text(encoding="utf-8").splitlines()
    assert ModelFolder(tiny_model_dir).train_sentences() == [line.strip() for line in train_split if line.strip()]
    card = json.loads((tiny_model_dir / "model_card.json").read_text())
    assert card["preset"] == "tiny"
    assert card["corpus_hash"] == json.loads((model_corpus_dir / "manifest.json").read_text())["corpus_hash"]
    assert 1 < card["test_perplexity"] < card["tokenizer"]["vocab_size"]
    assert card["tokenizer"]["kind"] == "word"
    assert card["sampling"] == asdict(SamplingDefaults())  # whole words: the class step and its hot word temperature
    log = [json.loads(line) for line in (tiny_model_dir / "metrics.jsonl").read_text().splitlines()]
    train_losses = [r["train_loss"] for r in log if "train_loss" in r]
    assert train_losses[-1] < train_losses[0] * 0.6  # it learned something
    assert any("val_ppl" in r for r in log)
    assert (tiny_model_dir / "loss_curve.png").read_bytes()[:4] == b"\x89PNG"


def test_resume_after_a_kill_matches_an_uninterrupted_run(tmp_path, model_corpus_dir):
    steps = 30
    train_model(
        model_corpus_dir, tmp_path / "whole", preset="tiny", steps=steps, seed=3, overrides=FAST, progress=False
    )

    with killed_at_checkpoint(20), pytest.raises(KeyboardInterrupt):
        train_model(
            model_corpus_dir, tmp_path / "killed", preset="tiny", steps=steps, seed=3, overrides=FAST, progress=False
        )
    assert torch.load(tmp_path / "killed" / ModelFolder.CHECKPOINT, weights_only=False)["step"] == 20

    card = train_model(
        model_corpus_dir,
        tmp_path / "killed",
        preset="tiny",
        steps=steps,
        seed=3,
        resume=True,
        overrides=FAST,
        progress=False,
    )
    assert card["steps"] == steps
    whole, resumed = weights(tmp_path / "whole"), weights(tmp_path / "killed")
    assert all(torch.equal(whole[name], resumed[name]) for name in whole)
    metrics_whole = json.loads((tmp_path / "whole" / "metrics.json").read_text())
    metrics_resumed = json.loads((tmp_path / "killed" / "metrics.json").read_text())
    assert metrics_whole["test_loss"] == metrics_resumed["test_loss"]
    log_steps = [json.loads(line)["step"] for line in (tmp_path / "killed" / "metrics.jsonl").read_text().splitlines()]
    assert log_steps == sorted(log_steps)  # the killed run's lines past step 20 were not kept twice


def test_the_weight_average_follows_the_weights_and_swaps_in_only_for_its_block():
    torch.manual_seed(0)
    layer = torch.nn.Linear(4, 4)
    average = training.WeightAverage(layer, decay=0.5)
    start = layer.weight.detach().clone()
    with torch.no_grad():
        layer.weight.add_(1.0)
    average.update(step=100)  # past the early steps: the decay itself
    assert torch.allclose(average.shadow[0], start + 0.5)
    trained = layer.weight.detach().clone()
    with average.swapped_in():
        assert torch.equal(layer.weight, average.shadow[0])
    assert torch.equal(layer.weight, trained)


def test_the_weight_average_is_what_is_kept_and_it_resumes_exactly(tmp_path, model_corpus_dir):
    overrides = {**FAST, "weight_average": 0.9}
    run = {"preset": "tiny", "steps": 30, "seed": 3, "overrides": overrides, "progress": False}
    train_model(model_corpus_dir, tmp_path / "whole", **run)
    with killed_at_checkpoint(20), pytest.raises(KeyboardInterrupt):
        train_model(model_corpus_dir, tmp_path / "killed", **run)
    checkpoint = torch.load(tmp_path / "killed" / ModelFolder.CHECKPOINT, weights_only=False)
    assert checkpoint["best_step"] == 20
    kept = weights(tmp_path / "killed")
    names = [name for name, _ in GPT(GPTConfig.from_dict(checkpoint["model_config"])).named_parameters()]
    for name, averaged in zip(names, checkpoint["weight_average"], strict=True):
        assert torch.equal(kept[name], averaged), name  # the kept weights are the average ...
    assert not torch.equal(kept["wte.weight"], checkpoint["model"]["wte.weight"])  # ... not the last step's
    train_model(model_corpus_dir, tmp_path / "killed", resume=True, **run)
    whole, resumed = weights(tmp_path / "whole"), weights(tmp_path / "killed")
    assert all(torch.equal(whole[name], resumed[name]) for name in whole)


def test_a_checkpoint_from_before_the_weight_average_resumes_with_one(tmp_path, model_corpus_dir):
    run = {"preset": "tiny", "steps": 30, "seed": 3, "overrides": {**FAST, "weight_average": 0.9}, "progress": False}
    with killed_at_checkpoint(20), pytest.raises(KeyboardInterrupt):
        train_model(model_corpus_dir, tmp_path / "m", **run)
    path = tmp_path / "m" / ModelFolder.CHECKPOINT
    checkpoint = torch.load(path, weights_only=False)
    del checkpoint["weight_average"]  # as an older version wrote it
    torch.save(checkpoint, path)
    card = train_model(model_corpus_dir, tmp_path / "m", resume=True, **run)
    assert card["steps"] == 30 and math.isfinite(card["test_perplexity"])


def test_models_from_before_the_two_level_softmax_resume_and_generate_with_one_softmax(tmp_path, model_corpus_dir):
    run = {"preset": "tiny", "steps": 30, "seed": 3, "overrides": {**FAST, "head_tokens": 0}, "progress": False}
    with killed_at_checkpoint(20), pytest.raises(KeyboardInterrupt):
        train_model(model_corpus_dir, tmp_path / "m", **run)

    def as_before_the_two_level_softmax(path: Path) -> None:
        payload = torch.load(path, weights_only=False)
        del payload["model_config"]["head_tokens"]
        torch.save(payload, path)

    as_before_the_two_level_softmax(tmp_path / "m" / ModelFolder.CHECKPOINT)
    card = train_model(model_corpus_dir, tmp_path / "m", resume=True, **run)
    assert card["steps"] == 30
    as_before_the_two_level_softmax(tmp_path / "m" / ModelFolder.WEIGHTS)
    generator = Generator.load(tmp_path / "m")
    assert not generator.model.two_level
    sentences = texts_or_error(generator.generate([GenerationRequest(seed=seed) for seed in range(5)]))
    assert len(sentences) == 5 and all(sentences)


def test_the_tiny_and_small_presets_train_a_two_level_softmax_where_the_vocabulary_is_large_enough(tiny_model_dir):
    model = Generator.load(tiny_model_dir).model
    assert model.two_level and head_cutoff(model.config) == 40  # the toy corpus: about 110 tokens
    small = PRESETS["small"].model
    assert head_cutoff(replace(small, vocab_size=11040)) == 2000  # Elden Ring's words
    assert head_cutoff(replace(small, vocab_size=1713)) == 0  # the sample data's: one softmax as before


def test_validation_that_stops_improving_stops_training_early(tmp_path, model_corpus_dir):
    overrides = {**FAST, "learning_rate": 0.0, "patience": 1}
    card = train_model(model_corpus_dir, tmp_path / "m", preset="tiny", steps=50, overrides=overrides, progress=False)
    assert card["steps"] == 20 and card["best_step"] == 10
    assert json.loads((tmp_path / "m" / "metrics.json").read_text())["early_stopped"] is True


def test_a_time_limit_stops_training_with_the_best_weights_kept(tmp_path, model_corpus_dir):
    overrides = {**FAST, "max_minutes": 1e-9}
    card = train_model(model_corpus_dir, tmp_path / "m", preset="tiny", steps=50, overrides=overrides, progress=False)
    assert card["steps"] == 1 and card["best_step"] == 1
    assert json.loads((tmp_path / "m" / "metrics.json").read_text())["stopped_by_time_limit"] is True


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_training_learns_at_either_precision_and_records_it(tmp_path, model_corpus_dir, precision):
    overrides = {**FAST, "precision": precision}
    train_model(model_corpus_dir, tmp_path / "m", preset="tiny", steps=30, overrides=overrides, progress=False)
    metrics = json.loads((tmp_path / "m" / "metrics.json").read_text())
    assert metrics["precision"] == precision
    log = [json.loads(line) for line in (tmp_path / "m" / "metrics.jsonl").read_text().splitlines()]
    train_losses = [r["train_loss"] for r in log if "train_loss" in r]
    assert train_losses[-1] < train_losses[0] * 0.8


def test_the_rate_decays_by_whichever_budget_runs_out_first():
    _, config = resolve_configs("small", steps=1000)
    warm = config.warmup_steps
    assert training.lr_factor(warm, config) == pytest.approx(1.0)
    assert training.lr_factor(warm, config, time_spent=1.0) == pytest.approx(config.min_lr_ratio)
    halfway_by_time = training.lr_factor(warm, config, time_spent=0.5)
    assert halfway_by_time == pytest.approx(training.lr_factor(warm + (1000 - warm) // 2, config), abs=1e-3)
    assert training.lr_factor(999, config, time_spent=0.1) == pytest.approx(training.lr_factor(999, config))
    assert training.lr_factor(0, config, time_spent=0.9) == pytest.approx(1 / warm)  # warm-up first


def test_bad_inputs_fail_clearly_and_leave_the_earlier_model_intact(tmp_path, tiny_model_dir, model_corpus_dir):
    import shutil

    model_dir = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model_dir)
    before = folder_snapshot(model_dir)

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "train.txt").write_text("\n\n", encoding="utf-8")
    (empty / "test.txt").write_text("A line.\n", encoding="utf-8")
    with pytest.raises(ModelError, match=r"train\.txt: has no sentences"):
        train_model(empty, model_dir, preset="tiny", steps=5, progress=False)
    with pytest.raises(ModelError, match="no checkpoint to resume"):
        train_model(model_corpus_dir, model_dir, preset="tiny", steps=5, resume=True, progress=False)
    with pytest.raises(ModelError, match="unknown setting 'n_layers'"):
        train_model(model_corpus_dir, model_dir, preset="tiny", overrides={"n_layers": 3}, progress=False)
    assert folder_snapshot(model_dir) == before


def test_resume_refuses_another_config_or_a_missing_tokenizer(tmp_path, model_corpus_dir):
    with killed_at_checkpoint(), pytest.raises(KeyboardInterrupt):
        train_model(model_corpus_dir, tmp_path / "m", preset="tiny", steps=20, overrides=FAST, progress=False)
    before = folder_snapshot(tmp_path / "m")
    with pytest.raises(ModelError, match=r"another model config \(n_embd: checkpoint 64 vs requested 32\)"):
        train_model(
            model_corpus_dir, tmp_path / "m", preset="tiny", resume=True, overrides={"n_embd": 32}, progress=False
        )
    assert folder_snapshot(tmp_path / "m") == before
    (tmp_path / "m" / "tokenizer.json").unlink()
    with pytest.raises(ModelError, match="tokenizer missing"):
        train_model(model_corpus_dir, tmp_path / "m", preset="tiny", resume=True, progress=False)


def test_word_dropout_hides_a_share_of_the_input_words_but_never_the_start_or_padding():
    pad, bos, unk = 0, 1, 2
    inputs = torch.randint(3, 500, (64, 64), generator=torch.Generator().manual_seed(0))
    inputs[:, 0], inputs[:, -8:] = bos, pad
    assert torch.equal(drop_words(inputs, 0.0, unk, (pad, bos), torch.Generator()), inputs)
    dropped = drop_words(inputs, 0.3, unk, (pad, bos), torch.Generator().manual_seed(1))
    changed = dropped != inputs
    assert torch.equal(dropped[changed], torch.full_like(dropped[changed], unk))
    assert not changed[:, 0].any() and not changed[:, -8:].any()
    assert abs(changed.float().sum().item() / (64 * 55) - 0.3) < 0.03
    again = drop_words(inputs, 0.3, unk, (pad, bos), torch.Generator().manual_seed(1))
    assert torch.equal(again, dropped)  # the run's data stream decides: a resumed run drops the same words


def test_training_with_word_dropout_learns_and_resumes_exactly(tmp_path, model_corpus_dir):
    overrides = {**FAST, "word_dropout": 0.2}
    args = {"preset": "tiny", "steps": 30, "seed": 3, "overrides": overrides, "progress": False}
    train_model(model_corpus_dir, tmp_path / "whole", **args)
    log = [json.loads(line) for line in (tmp_path / "whole" / "metrics.jsonl").read_text().splitlines()]
    train_losses = [r["train_loss"] for r in log if "train_loss" in r]
    assert train_losses[-1] < train_losses[0] * 0.8
    with killed_at_checkpoint(20), pytest.raises(KeyboardInterrupt):
        train_model(model_corpus_dir, tmp_path / "killed", **args)
    train_model(model_corpus_dir, tmp_path / "killed", resume=True, **args)
    whole, resumed = weights(tmp_path / "whole"), weights(tmp_path / "killed")
    assert all(torch.equal(whole[name], resumed[name]) for name in whole)
    train_model(model_corpus_dir, tmp_path / "plain", **{**args, "overrides": FAST})
    plain = weights(tmp_path / "plain")
    assert not all(torch.equal(whole[name], plain[name]) for name in whole)  # the same seed, other inputs read


def test_overrides_are_typed_and_checked():
    model_config, train_config = resolve_configs("small", steps=7, overrides={"dropout": "0.3", "compile": "false"})
    assert model_config.dropout == 0.3 and train_config.max_steps == 7 and train_config.compile is False
    with pytest.raises(ModelError, match="must be a int"):
        resolve_configs("tiny", overrides={"batch_size": "many"})
    with pytest.raises(ModelError, match="unknown preset"):
        resolve_configs("huge")
    with pytest.raises(ModelError, match=r"weight_average is a decay in \[0, 1\)"):
        resolve_configs("small", overrides={"weight_average": "1.0"})
    with pytest.raises(ModelError, match=r"word_dropout is a share in \[0, 1\)"):
        resolve_configs("small", overrides={"word_dropout": "1"})


def test_train_command_trains_and_reports_errors_in_one_line(tmp_path, model_corpus_dir):
    runner = CliRunner()
    out = tmp_path / "cli-model"
    args = ["train", "--corpus", str(model_corpus_dir), "--out", str(out), "--preset", "tiny", "--steps", "10"]
    result = runner.invoke(soulsgen, [*args, "--quiet", "--set", "eval_every=5"])
    assert result.exit_code == 0, result.output
    assert "test perplexity" in result.output
    assert all((out / name).is_file() for name in MODEL_FILES)
    result = runner.invoke(soulsgen, [*args, "--set", "nonsense"])
    assert result.exit_code == 2 and "KEY=VALUE" in result.output
    result = runner.invoke(soulsgen, ["train", "--corpus", str(tmp_path / "nowhere"), "--out", str(out)])
    assert result.exit_code == 1 and "Traceback" not in result.output and "train.txt: missing" in result.output


@pytest.mark.slow
def test_two_process_ddp_training_on_cpu_with_gloo(tmp_path, model_corpus_dir):
    out = tmp_path / "ddp"
    script = "import sys; from soulsgen_lib.cli import main; sys.exit(main())"
    command = [
        str(Path(sys.executable).parent / "torchrun"), "--standalone", "--nproc_per_node", "2", "--no-python",
        sys.executable, "-c", script,
        "train", "--corpus", str(model_corpus_dir), "--out", str(out), "--preset", "tiny", "--steps", "10",
        "--quiet", "--set", "eval_every=5", "--device", "cpu",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["world_size"] == 2 and metrics["steps"] == 10
    assert all((out / name).is_file() for name in MODEL_FILES)


def test_compiled_training_matches_eager_training(tmp_path, model_corpus_dir):
    """`--compile` trains the same model (inductor on CPU; the weights are saved without its wrapper)."""
    from torch._dynamo.utils import counters

    # fp32 on both sides: under bf16 autocast the kernels inductor fuses round differently from eager's.
    common = {"preset": "tiny", "steps": 6, "seed": 5, "progress": False}
    overrides = {**FAST, "dropout": 0.0, "precision": "fp32"}
    train_model(model_corpus_dir, tmp_path / "eager", overrides=overrides, **common)
    counters.clear()  # count only what the compiled run captures
    flags = (
        "--preset tiny --steps 6 --seed 5 --compile --set dropout=0 --set eval_every=10 --set log_every=5"
        " --set precision=fp32"
    )
    folders = ["--corpus", str(model_corpus_dir), "--out", str(tmp_path / "compiled")]
    result = CliRunner().invoke(soulsgen, ["train", *folders, *flags.split()])
    assert result.exit_code == 0, result.output
    assert counters["stats"]["unique_graphs"] > 0  # dynamo really captured the model
    eager, compiled = weights(tmp_path / "eager"), weights(tmp_path / "compiled")
    assert eager.keys() == compiled.keys()  # no "_orig_mod." prefixes from the compiled wrapper
    for name in eager:
        assert torch.allclose(eager[name], compiled[name], atol=1e-4), name
    losses = [
        [
            json.loads(line)["train_loss"]
            for line in (tmp_path / name / "metrics.jsonl").read_text().splitlines()
            if "train_loss" in line
        ]
        for name in ("eager", "compiled")
    ]
    assert losses[0] and losses[0] == pytest.approx(losses[1], rel=1e-4)


def corpus_with_new_words(folder: Path, base: Path) -> Path:
    """`base`'s corpus plus sentences of words it never had: another corpus, with another hash."""
    folder.mkdir(parents=True)
    extra = ["Zebras graze quietly under violet skies.", "Violet zebras dream of quiet meadows."] * 20
    for name in ("train.txt", "test.txt", "words.txt"):
        text = (base / name).read_text(encoding="utf-8")
        (folder / name).write_text(text + ("\n".join(extra) + "\n" if name == "train.txt" else ""), encoding="utf-8")
    (folder / "manifest.json").write_text(json.dumps({"corpus_hash": "toy-with-zebras"}), encoding="utf-8")
    return folder


def test_a_new_corpus_gets_a_new_tokenizer_and_the_folder_records_it(tmp_path, model_corpus_dir):
    model_dir = tmp_path / "m"
    train_model(model_corpus_dir, model_dir, preset="tiny", steps=5, overrides=FAST, progress=False)
    source = json.loads((model_dir / ModelFolder.SOURCE).read_text())
    assert source["corpus_hash"] == json.loads((model_corpus_dir / "manifest.json").read_text())["corpus_hash"]
    other = corpus_with_new_words(tmp_path / "other", model_corpus_dir)

    card = train_model(other, model_dir, preset="tiny", steps=5, overrides=FAST, progress=False)

    tokenizer = load_tokenizer(model_dir / "tokenizer.json")
    assert tokenizer.token_to_id("Zebras") is not None  # trained on the new corpus, not reused
    assert json.loads((model_dir / ModelFolder.SOURCE).read_text())["corpus_hash"] == "toy-with-zebras"
    assert card["corpus_hash"] == "toy-with-zebras" and card["tokenizer"]["sha256"] == tokenizer.sha256()


def test_max_vocab_trains_a_new_tokenizer_even_where_one_exists(tmp_path, model_corpus_dir):
    model_dir = tmp_path / "m"
    train_model(model_corpus_dir, model_dir, preset="tiny", steps=5, overrides=FAST, progress=False)
    card = train_model(
        model_corpus_dir, model_dir, preset="tiny", steps=5, overrides={**FAST, "max_vocab": 40}, progress=False
    )
    assert card["tokenizer"]["vocab_size"] == 40


def test_resume_on_another_corpus_is_refused(tmp_path, model_corpus_dir):
    with killed_at_checkpoint(), pytest.raises(KeyboardInterrupt):
        train_model(model_corpus_dir, tmp_path / "m", preset="tiny", steps=20, overrides=FAST, progress=False)
    other = corpus_with_new_words(tmp_path / "other", model_corpus_dir)
    before = folder_snapshot(tmp_path / "m")

    with pytest.raises(ModelError, match=r"was trained on corpus toy-0-400-60, but .* is corpus toy-with-zebras"):
        train_model(other, tmp_path / "m", preset="tiny", steps=20, resume=True, overrides=FAST, progress=False)
    assert folder_snapshot(tmp_path / "m") == before


def test_the_model_version_depends_on_weights_and_config_only(tmp_path, model_corpus_dir):
    common = {"preset": "tiny", "steps": 10, "seed": 4, "overrides": FAST, "progress": False}
    first = train_model(model_corpus_dir, tmp_path / "first", **common)
    second = train_model(model_corpus_dir, tmp_path / "second", **common)
    other_seed = train_model(model_corpus_dir, tmp_path / "third", **{**common, "seed": 5})

    same = weights(tmp_path / "first"), weights(tmp_path / "second")
    assert all(torch.equal(same[0][name], same[1][name]) for name in same[0])  # bit-identical weights
    assert first["model_version"] == second["model_version"]
    assert other_seed["model_version"] != first["model_version"]
