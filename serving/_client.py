"""The HTTP client of an endpoint: SageMaker v2's ``Predictor``."""

from __future__ import annotations

import io
import json

import requests

from serving._apps import delete, endpoint_url
from serving._codecs import CSVSerializer, JSONDeserializer
from serving._errors import ServingError


class Predictor:
    """Calls ``POST /endpoints/<endpoint_name>/invocations``."""

    def __init__(self, endpoint_name: str, sagemaker_session=None, serializer=None,
                 deserializer=None, timeout: float = 60.0, token: str | None = None,
                 api_key: str | None = None):
        """``token`` / ``api_key``: the secret of an endpoint deployed with auth (sent as
        ``Authorization: Bearer`` / ``X-Api-Key``)."""
        self.endpoint_name = endpoint_name
        self.serializer = serializer or CSVSerializer()
        self.deserializer = deserializer or JSONDeserializer()
        self.timeout = timeout
        self._http = requests.Session()
        if token:
            self._http.headers["Authorization"] = f"Bearer {token}"
        if api_key:
            self._http.headers["X-Api-Key"] = api_key
        self.last_variant: str | None = None  # the variant that answered the last request

    @property
    def url(self) -> str:
        return endpoint_url(self.endpoint_name)

    def predict(self, data, initial_args: dict | None = None, target_variant: str | None = None,
                target_model: str | None = None, inference_id: str | None = None):
        """Send ``data``; ``target_variant`` pins the production variant that answers;
        ``target_model`` names the model of a multi-model endpoint (its path under the
        prefix); ``inference_id`` labels the request in data capture."""
        body = self.serializer.serialize(data)
        accept = self.deserializer.ACCEPT
        headers = {"Content-Type": self.serializer.CONTENT_TYPE,
                   "Accept": accept if isinstance(accept, str) else ", ".join(accept)}
        target_variant = target_variant or (initial_args or {}).get("TargetVariant")
        if target_variant:
            headers["X-Amzn-SageMaker-Target-Variant"] = target_variant
        target_model = target_model or (initial_args or {}).get("TargetModel")
        if target_model:  # SageMaker's header; Serve's lets its proxy route to a replica holding it
            headers["X-Amzn-SageMaker-Target-Model"] = target_model
            headers["serve-multiplexed-model-id"] = target_model
        if inference_id:
            headers["X-Amzn-SageMaker-Inference-Id"] = inference_id
        try:
            resp = self._http.post(f"{self.url}/invocations", data=body, headers=headers,
                                   timeout=self.timeout)
        except requests.ConnectionError:
            raise ServingError(f"endpoint {self.endpoint_name!r} is not reachable at {self.url}; "
                                "is it deployed and is Ray running?") from None
        except requests.Timeout:
            raise ServingError(f"endpoint {self.endpoint_name!r} did not answer within "
                                f"{self.timeout}s; raise Predictor(timeout=...)") from None
        except requests.RequestException as e:
            raise ServingError(f"request to endpoint {self.endpoint_name!r} failed: {e}") from None
        if resp.status_code != 200:
            try:
                detail = resp.json().get("error", resp.text)
            except json.JSONDecodeError:
                detail = resp.text[:300]
            raise ServingError(f"endpoint {self.endpoint_name!r} answered {resp.status_code}: {detail}",
                                status=resp.status_code)
        self.last_variant = resp.headers.get("X-Amzn-Invoked-Production-Variant")
        return self.deserializer.deserialize(io.BytesIO(resp.content), resp.headers.get("content-type"))

    def delete_endpoint(self, delete_endpoint_config: bool = True) -> None:
        delete(self.endpoint_name)

    def delete_model(self) -> None:  # SageMaker v2 name; the model goes with the endpoint
        pass
