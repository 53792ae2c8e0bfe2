"""A local stand-in for the X API that checks OAuth 1.0a HMAC-SHA1 signatures with oauthlib.

Implements `POST /oauth/request_token`, `GET /oauth/authorize` (shows the PIN), `POST /oauth/access_token`,
`POST /2/tweets` and `GET /2/users/me`. Every request is logged in `requests`, so tests can prove that
nothing was sent. Planned answers (429, 503, a slow reply) are queued for `POST /2/tweets` with `plan`,
for `GET /2/users/me` with `plan_me`.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from oauthlib.common import generate_token
from oauthlib.oauth1 import AccessTokenEndpoint, RequestTokenEndpoint, RequestValidator, SignatureOnlyEndpoint

DUPLICATE_DETAIL = "You are not allowed to create a Tweet with duplicate content."


@dataclass
class Planned:
    """An answer the server gives to one future `POST /2/tweets` instead of (or before) the real one."""

    status: int | None = None  # None: handle normally
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # create the tweet, then wait this long before answering
    also_create: bool = False  # create the tweet even though `status` reports a failure


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


class XApiServer:
    """The server's state and its lifetime: `start()` on a free loopback port, `stop()` at teardown."""

    def __init__(self, consumer_key: str, consumer_secret: str, username: str = "soulsgen_bot") -> None:
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.username = username
        self.pin = "7351942"
        self.access_tokens: dict[str, str] = {}
        self.request_tokens: dict[str, str] = {}
        self.issued: list[tuple[str, str]] = []
        self.requests: list[tuple[str, str]] = []
        self.tweets: list[dict[str, str]] = []
        self.planned: deque[Planned] = deque()
        self.planned_me: deque[Planned] = deque()  # answers for `GET /2/users/me`
        validator = _Validator(self)
        self.signature_endpoint = SignatureOnlyEndpoint(validator)
        self.request_token_endpoint = RequestTokenEndpoint(validator)
        self.access_token_endpoint = AccessTokenEndpoint(validator)
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "start() the server first"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def add_access_token(self, token: str, secret: str) -> None:
        self.access_tokens[token] = secret

    def plan(self, *answers: Planned) -> None:
        self.planned.extend(answers)

    def plan_me(self, *answers: Planned) -> None:
        self.planned_me.extend(answers)

    def count(self, method: str, path: str) -> int:
        return sum(1 for seen in self.requests if seen == (method, path))

    def start(self) -> XApiServer:
        server = self

        class Handler(_Handler):
            api = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="x-api-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def create_tweet(self, text: str) -> tuple[int, dict]:
        with self._lock:
            if any(tweet["text"] == text for tweet in self.tweets):
                return 403, {"title": "Forbidden", "status": 403, "type": "about:blank", "detail": DUPLICATE_DETAIL}
            tweet = {"id": str(1_800_000_000_000_000_000 + len(self.tweets)), "text": text}
            self.tweets.append(tweet)
        return 201, {"data": {"id": tweet["id"], "text": text, "edit_history_tweet_ids": [tweet["id"]]}}


class _Handler(BaseHTTPRequestHandler):
    api: XApiServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: tests read `api.requests` instead of stderr."""

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        path = urlsplit(self.path).path
        self.api.requests.append((method, path))
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8")
        uri = f"http://{self.headers['Host']}{self.path}"
        headers = {"Authorization": self.headers.get("Authorization", "")}
        try:
            if (method, path) == ("POST", "/oauth/request_token"):
                self._token_response(self.api.request_token_endpoint.create_request_token_response, uri, body, headers)
            elif (method, path) == ("GET", "/oauth/authorize"):
                token = parse_qs(urlsplit(self.path).query).get("oauth_token", [""])[0]
                known = token in self.api.request_tokens
                page = f"<p>Enter this PIN: <code>{self.api.pin}</code></p>" if known else "<p>Unknown token</p>"
                self._send(200 if known else 404, page.encode(), "text/html")
            elif (method, path) == ("POST", "/oauth/access_token"):
                self._token_response(self.api.access_token_endpoint.create_access_token_response, uri, body, headers)
            elif (method, path) in {("POST", "/2/tweets"), ("GET", "/2/users/me")}:
                self._api_call(method, path, uri, body, headers)
            else:
                self._json(404, {"title": "Not Found", "status": 404, "detail": f"no route {method} {path}"})
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (a timeout test)

    def _token_response(self, create, uri: str, body: str, headers: dict[str, str]) -> None:
        response_headers, response_body, status = create(uri, http_method="POST", body=body, headers=headers)
        self._send(status, (response_body or "").encode(), "application/x-www-form-urlencoded")

    def _api_call(self, method: str, path: str, uri: str, body: str, headers: dict[str, str]) -> None:
        # The JSON body is not part of an OAuth 1.0a signature: only method, URL and oauth_* parameters are.
        valid, request = self.api.signature_endpoint.validate_request(uri, method, None, headers)
        token = request.resource_owner_key if request is not None else None
        if not valid or token not in self.api.access_tokens:
            self._json(401, {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"})
            return
        if path == "/2/users/me":
            planned = self.api.planned_me.popleft() if self.api.planned_me else Planned()
            if planned.status is not None:
                self._json(planned.status, {"title": "planned", "status": planned.status, "detail": "planned"}, planned)
                return
            self._json(200, {"data": {"id": "1234567890", "name": "SoulsGen", "username": self.api.username}})
            return
        planned = self.api.planned.popleft() if self.api.planned else Planned()
        if planned.status is not None:
            if planned.also_create:
                self.api.create_tweet(json.loads(body)["text"])
            self._json(planned.status, {"title": "planned", "status": planned.status, "detail": "planned"}, planned)
            return
        status, answer = self.api.create_tweet(json.loads(body)["text"])
        if planned.delay_s:
            time.sleep(planned.delay_s)
        self._json(status, answer)

    def _json(self, status: int, payload: dict, planned: Planned | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json", planned.headers if planned else {})

    def _send(self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


def new_credentials() -> dict[str, str]:
    """A fresh set of app and account credentials, unguessable like real ones."""
    return {
        "consumer_key": generate_token(25),
        "consumer_secret": generate_token(50),
        "access_token": f"1234567890-{generate_token(39)}",
        "token_secret": generate_token(45),
    }
