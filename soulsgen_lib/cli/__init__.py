"""The `soulsgen` command line: a thin click wrapper over the library."""

from __future__ import annotations

import click

from soulsgen_lib import __version__
from soulsgen_lib.cli.common import CONTEXT_SETTINGS, LazyGroup

COMMANDS_BY_SECTION: dict[str, dict[str, str]] = {
    "Data commands": {},
    "Model commands": {},
    "Serving commands": {},
    "Storage commands": {},
    "Settings commands": {"config": "soulsgen_lib.cli.config:config"},
}


@click.group(cls=LazyGroup, commands_by_section=COMMANDS_BY_SECTION, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="soulsgen")
def main() -> None:
    """Turn FromSoftware game text into a small GPT-2 model that writes new souls-like sentences.

    Settings come from options, then environment variables, then a `.env` file in the
    current folder; `soulsgen config` shows what is in effect.
    """
