"""Shared test set-up. Fixture modules of each stage are registered in `pytest_plugins`."""

import os
import tempfile

# Set before anything imports gcsfs: its experimental gRPC path hangs against the emulator.
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
# Airflow reads its home at import: keep tests away from ~/airflow and `make demo`'s home, and the
# examples out of DagBags.
os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="soulsgen-airflow-")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"

pytest_plugins: list[str] = [
    "fixtures_storage",
    "fixtures_posting",
    "fixtures_corpus",
    "fixtures_model",
    "fixtures_serving",
]
