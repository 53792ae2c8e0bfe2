"""The steps of the hourly `soulsgen_tweet` DAG: budget, a checked sentence, the post (or a dry run)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from soulsgen_lib.posting.budget import Budget, budget_status
from soulsgen_lib.posting.history import open_history
from soulsgen_lib.posting.post import pick_sentence, post_sentence
from soulsgen_lib.posting.sources import client_source, model_source
from soulsgen_lib.posting.target import PreviewTarget
from soulsgen_lib.settings import Settings

if TYPE_CHECKING:
    from soulsgen_lib.posting.target import PostingTarget
    from soulsgen_lib.serving.client import TorchServeClient

log = logging.getLogger(__name__)


def budget_left(settings: Settings | None = None) -> dict:
    """The posting budget counted from the history, as a small dict with `spent` and `explain`."""
    settings = settings or Settings.load()
    status = budget_status(open_history(settings).records(), Budget.from_settings(settings))
    return {**status.to_dict(), "spent": status.spent, "explain": status.explain()}


def newest_local_model(settings: Settings) -> Path:
    """The newest published model, downloaded once into `<home>/cache/models/<version>`."""
    from soulsgen_lib.storage import open_settings_store

    store = open_settings_store(settings)
    version = store.latest("model")
    if version is None:
        from soulsgen_lib.storage import StorageError

        raise StorageError(
            f"no model published in {store.root} and no TorchServe connection: run soulsgen_pipeline first"
        )
    target = settings.home / "cache" / "models" / version
    if not (target / "model.pt").exists():
        store.download("model", version, target, progress=False)
    return target


def write_sentence(client: TorchServeClient | None, settings: Settings | None = None, max_asks: int = 5) -> dict:
    """One sentence that passes every posting check, from TorchServe or else the newest local model."""
    settings = settings or Settings.load()
    records = open_history(settings).records()
    if client is not None:
        log.info("Asking TorchServe at %s", client.endpoint)
        ask = client_source(client)
        source = "torchserve"
    else:
        model_dir = newest_local_model(settings)
        log.info("No TorchServe connection: generating with the local model %s", model_dir)
        ask = model_source(model_dir)
        source = str(model_dir)
    sentence = pick_sentence(ask, records, max_asks)
    return {"text": sentence.text, "model_version": sentence.model_version, "source": source}


def post(sentence: dict, target: PostingTarget | None, settings: Settings | None = None) -> dict:
    """Post the sentence and record it; with no target, a dry run that sends and records nothing."""
    settings = settings or Settings.load()
    dry_run = target is None
    if dry_run:
        log.warning("No X credentials (connection soulsgen_x): DRY RUN, nothing is posted")
    outcome = post_sentence(
        sentence["text"],
        target or PreviewTarget(),
        open_history(settings),
        Budget.from_settings(settings),
        model_version=sentence.get("model_version"),
        dry_run=dry_run,
    )
    log.info("%s: %s", "Would post" if dry_run else f"Posted {outcome.post_id}", outcome.text)
    return outcome.to_dict()
