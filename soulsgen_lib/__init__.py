"""SoulsGen: game text to a small GPT-2 model, served with TorchServe and posted to X, Bluesky and Mastodon."""

from __future__ import annotations

__version__ = "0.1.0"
