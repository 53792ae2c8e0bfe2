"""Storage fixtures: a real GCS-compatible server (gcp-storage-emulator) for the whole session, a bucket per test.

`gcs_emulator` starts the emulator once, sets STORAGE_EMULATOR_HOST (google-cloud-storage, the store and
Airflow's GCSHook all follow it) and creates the bucket `gcs_emulator.bucket`; `gcs_bucket` gives each
test an empty bucket of its own as a `gs://name` URL.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class GcsEmulator:
    host: str  # the STORAGE_EMULATOR_HOST value, e.g. http://127.0.0.1:40123
    bucket: str  # a bucket created at start, shared by the session
    log: Path  # the emulator's request log (it shows the query parameters the client sent)

    def create_bucket(self, name: str) -> str:
        """Create a bucket and return its gs:// URL."""
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        storage.Client(project="emulator", credentials=AnonymousCredentials()).create_bucket(name)
        return f"gs://{name}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _emulator_command() -> str:
    beside_python = Path(sys.executable).parent / "gcp-storage-emulator"
    found = str(beside_python) if beside_python.exists() else shutil.which("gcp-storage-emulator")
    if not found:
        raise RuntimeError("gcp-storage-emulator is not installed: pip install -r requirements.txt")
    return found


@pytest.fixture(scope="session")
def gcs_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GcsEmulator]:
    port = _free_port()
    host = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("gcs-emulator") / "requests.log"
    with open(log, "wb") as log_file:
        process = subprocess.Popen(
            [_emulator_command(), "start", "--host", "127.0.0.1", "--port", str(port), "--in-memory"],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    previous = os.environ.get("STORAGE_EMULATOR_HOST")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(host, timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gcp-storage-emulator did not start on {host}:\n{log.read_text()}") from None
                time.sleep(0.1)
        os.environ["STORAGE_EMULATOR_HOST"] = host
        emulator = GcsEmulator(host=host, bucket="soulsgen-test", log=log)
        emulator.create_bucket(emulator.bucket)
        yield emulator
    finally:
        if previous is None:
            os.environ.pop("STORAGE_EMULATOR_HOST", None)
        else:
            os.environ["STORAGE_EMULATOR_HOST"] = previous
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def gcs_bucket(gcs_emulator: GcsEmulator) -> str:
    """A new, empty bucket on the emulator, as `gs://name`."""
    return gcs_emulator.create_bucket(f"test-{uuid.uuid4().hex[:12]}")
