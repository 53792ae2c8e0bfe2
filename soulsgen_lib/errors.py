"""The base error of every SoulsGen stage; each stage subclasses it with its own type."""

from __future__ import annotations


class SoulsgenError(Exception):
    """An error the user can fix; the CLIs print its message without a traceback."""
