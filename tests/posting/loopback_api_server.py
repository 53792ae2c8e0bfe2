"""The plumbing the local X, Bluesky and Mastodon API servers share: a loopback HTTP server, a request log,
planned answers, and JSON replies. Each network's module adds its routes, auth and limits.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self
from urllib.parse import urlsplit


@dataclass
class Planned:
    """An answer the server gives to one future call instead of (or after) the real one."""

    status: int | None = None  # None: handle normally
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # make the post, then wait this long before answering
    also_create: bool = False  # make the post even though `status` reports a failure


class LoopbackApiServer:
    """A server's request log, planned answers and lifetime: `start()` on a free loopback port, `stop()` at teardown."""

    handler: type[ApiHandler]

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request
        self.planned: deque[Planned] = deque()
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "start() the server first"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def count(self, method: str, path: str) -> int:
        return sum(1 for seen in self.requests if seen == (method, path))

    def plan(self, *answers: Planned) -> None:
        self.planned.extend(answers)

    @staticmethod
    def next_planned(queue: deque[Planned]) -> Planned:
        """The next planned answer of `queue`, or one that says: handle normally."""
        return queue.popleft() if queue else Planned()

    def start(self) -> Self:
        handler = type("BoundHandler", (self.handler,), {"api": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}-thread",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


class ApiHandler(BaseHTTPRequestHandler):
    """Logs each request in `api.requests`, reads its body, and hands it to `route`."""

    api: LoopbackApiServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: tests read `api.requests` instead of stderr."""

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def _dispatch(self, method: str) -> None:
        path = urlsplit(self.path).path
        self.api.requests.append((method, path))
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up waiting
            self.route(method, path, body)

    def route(self, method: str, path: str, body: bytes) -> None:
        """Answer one request."""
        raise NotImplementedError

    def default_headers(self) -> dict[str, str]:
        """Headers every answer carries (a network's rate-limit headers)."""
        return {}

    def _json(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json; charset=utf-8", headers)

    def _send(self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (self.default_headers() | (headers or {})).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
