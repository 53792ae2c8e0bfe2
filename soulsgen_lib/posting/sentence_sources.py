"""Where a post's sentence comes from: given text, a running TorchServe, or a local model folder."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from soulsgen_lib.posting.post import Sentence, SentenceSource
from soulsgen_lib.settings import Secret

if TYPE_CHECKING:
    from soulsgen_lib.serving.client import TorchServeClient


def text_source(text: str) -> SentenceSource:
    """Always the given text (asking again gives the same text, so one ask is enough)."""
    return lambda: Sentence(text)


def endpoint_source(endpoint: str, token: Secret | str = "") -> SentenceSource:
    """One sentence per ask from TorchServe's SoulsGen model."""
    from soulsgen_lib.serving.client import TorchServeClient

    return client_source(TorchServeClient(endpoint, token=token))


def client_source(client: TorchServeClient) -> SentenceSource:
    """One sentence per ask through an existing TorchServe client (e.g. built by an Airflow hook)."""

    def ask() -> Sentence:
        answer = client.sentence()
        return Sentence(answer["text"], answer.get("model_version"))

    return ask


def model_source(model_dir: Path) -> SentenceSource:
    """One sentence per ask from a model folder loaded once (torch is imported here, not at start-up)."""
    from soulsgen_lib.model.generate import Generator

    generator = Generator.load(Path(model_dir))

    def ask() -> Sentence:
        return Sentence(generator.sample(1)[0], generator.model_version)

    return ask
