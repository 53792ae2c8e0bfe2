"""`soulsgen package`, `soulsgen serve` (and `serve --stop`, `serve deploy`) and `soulsgen ask`."""

from __future__ import annotations

from pathlib import Path

import click

from soulsgen_lib.atomic import OutputKind, check_output_folder
from soulsgen_lib.cli.common import (
    artifact_folder,
    config_option,
    folder_option,
    home_option,
    load_settings,
    model_option,
    setting_option,
)
from soulsgen_lib.serving.package import PackageOptions
from soulsgen_lib.serving.server import ServeOptions

_PACKAGE = PackageOptions()  # the library's defaults, shown by --help
_SERVE = ServeOptions()

_MODEL_STORE = OutputKind("model store", markers=("*.mar",))


def _serve_dir(home: Path | None) -> Path:
    return load_settings(home=home).serve_dir


@click.command()
@model_option
@folder_option("--out", "model_store", "Model store to write soulsgen.mar into (default: $SOULSGEN_HOME/model-store).")
@click.option("--version", default=None, help="Archive version (default: the model card's model_version).")
@config_option("--batch-size", _PACKAGE, type=click.IntRange(min=1), help="Requests per batch.")
@config_option(
    "--max-batch-delay",
    _PACKAGE,
    "max_batch_delay_ms",
    type=click.IntRange(min=0),
    help="Milliseconds TorchServe waits to fill a batch (added to a lone request's latency).",
)
@config_option("--workers", _PACKAGE, type=click.IntRange(min=1), help="Worker processes.")
@config_option(
    "--response-timeout", _PACKAGE, "response_timeout_s", type=click.IntRange(min=1), help="Seconds per batch."
)
@click.option(
    "--torch-threads",
    type=click.IntRange(min=1),
    default=None,
    help="Torch threads per worker (default: one per core); cores / workers is a good value.",
)
@click.option(
    "--precision",
    type=click.Choice(("fp32", "bf16")),
    default=None,
    help="Weights' precision (default: bf16 on GPUs that support it, else fp32). "
    "bf16 on a CPU: lone sentences ~1.7x faster, big batches slower.",
)
@home_option
def package(
    model_dir: Path | None,
    model_store: Path | None,
    version: str | None,
    batch_size: int,
    max_batch_delay_ms: int,
    workers: int,
    response_timeout_s: int,
    torch_threads: int | None,
    precision: str | None,
    home: Path | None,
) -> None:
    """Build soulsgen.mar for TorchServe: handler, model folder and soulsgen_lib in one archive.

    Refuses a model folder that lacks any file a served model needs. The archive replaces the
    old one only once it is complete.
    """
    from soulsgen_lib.serving.package import package_model

    options = PackageOptions(
        batch_size=batch_size,
        max_batch_delay_ms=max_batch_delay_ms,
        workers=workers,
        response_timeout_s=response_timeout_s,
        torch_threads=torch_threads,
        precision=precision,
    )
    model_dir = artifact_folder(model_dir, home, "work_model_dir")
    mar = package_model(
        model_dir,
        check_output_folder(artifact_folder(model_store, home, "model_store_dir"), _MODEL_STORE, [model_dir]),
        version,
        options,
    )
    click.echo(f"Wrote {mar}")


@click.group(invoke_without_command=True)
@folder_option("--model-store", "model_store", "Folder holding soulsgen.mar (default: $SOULSGEN_HOME/model-store).")
@config_option(
    "--port",
    _SERVE,
    "base_port",
    type=click.IntRange(1024, 65530),
    help="Inference port; management, metrics and the two gRPC APIs take the next four.",
)
@click.option("--stop", is_flag=True, help="Stop the TorchServe started from this artifact folder.")
@config_option("--startup-timeout", _SERVE, type=float, help="Seconds to wait for the model.")
@home_option
@click.pass_context
def serve(
    ctx: click.Context, model_store: Path | None, base_port: int, stop: bool, startup_timeout: float, home: Path | None
) -> None:
    """Start TorchServe with soulsgen.mar in the background (or stop it with --stop).

    Everything binds to 127.0.0.1 with token auth on; config.properties, logs and the token
    file (key_file.json) live in $SOULSGEN_HOME/serve/. `soulsgen ask` finds a server started
    here by itself.
    """
    if ctx.invoked_subcommand is not None:
        return
    from soulsgen_lib.serving.server import start_server, stop_server

    serve_dir = _serve_dir(home)
    if stop:
        stopped = stop_server(serve_dir)
        click.echo(f"Stopped TorchServe (pid {stopped.pid})." if stopped else f"No TorchServe runs from {serve_dir}.")
        return
    options = ServeOptions(base_port=base_port, startup_timeout=startup_timeout)
    click.echo(f"Starting TorchServe (logs in {serve_dir / 'logs'})...", err=True)
    info = start_server(serve_dir, artifact_folder(model_store, home, "model_store_dir"), options)
    click.echo(f"TorchServe is ready (pid {info.pid}).")
    click.echo(f"  predictions: {info.inference_url}/predictions/{info.model_name}")
    click.echo(f"  management:  {info.management_url}")
    click.echo(f"  metrics:     {info.metrics_url}")
    click.echo(f"  tokens:      {info.key_file} (inference key for TORCHSERVE_TOKEN)")
    click.echo("Stop it with `soulsgen serve --stop`.")


@serve.command()
@click.argument("mar", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--keep-previous", is_flag=True, help="Keep the older versions registered (default: unregister them).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Workers of the new version.")
@home_option
def deploy(mar: Path, keep_previous: bool, workers: int, home: Path | None) -> None:
    """Register MAR as a new version of the running model and make it the default.

    A MAR already in the server's model store is registered by name; any other is copied there as
    soulsgen-<version>.mar. Deploying a registered version again only makes it the default.
    Requests go to the old version until the new one's workers are ready.
    """
    from soulsgen_lib.serving.client import ServingError
    from soulsgen_lib.serving.manage import deploy_mar
    from soulsgen_lib.serving.server import running_server

    serve_dir = _serve_dir(home)
    info = running_server(serve_dir)
    if info is None:
        raise ServingError(f"no TorchServe runs from {serve_dir}: start it with `soulsgen serve`")
    keys = info.keys()
    deployment = deploy_mar(
        info.management_url,
        mar,
        keys.management,
        info.model_name,
        workers,
        not keep_previous,
        model_store=Path(info.model_store),
    )
    click.echo(f"{deployment['model_name']} {deployment['version']} is now the default.")
    if deployment["retired"]:
        click.echo(f"Unregistered: {', '.join(deployment['retired'])}")


@click.command()
@setting_option("torchserve_endpoint", "--endpoint", help="TorchServe inference URL (default: the local server).")
@click.option("-n", "count", type=click.IntRange(min=1), default=1, show_default=True, help="Sentences to print.")
@click.option("--prompt", default=None, help='Start text; "" for none (default: a familiar corpus word).')
@click.option("--temperature", type=float, default=None, help="Sampling temperature (default: the model's).")
@click.option("--top-p", type=float, default=None, help="Nucleus probability mass (default: the model's).")
@click.option("--max-chars", type=int, default=None, help="Longest sentence in characters (default: the model's).")
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Seed of the first sentence (+1 per next).")
@home_option
def ask(
    torchserve_endpoint: str | None,
    count: int,
    prompt: str | None,
    temperature: float | None,
    top_p: float | None,
    max_chars: int | None,
    seed: int | None,
    home: Path | None,
) -> None:
    """Print sentences from a running TorchServe.

    Without TORCHSERVE_ENDPOINT it asks the server `soulsgen serve` started, with the token from
    that server's key file; otherwise it uses TORCHSERVE_TOKEN.
    """
    from soulsgen_lib.serving.client import ServingError, TorchServeClient
    from soulsgen_lib.serving.server import running_server

    settings = load_settings(torchserve_endpoint=torchserve_endpoint, home=home)
    endpoint, token = settings.torchserve_endpoint, settings.torchserve_token
    local = running_server(settings.serve_dir)
    if not endpoint:
        if local is None:
            raise ServingError("no endpoint: pass --endpoint, set TORCHSERVE_ENDPOINT or start `soulsgen serve`")
        endpoint = local.inference_url
    if not token and local is not None and local.inference_url == endpoint.rstrip("/"):
        token = local.keys().inference
    client = TorchServeClient(endpoint, token)
    client.ping()
    for index in range(count):
        answer = client.sentence(prompt, temperature, top_p, max_chars, None if seed is None else seed + index)
        click.echo(answer["text"])
