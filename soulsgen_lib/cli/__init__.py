"""The `soulsgen` command line: a thin click wrapper over the library."""

from __future__ import annotations

import click

from soulsgen_lib import __version__
from soulsgen_lib.cli.common import CONTEXT_SETTINGS, LazyGroup

COMMANDS_BY_SECTION: dict[str, dict[str, str]] = {
    "Data commands": {"corpus": "soulsgen_lib.cli.corpus:corpus"},
    "Model commands": {
        "tokenizer": "soulsgen_lib.cli.model:tokenizer",
        "train": "soulsgen_lib.cli.model:train",
        "generate": "soulsgen_lib.cli.model:generate",
        "evaluate": "soulsgen_lib.cli.model:evaluate",
    },
    "Serving commands": {
        "package": "soulsgen_lib.cli.serving:package",
        "serve": "soulsgen_lib.cli.serving:serve",
        "ask": "soulsgen_lib.cli.serving:ask",
    },
    "Posting commands": {"post": "soulsgen_lib.cli.posting:post", "card": "soulsgen_lib.cli.posting:card"},
    "Storage commands": {"upload": "soulsgen_lib.cli.storage:upload", "download": "soulsgen_lib.cli.storage:download"},
    "Settings commands": {"config": "soulsgen_lib.cli.config:config"},
    "Deployment commands": {"stack": "soulsgen_lib.cli.stack:stack"},
}


@click.group(cls=LazyGroup, commands_by_section=COMMANDS_BY_SECTION, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="soulsgen")
def main() -> None:
    """Turn FromSoftware game text into a small GPT-2 model that writes new souls-like sentences.

    Settings come from options, then environment variables, then a `.env` file in the
    current folder; `soulsgen config` shows what is in effect.
    """
