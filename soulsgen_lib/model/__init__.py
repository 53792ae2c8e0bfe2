"""The model stage: word-level tokenizer, GPT-2 decoder, training, generation and evaluation.

Importing this package is cheap (no torch); the submodules import torch when used.
"""

from __future__ import annotations

from soulsgen_lib.model.errors import ModelError

# Everything a served model needs, all written into the model folder by `train_model`.
MODEL_FILES = ("model.pt", "tokenizer.json", "words.txt", "metrics.json", "model_card.json", "novelty_index.json")

__all__ = ["MODEL_FILES", "ModelError"]
