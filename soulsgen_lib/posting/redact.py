"""Keep credentials out of the log records of the libraries that sign and send posting requests."""

from __future__ import annotations

import logging
from urllib.parse import quote

# Logger filters apply only to records made by that very logger, so every emitting module is named.
_SENDING_LOGGERS = (
    "tweepy.client",
    "tweepy.auth",
    "requests_oauthlib.oauth1_auth",
    "requests_oauthlib.oauth1_session",
    "oauthlib.oauth1.rfc5849",
    "oauthlib.oauth1.rfc5849.signature",
    "urllib3.connectionpool",
    "httpx",
    "httpcore.http11",
    "httpcore.connection",
    "soulsgen_lib.posting.x",
    "soulsgen_lib.posting.bluesky",
    "soulsgen_lib.posting.mastodon",
    "soulsgen_lib.posting.post",
)


class SecretRedactor(logging.Filter):
    """Drops the signing libraries' debug lines and replaces every known credential by `***` elsewhere.

    The signing and HTTP libraries' debug lines are made of signed parameters, headers and freshly
    issued tokens, so they are dropped whole.
    """

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def add(self, *values: str) -> None:
        for value in values:
            if value:
                self.secrets.update({value, quote(value, safe="~")})

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith(("oauthlib", "requests_oauthlib", "httpcore")) and record.levelno < logging.INFO:
            return False
        secrets = tuple(self.secrets)  # a snapshot: another thread may add credentials meanwhile
        if secrets:
            message = record.getMessage()
            if any(secret in message for secret in secrets):
                for secret in sorted(secrets, key=len, reverse=True):
                    message = message.replace(secret, "***")
                record.msg, record.args = message, ()
        return True


REDACTOR = SecretRedactor()
for _name in _SENDING_LOGGERS:
    logging.getLogger(_name).addFilter(REDACTOR)


def keep_secret(*values: str) -> None:
    """Never let these values reach a log line of the posting libraries."""
    REDACTOR.add(*values)
