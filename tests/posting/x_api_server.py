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
from urllib.parse import parse_qs, urlsplit

from oauthlib.common import generate_token
from oauthlib.oauth1 import AccessTokenEndpoint, RequestTokenEndpoint, RequestValidator, SignatureOnlyEndpoint
from posting.loopback_api_server import ApiHandler, LoopbackApiServer, Planned

DUPLICATE_DETAIL = "You are not allowed to create a Tweet with duplicate content."


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
        body = raw_body.decode("utf-8")
        uri = f"http://{self.headers['Host']}{self.path}"
        headers = {"Authorization": self.headers.get("Authorization", "")}
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
            planned = self.api.next_planned(self.api.planned_me)
            if planned.status is not None:
                self._planned_failure(planned)
                return
            self._json(200, {"data": {"id": "1234567890", "name": "SoulsGen", "username": self.api.username}})
            return
        planned = self.api.next_planned(self.api.planned)
        if planned.status is not None:
            if planned.also_create:
                self.api.create_tweet(json.loads(body)["text"])
            self._planned_failure(planned)
            return
        status, answer = self.api.create_tweet(json.loads(body)["text"])
        if planned.delay_s:
            time.sleep(planned.delay_s)
        self._json(status, answer)

    def _planned_failure(self, planned: Planned) -> None:
        self._json(planned.status, {"title": "planned", "status": planned.status, "detail": "planned"}, planned.headers)


class XApiServer(LoopbackApiServer):
    """One app and its accounts; `plan` answers `POST /2/tweets`, `plan_me` answers `GET /2/users/me`."""

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
        self.tweets: list[dict[str, str]] = []
        self.planned_me: deque[Planned] = deque()  # answers for `GET /2/users/me`
        validator = _Validator(self)
        self.signature_endpoint = SignatureOnlyEndpoint(validator)
        self.request_token_endpoint = RequestTokenEndpoint(validator)
        self.access_token_endpoint = AccessTokenEndpoint(validator)

    def add_access_token(self, token: str, secret: str) -> None:
        self.access_tokens[token] = secret

    def plan_me(self, *answers: Planned) -> None:
        self.planned_me.extend(answers)

    def create_tweet(self, text: str) -> tuple[int, dict]:
        with self._lock:
            if any(tweet["text"] == text for tweet in self.tweets):
                return 403, {"title": "Forbidden", "status": 403, "type": "about:blank", "detail": DUPLICATE_DETAIL}
            tweet = {"id": str(1_800_000_000_000_000_000 + len(self.tweets)), "text": text}
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
