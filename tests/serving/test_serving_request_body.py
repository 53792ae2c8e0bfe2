"""The handler's request parsing, without a server: size before parsing, one-line errors, no echo."""

from __future__ import annotations

import json
import re

import pytest

from soulsgen_lib.model.generate import GenerationError, GenerationRequest
from soulsgen_lib.serving.request_body import MAX_BODY_BYTES, Rejected, parse_request


def test_a_good_body_becomes_a_validated_request():
    request = parse_request({"body": json.dumps({"prompt": "The old knight", "seed": 3}).encode()})
    assert request == GenerationRequest(prompt="The old knight", seed=3)
    assert parse_request({"body": b""}) == GenerationRequest(prompt_strategy="familiar")
    assert parse_request({"body": b'{"seed": 1}'}) == GenerationRequest(seed=1, prompt_strategy="familiar")


@pytest.mark.parametrize(
    ("body", "status", "named"),
    [
        (b"x" * (MAX_BODY_BYTES + 1), 413, f"at most {MAX_BODY_BYTES}"),
        (b"[" * 5000 + b"]" * 5000, 400, "nested too deeply"),
        (b"\xff\xfe{}", 400, "not valid JSON"),
        (b"[1, 2]", 400, "JSON object"),
        (b'{"prompt_strategy": "none"}', 400, "unknown field 'prompt_strategy'"),
    ],
)
def test_bad_bodies_are_rejected_with_a_short_message(body, status, named):
    rejected = parse_request({"body": body})
    assert isinstance(rejected, Rejected) and rejected.status == status
    assert named in rejected.message and len(rejected.message) < 200


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b'{"seed": 18446744073709551616}', "seed must be a whole number from 0 to 18446744073709551615"),
        (b'{"seed": true}', "seed"),
        (b'{"prompt": "\\ud800"}', "lone surrogate"),
        (b'{"temperature": "hot"}', "temperature must be a number"),
        (json.dumps({"prompt": "a" * 501}).encode(), "prompt is too long (501 characters, at most 500)"),
        (json.dumps({"temperature": "x" * 10_000}).encode(), "temperature"),
    ],
)
def test_bad_field_values_fail_validation_with_a_short_message(body, named):
    request = parse_request({"body": body})
    assert isinstance(request, GenerationRequest)
    with pytest.raises(GenerationError, match=re.escape(named)) as failure:
        request.validate()
    assert len(str(failure.value)) < 200
