"""A local HTTP server speaking the part of the Compute Engine REST API the training VM uses.

insert, delete and zone-operation get, as google-cloud-compute calls them (`COMPUTE_API_URL` points the
client here). `fail_create_after_insert` makes an insert create the instance but report its operation
as failed, as when the create task dies after Compute Engine accepted the request.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_INSTANCES = re.compile(
    r"^/compute/v1/projects/(?P<project>[^/]+)/zones/(?P<zone>[^/]+)/instances(?:/(?P<name>[^/?]+))?"
)
_OPERATION = re.compile(r"^/compute/v1/projects/(?P<project>[^/]+)/zones/(?P<zone>[^/]+)/operations/(?P<name>[^/?]+)")


@dataclass
class ComputeApi:
    """What the server holds and saw."""

    base_url: str = ""
    fail_create_after_insert: bool = False
    instances: dict[str, dict] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path)
    operations: dict[str, dict] = field(default_factory=dict)

    def calls(self, method: str, kind: str) -> list[str]:
        """Paths of the requests made with `method` on `kind` ("instances" or "operations")."""
        return [path for verb, path in self.requests if verb == method and f"/{kind}" in path]


def _operation(api: ComputeApi, zone: str, kind: str, target: str, error: str = "") -> dict:
    name = f"operation-{len(api.operations) + 1}"
    operation = {"kind": "compute#operation", "id": str(len(api.operations) + 1), "name": name, "zone": zone}
    operation |= {"operationType": kind, "targetLink": target, "status": "RUNNING", "progress": 0}
    api.operations[name] = {**operation, "status": "DONE", "progress": 100}
    if error:
        failed = {"errors": [{"code": "ZONE_RESOURCE_POOL_EXHAUSTED", "message": error}]}
        api.operations[name] |= {"error": failed, "httpErrorStatusCode": 503, "httpErrorMessage": "SERVICE UNAVAILABLE"}
    return operation


def _handler(api: ComputeApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def _answer(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _not_found(self, what: str) -> None:
            error = {"code": 404, "message": f"The resource '{what}' was not found", "errors": [{"reason": "notFound"}]}
            self._answer(404, {"error": error})

        def do_POST(self) -> None:
            api.requests.append(("POST", self.path))
            match = _INSTANCES.match(self.path)
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            if not match or match["name"]:
                return self._not_found(self.path)
            api.instances[body["name"]] = body
            error = "the create was cut off after the insert" if api.fail_create_after_insert else ""
            self._answer(200, _operation(api, match["zone"], "insert", body["name"], error))

        def do_GET(self) -> None:
            api.requests.append(("GET", self.path))
            match = _OPERATION.match(self.path)
            if not match or match["name"] not in api.operations:
                return self._not_found(self.path)
            self._answer(200, api.operations[match["name"]])

        def do_DELETE(self) -> None:
            api.requests.append(("DELETE", self.path))
            match = _INSTANCES.match(self.path)
            if not match or match["name"] not in api.instances:
                return self._not_found(self.path)
            del api.instances[match["name"]]
            self._answer(200, _operation(api, match["zone"], "delete", match["name"]))

    return Handler


class ComputeApiServer:
    """Serve a `ComputeApi` on a free loopback port until `close()`."""

    def __init__(self, api: ComputeApi | None = None) -> None:
        self.api = api or ComputeApi()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.api))
        self.api.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
