"""DAG integrity: both DAGs import cleanly and fast, with the expected tasks, params and settings."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def dagbag():
    sys.path.insert(0, str(ROOT / "plugins"))
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


def test_dags_import_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == {"soulsgen_pipeline", "soulsgen_tweet"}


def test_parsing_imports_no_torch_or_model_code():
    code = (
        "import sys; sys.path[:0] = ['dags', 'plugins'];"
        "import soulsgen_pipeline, soulsgen_tweet;"
        "heavy = [m for m in ('torch', 'tokenizers', 'tweepy', 'spacy') if m in sys.modules];"
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_pipeline_graph(dagbag):
    dag = dagbag.dags["soulsgen_pipeline"]
    assert dag.schedule is None
    assert dag.catchup is False
    expected_edges = {
        ("choose_version", "build_corpus"),
        ("build_corpus", "train_tokenizer"),
        ("train_tokenizer", "choose_backend"),
        ("choose_backend", "train_local"),
        ("choose_backend", "train_on_gce.gce_job"),
        ("train_on_gce.gce_job", "train_on_gce.create_vm"),
        ("train_on_gce.create_vm", "train_on_gce.wait_for_model"),
        ("train_on_gce.wait_for_model", "train_on_gce.fetch_model"),
        ("train_on_gce.fetch_model", "train_on_gce.delete_vm"),
        ("train_local", "evaluate"),
        ("train_on_gce.fetch_model", "evaluate"),
        ("evaluate", "package_mar"),
        ("package_mar", "publish"),
        ("publish", "deploy_requested"),
        ("deploy_requested", "deploy"),
    }
    edges = {(task.task_id, down) for task in dag.tasks for down in task.downstream_task_ids}
    assert expected_edges <= edges
    assert set(dag.params) >= {"source", "preset", "steps", "training_backend", "deploy", "model_overrides"}
    assert dag.params["training_backend"] == "local"
    assert dag.params["preset"] == "small"


def test_gpu_vm_is_always_deleted(dagbag):
    dag = dagbag.dags["soulsgen_pipeline"]
    create_vm = dag.get_task("train_on_gce.create_vm")
    delete_vm = dag.get_task("train_on_gce.delete_vm")
    sensor = dag.get_task("train_on_gce.wait_for_model")
    assert create_vm.is_setup and delete_vm.is_teardown
    assert delete_vm.trigger_rule == "all_done_setup_success"
    assert delete_vm.on_failure_fail_dagrun and delete_vm.retries == 3
    assert "train_on_gce.create_vm" in delete_vm.upstream_task_ids
    assert sensor.deferrable is True
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
