"""What the `soulsgen` and `twitter` command lines share: lazy sectioned groups, settings
options that name their environment variable, and clean error exits."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import click

from soulsgen_lib.errors import SoulsgenError
from soulsgen_lib.settings import Settings, env_var_of

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class LazyGroup(click.Group):
    """A group whose commands are imported only when used, listed under section headings.

    `commands_by_section` maps a heading to {command name: "module:attribute"}; importing
    lazily keeps `--help` fast (no torch, Airflow or tweepy at start-up).
    """

    def __init__(self, *args: Any, commands_by_section: dict[str, dict[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands_by_section = commands_by_section
        self._targets = {name: target for table in commands_by_section.values() for name, target in table.items()}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self._targets) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        target = self._targets.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        command = getattr(importlib.import_module(module_name), attribute)
        self.commands[cmd_name] = command
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        limit = formatter.width - 6 - max((len(name) for name in self.list_commands(ctx)), default=0)
        for section, table in self.commands_by_section.items():
            rows = []
            for name in table:
                command = self.get_command(ctx, name)
                if command is not None and not command.hidden:
                    rows.append((name, command.get_short_help_str(limit)))
            if rows:
                with formatter.section(section):
                    formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SoulsgenError as error:
            click.secho(f"Error: {error}", err=True, fg="red")
            sys.exit(getattr(error, "exit_code", 1))


def setting_option(setting: str, *param_decls: str, **kwargs: Any) -> Any:
    """A click option that overrides a Settings field; its help names the environment variable.

    The option defaults to None so that the environment and `.env` decide when it is not given.
    """
    env = env_var_of(setting)
    kwargs["help"] = f"{kwargs.get('help', '')} [env: {env}]".strip()
    kwargs.setdefault("default", None)
    return click.option(*param_decls, setting, **kwargs)


def config_option(flag: str, defaults: Any, field: str | None = None, **kwargs: Any) -> Any:
    """A click option for one field of a config dataclass, defaulting (in --help too) to `defaults`' value.

    The parameter is named after the field (by default the flag's name), so the command passes it on as is.
    """
    field = field or flag.lstrip("-").replace("-", "_")
    return click.option(flag, field, default=getattr(defaults, field), show_default=True, **kwargs)


def folder_option(flag: str, param: str, help: str, exists: bool = False, **kwargs: Any) -> Any:
    """A click option that names a folder, as a Path (one that must exist when `exists`)."""
    kind = click.Path(exists=exists, file_okay=False, path_type=Path)
    return click.option(flag, param, type=kind, help=help, **kwargs)


model_option = folder_option(
    "--model", "model_dir", "Model folder written by `soulsgen train` (default: $SOULSGEN_HOME/work/model)."
)
home_option = setting_option("home", "--home", type=click.Path(path_type=Path), help="Local artifact root.")


def artifact_folder(value: Path | None, home: Path | None, folder: str) -> Path:
    """`value` when given, else the Settings folder named `folder` (e.g. `work_model_dir`) under the home."""
    return value if value is not None else getattr(load_settings(home=home), folder)


def load_settings(**overrides: Any) -> Settings:
    """Settings for a command: its options first, then the environment and `.env`."""
    return Settings.load(**{key: value for key, value in overrides.items() if value is not None})
