"""The hourly posting DAG with `airflow dags test`: one mapped post task per network, against local APIs."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from soulsgen_lib.posting.history import POSTED, PostRecord
from soulsgen_lib.posting.target import BudgetSpent, OutcomeUnknown, TargetUnavailable
from soulsgen_lib.storage import open_store

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A migrated SQLite Airflow home reading this checkout's dags/ and plugins/, without posting settings."""
    base = tmp_path_factory.mktemp("posting-dag")
    prefixes = ("AIRFLOW_CONN_", "TWITTER_", "BLUESKY_", "MASTODON_", "TORCHSERVE_", "POST_")
    env = {key: value for key, value in os.environ.items() if not key.startswith(prefixes) and key != "BUCKET"}
    env.update(
        AIRFLOW_HOME=str(base / "airflow"),
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(ROOT / "plugins"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        PATH=f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
    )
    migrate = subprocess.run(
        [str(VENV_BIN / "airflow"), "db", "migrate"], env=env, cwd=base, capture_output=True, text=True, timeout=300
    )
    assert migrate.returncode == 0, migrate.stdout[-3000:] + migrate.stderr[-3000:]
    return env


@pytest.fixture
def home_with_model(tmp_path, tiny_model_dir) -> Path:
    """A SOULSGEN_HOME whose store has a published model: the DAG generates with it (no TorchServe)."""
    home = tmp_path / "home"
    open_store(home).publish("model", "v1", tiny_model_dir, progress=False)
    return home


def run_dag(env: dict[str, str], date: str, **extra: str) -> tuple[int, str]:
    command = [str(VENV_BIN / "airflow"), "dags", "test", "soulsgen_tweet", date]
    try:
        result = subprocess.run(command, env=env | extra, cwd=env["AIRFLOW_HOME"], capture_output=True, timeout=400)
    except subprocess.TimeoutExpired as stuck:
        output = b"".join(part or b"" for part in (stuck.stdout, stuck.stderr)).decode(errors="replace")
        raise AssertionError(f"airflow dags test ran over 400 s; its log ends:\n{output[-6000:]}") from None
    return result.returncode, (result.stdout + result.stderr).decode(errors="replace")


def records(home: Path) -> list[dict]:
    path = home / "posted" / "history.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_each_network_posts_in_its_own_task_and_one_failing_does_not_stop_the_others(
    airflow_home, home_with_model, x_api, x_credentials, bluesky_api, mastodon_api
):
    connections = {
        "AIRFLOW_CONN_SOULSGEN_X": {
            "conn_type": "generic",
            "login": x_credentials["consumer_key"],
            "password": x_credentials["consumer_secret"],
            "extra": {k: x_credentials[k] for k in ("access_token", "token_secret")} | {"base_url": x_api.base_url},
        },
        "AIRFLOW_CONN_SOULSGEN_BLUESKY": {
            "conn_type": "generic",
            "login": bluesky_api.handle,
            "password": "revoked-app-password",  # Bluesky refuses this run: a failure no retry can fix
            "host": bluesky_api.base_url,
        },
        "AIRFLOW_CONN_SOULSGEN_MASTODON": {
            "conn_type": "generic",
            "host": mastodon_api.base_url,
            "password": mastodon_api.access_token,
        },
    }
    code, log = run_dag(
        airflow_home,
        "2026-01-01T01:00:00+00:00",
        SOULSGEN_HOME=str(home_with_model),
        POST_CARDS="x,mastodon",
        **{name: json.dumps(conn) for name, conn in connections.items()},
    )

    assert code != 0, log[-5000:]  # the Bluesky task failed, so the run did
    [tweet] = x_api.tweets
    [status] = mastodon_api.statuses
    assert status["text"] == tweet["text"]  # one sentence for every network
    assert status["media_attachments"][0]["description"] == tweet["text"]
    assert x_api.media[tweet["media_ids"][0]]["alt"] == tweet["text"]
    outcomes = {(r["network"], r["outcome"]) for r in records(home_with_model) if r["outcome"] != "pending"}
    assert outcomes == {("x", POSTED), ("mastodon", POSTED), ("bluesky", "failed")}
    assert "Bluesky refused the credentials" in log
    secrets = [*x_credentials.values(), "revoked-app-password", mastodon_api.access_token]
    assert [secret for secret in secrets if secret in log] == []


def test_networks_without_credentials_run_dry_and_say_so(airflow_home, home_with_model):
    code, log = run_dag(airflow_home, "2026-01-01T02:00:00+00:00", SOULSGEN_HOME=str(home_with_model))

    assert code == 0, log[-5000:]
    for network in ("x", "bluesky", "mastodon"):
        assert f"No {network} credentials" in log and f"Dry run on {network}. Would post:" in log
    assert records(home_with_model) == []


def test_the_run_is_skipped_only_when_every_network_is_out_of_budget(airflow_home, home_with_model):
    history = home_with_model / "posted" / "history.jsonl"
    history.parent.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    lines = [PostRecord(now, network, "An old post.", POSTED, post_id="1") for network in ("x", "bluesky")]
    history.write_text("".join(line.to_json() + "\n" for line in lines))
    budgets = {"POST_DAILY_BUDGET": "1", "BLUESKY_DAILY_BUDGET": "1", "MASTODON_DAILY_BUDGET": "1"}

    code, log = run_dag(airflow_home, "2026-01-01T03:00:00+00:00", SOULSGEN_HOME=str(home_with_model), **budgets)
    assert code == 0, log[-5000:]
    assert "Dry run on mastodon." in log and "Dry run on x." not in log  # only Mastodon had budget left

    history.write_text(history.read_text() + PostRecord(now, "mastodon", "Another.", POSTED, post_id="2").to_json())
    code, log = run_dag(airflow_home, "2026-01-01T04:00:00+00:00", SOULSGEN_HOME=str(home_with_model), **budgets)
    assert code == 0, log[-5000:]
    assert "every network's posting budget is spent" in log and "Would post" not in log


def test_posting_tasks_retry_only_when_nothing_was_sent():
    spec = importlib.util.spec_from_file_location("soulsgen_tweet_dag", ROOT / "dags" / "soulsgen_tweet.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dag = module.soulsgen_tweet()
    post = dag.get_task("post")

    assert [task.task_id for task in dag.topological_sort()] == ["check_budget", "write_sentence", "post"]
    assert "runs once per network (mapped)" in dag.doc_md
    assert post.retry_policy.evaluate(TargetUnavailable("refused"), 1, 4).action.value == "retry"
    assert post.retry_policy.evaluate(OutcomeUnknown("sent, 503"), 1, 4).action.value == "fail"
    assert post.retry_policy.evaluate(BudgetSpent("spent"), 1, 4).action.value == "fail"
