"""Create and delete the training VM through the Compute Engine API (google-cloud-compute); no Airflow.

`endpoint` is the API's base URL (`COMPUTE_API_URL`): empty for Google's, or a proxy or test server.
Operations are polled here with a client on the same endpoint: the one the library's operation
objects build for themselves always talks to Google's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from soulsgen_lib.cloud.gce import CloudError

OPERATION_TIMEOUT_S = 600
_POLL_S = 2.0


class ZoneCompute:
    """The instances of one project and zone: create and delete them, waiting for each operation to finish."""

    def __init__(self, project: str, zone: str, credentials: Any = None, endpoint: str = "") -> None:
        self.project, self.zone = project, zone
        self.credentials, self.endpoint = credentials, endpoint

    def create_instance(self, body: dict, timeout: float = OPERATION_TIMEOUT_S) -> None:
        """Insert the instance `body` (as `gce.instance_body` renders it) and wait until Compute Engine created it."""
        from google.cloud import compute_v1

        self._operate(
            "creating",
            body.get("name", "?"),
            timeout,
            lambda instances: instances.insert(
                project=self.project, zone=self.zone, instance_resource=compute_v1.Instance(body)
            ),
        )

    def delete_instance(self, name: str, timeout: float = OPERATION_TIMEOUT_S) -> bool:
        """Delete the instance `name` and wait for it to go; False when there was none (never created, already gone)."""
        return self._operate(
            "deleting",
            name,
            timeout,
            lambda instances: instances.delete(project=self.project, zone=self.zone, instance=name),
            missing_ok=True,
        )

    def _operate(
        self, doing: str, name: str, timeout: float, start: Callable[[Any], Any], missing_ok: bool = False
    ) -> bool:
        """Start an operation on the instances client and wait for it; any failure is one CloudError naming the VM."""
        from google.api_core.exceptions import GoogleAPIError, NotFound
        from google.cloud import compute_v1

        options = {"api_endpoint": self.endpoint} if self.endpoint else None
        try:
            instances = compute_v1.InstancesClient(credentials=self.credentials, client_options=options)
            operations = compute_v1.ZoneOperationsClient(credentials=self.credentials, client_options=options)
            self._wait(operations, start(instances).name, timeout)
        except (GoogleAPIError, CloudError, OSError) as error:  # OSError: unreachable API, timeout
            if missing_ok and isinstance(error, NotFound):
                return False
            raise CloudError(f"{doing} VM {name} in {self.project}/{self.zone} failed: {_one_line(error)}") from error
        return True

    def _wait(self, operations: Any, operation_name: str, timeout: float) -> None:
        """Poll the zone operation until it is done; CloudError with its own message when it failed."""
        from google.cloud import compute_v1

        deadline = time.monotonic() + timeout
        while True:
            operation = operations.get(project=self.project, zone=self.zone, operation=operation_name)
            if operation.status == compute_v1.Operation.Status.DONE:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"operation {operation_name} still running after {timeout:.0f} s")
            time.sleep(_POLL_S)
        if operation.error and operation.error.errors:
            messages = "; ".join(f"{error.code}: {error.message}" for error in operation.error.errors)
            raise CloudError(f"operation {operation_name} failed: {messages}")


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())[:500] or type(error).__name__
