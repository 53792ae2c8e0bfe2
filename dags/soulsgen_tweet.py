"""SoulsGen posting: every hour, one new sentence, posted to X, Bluesky and Mastodon as separate tasks."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import ExceptionRetryPolicy, RetryAction, RetryRule, dag, task

DOC = """\
### SoulsGen hourly post

1. **check_budget** reads the posting history and keeps the networks of `POST_NETWORKS`
   (default `x,bluesky,mastodon`) whose budget is not spent: X 17 per 24 h and 500 a month, Bluesky
   and Mastodon one an hour, and none while a 429's reset time is in force. The run is skipped only
   when every network is out of budget.
2. **write_sentence** asks TorchServe (connection `soulsgen_torchserve`) or, without it, the newest
   local model for one sentence that passes every check and is new on each of those networks.
3. **post** runs once per network (mapped): credentials come from the connection
   `soulsgen_<network>`, else from the environment / `.env`; a network with neither runs dry and says
   so in its log. One network failing or out of budget does not stop the others.

Every attempt is recorded in the posting history *before* it is sent (a `pending` line), so a post
whose answer never came counts against the budget and is never sent twice; such `unknown` outcomes
are not retried. `POST_CARDS=x,bluesky,mastodon` attaches an image card with alt text.
"""

# Only errors that a later try can fix are retried: nothing was sent. An unknown outcome is never retried.
TRANSIENT = ExceptionRetryPolicy(
    rules=[
        RetryRule(
            exception=[
                "soulsgen_lib.serving.client.ServingUnavailable",
                "soulsgen_lib.posting.target.TargetUnavailable",
            ],
            action=RetryAction.RETRY,
            reason="TorchServe or the network is unavailable for now",
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
    doc_md=DOC,
)
def soulsgen_tweet():
    """Post one new souls-like sentence to every configured network, each within its budget."""

    @task
    def check_budget() -> list[str]:
        from airflow.sdk.exceptions import AirflowSkipException

        from soulsgen_lib.posting.hourly import networks_with_budget

        networks = networks_with_budget()
        if not networks:
            raise AirflowSkipException("every network's posting budget is spent (see the log for each)")
        return networks

    @task(**RETRIES)
    def write_sentence(networks: list[str]) -> dict:
        from soulsgen_airflow.hooks import TorchServeHook

        from soulsgen_lib.posting.hourly import write_sentence

        hook = TorchServeHook()
        return write_sentence(hook.get_conn() if hook.is_configured() else None, networks)

    @task(**RETRIES, map_index_template="{{ network }}")
    def post(network: str, sentence: dict) -> dict:
        from airflow.sdk import get_current_context
        from airflow.sdk.exceptions import AirflowSkipException
        from soulsgen_airflow.hooks import POSTING_HOOKS

        from soulsgen_lib.posting.hourly import post_to, target_or_dry_run
        from soulsgen_lib.posting.target import BudgetSpent
        from soulsgen_lib.settings import Settings

        get_current_context()["network"] = network  # names the mapped task instance in the UI
        hook = POSTING_HOOKS[network]()
        settings = Settings.load()
        target = target_or_dry_run(network, hook.get_conn() if hook.is_configured() else None, settings)
        try:
            return post_to(network, sentence, target, settings)
        except BudgetSpent as spent:  # another poster used the last slot since the budget check
            raise AirflowSkipException(str(spent)) from None

    networks = check_budget()
    post.partial(sentence=write_sentence(networks)).expand(network=networks)


soulsgen_tweet()
