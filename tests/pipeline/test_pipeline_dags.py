"""DAG integrity: both DAGs import cleanly and fast, with the expected tasks, params and settings."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


def parse_in_fresh_python(code: str, **env: str) -> subprocess.CompletedProcess:
    """Run `code` in a new interpreter that imports the DAG files as modules (dags/ and plugins/ on its path)."""
    path = os.pathsep.join([str(ROOT / "dags"), str(ROOT / "plugins"), str(ROOT)])
    run_env = {**os.environ, "PYTHONPATH": path, **env}
    command = [sys.executable, "-c", code]
    return subprocess.run(command, cwd=ROOT, env=run_env, capture_output=True, text=True, timeout=120)


def test_dags_import_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == {"soulsgen_pipeline", "soulsgen_tweet"}


def test_parsing_imports_no_torch_or_model_code():
    code = (
        "import sys; import soulsgen_pipeline, soulsgen_tweet;"
        "heavy = [m for m in ('torch', 'tokenizers', 'tweepy', 'spacy') if m in sys.modules];"
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    result = parse_in_fresh_python(code)
    assert result.returncode == 0, result.stdout + result.stderr


def test_both_dag_files_parse_in_under_a_second():
    # What the DAG processor pays per file: Airflow itself is already loaded there.
    code = (
        "import json, sys, time; import airflow.sdk; before = set(sys.modules);"
        "start = time.perf_counter(); import soulsgen_pipeline, soulsgen_tweet;"
        "seconds = time.perf_counter() - start;"
        "google = sorted(m for m in set(sys.modules) - before if m.startswith(('airflow.providers.google', 'google')));"
        "print(json.dumps({'seconds': seconds, 'google': google}))"
    )
    result = parse_in_fresh_python(code)
    assert result.returncode == 0, result.stderr[-3000:]
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    assert measured["google"] == []
    assert measured["seconds"] < 1.0, measured


def test_pipeline_graph(dagbag):
    dag = dagbag.dags["soulsgen_pipeline"]
    assert dag.schedule is None
    assert dag.catchup is False
    expected_edges = {
        ("plan_run", "build_corpus"),
        ("build_corpus", "choose_backend"),
        ("choose_backend", "train_local"),
        ("choose_backend", "train_on_gce.gce_job"),
        ("train_on_gce.gce_job", "train_on_gce.create_vm"),
        ("train_on_gce.create_vm", "train_on_gce.wait_for_model"),
        ("train_on_gce.wait_for_model", "train_on_gce.fetch_model"),
        ("train_on_gce.fetch_model", "train_on_gce.delete_vm"),
        ("train_local", "evaluate"),
        ("train_on_gce.fetch_model", "evaluate"),
        ("evaluate", "quality_gate"),
        ("quality_gate", "package_mar"),
        ("package_mar", "publish"),
        ("quality_gate", "publish"),
        ("publish", "deploy_requested"),
        ("deploy_requested", "deploy"),
    }
    edges = {(task.task_id, down) for task in dag.tasks for down in task.downstream_task_ids}
    assert expected_edges <= edges
    assert "train_tokenizer" not in dag.task_ids  # the training step makes the tokenizer on both backends
    assert set(dag.params) >= {
        "source",
        "games",
        "kinds",
        "preset",
        "steps",
        "training_backend",
        "deploy",
        "model_overrides",
        "force",
        "min_first_try_pass_rate",
        "min_mauve",
    }
    assert dag.params["training_backend"] == "local"
    assert dag.params["preset"] == "small"
    assert dag.params["games"] == [] and dag.params["force"] is False
    from soulsgen_lib.gametext.catalog import CORPUS_KINDS

    assert dag.params["kinds"] == list(CORPUS_KINDS)
    schema = dag.params.get_param("source").schema
    assert schema["type"] == "array" and schema["items"] == {"type": "string"}  # an editable list in the form
    assert "quality_gate" in dag.doc_md and "plan_run" in dag.doc_md


def test_every_task_takes_the_plan_from_xcom_not_from_jinja(dagbag):
    dag = dagbag.dags["soulsgen_pipeline"]
    for task in dag.tasks:
        for name in getattr(task, "template_fields", ()):
            assert "xcom_pull" not in repr(getattr(task, name, "")), (task.task_id, name)
    plan_consumers = {task.task_id for task in dag.get_task("plan_run").downstream_list}
    assert plan_consumers >= {"build_corpus", "train_local", "train_on_gce.gce_job", "evaluate", "publish", "deploy"}


def test_the_source_form_defaults_to_datasource_dir():
    code = "import json, soulsgen_pipeline; print(json.dumps(soulsgen_pipeline.soulsgen_pipeline().params['source']))"
    sample = str(ROOT / "sample_data")
    result = parse_in_fresh_python(code, DATASOURCE_DIR=sample)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [sample]


def test_published_artifacts_are_assets(dagbag):
    dag = dagbag.dags["soulsgen_pipeline"]
    outlets = {asset.name for asset in dag.get_task("publish").outlets}
    assert outlets == {"soulsgen_corpus", "soulsgen_model", "soulsgen_mar"}
    others = [task.task_id for task in dag.tasks if task.task_id != "publish" and task.outlets]
    assert others == []  # only the task that moves `latest` announces a new version


def test_gpu_vm_is_always_deleted(dagbag):
    dag = dagbag.dags["soulsgen_pipeline"]
    job = dag.get_task("train_on_gce.gce_job")
    create_vm = dag.get_task("train_on_gce.create_vm")
    delete_vm = dag.get_task("train_on_gce.delete_vm")
    sensor = dag.get_task("train_on_gce.wait_for_model")
    assert create_vm.is_setup and delete_vm.is_teardown
    # gce_job is a setup too: once it succeeded, a failed create_vm still lets the delete run.
    assert job.is_setup
    assert delete_vm.trigger_rule == "all_done_setup_success"
    assert delete_vm.on_failure_fail_dagrun and delete_vm.retries == 3
    assert {"train_on_gce.create_vm", "train_on_gce.gce_job"} <= delete_vm.upstream_task_ids
    assert sensor.mode == "reschedule"  # no worker slot held while the VM trains
    assert dag.get_task("evaluate").trigger_rule == "none_failed_min_one_success"


def test_tweet_dag_schedule_and_retries(dagbag):
    dag = dagbag.dags["soulsgen_tweet"]
    assert dag.schedule == "@hourly" and dag.timetable.expression == "0 * * * *"
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert [task.task_id for task in dag.topological_sort()] == ["check_budget", "write_sentence", "post"]
    post = dag.get_task("post")
    assert post.retries == 3 and post.retry_exponential_backoff
    policy = post.retry_policy
    from soulsgen_lib.posting.target import CredentialsRejected, TargetUnavailable
    from soulsgen_lib.serving.client import ServingError, ServingUnavailable

    assert policy.evaluate(TargetUnavailable("x down"), 1, 4).action.value == "retry"
    assert policy.evaluate(CredentialsRejected("bad keys"), 1, 4).action.value == "fail"
    writer = dag.get_task("write_sentence").retry_policy
    assert writer.evaluate(ServingUnavailable("503"), 1, 4).action.value == "retry"
    assert writer.evaluate(ServingError("401 bad token"), 1, 4).action.value == "fail"


def test_make_airflow_points_the_form_at_the_bundled_sample_data(tmp_path):
    # `make airflow` with a stand-in `airflow` that prints the environment the real one would start with.
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    for name in ("requirements.txt", "pyproject.toml"):
        (tmp_path / name).touch()
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / ".installed").touch()
    airflow = tmp_path / ".venv" / "bin" / "airflow"
    airflow.write_text('#!/bin/sh\necho "$1 DATASOURCE_DIR=$DATASOURCE_DIR SOULSGEN_HOME=$SOULSGEN_HOME"\n')
    airflow.chmod(0o755)
    env = {key: value for key, value in os.environ.items() if key not in ("DATASOURCE_DIR", "SOULSGEN_HOME")}

    def make_airflow(**extra: str) -> str:
        command = ["make", "-s", "airflow"]
        result = subprocess.run(command, cwd=tmp_path, env=env | extra, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()[-1]

    assert make_airflow() == f"standalone DATASOURCE_DIR={tmp_path}/sample_data SOULSGEN_HOME={tmp_path}/artifacts"
    assert make_airflow(DATASOURCE_DIR="/data/ds3").startswith("standalone DATASOURCE_DIR=/data/ds3 ")
    (tmp_path / ".env").write_text("DATASOURCE_DIR=/data/er\n")  # the settings reader takes it from there
    assert make_airflow() == f"standalone DATASOURCE_DIR= SOULSGEN_HOME={tmp_path}/artifacts"
