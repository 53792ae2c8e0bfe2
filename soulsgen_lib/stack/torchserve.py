"""docker/torchserve.properties, the stack's one TorchServe configuration, with its places swapped for a host."""

from __future__ import annotations

import re
from pathlib import Path

from soulsgen_lib.stack import StackError

PROPERTIES_FILE = Path(__file__).resolve().parents[2] / "docker" / "torchserve.properties"
# Where the compose image keeps the artifact store; the properties file names it.
CONTAINER_HOME = "/opt/soulsgen/artifacts"


def read_properties(path: Path = PROPERTIES_FILE) -> dict[str, str]:
    """The key=value lines of a Java properties file (comments and blank lines skipped)."""
    values = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith(("#", "!")):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise StackError(f"{path}:{number}: expected key=value")
        values[key.strip()] = value.strip()
    return values


def allowed_urls_for(model_store: Path) -> str:
    """The allowed_urls value that admits only MAR files directly inside `model_store`."""
    pattern = re.escape(model_store.resolve().as_uri() + "/") + r"[^/]+\.mar"
    return pattern.replace("\\", "\\\\")  # a properties file unescapes backslashes once


def host_properties(model_store: Path, host: str, base_port: int, path: Path = PROPERTIES_FILE) -> str:
    """The properties file's text with addresses on `host` (ports from `base_port` up) and `model_store` local."""
    places = {
        "inference_address": f"http://{host}:{base_port}",
        "management_address": f"http://{host}:{base_port + 1}",
        "metrics_address": f"http://{host}:{base_port + 2}",
        "grpc_inference_address": host,
        "grpc_management_address": host,
        "grpc_inference_port": str(base_port + 3),
        "grpc_management_port": str(base_port + 4),
        "model_store": str(model_store.resolve()),
        "allowed_urls": allowed_urls_for(model_store),
    }
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        key = line.partition("=")[0].strip()
        lines.append(f"{key}={places.pop(key)}" if key in places and not line.lstrip().startswith("#") else line)
    if places:
        raise StackError(f"{path} lacks {', '.join(sorted(places))}: restore it from git")
    return "\n".join(lines) + "\n"
