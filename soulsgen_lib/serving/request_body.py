"""A TorchServe request row to a GenerationRequest, or the HTTP error that refuses it.

The body's size is checked before it is parsed; the field values are validated once, by the
generator, each request on its own. Messages quote at most a few dozen characters of the input.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from soulsgen_lib.model.generate import GenerationError, GenerationRequest

MAX_BODY_BYTES = 16 * 1024
BODY_FIELDS = ("prompt", "temperature", "top_p", "max_chars", "seed")


@dataclass
class Rejected:
    """A request answered with an HTTP error before generation."""

    status: int
    reason: str
    message: str


def parse_request(row: dict[str, Any]) -> GenerationRequest | Rejected:
    """The request of one TorchServe request row, or why it is refused before generation."""
    body = row.get("body", row.get("data"))
    if body is None and row:
        return Rejected(400, "Bad Request", "send the fields as a JSON object with Content-Type: application/json")
    if isinstance(body, str):
        body = body.encode("utf-8", errors="surrogatepass")
    if isinstance(body, bytes | bytearray):
        if len(body) > MAX_BODY_BYTES:
            return Rejected(413, "Payload Too Large", f"the body is {len(body)} bytes, at most {MAX_BODY_BYTES}")
        try:
            body = json.loads(body) if body.strip() else None
        except RecursionError:
            return Rejected(400, "Bad Request", "the body is JSON nested too deeply")
        except ValueError as error:  # also bytes that are not UTF-8; the message quotes no input
            return Rejected(400, "Bad Request", f"the body is not valid JSON ({error})")
    try:
        request = GenerationRequest.from_fields({} if body is None else body, allowed=BODY_FIELDS)
    except GenerationError as error:
        return Rejected(400, "Bad Request", str(error))
    if request.prompt is None:
        request.prompt_strategy = "familiar"  # no prompt: start from a random familiar corpus word
    return request
