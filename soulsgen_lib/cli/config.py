"""`soulsgen config`: show the settings in effect, secrets masked."""

from __future__ import annotations

import click

from soulsgen_lib.cli.common import load_settings


@click.command()
def config() -> None:
    """Show every setting, its environment variable and its value (secrets hidden)."""
    settings = load_settings()
    rows = settings.describe()
    width = max(len(env) for env, _, _ in rows)
    for env, shown, help_text in rows:
        click.echo(f"{env:<{width}}  {shown or '(not set)'}")
        click.secho(f"{'':<{width}}  {help_text}", dim=True)
