"""SoulsGen tweet: every hour, ask the model for a new sentence, check it, and post it to X.

Without X credentials (connection `soulsgen_x`) the DAG runs in dry-run mode and says so in the
log; without a TorchServe connection (`soulsgen_torchserve`) it generates with the newest local
model. A spent posting budget skips the run instead of failing it.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import ExceptionRetryPolicy, RetryAction, RetryRule, dag, task

# Only errors that a later try can fix are retried; the rest fail at once.
TRANSIENT = ExceptionRetryPolicy(
    rules=[
        RetryRule(
            exception=[
                "soulsgen_lib.serving.client.ServingUnavailable",
                "soulsgen_lib.posting.target.TargetUnavailable",
            ],
            action=RetryAction.RETRY,
            reason="TorchServe or X is unavailable for now",
        ),
    ],
    default=RetryAction.FAIL,
)
RETRIES = {
    "retries": 3,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=15),
    "retry_policy": TRANSIENT,
}


@dag(
    dag_id="soulsgen_tweet",
    schedule="@hourly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=50),
    tags=["soulsgen"],
)
def soulsgen_tweet():
    """Post one new souls-like sentence to X, within the posting budget."""

    @task
    def check_budget() -> dict:
        from airflow.sdk.exceptions import AirflowSkipException

        from soulsgen_lib.tweeting import budget_left

        status = budget_left()
        if status["spent"]:
            raise AirflowSkipException(status["explain"])
        return status

    @task(**RETRIES)
    def write_sentence(budget: dict) -> dict:
        from soulsgen_airflow.hooks import TorchServeHook

        from soulsgen_lib.tweeting import write_sentence

        hook = TorchServeHook()
        return write_sentence(hook.get_conn() if hook.is_configured() else None)

    @task(**RETRIES)
    def post(sentence: dict) -> dict:
        from soulsgen_airflow.hooks import XHook

        from soulsgen_lib.tweeting import post

        hook = XHook()
        return post(sentence, hook.get_conn() if hook.is_configured() else None)

    post(write_sentence(check_budget()))


soulsgen_tweet()
