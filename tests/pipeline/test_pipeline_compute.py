"""The training VM's create and delete calls against a local server speaking the Compute Engine API."""

from __future__ import annotations

import pytest
from compute_api_server import ComputeApi, ComputeApiServer
from google.auth.credentials import AnonymousCredentials

from soulsgen_lib.cloud.compute import ZoneCompute
from soulsgen_lib.cloud.gce import CloudError, instance_body

NAME = "soulsgen-train-v1-12345678"


@pytest.fixture
def compute_api():
    server = ComputeApiServer()
    yield server.api
    server.close()


def zone(compute_api: ComputeApi) -> ZoneCompute:
    return ZoneCompute("proj", "europe-west4-a", AnonymousCredentials(), compute_api.base_url)


def vm_body() -> dict:
    return instance_body(NAME, "europe-west4-a", "g2-standard-8", "nvidia-l4", 1, "img", 100, "#!/bin/bash", "default")


def test_create_then_delete_by_name(compute_api: ComputeApi):
    zone(compute_api).create_instance(vm_body())
    created = compute_api.instances[NAME]
    assert created["scheduling"]["instanceTerminationAction"] == "DELETE"  # the VM's own backstop
    assert created["scheduling"]["maxRunDuration"]["seconds"] == str(6 * 3600)
    assert zone(compute_api).delete_instance(NAME) is True
    assert compute_api.instances == {}
    assert compute_api.calls("DELETE", "instances") == [
        f"/compute/v1/projects/proj/zones/europe-west4-a/instances/{NAME}"
    ]


def test_deleting_a_vm_that_is_not_there_is_fine(compute_api: ComputeApi):
    assert zone(compute_api).delete_instance(NAME) is False


def test_a_create_whose_operation_fails_is_one_clear_error(compute_api: ComputeApi):
    compute_api.fail_create_after_insert = True
    with pytest.raises(CloudError, match=f"creating VM {NAME} in proj/europe-west4-a failed: .*cut off"):
        zone(compute_api).create_instance(vm_body())
    assert NAME in compute_api.instances  # the insert went through: the VM exists and must be deleted


def test_an_unreachable_api_is_one_clear_error():
    with pytest.raises(CloudError, match="deleting VM"):
        ZoneCompute("proj", "z", AnonymousCredentials(), "http://127.0.0.1:9").delete_instance(NAME, timeout=5)
