"""Create and delete the training VM through the Compute Engine API (google-cloud-compute); no Airflow.

`endpoint` is the API's base URL (`COMPUTE_API_URL`): empty for Google's, or a proxy or test server.
"""

from __future__ import annotations

from typing import Any

from soulsgen_lib.cloud.gce import CloudError

OPERATION_TIMEOUT_S = 600


def _instances_client(credentials: Any, endpoint: str) -> Any:
    from google.cloud import compute_v1

    options = {"api_endpoint": endpoint} if endpoint else None
    return compute_v1.InstancesClient(credentials=credentials, client_options=options)


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
        operation = _instances_client(credentials, endpoint).insert(
            project=project, zone=zone, instance_resource=compute_v1.Instance(body)
        )
        operation.result(timeout=timeout)
    except (GoogleAPIError, TimeoutError) as error:
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
        operation = _instances_client(credentials, endpoint).delete(project=project, zone=zone, instance=name)
        operation.result(timeout=timeout)
    except NotFound:
        return False
    except (GoogleAPIError, TimeoutError) as error:
        raise CloudError(f"deleting VM {name} in {project}/{zone} failed: {_one_line(error)}") from error
    return True


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())[:500] or type(error).__name__
