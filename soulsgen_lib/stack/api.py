"""A small client for the stack's Airflow REST API (v2): log in, unpause, trigger as the UI does, follow a run."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import requests

from soulsgen_lib.stack import StackError

FINISHED = {"success", "failed"}


class AirflowApi:
    """Talks to Airflow's public REST API with a token from the simple auth manager's login."""

    def __init__(self, base_url: str, username: str, password: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()
        response = self._session.post(
            f"{self.base_url}/auth/token", json={"username": username, "password": password}, timeout=timeout
        )
        if response.status_code not in (200, 201):
            raise StackError(
                f"Airflow at {self.base_url} refused the login of {username} (HTTP {response.status_code})"
            )
        self._session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    @classmethod
    def for_admin(cls, base_url: str, passwords_file: Path) -> AirflowApi:
        """Log in as `admin` with the password the simple auth manager generated."""
        try:
            password = json.loads(passwords_file.read_text(encoding="utf-8"))["admin"]
        except (OSError, ValueError, KeyError):
            raise StackError(f"{passwords_file} holds no admin password: is the API server running?") from None
        return cls(base_url, "admin", password)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One call on /api/v2; StackError with the answer's detail on an error status."""
        response = self._session.request(method, f"{self.base_url}/api/v2{path}", timeout=self.timeout, **kwargs)
        if response.status_code >= 400:
            raise StackError(f"{method} /api/v2{path} answered HTTP {response.status_code}: {response.text[:300]}")
        return response.json() if response.content else None

    def wait_for_dag(self, dag_id: str, timeout: float = 180.0) -> dict:
        """The DAG once the dag-processor has parsed it."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.call("GET", f"/dags/{dag_id}")
            except StackError:
                if time.monotonic() > deadline:
                    raise StackError(f"DAG {dag_id} did not appear within {timeout:g} s") from None
                time.sleep(2)

    def unpause(self, dag_id: str) -> None:
        self.call("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, conf: dict | None = None) -> str:
        """Trigger a run the way the UI's Trigger button does; return its run id."""
        run = self.call("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})
        return run["dag_run_id"]

    def run_state(self, dag_id: str, run_id: str) -> str:
        return self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}")["state"]

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float) -> str:
        """Poll until the run succeeds or fails; return the final state."""
        deadline = time.monotonic() + timeout
        while (state := self.run_state(dag_id, run_id)) not in FINISHED:
            if time.monotonic() > deadline:
                raise StackError(f"run {run_id} of {dag_id} still {state} after {timeout:g} s")
            time.sleep(3)
        return state

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]

    def tries(self, dag_id: str, run_id: str, task_id: str) -> list[dict]:
        """Every try of one task instance, oldest first."""
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/tries"
        return self.call("GET", path)["task_instances"]

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value", map_index: int = -1) -> Any:
        """A task's XCom value; `map_index` picks one instance of a mapped task."""
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}"
        return self.call("GET", path, params={"deserialize": "true", "map_index": map_index})["value"]
