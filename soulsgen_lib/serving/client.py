"""A small client for a running TorchServe that serves the SoulsGen model (needs only `requests`)."""

from __future__ import annotations

from typing import Any

import requests

from soulsgen_lib.errors import SoulsgenError
from soulsgen_lib.settings import Secret

INFERENCE_TOKEN_HINT = 'set TORCHSERVE_TOKEN to the "inference" key of the server\'s key_file.json'


class ServingError(SoulsgenError):
    """TorchServe is unreachable, unhealthy, or answered an error."""


class ServingUnavailable(ServingError):
    """TorchServe is unreachable, timed out or answered 5xx: a later try may succeed."""


class TorchServeClient:
    """Talks to TorchServe's inference API: health check and one sentence per call."""

    def __init__(
        self, endpoint: str, token: str | Secret = "", model_name: str = "soulsgen", timeout: float = 30.0
    ) -> None:
        if not endpoint:
            raise ServingError("no TorchServe endpoint: pass --endpoint or set TORCHSERVE_ENDPOINT")
        self.endpoint = endpoint.rstrip("/")
        self.model_name = model_name
        self.timeout = timeout
        self._token = token.get_secret_value() if isinstance(token, Secret) else token
        self._session = requests.Session()

    def __repr__(self) -> str:
        return f"TorchServeClient({self.endpoint!r}, model_name={self.model_name!r})"

    def ping(self) -> None:
        """Raise ServingError unless TorchServe answers `/ping` with "Healthy"."""
        response = self._send("GET", "/ping")
        if 400 <= response.status_code < 500:  # a token problem, not the server's health
            raise ServingError(describe_error(response, self.endpoint, INFERENCE_TOKEN_HINT))
        status = _json_or_empty(response).get("status", "")
        if response.status_code != 200 or status != "Healthy":
            raise ServingError(
                f"TorchServe at {self.endpoint} is unhealthy (HTTP {response.status_code}, "
                f"status {status or response.text[:200]!r}): see its logs, e.g. SOULSGEN_HOME/serve/logs"
            )

    def sentence(
        self,
        prompt: str | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        max_chars: int | None = None,
        seed: int | None = None,
    ) -> dict:
        """One generated sentence: {"text", "prompt", "model_version"}; None fields take the model's defaults."""
        fields = {"prompt": prompt, "temperature": temperature, "top_p": top_p, "max_chars": max_chars, "seed": seed}
        body = {name: value for name, value in fields.items() if value is not None}
        response = self._request("POST", f"/predictions/{self.model_name}", json=body)
        answer = _json_or_empty(response)
        if not isinstance(answer.get("text"), str):
            raise ServingError(f"TorchServe at {self.endpoint} answered without a text: {response.text[:200]!r}")
        return answer

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        response = self._send(method, path, **kwargs)
        if response.status_code >= 400:
            error = ServingUnavailable if response.status_code >= 500 else ServingError
            raise error(describe_error(response, self.endpoint, INFERENCE_TOKEN_HINT))
        return response

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        url = self.endpoint + path
        try:
            response = self._session.request(method, url, headers=headers, timeout=self.timeout, **kwargs)
        except requests.Timeout:
            raise ServingUnavailable(
                f"TorchServe at {self.endpoint} did not answer within {self.timeout:g} s"
            ) from None
        except requests.RequestException as error:
            raise ServingUnavailable(
                f"cannot reach TorchServe at {self.endpoint} ({type(error).__name__}): is it running? "
                "Start it with `soulsgen serve` or check TORCHSERVE_ENDPOINT"
            ) from None
        return response


def describe_error(response: requests.Response, endpoint: str, token_hint: str) -> str:
    """A one-line message for an error answer of TorchServe; `token_hint` says which token to use."""
    answer = _json_or_empty(response)
    message = answer.get("message") or response.reason or response.text[:200]
    if answer.get("type") == "InvalidKeyException":
        return f"TorchServe at {endpoint} rejected the token ({message}): {token_hint}"
    return f"TorchServe at {endpoint} answered HTTP {response.status_code}: {message}"


def _json_or_empty(response: requests.Response) -> dict:
    try:
        value = response.json()
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
