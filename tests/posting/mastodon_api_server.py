"""A local stand-in for a Mastodon instance that checks what a real one checks, for `Mastodon.py`.

`POST /api/v1/statuses` (bearer token, text up to 500 characters, visibility, media of this account
only; an `Idempotency-Key` seen before returns the status it made instead of a new one),
`POST /api/v2/media` (an image file and its description, the alt text), `GET
/api/v1/accounts/verify_credentials` and `PATCH /api/v1/accounts/update_credentials` (the `bot`
flag). Every answer carries `X-RateLimit-*` headers; a planned 429 has `X-RateLimit-Reset` as
ISO 8601, as Mastodon sends it. Every request is logged in `requests`.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

MAX_CHARACTERS = 500
VISIBILITIES = ("public", "unlisted", "private", "direct")


@dataclass
class Planned:
    """An answer the server gives to one future `POST /api/v1/statuses` instead of (or after) the real one."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    also_create: bool = False  # make the status, then fail anyway


class MastodonApiServer:
    """One account, reached with one access token, on a loopback instance."""

    def __init__(self, access_token: str, username: str = "soulsgen") -> None:
        self.access_token = access_token
        self.username = username
        self.bot = False
        self.requests: list[tuple[str, str]] = []
        self.statuses: list[dict] = []
        self.media: dict[str, dict] = {}
        self.idempotency: dict[str, dict] = {}
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

    def account(self) -> dict:
        return {
            "id": "109000000000000001",
            "username": self.username,
            "acct": self.username,
            "display_name": "SoulsGen",
            "bot": self.bot,
            "created_at": "2026-01-01T00:00:00.000Z",
            "note": "",
            "url": f"{self.base_url}/@{self.username}",
            "followers_count": 0,
            "following_count": 0,
            "statuses_count": len(self.statuses),
            "fields": [],
            "emojis": [],
        }

    def start(self) -> MastodonApiServer:
        server = self

        class Handler(_Handler):
            api = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    api: MastodonApiServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: tests read `api.requests`."""

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
        try:
            if self.headers.get("Authorization") != f"Bearer {self.api.access_token}":
                self._json(401, {"error": "The access token is invalid"})
            elif (method, path) == ("POST", "/api/v1/statuses"):
                self._post_status(self._form(body))
            elif (method, path) == ("POST", "/api/v2/media"):
                self._post_media(body)
            elif (method, path) == ("GET", "/api/v1/accounts/verify_credentials"):
                self._json(200, self.api.account())
            elif (method, path) == ("PATCH", "/api/v1/accounts/update_credentials"):
                form = self._form(body)
                if "bot" in form:
                    self.api.bot = form["bot"][0].lower() in ("1", "true")
                self._json(200, self.api.account())
            else:
                self._json(404, {"error": "Record not found"})
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _form(self, body: bytes) -> dict[str, list[str]]:
        if self.headers.get("Content-Type", "").startswith("application/json"):
            return {key: value if isinstance(value, list) else [value] for key, value in json.loads(body).items()}
        return parse_qs(body.decode(), keep_blank_values=True)

    def _post_status(self, form: dict[str, list[str]]) -> None:
        api = self.api
        key = self.headers.get("Idempotency-Key")
        with api._lock:
            if key and key in api.idempotency:  # Mastodon answers a repeated key with the status it made
                self._json(200, api.idempotency[key])
                return
        planned = api.planned.popleft() if api.planned else None
        if planned is not None and planned.status == 429:
            self._json(429, {"error": "Too many requests"}, planned.headers)
            return
        text = (form.get("status") or [""])[0]
        visibility = (form.get("visibility") or ["public"])[0]
        media_ids = form.get("media_ids[]") or form.get("media_ids") or []
        if not text.strip() and not media_ids:
            self._json(422, {"error": "Validation failed: Text can't be blank"})
            return
        if len(text) > MAX_CHARACTERS:
            self._json(422, {"error": f"Validation failed: Text character limit of {MAX_CHARACTERS} exceeded"})
            return
        if visibility not in VISIBILITIES or any(media_id not in api.media for media_id in media_ids):
            self._json(422, {"error": "Validation failed: unknown visibility or media"})
            return
        status = {
            "id": str(110_000_000_000_000_000 + len(api.statuses)),
            "created_at": datetime.now(UTC).isoformat(),
            "content": f"<p>{text}</p>",
            "text": text,
            "visibility": visibility,
            "language": (form.get("language") or [None])[0],
            "uri": f"{api.base_url}/users/{api.username}/statuses/{len(api.statuses)}",
            "url": f"{api.base_url}/@{api.username}/{len(api.statuses)}",
            "account": api.account(),
            "media_attachments": [api.media[media_id] for media_id in media_ids],
            "mentions": [],
            "tags": [],
            "emojis": [],
        }
        with api._lock:
            api.statuses.append(status)
            if key:
                api.idempotency[key] = status
        if planned is not None:
            if not planned.also_create:
                with api._lock:
                    api.statuses.pop()
                    api.idempotency.pop(key, None)
            self._json(planned.status, {"error": "planned"}, planned.headers)
            return
        self._json(200, status)

    def _post_media(self, body: bytes) -> None:
        head = f"Content-Type: {self.headers.get('Content-Type', '')}\r\n\r\n".encode()
        message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
        parts = {part.get_param("name", header="content-disposition"): part for part in message.iter_parts()}
        if "file" not in parts:
            self._json(422, {"error": "Validation failed: File can't be blank"})
            return
        data = parts["file"].get_payload(decode=True)
        description = parts["description"].get_content() if "description" in parts else None
        if not data.startswith(b"\x89PNG\r\n\x1a\n"):
            self._json(422, {"error": "Validation failed: File has contents that are not what they are reported to be"})
            return
        media_id = str(120_000_000_000_000_000 + len(self.api.media))
        media = {
            "id": media_id,
            "type": "image",
            "url": f"{self.api.base_url}/media/{media_id}.png",
            "preview_url": f"{self.api.base_url}/media/{media_id}-small.png",
            "description": description,
            "size": len(data),
        }
        self.api.media[media_id] = media
        self._json(200, media)

    def _json(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        rate = {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "299"}
        rate["X-RateLimit-Reset"] = datetime.now(UTC).replace(microsecond=0).isoformat()
        for name, value in (rate | (headers or {})).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
