"""`soulsgen post` (one sentence to X, Bluesky and Mastodon), its auth/whoami/history, and `soulsgen card`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from soulsgen_lib.cli.common import folder_option, load_settings, setting_option
from soulsgen_lib.posting.target import BUDGET_SPENT_EXIT_CODE
from soulsgen_lib.settings import Settings

if TYPE_CHECKING:
    from soulsgen_lib.posting.post import SentenceSource

env_file_option = click.option(
    "--env-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path(".env"),
    show_default=True,
    help="File --save writes (through a symlink to its target); its other lines are kept as they are.",
)


_SENTENCE_OPTIONS = (
    click.option("--text", help="Post this text."),
    setting_option("torchserve_endpoint", "--endpoint", metavar="URL", help="Ask this TorchServe for a sentence."),
    folder_option("--model", "model_dir", "Generate the sentence with this local model folder.", exists=True),
    click.option("--dry-run", is_flag=True, help="Do every check but send nothing and record nothing."),
    click.option(
        "--max-asks",
        type=click.IntRange(min=1),
        default=5,
        show_default=True,
        help="Generated sentences to try when one fails the checks.",
    ),
)


def sentence_options(command: Callable) -> Callable:
    """--text, --endpoint, --model, --dry-run and --max-asks: where a post's sentence comes from."""
    for option in reversed(_SENTENCE_OPTIONS):
        command = option(command)
    return command


def check_one_source(text: str | None, endpoint: str | None, model_dir: Path | None, settings: Settings) -> None:
    """A usage error unless exactly one sentence source is given (TORCHSERVE_ENDPOINT counts as one)."""
    sources = (("--text", text), ("--endpoint", endpoint), ("--model", model_dir))
    chosen = [name for name, value in sources if value is not None]
    if len(chosen) > 1:
        raise click.UsageError(f"give one sentence source, not {' and '.join(chosen)}")
    if not chosen and not settings.torchserve_endpoint:
        raise click.UsageError("give --text, --endpoint or --model (or set TORCHSERVE_ENDPOINT)")


def open_source(
    text: str | None, model_dir: Path | None, settings: Settings, max_asks: int
) -> tuple[SentenceSource, int]:
    """The chosen sentence source and how often it may be asked (given text: once); a model loads here."""
    from soulsgen_lib.posting.sentence_sources import endpoint_source, model_source, text_source

    if text is not None:
        return text_source(text), 1
    if model_dir is not None:
        return model_source(model_dir), max_asks
    return endpoint_source(settings.torchserve_endpoint, settings.torchserve_token), max_asks


def save_or_show(values: dict[str, str], env_file: Path | None) -> None:
    """Write credentials to the env file, or print them; if the file cannot be written they are printed anyway.

    A token the network issued once must never be lost to a write error.
    """
    from soulsgen_lib.settings import SettingsError, update_env_file

    names = " and ".join(values)
    if env_file is not None:
        try:
            update_env_file(env_file, values)
        except SettingsError as error:
            click.secho(f"Error: could not save {names} ({error}); copy them now:", err=True, fg="red")
            for name, value in values.items():
                click.echo(f"{name}={value}")
            raise SystemExit(1) from None
        click.echo(f"Saved {names} to {env_file}.")
        return
    click.echo("Add these to your environment or .env (or rerun with --save):")
    for name, value in values.items():
        click.echo(f"{name}={value}")


def show_history(settings: Settings, networks: tuple[str, ...], limit: int) -> None:
    """Print the latest attempts on `networks` and each network's budget."""
    from soulsgen_lib.posting.budget import Budget, budget_status
    from soulsgen_lib.posting.history import on_network, open_history, settled

    store = open_history(settings)
    records = store.records()
    shown = [record for record in settled(records) if record.network in networks]
    click.echo(f"{store.location}: {len(shown)} attempts")
    for record in shown[-limit:]:
        click.echo(
            f"{record.time:%Y-%m-%d %H:%M:%S}  {record.network:<9} {record.outcome:<12}  "
            f"{record.post_id or '-':<20}  {record.text}"
        )
    for network in networks:
        status = budget_status(on_network(records, network), Budget.from_settings(settings, network))
        click.echo(f"Budget: {status.explain()}")


def _networks(to: str | None, settings: Settings, dry_run: bool) -> tuple[str, ...]:
    """--to, else the networks of POST_NETWORKS that have credentials (all of them in a dry run)."""
    from soulsgen_lib.posting.networks import has_credentials, parse_networks
    from soulsgen_lib.posting.target import CredentialsRejected

    if to is not None:
        return parse_networks(to)
    configured = parse_networks(settings.post_networks, "POST_NETWORKS")
    if dry_run:
        return configured
    with_credentials = tuple(network for network in configured if has_credentials(network, settings))
    if not with_credentials:
        raise CredentialsRejected(
            "no network has credentials: set TWITTER_*, BLUESKY_* or MASTODON_* (see `soulsgen post auth --help`), "
            "or try --dry-run"
        )
    return with_credentials


@click.group(
    invoke_without_command=True,
    epilog=f"""\b
Exit status:
  0  posted on every network (or, with --dry-run, a sentence passed every check)
  1  error: credentials, rejected sentence, or a network failed (the others still post)
  2  usage error
  {BUDGET_SPENT_EXIT_CODE}  every network's budget is spent; nothing was sent""",
)
@click.option("--to", metavar="NETWORKS", help="Comma-separated: x,bluesky,mastodon. [default: those with credentials]")
@sentence_options
@click.option("--card", is_flag=True, help="Attach an image card with alt text (X, Bluesky and Mastodon).")
@click.option("--json", "as_json", is_flag=True, help="Print each network's outcome as a JSON line.")
@click.pass_context
def post(
    ctx: click.Context,
    to: str | None,
    text: str | None,
    torchserve_endpoint: str | None,
    model_dir: Path | None,
    dry_run: bool,
    max_asks: int,
    card: bool,
    as_json: bool,
) -> None:
    """Post one sentence to each network: given text, one from TorchServe, or one from a local model.

    The sentence must pass every check and be new on each network; each network's budget is counted
    from the posting history (an intent is recorded before sending) and a network that fails does not
    stop the others.
    """
    if ctx.invoked_subcommand is not None:
        return
    from soulsgen_lib.posting.budget import Budget, budget_status
    from soulsgen_lib.posting.history import on_network, open_history
    from soulsgen_lib.posting.networks import CARD_NETWORKS, target_from_settings
    from soulsgen_lib.posting.post import pick_sentence, post_sentence
    from soulsgen_lib.posting.target import BudgetSpent, PostingError, PreviewTarget

    settings = load_settings(torchserve_endpoint=torchserve_endpoint)
    check_one_source(text, torchserve_endpoint, model_dir, settings)
    networks = _networks(to, settings, dry_run)
    targets = {n: PreviewTarget(n) if dry_run else target_from_settings(n, settings) for n in networks}
    history = open_history(settings)
    records = history.records()
    open_networks = []
    for network in networks:
        status = budget_status(on_network(records, network), Budget.from_settings(settings, network))
        if status.spent:
            click.echo(f"Skipping {network}: {status.explain()}")
        else:
            open_networks.append(network)
    if not open_networks:
        raise BudgetSpent("not posting: every network's budget is spent")
    source, max_asks = open_source(text, model_dir, settings, max_asks)
    checked = [record for network in open_networks for record in on_network(records, network)]
    sentence = pick_sentence(source, checked, max_asks)
    image = None
    if card:
        from soulsgen_lib.posting.card import render_card

        image = render_card(sentence.text)
    failed = 0
    for network in open_networks:
        try:
            record = post_sentence(
                sentence.text,
                targets[network],
                history,
                Budget.from_settings(settings, network),
                sentence.model_version,
                dry_run,
                image if network in CARD_NETWORKS else None,
            )
        except PostingError as error:
            failed += 1
            click.secho(f"Error on {network}: {error}", err=True, fg="red")
            if as_json:
                click.echo(json.dumps({"network": network, "outcome": "error", "detail": str(error)}))
            continue
        if as_json:
            click.echo(json.dumps(record.to_dict(), ensure_ascii=False))
        elif dry_run:
            click.echo(f"Dry run on {network}, nothing sent. Would post: {record.text}")
        else:
            click.echo(f"Posted to {network} as {record.post_id}: {record.text}")
    if failed:
        raise SystemExit(1)


@post.command()
@click.argument("network", type=click.Choice(["x", "bluesky", "mastodon"]))
@click.option("--save", is_flag=True, help="Write the credentials to the env file instead of printing them.")
@env_file_option
def auth(network: str, save: bool, env_file: Path) -> None:
    """Set up posting to NETWORK, check the credentials, and print or save them.

    \b
    x         the OAuth 1.0a PIN flow (same as `twitter auth`)
    bluesky   a handle and an app password; logs in once and saves the session
    mastodon  an access token made on the instance; also sets the account's bot flag
    """
    env_file_or_none = env_file if save else None
    if network == "x":
        from soulsgen_lib.cli.twitter import auth as x_auth

        click.get_current_context().invoke(x_auth, save=save, env_file=env_file)
    elif network == "bluesky":
        _auth_bluesky(env_file_or_none)
    else:
        _auth_mastodon(env_file_or_none)


def _auth_bluesky(env_file: Path | None) -> None:
    from soulsgen_lib.posting.bluesky import BlueskyTarget

    settings = load_settings()
    click.echo("Make an app password in Bluesky: Settings > Privacy and security > App passwords > Add.")
    handle = click.prompt("Handle", default=settings.bluesky_handle or None)
    password = click.prompt("App password", hide_input=True)
    pds_url = click.prompt("PDS URL", default=settings.bluesky_pds_url)
    target = BlueskyTarget(handle, password, pds_url, settings.bluesky_session_file)
    click.echo(f"Logged in as {target.whoami()}; the session is saved in {settings.bluesky_session_file}.")
    save_or_show({"BLUESKY_HANDLE": handle, "BLUESKY_APP_PASSWORD": password, "BLUESKY_PDS_URL": pds_url}, env_file)


def _auth_mastodon(env_file: Path | None) -> None:
    from soulsgen_lib.posting.mastodon import SCOPES, MastodonTarget

    settings = load_settings()
    url = click.prompt("Instance URL", default=settings.mastodon_api_base_url or "https://mastodon.social").rstrip("/")
    click.echo(f"Open {url}/settings/applications/new logged in as the posting account, name the app SoulsGen,")
    click.echo(f"tick only the scopes {', '.join(SCOPES)}, submit, open the app and copy 'Your access token'.")
    token = click.prompt("Access token", hide_input=True)
    target = MastodonTarget(url, token, settings.mastodon_visibility)
    handle = target.whoami()
    target.mark_as_bot()
    click.echo(f"Authorised as @{handle}; the account is now marked as a bot.")
    save_or_show({"MASTODON_API_BASE_URL": url, "MASTODON_ACCESS_TOKEN": token}, env_file)


@post.command()
@click.option("--to", metavar="NETWORKS", help="Comma-separated networks. [default: those with credentials]")
def whoami(to: str | None) -> None:
    """Check each network's credentials and print the account they act for."""
    from soulsgen_lib.posting.networks import target_from_settings
    from soulsgen_lib.posting.target import PostingError

    settings = load_settings()
    failed = 0
    for network in _networks(to, settings, dry_run=False):
        try:
            click.echo(f"{network}: {target_from_settings(network, settings).whoami()}")
        except PostingError as error:
            failed += 1
            click.secho(f"{network}: Error: {error}", err=True, fg="red")
    if failed:
        raise SystemExit(1)


@post.command()
@click.option("--to", metavar="NETWORKS", default="x,bluesky,mastodon", show_default=True, help="Networks to list.")
@click.option(
    "--limit", type=click.IntRange(min=1), default=20, show_default=True, help="Attempts to show, newest last."
)
def history(to: str, limit: int) -> None:
    """List the latest posting attempts and what is left of each network's budget."""
    from soulsgen_lib.posting.networks import parse_networks

    show_history(load_settings(), parse_networks(to), limit)


@click.command()
@click.argument("text")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("card.png"), show_default=True)
@click.option("--title", help="The card's title. [default: picked from the sentence]")
def card(text: str, out: Path, title: str | None) -> None:
    """Render TEXT as an image card (the one --card attaches) for a look."""
    from soulsgen_lib.atomic import write_bytes_atomic
    from soulsgen_lib.posting.card import render_card

    image = render_card(text, title)
    write_bytes_atomic(out, image.png)
    click.echo(f"Wrote {out} ({image.width}x{image.height}); alt text: {image.alt}")
