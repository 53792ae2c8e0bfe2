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
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from urllib.parse import parse_qs

from posting.loopback_api_server import ApiHandler, LoopbackApiServer

MAX_CHARACTERS = 500
VISIBILITIES = ("public", "unlisted", "private", "direct")


class _Handler(ApiHandler):
    api: MastodonApiServer

    def route(self, method: str, path: str, body: bytes) -> None:
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

    def default_headers(self) -> dict[str, str]:
        """Mastodon's rate-limit headers, with the reset as ISO 8601."""
        reset = datetime.now(UTC).replace(microsecond=0).isoformat()
        return {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "299", "X-RateLimit-Reset": reset}

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
        planned = api.next_planned(api.planned)
        if planned.status == 429:
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
        if planned.status is not None:
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


class MastodonApiServer(LoopbackApiServer):
    """One account, reached with one access token, on a loopback instance; `plan` answers `POST /api/v1/statuses`."""

    handler = _Handler

    def __init__(self, access_token: str, username: str = "soulsgen") -> None:
        super().__init__()
        self.access_token = access_token
        self.username = username
        self.bot = False
        self.statuses: list[dict] = []
        self.media: dict[str, dict] = {}
        self.idempotency: dict[str, dict] = {}

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
