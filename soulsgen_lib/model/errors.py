"""The error type of the model stage (tokenizer, training, generation, evaluation)."""

from __future__ import annotations

from soulsgen_lib.errors import SoulsgenError


class ModelError(SoulsgenError):
    """A model folder, corpus folder or model option is missing or unusable."""
