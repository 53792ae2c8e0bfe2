"""TorchServe handler: JSON in, JSON out, each request of a batch answered on its own.

`soulsgen package` makes this file the MAR's handler and ships the model folder (`model/`) and
`soulsgen_lib` beside it. A request's optional JSON body is {"prompt", "temperature", "top_p",
"max_chars", "seed"}; the answer is {"text", "prompt", "model_version"}. A body too large gets 413
before it is parsed, a bad one 400 naming the field (`request_body`); the rest of the batch is
decoded together in one call. TorchServe wants this module to define one class: the handler.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import torch
from ts.torch_handler.base_handler import BaseHandler

import soulsgen_lib
from soulsgen_lib.model.generate import GenerationRequest, GenerationResult, Generator
from soulsgen_lib.serving.request_body import Rejected, parse_request

logger = logging.getLogger(__name__)

MODEL_FOLDER = "model"  # where `soulsgen package` puts the model folder inside the MAR
BATCH_SIZE_HEADER = "X-Soulsgen-Batch-Size"  # how many requests shared this request's batch


class SoulsgenHandler(BaseHandler):
    """Loads the Generator once per worker and answers each batch with one batched decode."""

    def initialize(self, context: Any) -> None:
        # The worker then hands this handler the raw body, so its size is checked before any parsing.
        os.environ["TS_DECODE_INPUT_REQUEST"] = "false"
        properties = context.system_properties
        config = (context.model_yaml_config or {}).get("handler", {})
        if config.get("torch_threads"):
            torch.set_num_threads(int(config["torch_threads"]))
        gpu_id = properties.get("gpu_id")
        device = f"cuda:{gpu_id}" if torch.cuda.is_available() and gpu_id is not None else "cpu"
        model_dir = Path(properties["model_dir"]) / MODEL_FOLDER
        self.generator = Generator.load(model_dir, device=device, precision=config.get("precision"))
        # The archive's version: the model card's unless `soulsgen package --version` chose another.
        self.model_version = context.manifest["model"]["modelVersion"]
        self.initialized = True
        dtype = str(self.generator.model.wte.weight.dtype).removeprefix("torch.")
        # Says which soulsgen_lib the worker imported: the copy inside the MAR, not one installed elsewhere.
        logger.info(
            "SoulsGen model %s loaded on %s in %s (%d torch threads) with soulsgen_lib from %s",
            self.model_version,
            device,
            dtype,
            torch.get_num_threads(),
            Path(soulsgen_lib.__file__).parent,
        )

    def preprocess(self, data: list[dict[str, Any]]) -> list[GenerationRequest | Rejected]:
        return [parse_request(row) for row in data]

    def inference(self, requests: list[GenerationRequest | Rejected], *args: Any, **kwargs: Any) -> list:
        """A GenerationResult per valid request, from ONE batched Generator call; rejections pass through."""
        valid = [request for request in requests if isinstance(request, GenerationRequest)]
        with torch.inference_mode():
            answered = iter(self.generator.generate(valid))
        return [request if isinstance(request, Rejected) else next(answered) for request in requests]

    def postprocess(self, results: list[GenerationResult | Rejected]) -> list[dict[str, Any]]:
        answers = []
        for index, result in enumerate(results):
            self.context.set_response_header(index, BATCH_SIZE_HEADER, str(len(results)))
            self.context.set_response_content_type(index, "application/json")
            if isinstance(result, GenerationResult) and result.error is not None:
                result = Rejected(400, "Bad Request", str(result.error))
            if isinstance(result, Rejected):
                self.context.set_response_status(result.status, result.reason, index)
                answers.append({"code": result.status, "type": result.reason, "message": result.message})
            else:
                answers.append({"text": result.text, "prompt": result.prompt, "model_version": self.model_version})
        logger.info("SoulsGen batch of %d requests", len(results))
        return answers
