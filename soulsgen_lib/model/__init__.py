"""The model stage: tokenizers, GPT-2 decoder, training, decoding, filters, generation and evaluation.

By concept: `config` (presets and settings), `data` (words, sentences, packing, loss), `tokenizer`,
`gpt`, `train` (the loop and checkpoints), `decoding` (batched sampling), `filters`, `novelty`,
`generate` (requests in, results out) and `evaluate`. Importing this package is cheap (no torch);
the submodules import torch when used. The folders it reads and writes: `soulsgen_lib.folders`.
"""

from __future__ import annotations

from typing import Any

from soulsgen_lib.model.errors import ModelError

__all__ = ["MODEL_FILES", "ModelError"]


def __getattr__(name: str) -> Any:
    # MODEL_FILES stays importable from here for the stages that list a model folder's files.
    if name == "MODEL_FILES":
        from soulsgen_lib.folders import ModelFolder

        return ModelFolder.FILES
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
