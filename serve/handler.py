"""TorchServe handler for SoulsGen: a thin adapter over `soulsgen_lib.model.generate.Generator`.

Everything comes from the MAR (`soulsgen package` puts the model folder in `model/` and a copy of
`soulsgen_lib` beside this file). Each request's optional JSON body is
{"prompt": str, "temperature": float, "top_p": float, "max_chars": int, "seed": int}; the answer is
{"text", "prompt", "model_version"}; without a prompt the sentence starts from a random familiar
corpus word. The batch TorchServe hands over is generated in one call; a
request with a bad field gets its own 400 while the rest of the batch is answered.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch
from ts.torch_handler.base_handler import BaseHandler

import soulsgen_lib
from soulsgen_lib.model.generate import GenerationError, GenerationRequest, Generator
from soulsgen_lib.model.tokenizer import split_words

logger = logging.getLogger(__name__)

MODEL_FOLDER = "model"  # must match soulsgen_lib.serving.package.MODEL_FOLDER_IN_MAR
BATCH_SIZE_HEADER = "X-Soulsgen-Batch-Size"  # how many requests shared this request's batch
_NUMBER_FIELDS = {"temperature": (int, float), "top_p": (int, float), "max_chars": (int,), "seed": (int,)}


class SoulsgenHandler(BaseHandler):
    """Loads the Generator once per worker and answers each batch with one batched decode."""

    def initialize(self, context: Any) -> None:
        properties = context.system_properties
        config = (context.model_yaml_config or {}).get("handler", {})
        threads = config.get("torch_threads")
        if threads:
            torch.set_num_threads(int(threads))
        gpu_id = properties.get("gpu_id")
        device = f"cuda:{gpu_id}" if torch.cuda.is_available() and gpu_id is not None else "cpu"
        self.generator = Generator.load(
            Path(properties["model_dir"]) / MODEL_FOLDER, device=device, precision=config.get("precision")
        )
        # The archive's version: the model card's unless `soulsgen package --version` chose another.
        self.model_version = context.manifest["model"]["modelVersion"]
        self.initialized = True
        # Says which soulsgen_lib the worker imported: the copy inside the MAR, not one installed elsewhere.
        logger.info(
            "SoulsGen model %s loaded on %s in %s (%d torch threads) with soulsgen_lib from %s",
            self.model_version,
            device,
            str(self.generator.model.wte.weight.dtype).removeprefix("torch."),
            torch.get_num_threads(),
            Path(soulsgen_lib.__file__).parent,
        )

    def preprocess(self, data: list[dict]) -> list[GenerationRequest | GenerationError]:
        """Each request's body as a GenerationRequest, or the GenerationError that explains what is wrong with it."""
        requests: list[GenerationRequest | GenerationError] = []
        for row in data:
            try:
                requests.append(parse_request(row))
            except GenerationError as problem:  # answered with a 400 in postprocess
                requests.append(problem)
        return requests

    def inference(self, requests: list[GenerationRequest | GenerationError], *args: Any, **kwargs: Any) -> list:
        """(request, text) for the valid requests, from ONE batched Generator call; problems pass through."""
        valid = [request for request in requests if isinstance(request, GenerationRequest)]
        with torch.inference_mode():
            texts = self._generate_isolating(valid)
        answered = iter(zip(valid, texts, strict=True))
        return [request if isinstance(request, GenerationError) else next(answered) for request in requests]

    def postprocess(self, results: list) -> list[dict]:
        """{"text", "prompt", "model_version"} per request, or a 400 body naming the field at fault."""
        answers = []
        for index, result in enumerate(results):
            self.context.set_response_header(index, BATCH_SIZE_HEADER, str(len(results)))
            self.context.set_response_content_type(index, "application/json")
            request, text = result if isinstance(result, tuple) else (None, result)
            if isinstance(text, GenerationError):
                self.context.set_response_status(400, "Bad Request", index)
                answers.append({"code": 400, "type": "BadRequest", "message": str(text)})
            else:
                prompt = self._prompt_of(request, text)
                answers.append({"text": text, "prompt": prompt, "model_version": self.model_version})
        logger.info("SoulsGen batch of %d requests", len(results))
        return answers

    def _generate_isolating(self, requests: list[GenerationRequest]) -> list[str | GenerationError]:
        """One batched call; if it fails, halve the batch until the failing requests stand alone.

        A request's values are checked before any decoding, so a bad one costs about log2(batch)
        cheap failed calls, and each good request is still decoded once, in a batch.
        """
        try:
            return list(self.generator.generate(requests))
        except GenerationError as error:
            if len(requests) == 1:
                return [error]
            middle = len(requests) // 2
            return self._generate_isolating(requests[:middle]) + self._generate_isolating(requests[middle:])

    def _prompt_of(self, request: GenerationRequest, text: str) -> str:
        """The prompt the sentence started from: the request's, else the familiar word it opened with."""
        if request.prompt is not None:
            return request.prompt
        words = split_words(text)
        return words[0] if words else ""


def parse_request(row: dict) -> GenerationRequest:
    """A GenerationRequest from one TorchServe request row; GenerationError names the field at fault."""
    body = row.get("body", row.get("data"))
    if body is None and row:
        raise GenerationError("send the fields as a JSON object with Content-Type: application/json")
    if isinstance(body, bytes | bytearray):
        body = body.decode("utf-8", errors="replace")
    if isinstance(body, str):
        if not body.strip():
            return GenerationRequest(prompt_strategy="familiar")
        try:
            body = json.loads(body)
        except ValueError as error:
            raise GenerationError(f"body is not valid JSON ({error})") from None
    if body is None:
        return GenerationRequest(prompt_strategy="familiar")
    if not isinstance(body, dict):
        raise GenerationError(f"body must be a JSON object, got {type(body).__name__}")
    unknown = sorted(set(body) - {"prompt", *_NUMBER_FIELDS})
    if unknown:
        raise GenerationError(f"unknown field {unknown[0]!r}: use prompt, temperature, top_p, max_chars, seed")
    prompt = body.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        raise GenerationError(f"prompt must be a string, got {type(prompt).__name__}")
    for name, kinds in _NUMBER_FIELDS.items():
        value = body.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, kinds)):
            expected = "a number" if float in kinds else "a whole number"
            raise GenerationError(f"{name} must be {expected}, got {json.dumps(value)}")
    # No prompt given: start from a random familiar word, as an empty body does.
    return GenerationRequest(
        **{name: body.get(name) for name in ("prompt", *_NUMBER_FIELDS)}, prompt_strategy="familiar"
    )
