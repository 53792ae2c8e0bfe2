"""`soulsgen stack up|down|status|restart|compose`: the deployed topology as local processes."""

from __future__ import annotations

import json
from pathlib import Path

import click

from soulsgen_lib.cli.common import config_option, folder_option, home_option, load_settings
from soulsgen_lib.stack.topology import EXECUTORS, StackConfig

DEFAULTS = StackConfig(home=Path("artifacts"))


def _home(home: Path | None) -> Path:
    return load_settings(home=home).home


@click.group()
def stack() -> None:
    """Run docker-compose.yaml's services as processes here: Airflow on PostgreSQL, TorchServe, workers.

    PostgreSQL (and Redis for Celery) must already run; `up` creates its own database in it.
    """


@stack.command()
@config_option("--executor", DEFAULTS, type=click.Choice(sorted(EXECUTORS)))
@config_option(
    "--postgres",
    DEFAULTS,
    "postgres_url",
    help="PostgreSQL server (no database, no password: POSTGRES_PASSWORD comes from the environment or .env).",
)
@config_option("--database", DEFAULTS, help="Database to create and use.")
@config_option("--redis", DEFAULTS, "redis_url", help="Celery broker.")
@config_option("--api-port", DEFAULTS, type=int, help="Airflow UI and REST API.")
@config_option(
    "--torchserve-port",
    DEFAULTS,
    type=int,
    help="TorchServe inference; management, metrics and gRPC take the next four ports.",
)
@config_option("--log-port", DEFAULTS, type=int, help="First log-server port (scheduler, triggerer, then each worker).")
@folder_option(
    "--gamedata",
    "datasource_dir",
    "Game text for the pipeline's default source [env: DATASOURCE_DIR; default: sample_data].",
    exists=True,
)
@home_option
def up(
    executor: str,
    postgres_url: str,
    database: str,
    redis_url: str,
    api_port: int,
    torchserve_port: int,
    log_port: int,
    datasource_dir: Path | None,
    home: Path | None,
) -> None:
    """Start the stack: migrate the database, start Airflow's services and TorchServe; print the UI's URL."""
    from soulsgen_lib.stack.processes import up as start_stack

    settings = load_settings(home=home, datasource_dir=datasource_dir)
    config = StackConfig(
        home=settings.home,
        executor=executor,
        postgres_url=postgres_url,
        database=database,
        redis_url=redis_url,
        api_port=api_port,
        torchserve_port=torchserve_port,
        log_port=log_port,
        datasource_dir=settings.datasource_dir or DEFAULTS.datasource_dir,
    )
    start_stack(config, Path(".env"), say=click.echo)


@stack.command()
@click.option("--drop-database", is_flag=True, help="Also drop the database, if `up` created it.")
@home_option
def down(drop_database: bool, home: Path | None) -> None:
    """Stop what `stack up` started (by its PID files), and nothing else."""
    from soulsgen_lib.stack.processes import down as stop_stack

    stopped = stop_stack(_home(home), drop_database=drop_database)
    click.echo(f"Stopped {', '.join(stopped)}" if stopped else "Nothing was running")


@stack.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@home_option
def status(as_json: bool, home: Path | None) -> None:
    """The executor, the metadata database (password hidden) and each service's state and URL."""
    from soulsgen_lib.stack.processes import stack_status

    report = stack_status(_home(home))
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(f"executor  {report['executor']}\ndatabase  {report['database']}")
    for name, service in report["services"].items():
        click.echo(f"{name:<14} {service['state']:<8} {service.get('url', '')}")


@stack.command()
@click.argument("service")
@home_option
def restart(service: str, home: Path | None) -> None:
    """Restart one service (e.g. scheduler, worker-1, torchserve) with the stack's settings."""
    from soulsgen_lib.stack.processes import restart as restart_service

    restart_service(_home(home), service)
    click.echo(f"Restarted {service}")


@stack.command()
@click.option("--write", is_flag=True, help="Write docker-compose.yaml instead of printing it.")
def compose(write: bool) -> None:
    """Print (or write) docker-compose.yaml as rendered from the stack's topology."""
    from soulsgen_lib.atomic import write_text_atomic
    from soulsgen_lib.stack.compose import COMPOSE_FILE, render_compose

    text = render_compose()
    if write:
        write_text_atomic(COMPOSE_FILE, text)
        click.echo(f"Wrote {COMPOSE_FILE}")
    else:
        click.echo(text, nl=False)
