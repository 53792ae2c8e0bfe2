"""TorchServe's management API: list, register, make default and retire model versions (needs only `requests`)."""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from soulsgen_lib.serving.client import ServingError, describe_error
from soulsgen_lib.settings import Secret

MANAGEMENT_TOKEN_HINT = 'pass the "management" key of the server\'s key_file.json'


@dataclass(frozen=True)
class ServerKeys:
    """The tokens TorchServe writes to `key_file.json` when token auth is on."""

    management: Secret
    inference: Secret

    @classmethod
    def read(cls, key_file: Path) -> ServerKeys:
        """Read `key_file.json`; ServingError names the file when it is missing or malformed."""
        try:
            keys = json.loads(key_file.read_text(encoding="utf-8"))
            return cls(Secret(keys["management"]["key"]), Secret(keys["inference"]["key"]))
        except FileNotFoundError:
            raise ServingError(f"{key_file} does not exist: is TorchServe running with token auth?") from None
        except (ValueError, KeyError, TypeError):
            raise ServingError(f"{key_file} is not a TorchServe key file (no management/inference keys)") from None


def read_mar_manifest(mar_path: Path) -> dict[str, Any]:
    """The "model" section of a MAR's MAR-INF/MANIFEST.json (modelName, modelVersion, handler, ...)."""
    try:
        with zipfile.ZipFile(mar_path) as archive:
            return json.loads(archive.read("MAR-INF/MANIFEST.json"))["model"]
    except FileNotFoundError:
        raise ServingError(f"{mar_path} does not exist: build one with `soulsgen package`") from None
    except (zipfile.BadZipFile, KeyError, ValueError):
        raise ServingError(f"{mar_path} is not a model archive (no MAR-INF/MANIFEST.json)") from None


class ManagementClient:
    """Calls on TorchServe's management API, authorised with the management token."""

    def __init__(self, management_url: str, token: str | Secret, timeout: float = 30.0) -> None:
        self.management_url = management_url.rstrip("/")
        self.timeout = timeout
        self._token = token.get_secret_value() if isinstance(token, Secret) else token

    def __repr__(self) -> str:
        return f"ManagementClient({self.management_url!r})"

    def versions(self, model_name: str) -> list[dict[str, Any]]:
        """Every registered version's description (workers, batch size, ...); [] when the model is unknown."""
        response = self._call("GET", f"/models/{model_name}/all", allow_404=True)
        return [] if response.status_code == 404 else response.json()

    def register(self, mar_url: str, model_name: str, workers: int, timeout: float) -> None:
        """Register a MAR and wait until its workers have loaded the model."""
        params = {"url": mar_url, "model_name": model_name, "initial_workers": workers, "synchronous": "true"}
        self._call("POST", "/models", params=params, timeout=timeout)

    def set_default(self, model_name: str, version: str) -> None:
        self._call("PUT", f"/models/{model_name}/{version}/set-default")

    def unregister(self, model_name: str, version: str) -> None:
        self._call("DELETE", f"/models/{model_name}/{version}")

    def _call(
        self, method: str, path: str, allow_404: bool = False, timeout: float | None = None, **kwargs: Any
    ) -> requests.Response:
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        try:
            response = requests.request(
                method, self.management_url + path, headers=headers, timeout=timeout or self.timeout, **kwargs
            )
        except requests.RequestException as error:
            raise ServingError(
                f"cannot reach TorchServe's management API at {self.management_url} ({type(error).__name__})"
            ) from None
        if response.status_code >= 400 and not (allow_404 and response.status_code == 404):
            raise ServingError(describe_error(response, self.management_url, MANAGEMENT_TOKEN_HINT))
        return response


def deploy_mar(
    management_url: str,
    mar: str | Path,
    token: str | Secret,
    model_name: str = "soulsgen",
    workers: int = 1,
    retire_previous: bool = True,
    timeout: float = 300.0,
    model_store: Path | None = None,
) -> dict[str, Any]:
    """Register a model version (unless it already is), make it the default, then unregister the older versions.

    Returns {"model_name", "version" (now the default), "retired" (versions unregistered)}: small
    enough for an Airflow XCom. Deploying a version that is already registered only makes it the
    default, so a rerun is harmless.

    `mar` is a file name in the server's model store, an http(s):// or file:// URL, or a local
    path. A local path inside `model_store` (the server's own) is registered by file name; any
    other is handed to TorchServe as a copy named `<model>-<version>.mar` (the server must see
    the same file system). Requests keep going to the old default until the new version's
    workers are ready.
    """
    manager = ManagementClient(management_url, token)
    before = {entry["modelVersion"] for entry in manager.versions(model_name)}
    if isinstance(mar, Path) or (Path(mar).is_absolute() and Path(mar).is_file()):
        mar_path = Path(mar)
        version = read_mar_manifest(mar_path)["modelVersion"]
        if version in before:
            pass  # registered by an earlier deploy: only the default and retirements remain
        elif model_store is not None and mar_path.resolve().parent == Path(model_store).resolve():
            manager.register(mar_path.name, model_name, workers, timeout)
        else:
            # TorchServe refuses a file:// MAR whose file name is already in its store (soulsgen.mar is):
            # hand it a copy named after the version.
            with tempfile.TemporaryDirectory(prefix="soulsgen-deploy-") as staging:
                staged = Path(staging) / f"{model_name}-{version}.mar"
                shutil.copyfile(mar_path, staged)
                manager.register(staged.resolve().as_uri(), model_name, workers, timeout)
    else:
        manager.register(str(mar), model_name, workers, timeout)
        added = {entry["modelVersion"] for entry in manager.versions(model_name)} - before
        if len(added) != 1:
            raise ServingError(f"registering {mar} at {management_url} added versions {sorted(added)}, expected one")
        version = added.pop()
    manager.set_default(model_name, version)
    retired = sorted(before - {version}) if retire_previous else []
    for old_version in retired:
        manager.unregister(model_name, old_version)
    return {"model_name": model_name, "version": version, "retired": retired}
