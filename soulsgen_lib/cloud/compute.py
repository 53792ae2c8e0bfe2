"""Create and delete the training VM through the Compute Engine API (google-cloud-compute); no Airflow.

`endpoint` is the API's base URL (`COMPUTE_API_URL`): empty for Google's, or a proxy or test server.
Operations are polled here with a client on the same endpoint: the one the library's operation
objects build for themselves always talks to Google's.
"""

from __future__ import annotations

import time
from typing import Any

from soulsgen_lib.cloud.gce import CloudError

OPERATION_TIMEOUT_S = 600
_POLL_S = 2.0


class _Compute:
    """The instance and zone-operation clients of one project and zone."""

    def __init__(self, project: str, zone: str, credentials: Any, endpoint: str) -> None:
        from google.cloud import compute_v1

        options = {"api_endpoint": endpoint} if endpoint else None
        self.project, self.zone = project, zone
        self.instances = compute_v1.InstancesClient(credentials=credentials, client_options=options)
        self.operations = compute_v1.ZoneOperationsClient(credentials=credentials, client_options=options)

    def wait(self, operation_name: str, timeout: float) -> None:
        """Poll the zone operation until it is done; CloudError with its own message when it failed."""
        from google.cloud import compute_v1

        deadline = time.monotonic() + timeout
        while True:
            operation = self.operations.get(project=self.project, zone=self.zone, operation=operation_name)
            if operation.status == compute_v1.Operation.Status.DONE:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"operation {operation_name} still running after {timeout:.0f} s")
            time.sleep(_POLL_S)
        if operation.error and operation.error.errors:
            messages = "; ".join(f"{error.code}: {error.message}" for error in operation.error.errors)
            raise CloudError(f"operation {operation_name} failed: {messages}")


def create_instance(
    project: str,
    zone: str,
    body: dict,
    credentials: Any = None,
    endpoint: str = "",
    timeout: float = OPERATION_TIMEOUT_S,
) -> None:
    """Insert the instance `body` (as `gce.instance_body` renders it) and wait until Compute Engine created it."""
    from google.api_core.exceptions import GoogleAPIError
    from google.cloud import compute_v1

    name = body.get("name", "?")
    try:
        compute = _Compute(project, zone, credentials, endpoint)
        operation = compute.instances.insert(project=project, zone=zone, instance_resource=compute_v1.Instance(body))
        compute.wait(operation.name, timeout)
    except (GoogleAPIError, CloudError, OSError) as error:  # OSError: unreachable API, timeout
        raise CloudError(f"creating VM {name} in {project}/{zone} failed: {_one_line(error)}") from error


def delete_instance(
    project: str,
    zone: str,
    name: str,
    credentials: Any = None,
    endpoint: str = "",
    timeout: float = OPERATION_TIMEOUT_S,
) -> bool:
    """Delete the instance `name` and wait for it to go; False when there was none (never created, already gone)."""
    from google.api_core.exceptions import GoogleAPIError, NotFound

    try:
        compute = _Compute(project, zone, credentials, endpoint)
        operation = compute.instances.delete(project=project, zone=zone, instance=name)
        compute.wait(operation.name, timeout)
    except NotFound:
        return False
    except (GoogleAPIError, CloudError, OSError) as error:  # OSError: unreachable API, timeout
        raise CloudError(f"deleting VM {name} in {project}/{zone} failed: {_one_line(error)}") from error
    return True


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())[:500] or type(error).__name__
