"""The `twitter` command line: authorise an account and post sentences to X."""

from __future__ import annotations

import click

from soulsgen_lib import __version__
from soulsgen_lib.cli.common import CONTEXT_SETTINGS, LazyGroup

COMMANDS_BY_SECTION: dict[str, dict[str, str]] = {
    "Account commands": {
        "auth": "soulsgen_lib.posting.commands:auth",
        "whoami": "soulsgen_lib.posting.commands:whoami",
    },
    "Posting commands": {
        "post": "soulsgen_lib.posting.commands:post",
        "history": "soulsgen_lib.posting.commands:history",
    },
}


@click.group(cls=LazyGroup, commands_by_section=COMMANDS_BY_SECTION, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="twitter")
def main() -> None:
    """Post SoulsGen sentences to X (Twitter) with OAuth 1.0a user credentials.

    Credentials come from options, then TWITTER_* environment variables, then `.env`.
    """
