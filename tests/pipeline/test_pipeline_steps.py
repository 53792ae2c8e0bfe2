"""The pipeline's plan and step functions; those that talk to the bucket run against the GCS emulator."""

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from soulsgen_lib.cloud.gce import VmSpec, instance_name
from soulsgen_lib.cloud.train_job import TrainJobFailed
from soulsgen_lib.model.errors import ModelError
from soulsgen_lib.pipeline import (
    PipelineError,
    QualityGateFailed,
    RunPlan,
    build_corpus_step,
    evaluate_step,
    fetch_remote_model_step,
    gce_job_step,
    plan_run,
    publish_step,
    remote_training_done,
    train_step,
    version_for_run,
)
from soulsgen_lib.quality_gate import Verdict
from soulsgen_lib.settings import Settings
from soulsgen_lib.storage import StorageError, open_store, train_marker_key, version_key

PASSED = Verdict(passed=True, forced=False, figures={"first_try_pass_rate": 0.5})
FAILED = Verdict(passed=False, forced=False, figures={"first_try_pass_rate": 0.0}, reasons=["pass rate 0.0 < 0.1"])

GCE_PARAMS = {
    "preset": "large",
    "steps": 500,
    "seed": 3,
    "model_overrides": {"dropout": 0.2},
    "gce_zone": "europe-west4-a",
    "gce_machine_type": "g2-standard-8",
    "gce_accelerator_type": "nvidia-l4",
    "gce_accelerator_count": 1,
    "gce_image": "projects/cos-cloud/global/images/family/cos-stable",
    "gce_boot_disk_gb": 100,
    "gce_service_account": "trainer@proj.iam.gserviceaccount.com",
    "trainer_tag": "v7",
}


@pytest.fixture
def plan(tmp_path):
    plan = RunPlan(
        tmp_path / "home",
        "20261128T060000Z",
        sources=(),
        preset="large",
        steps=500,
        seed=3,
        overrides={"dropout": 0.2},
        backend="gce",
        vm=VmSpec.from_params(GCE_PARAMS),
    )
    plan.layout.corpus_dir.mkdir(parents=True)
    (plan.layout.corpus_dir / "train.txt").write_text("The ash falls on the quiet keep.\n")
    (plan.layout.corpus_dir / "test.txt").write_text("A bell tolls in the drowned chapel.\n")
    return plan


@pytest.fixture
def layout(plan):
    return plan.layout


def settings_with(**values) -> Settings:
    return Settings.load(env_file=None, environ={}, **values)


def test_version_is_stable_for_a_run_and_validated():
    moment = datetime(2026, 11, 28, 6, 0, 1, tzinfo=UTC)
    assert version_for_run(moment) == "20261128T060001Z" == version_for_run(moment)
    assert version_for_run(moment, "my-run.2") == "my-run.2"
    with pytest.raises(Exception, match="invalid version"):
        version_for_run(moment, "latest")


def test_gce_job_publishes_corpus_and_renders_the_vm(plan, layout, gcs_bucket):
    settings = Settings.load(
        env_file=None, environ={}, bucket=f"{gcs_bucket}/prod", gcp_project="proj", container_reg="reg.example/p/r"
    )
    store = open_store(f"{gcs_bucket}/prod")
    store.write_text(train_marker_key(layout.version, succeeded=True), "{}")  # left by an earlier attempt
    job = gce_job_step(plan, settings)

    assert not store.exists(train_marker_key(layout.version, succeeded=True))
    assert store.latest("corpus") is None  # the pointer moves only when the whole version is published
    assert store.read_text(f"{version_key('corpus', layout.version)}/train.txt") == "The ash falls on the quiet keep.\n"
    assert job["project"] == "proj" and job["zone"] == "europe-west4-a"
    assert job["bucket"] == gcs_bucket.removeprefix("gs://")
    assert job["marker_prefix"] == f"prod/jobs/train/{layout.version}/"
    body = job["instance_body"]
    assert body["name"] == job["instance_name"] == instance_name(layout.version)
    assert body["machine_type"] == "zones/europe-west4-a/machineTypes/g2-standard-8"
    assert body["guest_accelerators"] == [
        {"accelerator_type": "zones/europe-west4-a/acceleratorTypes/nvidia-l4", "accelerator_count": 1}
    ]
    assert body["scheduling"]["on_host_maintenance"] == "TERMINATE"
    assert body["service_accounts"][0]["email"] == "trainer@proj.iam.gserviceaccount.com"
    script = next(item["value"] for item in body["metadata"]["items"] if item["key"] == "startup-script")
    assert "reg.example/p/r/soulsgen-trainer:v7" in script
    assert f"--store {gcs_bucket}/prod --version {layout.version} --corpus-version {layout.version}" in script
    assert "--preset large --seed 3 --steps 500" in script
    assert subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0
    json.dumps(job)  # it travels through XCom


def test_gce_job_needs_a_bucket_and_project(plan, tmp_path):
    settings = Settings.load(env_file=None, environ={}, home=str(tmp_path))
    with pytest.raises(PipelineError, match="BUCKET"):
        gce_job_step(plan, settings)


def test_fetch_remote_model_reports_the_vm_failure(plan, layout, gcs_bucket):
    settings = Settings.load(env_file=None, environ={}, bucket=gcs_bucket)
    store = open_store(gcs_bucket)
    store.write_text(train_marker_key(layout.version, succeeded=False), '{"stage": "train", "error": "CUDA OOM"}')
    with pytest.raises(TrainJobFailed, match="CUDA OOM"):
        remote_training_done(plan, settings)  # the wait ends at once, with the VM's error
    with pytest.raises(TrainJobFailed, match="CUDA OOM"):
        fetch_remote_model_step(plan, settings)
    assert not layout.model_dir.exists()


def test_fetch_remote_model_downloads_the_trained_folder(plan, layout, gcs_bucket, tmp_path):
    settings = Settings.load(env_file=None, environ={}, bucket=gcs_bucket)
    store = open_store(gcs_bucket)
    trained = tmp_path / "trained"
    trained.mkdir()
    (trained / "model.pt").write_bytes(b"weights")
    (trained / "tokenizer.json").write_text("{}")
    store.put_dir(trained, version_key("model", layout.version), progress=False)

    with pytest.raises(PipelineError, match="no outcome marker yet"):
        fetch_remote_model_step(plan, settings)
    assert remote_training_done(plan, settings) is False
    store.write_text(train_marker_key(layout.version, succeeded=True), "{}")
    assert remote_training_done(plan, settings) is True
    result = fetch_remote_model_step(plan, settings)
    assert (layout.model_dir / "model.pt").read_bytes() == b"weights"
    assert result["model_dir"] == str(layout.model_dir)
    assert store.latest("model") is None  # only the pipeline's publish step moves the pointer


def test_instance_names_are_valid_and_distinct():
    pattern = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
    names = [instance_name(version) for version in ("v1.0", "v1_0", "v1-0", "20261128T060000Z", "A" * 120, "__")]
    assert all(pattern.fullmatch(name) and len(name) <= 63 for name in names)
    assert len(set(names)) == len(names)
    assert instance_name("v1.0") == instance_name("v1.0")


def ready_to_publish(layout, tmp_path: Path):
    """A trained model and its MAR in the run's folders; the settings and the (empty) store to publish to."""
    layout.model_dir.mkdir()
    (layout.model_dir / "model.pt").write_bytes(b"weights")
    layout.model_store.mkdir()
    (layout.model_store / "soulsgen-20261128T060000Z.mar").write_bytes(b"archive")
    return Settings.load(env_file=None, environ={}, home=str(tmp_path / "store")), open_store(tmp_path / "store")


def test_publish_stores_everything_then_moves_the_pointers(plan, layout, tmp_path):
    settings, store = ready_to_publish(layout, tmp_path)
    store.write_bytes("model-store", b"a file where the MAR folder should be")

    with pytest.raises(StorageError):
        publish_step(plan, settings, PASSED)
    assert [store.latest(kind) for kind in ("corpus", "model", "mar")] == [None, None, None]

    store.delete("model-store")
    published = publish_step(plan, settings, PASSED)
    assert [store.latest(kind) for kind in ("corpus", "model", "mar")] == [layout.version] * 3
    assert published["mar"] == store.location(version_key("mar", layout.version))


def test_a_model_that_failed_the_gate_is_stored_but_latest_stays(plan, layout, tmp_path):
    settings, store = ready_to_publish(layout, tmp_path)
    store.point_latest("model", "older")

    with pytest.raises(QualityGateFailed, match=r"pass rate 0.0 < 0.1.*latest stays older.*force=true"):
        publish_step(plan, settings, FAILED)
    assert store.latest("model") == "older" and store.latest("corpus") is None
    assert store.read_bytes(f"{version_key('model', plan.version)}/model.pt") == b"weights"  # kept to inspect

    forced = Verdict(**{**FAILED.to_dict(), "forced": True})
    publish_step(plan, settings, forced)
    assert [store.latest(kind) for kind in ("corpus", "model", "mar")] == [plan.version] * 3


def test_the_plan_resolves_every_param_once_and_travels_as_json(tmp_path):
    settings = settings_with(home=str(tmp_path), datasource_dir=str(tmp_path))
    params = {
        **GCE_PARAMS,
        "source": [],
        "games": ["ds3"],
        "kinds": ["lore", " "],
        "version": "",
        "preset": "tiny",
        "steps": 0,
        "seed": 4,
        "model_overrides": {"max_vocab": 300},
        "training_backend": "gce",
        "eval_sentences": 30,
        "min_first_try_pass_rate": 0.3,
        "force": True,
        "deploy": False,
    }
    plan = plan_run(params, datetime(2026, 11, 28, 6, 0, 1, tzinfo=UTC), settings)
    assert plan.version == "20261128T060001Z"
    assert plan.sources == (str(tmp_path),)  # DATASOURCE_DIR when the Param is empty
    assert plan.games == ("ds3",) and plan.kinds == ("lore",)
    assert plan.steps is None and plan.seed == 4 and plan.overrides == {"max_vocab": 300}
    assert plan.floors.min_first_try_pass_rate == 0.3 and plan.force is True
    assert plan.vm == VmSpec.from_params(GCE_PARAMS) and plan.vm.trainer_tag == "v7"
    assert RunPlan.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan


def test_a_bad_param_fails_the_plan_before_any_work(tmp_path):
    settings = settings_with(home=str(tmp_path))
    with pytest.raises(PipelineError, match="no game text given"):
        plan_run({"source": []}, None, settings)
    with pytest.raises(ModelError, match="n_layer"):
        plan_run({"source": [str(tmp_path)], "model_overrides": {"n_layer": "many"}}, None, settings)
    with pytest.raises(PipelineError, match="`kinds` Param must be a list of strings"):
        plan_run({"source": [str(tmp_path)], "kinds": [3]}, None, settings)
    assert not (tmp_path / "runs").exists()


def test_max_vocab_from_the_overrides_takes_effect_on_the_local_backend(tmp_path):
    from fixtures_model import write_toy_corpus

    from soulsgen_lib.model.tokenizer import load_tokenizer

    sizes = {}
    for version, overrides in (("default", {}), ("capped", {"max_vocab": 40})):
        plan = RunPlan(tmp_path / "home", version, sources=(), preset="tiny", steps=2, overrides=overrides)
        write_toy_corpus(plan.layout.corpus_dir, train=120, test=20)
        train_step(plan)
        sizes[version] = load_tokenizer(plan.layout.model_dir / "tokenizer.json").vocab_size
    assert sizes["capped"] <= 40 < sizes["default"]


def test_the_subword_tokenizer_flows_from_the_overrides_through_tokenizer_and_training(tmp_path):
    from fixtures_model import write_toy_corpus

    plan = RunPlan(tmp_path / "home", "v1", sources=(), preset="tiny", steps=3, overrides={"tokenizer": "subword"})
    layout = plan.layout
    write_toy_corpus(layout.corpus_dir, train=120, test=20)
    summary = train_step(plan)
    card = json.loads((layout.model_dir / "model_card.json").read_text())
    assert card["tokenizer"]["kind"] == "subword" and summary["model_dir"] == str(layout.model_dir)


@pytest.mark.slow
def test_evaluate_calibrates_when_asked_and_the_model_keeps_the_choice(
    tmp_path, monkeypatch, tiny_model_dir, model_corpus_dir
):
    from soulsgen_lib.folders import ModelFolder
    from soulsgen_lib.model.calibrate import read_calibration

    monkeypatch.setattr("soulsgen_lib.corpus.lexical.load_english", lambda disable=(): None)
    plans = {
        name: RunPlan(tmp_path / "home", name, sources=(), preset="tiny", eval_sentences=20, calibrate=calibrate)
        for name, calibrate in (("plain", False), ("calibrated", True))
    }
    for plan in plans.values():
        shutil.copytree(tiny_model_dir, plan.layout.model_dir)
        shutil.copytree(model_corpus_dir, plan.layout.corpus_dir)
        evaluate_step(plan)
    plain, calibrated = (plans[name].layout for name in ("plain", "calibrated"))
    assert not (plain.model_dir / ModelFolder.CALIBRATION).exists()
    card = json.loads((calibrated.model_dir / ModelFolder.CARD).read_text())
    calibration = read_calibration(calibrated.model_dir, card["model_version"])
    assert len(calibration["trials"]) >= 9 and all(t["accepted"] <= 20 for t in calibration["trials"])
    scorecard = json.loads(calibrated.scorecard.read_text())
    chosen = {key: scorecard["sampling"][key] for key in calibration["sampling"]}
    assert chosen == calibration["sampling"]  # the scorecard was sampled with the calibrated temperatures
    assert plan_run({"source": ["x"], "calibrate": True}, None, settings_with(home=tmp_path)).calibrate


def test_the_kinds_param_reaches_the_corpus_build(tmp_path):
    settings = settings_with(home=str(tmp_path))
    sample = str(Path(__file__).resolve().parents[2] / "sample_data" / "ds1")
    counts = {}
    for version, kinds in (("all", []), ("lore", ["lore"])):
        plan = plan_run({"source": [sample], "kinds": kinds, "version": version, "preset": "tiny"}, None, settings)
        counts[version] = build_corpus_step(plan)["sentences"]
    assert 0 < counts["lore"] < counts["all"]


def test_the_games_param_reaches_the_corpus_build(tmp_path):
    settings = settings_with(home=str(tmp_path))
    sample = str(Path(__file__).resolve().parents[2] / "sample_data")
    games = {}
    for version, wanted in (("all", []), ("ds1", ["ds1"])):
        plan = plan_run({"source": [sample], "games": wanted, "version": version, "preset": "tiny"}, None, settings)
        build_corpus_step(plan)
        manifest = json.loads((plan.layout.corpus_dir / "manifest.json").read_text(encoding="utf-8"))
        games[version] = {entry["game"] for entry in manifest["inputs"]}
    assert games["ds1"] == {"ds1"} and len(games["all"]) > 1
