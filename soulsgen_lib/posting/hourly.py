"""The steps of the hourly posting DAG (`soulsgen_tweet`): budgets, one checked sentence, one post per network."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from soulsgen_lib.folders import ModelFolder
from soulsgen_lib.posting.budget import Budget, budget_status
from soulsgen_lib.posting.history import PostRecord, on_network, open_history
from soulsgen_lib.posting.networks import CARD_NETWORKS, has_credentials, parse_networks, target_from_settings
from soulsgen_lib.posting.post import pick_sentence, post_sentence
from soulsgen_lib.posting.sentence_sources import client_source, model_source
from soulsgen_lib.posting.target import PreviewTarget
from soulsgen_lib.settings import Settings

if TYPE_CHECKING:
    from soulsgen_lib.posting.target import PostingTarget
    from soulsgen_lib.serving.client import TorchServeClient

log = logging.getLogger(__name__)


def networks_with_budget(settings: Settings | None = None, networks: tuple[str, ...] | None = None) -> list[str]:
    """The networks (POST_NETWORKS by default) whose budget is not spent; each spent one is logged."""
    settings = settings or Settings.load()
    networks = networks or parse_networks(settings.post_networks, "POST_NETWORKS")
    records = open_history(settings).records()
    open_networks = []
    for network in networks:
        status = budget_status(on_network(records, network), Budget.from_settings(settings, network))
        log.info("%s", status.explain())
        if not status.spent:
            open_networks.append(network)
    return open_networks


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
    if not ModelFolder(target).file(ModelFolder.WEIGHTS).exists():
        store.download("model", version, target, progress=False)
    return target


def records_on(networks: list[str], settings: Settings) -> list[PostRecord]:
    """The settled records of these networks: a sentence must be new on each of them."""
    records = open_history(settings).records()
    return [record for network in networks for record in on_network(records, network)]


def write_sentence(
    client: TorchServeClient | None, networks: list[str], settings: Settings | None = None, max_asks: int = 5
) -> dict:
    """One sentence that passes every posting check on `networks`, from TorchServe or else the newest local model."""
    settings = settings or Settings.load()
    if client is not None:
        log.info("Asking TorchServe at %s", client.endpoint)
        ask = client_source(client)
        source = "torchserve"
    else:
        model_dir = newest_local_model(settings)
        log.info("No TorchServe connection: generating with the local model %s", model_dir)
        ask = model_source(model_dir)
        source = str(model_dir)
    sentence = pick_sentence(ask, records_on(networks, settings), max_asks)
    return {"text": sentence.text, "model_version": sentence.model_version, "source": source}


def target_or_dry_run(network: str, target: PostingTarget | None, settings: Settings) -> PostingTarget | None:
    """The connection's target, else one from the environment's credentials, else None (a dry run)."""
    if target is not None:
        return target
    if has_credentials(network, settings):
        return target_from_settings(network, settings)
    return None


def post_to(network: str, sentence: dict, target: PostingTarget | None, settings: Settings | None = None) -> dict:
    """Post the sentence to one network and record it; with no target, a dry run that sends and records nothing."""
    settings = settings or Settings.load()
    dry_run = target is None
    if dry_run:
        log.warning(
            "No %s credentials (connection soulsgen_%s or settings): DRY RUN, nothing is posted", network, network
        )
    card = None
    if network in set(parse_networks(settings.post_cards, "POST_CARDS") if settings.post_cards else ()) & CARD_NETWORKS:
        from soulsgen_lib.posting.card import render_card

        card = render_card(sentence["text"])
    record = post_sentence(
        sentence["text"],
        target or PreviewTarget(network),
        open_history(settings),
        Budget.from_settings(settings, network),
        model_version=sentence.get("model_version"),
        dry_run=dry_run,
        card=card,
    )
    if dry_run:
        log.info("Dry run on %s. Would post: %s", network, record.text)
    else:
        log.info("Posted %s to %s: %s", record.post_id, network, record.text)
    return record.to_dict()
