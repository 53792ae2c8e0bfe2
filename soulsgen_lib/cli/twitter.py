"""The `twitter` command line, X only: auth (PIN flow), whoami, post and history.

`soulsgen post` does the same for every network; tweepy and torch are imported only when used.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from soulsgen_lib import __version__
from soulsgen_lib.cli.common import CONTEXT_SETTINGS, LazyGroup, config_option, load_settings, setting_option
from soulsgen_lib.cli.posting import check_one_source, env_file_option, open_source, save_or_show, sentence_options
from soulsgen_lib.posting.target import BUDGET_SPENT_EXIT_CODE, RetryPolicy

COMMANDS_BY_SECTION: dict[str, dict[str, str]] = {
    "Account commands": {
        "auth": "soulsgen_lib.cli.twitter:auth",
        "whoami": "soulsgen_lib.cli.twitter:whoami",
    },
    "Posting commands": {
        "post": "soulsgen_lib.cli.twitter:post",
        "history": "soulsgen_lib.cli.twitter:history",
    },
}


@click.group(cls=LazyGroup, commands_by_section=COMMANDS_BY_SECTION, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="twitter")
def main() -> None:
    """Post SoulsGen sentences to X (Twitter) with OAuth 1.0a user credentials.

    Credentials come from options, then TWITTER_* environment variables, then `.env`.
    `soulsgen post` posts to X, Bluesky and Mastodon alike.
    """


api_base_url_option = setting_option(
    "twitter_api_base_url", "--api-base-url", metavar="URL", help="X API base URL (a proxy or test server)."
)


_RETRY = RetryPolicy()  # the library's defaults, shown by --help


daily_budget_option = setting_option(
    "post_daily_budget", "--daily-budget", type=int, help="Posts allowed per rolling 24 hours."
)
monthly_budget_option = setting_option(
    "post_monthly_budget", "--monthly-budget", type=int, help="Posts allowed per calendar month."
)


@click.command()
@setting_option("twitter_consumer_key", "--consumer-key", metavar="KEY", help="The app's API key.")
@setting_option("twitter_consumer_secret", "--consumer-secret", metavar="SECRET", help="The app's API key secret.")
@api_base_url_option
@click.option("--save", is_flag=True, help="Write the access token pair to the env file instead of printing it.")
@env_file_option
def auth(
    twitter_consumer_key: str | None,
    twitter_consumer_secret: str | None,
    twitter_api_base_url: str | None,
    save: bool,
    env_file: Path,
) -> None:
    """Authorise an X account for posting with the PIN flow (OAuth 1.0a).

    Prints an authorization URL; open it logged in as the posting account, approve the app, and
    type the PIN X shows. The resulting TWITTER_ACCESS_TOKEN / TWITTER_TOKEN_SECRET pair is printed,
    or with --save written to the env file. The app needs Read and Write permission first.
    """
    from soulsgen_lib.posting.x import PinFlow

    settings = load_settings(
        twitter_consumer_key=twitter_consumer_key,
        twitter_consumer_secret=twitter_consumer_secret,
        twitter_api_base_url=twitter_api_base_url,
    )
    flow = PinFlow(
        settings.twitter_consumer_key.get_secret_value(),
        settings.twitter_consumer_secret.get_secret_value(),
        settings.twitter_api_base_url,
    )
    click.echo("Open this URL logged in as the posting account, authorise the app, and note the PIN:")
    click.echo(flow.authorization_url())
    pin = click.prompt("PIN", type=str)
    token, secret = flow.access_token(pin)
    save_or_show({"TWITTER_ACCESS_TOKEN": token, "TWITTER_TOKEN_SECRET": secret}, env_file if save else None)


@click.command()
@api_base_url_option
def whoami(twitter_api_base_url: str | None) -> None:
    """Check the TWITTER_* credentials (GET /2/users/me) and print the account's handle."""
    from soulsgen_lib.posting.x import XTarget

    target = XTarget.from_settings(load_settings(twitter_api_base_url=twitter_api_base_url))
    click.echo(f"@{target.whoami()}")


@click.command(
    epilog=f"""\b
Exit status:
  0  posted (or, with --dry-run, a sentence passed every check)
  1  error: credentials, rejected sentence, rate limit, X unreachable, unknown outcome
  2  usage error
  {BUDGET_SPENT_EXIT_CODE}  the daily or monthly budget is spent; nothing was sent"""
)
@sentence_options
@config_option(
    "--max-wait",
    _RETRY,
    "rate_limit_max_wait_s",
    type=click.FloatRange(min=0),
    help="Seconds a rate limit may be waited out; a later reset gives up.",
)
@config_option("--attempts", _RETRY, type=click.IntRange(min=1), help="Tries on X server or network errors.")
@config_option(
    "--retry-delay",
    _RETRY,
    "backoff_s",
    type=click.FloatRange(min=0),
    help="First backoff delay in seconds; doubles each retry, with jitter.",
)
@daily_budget_option
@monthly_budget_option
@api_base_url_option
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
def post(
    text: str | None,
    torchserve_endpoint: str | None,
    model_dir: Path | None,
    dry_run: bool,
    max_asks: int,
    rate_limit_max_wait_s: float,
    attempts: int,
    backoff_s: float,
    post_daily_budget: int | None,
    post_monthly_budget: int | None,
    twitter_api_base_url: str | None,
    as_json: bool,
) -> None:
    """Post one sentence to X: given text, one from TorchServe (default TORCHSERVE_ENDPOINT), or a local model.

    The sentence must be non-empty, at most 280 characters as X counts them, never posted before,
    and pass the generation filters; a generated sentence that fails is replaced, up to --max-asks
    times. The posting history (BUCKET/posted/history.jsonl, or SOULSGEN_HOME/posted/history.jsonl)
    records every attempt; the budget is counted from it and checked before anything is generated
    or sent. Server and network errors are retried with backoff; a post whose answer never came is
    recorded as unknown and not sent again.
    """
    from soulsgen_lib.posting.budget import Budget, budget_status
    from soulsgen_lib.posting.history import on_network, open_history
    from soulsgen_lib.posting.post import ensure_budget, post_next
    from soulsgen_lib.posting.target import PreviewTarget
    from soulsgen_lib.posting.x import XTarget

    settings = load_settings(
        torchserve_endpoint=torchserve_endpoint,
        post_daily_budget=post_daily_budget,
        post_monthly_budget=post_monthly_budget,
        twitter_api_base_url=twitter_api_base_url,
    )
    check_one_source(text, torchserve_endpoint, model_dir, settings)
    retry = RetryPolicy(attempts=attempts, backoff_s=backoff_s, rate_limit_max_wait_s=rate_limit_max_wait_s)
    target = PreviewTarget("x") if dry_run else XTarget.from_settings(settings, retry)
    history = open_history(settings)
    budget = Budget.from_settings(settings, "x")
    ensure_budget(on_network(history.records(), "x"), budget)  # before loading a model or calling TorchServe
    source, max_asks = open_source(text, model_dir, settings, max_asks)
    record = post_next(source, target, history, budget, max_asks=max_asks, dry_run=dry_run)
    status = budget_status(on_network(history.records(), "x"), budget)
    if as_json:
        click.echo(json.dumps({**record.to_dict(), "budget": status.to_dict()}, ensure_ascii=False))
        return
    if dry_run:
        click.echo(f"Dry run, nothing sent. Would post: {record.text}")
    else:
        click.echo(f"Posted {record.post_id}: {record.text}")
    click.echo(f"Budget: {status.explain()}")


@click.command()
@click.option(
    "--limit", type=click.IntRange(min=1), default=20, show_default=True, help="Records to show, newest last."
)
@daily_budget_option
@monthly_budget_option
def history(limit: int, post_daily_budget: int | None, post_monthly_budget: int | None) -> None:
    """List the latest X posting attempts and what is left of the budget."""
    from soulsgen_lib.cli.posting import show_history

    settings = load_settings(post_daily_budget=post_daily_budget, post_monthly_budget=post_monthly_budget)
    show_history(settings, ("x",), limit)
