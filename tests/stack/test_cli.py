import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from soulsgen_lib.cli import main as soulsgen
from soulsgen_lib.cli.twitter import main as twitter

VENV_BIN = Path(sys.executable).parent


@pytest.mark.parametrize("program", ["soulsgen", "twitter"])
def test_console_scripts_are_installed_and_print_help(program):
    result = subprocess.run([str(VENV_BIN / program), "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout
    assert "commands" in result.stdout


def test_soulsgen_help_lists_command_sections():
    result = CliRunner().invoke(soulsgen, ["--help"])
    assert result.exit_code == 0
    assert "Settings commands" in result.output
    assert "config" in result.output


@pytest.mark.parametrize(
    ("cli", "args"),
    [(soulsgen, ["no-such-command"]), (soulsgen, ["--no-such-option"]), (twitter, ["no-such-command"])],
)
def test_usage_errors_exit_2_without_traceback(cli, args):
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert "Usage:" in result.output
    assert "Traceback" not in result.output


def run_config(folder: Path, monkeypatch, dotenv: str):
    """`soulsgen config` run in `folder`, with `dotenv` as its .env file."""
    monkeypatch.chdir(folder)
    (folder / ".env").write_text(dotenv)
    return CliRunner().invoke(soulsgen, ["config"])


def test_config_shows_env_names_and_hides_secrets(tmp_path, monkeypatch):
    result = run_config(tmp_path, monkeypatch, "TWITTER_TOKEN_SECRET=do-not-print-me\nBUCKET=gs://demo\n")
    assert result.exit_code == 0, result.output
    assert "gs://demo" in result.output
    assert "TWITTER_TOKEN_SECRET" in result.output
    assert "do-not-print-me" not in result.output


def test_library_error_is_one_line_and_exit_1(tmp_path, monkeypatch):
    result = run_config(tmp_path, monkeypatch, "POST_DAILY_BUDGET=many\n")
    assert result.exit_code == 1
    assert "Error: POST_DAILY_BUDGET must be a whole number" in result.output
    assert "Traceback" not in result.output
