"""A local stand-in for a Bluesky PDS that checks what a real one checks, for the `atproto` SDK.

XRPC `com.atproto.server.createSession` (identifier + app password, limited per window like the real
30 per 5 minutes), `com.atproto.server.refreshSession` (the refresh JWT, rotated: a used one is
revoked), `com.atproto.repo.uploadBlob` and `com.atproto.repo.createRecord` (`app.bsky.feed.post`
records of the session's own repo, image embeds only of uploaded blobs, with alt text). Access and
refresh tokens are HS256 JWTs with the real scopes; an expired access token gets 400 `ExpiredToken`.
429 answers carry `ratelimit-limit/-remaining/-reset/-policy`. Every request is logged in `requests`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time

import jwt
from posting.loopback_api_server import ApiHandler, LoopbackApiServer

ACCESS_SCOPE = "com.atproto.access"
REFRESH_SCOPE = "com.atproto.refresh"
MAX_GRAPHEMES = 300  # app.bsky.feed.post text limit (characters stand in for graphemes here)


def blob_cid(data: bytes) -> str:
    """The CIDv1 (raw codec, sha2-256, base32) a PDS gives an uploaded blob."""
    raw = bytes([0x01, 0x55, 0x12, 0x20]) + hashlib.sha256(data).digest()
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


class _Handler(ApiHandler):
    api: BlueskyApiServer

    def route(self, method: str, path: str, body: bytes) -> None:
        nsid = path.removeprefix("/xrpc/")
        handler = {
            "com.atproto.server.createSession": self._create_session,
            "com.atproto.server.refreshSession": self._refresh_session,
            "com.atproto.repo.uploadBlob": self._upload_blob,
            "com.atproto.repo.createRecord": self._create_record,
        }.get(nsid)
        if handler is None or method != "POST":
            self._json(501, {"error": "MethodNotImplemented", "message": f"no method {nsid}"})
        else:
            handler(body, self.headers.get("Authorization", ""))

    def _create_session(self, body: bytes, auth: str) -> None:
        api = self.api
        now = time.time()
        with api._lock:
            api.session_times = [t for t in api.session_times if now - t < 300]
            if len(api.session_times) >= api.session_limit:
                self._rate_limited(int(api.session_times[0] + 300), f"{api.session_limit};w=300")
                return
            api.session_times.append(now)
        data = json.loads(body)
        if data.get("identifier") != api.handle or data.get("password") != api.app_password:
            self._json(401, {"error": "AuthenticationRequired", "message": "Invalid identifier or password"})
            return
        self._json(200, api.tokens())

    def _refresh_session(self, body: bytes, auth: str) -> None:
        problem = self.api.check_token(auth, REFRESH_SCOPE)
        if problem:
            self._json(*problem)
            return
        self.api.revoked.add(auth.removeprefix("Bearer "))  # refresh tokens are single use
        answer = self.api.tokens()
        answer.pop("active")
        self._json(200, answer)

    def _upload_blob(self, body: bytes, auth: str) -> None:
        problem = self.api.check_token(auth, ACCESS_SCOPE)
        if problem:
            self._json(*problem)
            return
        mime = self.headers.get("Content-Type", "")
        if not body or mime in ("", "application/json"):
            self._json(400, {"error": "InvalidRequest", "message": "blob body and its Content-Type required"})
            return
        if not body.startswith(b"\x89PNG\r\n\x1a\n"):
            self._json(400, {"error": "InvalidRequest", "message": "not an image"})
            return
        cid = blob_cid(body)
        self.api.blobs[cid] = {"mimeType": "image/png", "size": len(body)}
        self._json(200, {"blob": {"$type": "blob", "ref": {"$link": cid}, "mimeType": "image/png", "size": len(body)}})

    def _create_record(self, body: bytes, auth: str) -> None:
        api = self.api
        problem = api.check_token(auth, ACCESS_SCOPE)
        if problem:
            self._json(*problem)
            return
        planned = api.next_planned(api.planned)
        if planned.status == 429:
            self._json(429, {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}, planned.headers)
            return
        data = json.loads(body)
        record = data.get("record") or {}
        error = None
        if data.get("repo") not in (api.did, api.handle):
            error = "repo is not the session's account"
        elif data.get("collection") != "app.bsky.feed.post" or record.get("$type") != "app.bsky.feed.post":
            error = "collection and record $type must be app.bsky.feed.post"
        elif not record.get("createdAt") or not isinstance(record.get("text"), str):
            error = "record needs text and createdAt"
        elif len(record["text"]) > MAX_GRAPHEMES:
            error = f"text over {MAX_GRAPHEMES} graphemes"
        else:
            for image in (record.get("embed") or {}).get("images", []):
                if image["image"]["ref"]["$link"] not in api.blobs or "alt" not in image:
                    error = "embedded image is not an uploaded blob or lacks alt"
        if error:
            self._json(400, {"error": "InvalidRequest", "message": error})
            return
        rkey = f"3k{len(api.posts):011d}"
        with api._lock:
            api.posts.append(record)
        if planned.status is not None:
            if not planned.also_create:
                api.posts.pop()
            self._json(planned.status, {"error": "InternalServerError", "message": "planned"}, planned.headers)
            return
        self._json(200, {"uri": f"at://{api.did}/app.bsky.feed.post/{rkey}", "cid": blob_cid(body)})

    def _rate_limited(self, reset: int, policy: str) -> None:
        headers = {"ratelimit-limit": policy.split(";")[0], "ratelimit-remaining": "0"}
        headers |= {"ratelimit-reset": str(reset), "ratelimit-policy": policy}
        self._json(429, {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}, headers)


class BlueskyApiServer(LoopbackApiServer):
    """One account (handle, app password, DID) on a loopback PDS; `plan` answers createRecord calls."""

    handler = _Handler

    def __init__(self, handle: str, app_password: str, access_ttl_s: float = 7200, session_limit: int = 30) -> None:
        super().__init__()
        self.handle = handle
        self.app_password = app_password
        self.did = "did:plc:" + secrets.token_hex(12)
        self.access_ttl_s = access_ttl_s
        self.session_limit = session_limit  # createSession calls allowed per 5 minutes
        self.secret = secrets.token_bytes(32)
        self.session_times: list[float] = []
        self.revoked: set[str] = set()
        self.blobs: dict[str, dict] = {}
        self.posts: list[dict] = []
        self.issued: list[str] = []  # every token handed out, for the no-secret-in-logs checks

    def calls(self, nsid: str) -> int:
        """How many times the XRPC method `nsid` was called."""
        return self.count("POST", f"/xrpc/{nsid}")

    def tokens(self) -> dict:
        """A fresh access/refresh pair for the account."""
        now = int(time.time())
        access = jwt.encode(
            {"scope": ACCESS_SCOPE, "sub": self.did, "iat": now, "exp": now + int(self.access_ttl_s)},
            self.secret,
            algorithm="HS256",
        )
        refresh = jwt.encode(
            {"scope": REFRESH_SCOPE, "sub": self.did, "iat": now, "exp": now + 90 * 86400, "jti": secrets.token_hex(8)},
            self.secret,
            algorithm="HS256",
        )
        self.issued += [access, refresh]
        return {"accessJwt": access, "refreshJwt": refresh, "handle": self.handle, "did": self.did, "active": True}

    def check_token(self, header: str, scope: str) -> tuple[int, dict] | None:
        """None when the bearer token is valid for `scope`, else the XRPC error answer."""
        if not header.startswith("Bearer "):
            return 401, {"error": "AuthMissing", "message": "Authentication Required"}
        token = header.removeprefix("Bearer ")
        try:
            claims = jwt.decode(token, self.secret, algorithms=["HS256"])
        except jwt.ExpiredSignatureError:
            return 400, {"error": "ExpiredToken", "message": "Token has expired"}
        except jwt.InvalidTokenError:
            return 400, {"error": "InvalidToken", "message": "Token could not be verified"}
        if claims.get("scope") != scope or claims.get("sub") != self.did or token in self.revoked:
            return 400, {"error": "InvalidToken", "message": "Bad token scope or revoked token"}
        return None
