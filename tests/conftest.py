"""Shared test set-up. Fixture modules of each stage are registered in `pytest_plugins`."""

import os

# Set before anything imports gcsfs: its experimental gRPC path hangs against the emulator.
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")

pytest_plugins: list[str] = []
