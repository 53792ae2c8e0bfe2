"""`soulsgen upload` and `soulsgen download`: move artifact versions between this machine and the store."""

from __future__ import annotations

from pathlib import Path

import click

from soulsgen_lib.atomic import OutputKind, check_output_folder
from soulsgen_lib.cli.common import folder_option, load_settings, setting_option
from soulsgen_lib.folders import CorpusFolder, ModelFolder
from soulsgen_lib.storage import KINDS, open_settings_store

_DOWNLOADED = {  # what a folder holds when an earlier download of each kind went there
    "corpus": OutputKind("corpus folder", markers=(CorpusFolder.MANIFEST,)),
    "model": OutputKind("model folder", markers=(ModelFolder.CARD,)),
    "mar": OutputKind("model store", markers=("*.mar",)),
}

KIND_HELP = "corpus: a corpus folder; model: a trained model folder; mar: a TorchServe .mar (file or its folder)."
BUCKET_HELP = "Store root: gs://bucket[/prefix] or a local folder; empty uses SOULSGEN_HOME."


@click.command()
@click.argument("local_path", type=click.Path(exists=True, path_type=Path))
@click.option("--kind", type=click.Choice(KINDS), required=True, help=KIND_HELP)
@click.option("--version", "version", required=True, help="Version name, e.g. 2026-11-28 or v3.")
@setting_option("bucket", "--bucket", help=BUCKET_HELP)
def upload(local_path: Path, kind: str, version: str, bucket: str | None) -> None:
    """Publish LOCAL_PATH as version VERSION of KIND, then point `latest` at it.

    The `latest` pointer moves only after every file is stored, so readers never see a
    half-uploaded version. Uploading the same version again replaces it with LOCAL_PATH
    (unchanged files are not sent again).
    """
    store = open_settings_store(load_settings(bucket=bucket))
    where = store.publish(kind, version, local_path)
    click.echo(f"published {kind} {version} at {where}; {kind} latest -> {version}")


@click.command()
@click.argument("kind", type=click.Choice(KINDS))
@click.option("--version", "version", default="latest", show_default=True, help="Version name, or latest.")
@folder_option(
    "--out",
    "out_dir",
    "Folder to write into: new, empty or an earlier download of KIND (other files in it are kept).",
    required=True,
)
@setting_option("bucket", "--bucket", help=BUCKET_HELP)
def download(kind: str, version: str, out_dir: Path, bucket: str | None) -> None:
    """Fetch a version of KIND (corpus, model or mar) from the store into --out."""
    out_dir = check_output_folder(out_dir, _DOWNLOADED[kind])
    store = open_settings_store(load_settings(bucket=bucket))
    resolved = store.resolve(kind, version)
    path = store.download(kind, resolved, out_dir)
    click.echo(f"downloaded {kind} {resolved} to {path}")
