"""A local stand-in for the X API that checks OAuth 1.0a HMAC-SHA1 signatures with oauthlib.

Implements `POST /oauth/request_token`, `GET /oauth/authorize` (shows the PIN), `POST /oauth/access_token`,
`POST /2/tweets` (with `media.media_ids` of uploads it issued), `GET /2/users/me`, and the v1.1 simple
upload `POST /1.1/media/upload.json` with `POST /1.1/media/metadata/create.json` (alt text). Every
request is logged in `requests`, so tests can prove that nothing was sent. Planned answers (429, 503, a
slow reply) are queued for `POST /2/tweets` with `plan`, for `GET /2/users/me` with `plan_me`, for
`POST /1.1/media/upload.json` with `plan_upload`.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from email.parser import BytesParser
from email.policy import HTTP
from urllib.parse import parse_qs, urlsplit

from oauthlib.common import generate_token
from oauthlib.oauth1 import AccessTokenEndpoint, RequestTokenEndpoint, RequestValidator, SignatureOnlyEndpoint
from posting.loopback_api_server import ApiHandler, LoopbackApiServer, Planned

DUPLICATE_DETAIL = "You are not allowed to create a Tweet with duplicate content."
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SIMPLE_UPLOAD_MAX_BYTES = 5 * 1024 * 1024  # X's limit for an image sent in one request
ALT_TEXT_MAX_CHARS = 1000
V2_ROUTES = {("POST", "/2/tweets"), ("GET", "/2/users/me")}
MEDIA_ROUTES = {("POST", "/1.1/media/upload.json"), ("POST", "/1.1/media/metadata/create.json")}


class _Validator(RequestValidator):
    """Accepts the server's known keys and tokens; anything else fails the signature check."""

    def __init__(self, server: XApiServer) -> None:
        super().__init__()
        self.server = server
        self._nonces: set[tuple[str, str, str]] = set()
        self._lock = threading.Lock()

    enforce_ssl = False  # loopback test server
    dummy_client = "dummy-client-key-000000"
    dummy_request_token = "dummy-request-token-0000"
    dummy_access_token = "dummy-access-token-00000"

    @property
    def realms(self) -> list[str]:
        return []

    def check_client_key(self, client_key: str) -> bool:
        return bool(client_key)

    def check_request_token(self, request_token: str) -> bool:
        return bool(request_token)

    def check_access_token(self, request_token: str) -> bool:
        return bool(request_token)

    def check_nonce(self, nonce: str) -> bool:
        return bool(nonce)

    def check_verifier(self, verifier: str) -> bool:
        return bool(verifier)

    def validate_client_key(self, client_key, request):
        return client_key == self.server.consumer_key

    def get_client_secret(self, client_key, request):
        return self.server.consumer_secret if client_key == self.server.consumer_key else "dummy-secret"

    def validate_timestamp_and_nonce(
        self, client_key, timestamp, nonce, request, request_token=None, access_token=None
    ):
        if abs(time.time() - int(timestamp)) > 600:
            return False
        with self._lock:
            seen = (client_key, timestamp, nonce)
            if seen in self._nonces:
                return False  # a replayed request
            self._nonces.add(seen)
        return True

    def get_default_realms(self, client_key, request):
        return []

    def validate_requested_realms(self, client_key, realms, request):
        return True

    def validate_redirect_uri(self, client_key, redirect_uri, request):
        return redirect_uri == "oob"

    def save_request_token(self, token, request):
        self.server.request_tokens[token["oauth_token"]] = token["oauth_token_secret"]

    def get_request_token_secret(self, client_key, token, request):
        return self.server.request_tokens.get(token, "dummy-secret")

    def validate_request_token(self, client_key, token, request):
        return token in self.server.request_tokens

    def validate_verifier(self, client_key, token, verifier, request):
        return verifier == self.server.pin

    def verify_request_token(self, token, request):
        return token in self.server.request_tokens

    def get_realms(self, token, request):
        return []

    def invalidate_request_token(self, client_key, request_token, request):
        self.server.request_tokens.pop(request_token, None)

    def save_access_token(self, token, request):
        self.server.access_tokens[token["oauth_token"]] = token["oauth_token_secret"]
        self.server.issued.append((token["oauth_token"], token["oauth_token_secret"]))

    def get_access_token_secret(self, client_key, token, request):
        return self.server.access_tokens.get(token, "dummy-secret")

    def validate_access_token(self, client_key, token, request):
        return token in self.server.access_tokens


class _Handler(ApiHandler):
    api: XApiServer

    def route(self, method: str, path: str, raw_body: bytes) -> None:
        uri = f"http://{self.headers['Host']}{self.path}"
        headers = {"Authorization": self.headers.get("Authorization", "")}
        if (method, path) in MEDIA_ROUTES:  # a binary (multipart) body
            self._media_call(path, uri, raw_body, headers)
            return
        body = raw_body.decode("utf-8")
        if (method, path) == ("POST", "/oauth/request_token"):
            self._token_response(self.api.request_token_endpoint.create_request_token_response, uri, body, headers)
        elif (method, path) == ("GET", "/oauth/authorize"):
            token = parse_qs(urlsplit(self.path).query).get("oauth_token", [""])[0]
            known = token in self.api.request_tokens
            page = f"<p>Enter this PIN: <code>{self.api.pin}</code></p>" if known else "<p>Unknown token</p>"
            self._send(200 if known else 404, page.encode(), "text/html")
        elif (method, path) == ("POST", "/oauth/access_token"):
            self._token_response(self.api.access_token_endpoint.create_access_token_response, uri, body, headers)
        elif (method, path) in V2_ROUTES:
            self._api_call(method, path, uri, body, headers)
        else:
            self._json(404, {"title": "Not Found", "status": 404, "detail": f"no route {method} {path}"})

    def _token_response(self, create, uri: str, body: str, headers: dict[str, str]) -> None:
        response_headers, response_body, status = create(uri, http_method="POST", body=body, headers=headers)
        self._send(status, (response_body or "").encode(), "application/x-www-form-urlencoded")

    def _signed_token(self, method: str, uri: str, headers: dict[str, str]) -> str | None:
        """The access token of a validly signed request, else None.

        JSON and multipart bodies are not part of an OAuth 1.0a signature: only the method, the URL and
        the oauth_* parameters are (X signs form-encoded bodies only).
        """
        valid, request = self.api.signature_endpoint.validate_request(uri, method, None, headers)
        token = request.resource_owner_key if request is not None else None
        return token if valid and token in self.api.access_tokens else None

    def _api_call(self, method: str, path: str, uri: str, body: str, headers: dict[str, str]) -> None:
        token = self._signed_token(method, uri, headers)
        if token is None:
            self._json(401, {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"})
            return
        if path == "/2/users/me":
            planned = self.api.next_planned(self.api.planned_me)
            if planned.status is not None:
                self._planned_failure(planned)
                return
            self._json(200, {"data": {"id": "1234567890", "name": "SoulsGen", "username": self.api.username}})
            return
        payload = json.loads(body)
        media_ids = payload.get("media", {}).get("media_ids", [])
        unknown = [media_id for media_id in media_ids if self.api.media.get(media_id, {}).get("owner") != token]
        if unknown:
            self._json(400, _invalid_request(f"media_ids {unknown} are not media this account uploaded"))
            return
        planned = self.api.next_planned(self.api.planned)
        if planned.status is not None:
            if planned.also_create:
                self.api.create_tweet(payload["text"], media_ids)
            self._planned_failure(planned)
            return
        status, answer = self.api.create_tweet(payload["text"], media_ids)
        if planned.delay_s:
            time.sleep(planned.delay_s)
        self._json(status, answer)

    def _media_call(self, path: str, uri: str, raw_body: bytes, headers: dict[str, str]) -> None:
        token = self._signed_token("POST", uri, headers)
        if token is None:
            self._json(401, {"errors": [{"code": 32, "message": "Could not authenticate you."}]})
            return
        if path == "/1.1/media/metadata/create.json":
            self._set_alt_text(raw_body, token)
            return
        planned = self.api.next_planned(self.api.planned_upload)
        if planned.status is not None:
            self._json(planned.status, {"errors": [{"code": 131, "message": "planned"}]}, planned.headers)
            return
        image = _multipart_field(self.headers.get("Content-Type", ""), raw_body, "media")
        if image is None or not image.startswith(PNG_SIGNATURE) or len(image) > SIMPLE_UPLOAD_MAX_BYTES:
            self._json(400, {"errors": [{"code": 324, "message": "media must be a PNG under 5 MB in field media"}]})
            return
        media_id = self.api.store_media(image, token)
        self._json(
            200,
            {
                "media_id": int(media_id),
                "media_id_string": media_id,
                "size": len(image),
                "expires_after_secs": 86400,
                "image": {"image_type": "image/png"},
            },
        )

    def _set_alt_text(self, raw_body: bytes, token: str) -> None:
        payload = json.loads(raw_body)
        media = self.api.media.get(str(payload.get("media_id")))
        alt = payload.get("alt_text", {}).get("text")
        if media is None or media["owner"] != token:
            self._json(400, {"errors": [{"code": 324, "message": "unknown media_id"}]})
        elif not isinstance(alt, str) or not 0 < len(alt) <= ALT_TEXT_MAX_CHARS:
            self._json(
                400, {"errors": [{"code": 324, "message": f"alt_text.text needs 1..{ALT_TEXT_MAX_CHARS} chars"}]}
            )
        else:
            media["alt"] = alt
            self._send(200, b"", "text/plain")

    def _planned_failure(self, planned: Planned) -> None:
        self._json(planned.status, {"title": "planned", "status": planned.status, "detail": "planned"}, planned.headers)


def _invalid_request(message: str) -> dict:
    return {
        "errors": [{"message": message}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
    }


def _multipart_field(content_type: str, body: bytes, name: str) -> bytes | None:
    """The bytes of form field `name` of a multipart/form-data body, or None."""
    if not content_type.startswith("multipart/form-data"):
        return None
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == name:
            return part.get_payload(decode=True)
    return None


class XApiServer(LoopbackApiServer):
    """One app and its accounts; `plan` answers `POST /2/tweets`, `plan_me` `GET /2/users/me`, `plan_upload` uploads."""

    handler = _Handler

    def __init__(self, consumer_key: str, consumer_secret: str, username: str = "soulsgen_bot") -> None:
        super().__init__()
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.username = username
        self.pin = "7351942"
        self.access_tokens: dict[str, str] = {}
        self.request_tokens: dict[str, str] = {}
        self.issued: list[tuple[str, str]] = []
        self.tweets: list[dict] = []
        self.media: dict[str, dict] = {}  # media id: {"png", "owner" (access token), "alt"}
        self.planned_me: deque[Planned] = deque()  # answers for `GET /2/users/me`
        self.planned_upload: deque[Planned] = deque()  # answers for `POST /1.1/media/upload.json`
        validator = _Validator(self)
        self.signature_endpoint = SignatureOnlyEndpoint(validator)
        self.request_token_endpoint = RequestTokenEndpoint(validator)
        self.access_token_endpoint = AccessTokenEndpoint(validator)

    def add_access_token(self, token: str, secret: str) -> None:
        self.access_tokens[token] = secret

    def plan_me(self, *answers: Planned) -> None:
        self.planned_me.extend(answers)

    def plan_upload(self, *answers: Planned) -> None:
        self.planned_upload.extend(answers)

    def store_media(self, png: bytes, owner: str) -> str:
        with self._lock:
            media_id = str(1_900_000_000_000_000_000 + len(self.media))
            self.media[media_id] = {"png": png, "owner": owner, "alt": None}
        return media_id

    def create_tweet(self, text: str, media_ids: list[str] | None = None) -> tuple[int, dict]:
        with self._lock:
            if any(tweet["text"] == text for tweet in self.tweets):
                return 403, {"title": "Forbidden", "status": 403, "type": "about:blank", "detail": DUPLICATE_DETAIL}
            tweet = {"id": str(1_800_000_000_000_000_000 + len(self.tweets)), "text": text}
            if media_ids:
                tweet["media_ids"] = list(media_ids)
            self.tweets.append(tweet)
        return 201, {"data": {"id": tweet["id"], "text": text, "edit_history_tweet_ids": [tweet["id"]]}}


def new_credentials() -> dict[str, str]:
    """A fresh set of app and account credentials, unguessable like real ones."""
    return {
        "consumer_key": generate_token(25),
        "consumer_secret": generate_token(50),
        "access_token": f"1234567890-{generate_token(39)}",
        "token_secret": generate_token(45),
    }
