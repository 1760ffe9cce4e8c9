"""The HTTP client of an endpoint: SageMaker v2's ``Predictor``.

As v2's: ``IdentitySerializer`` / ``BytesDeserializer`` by default (the body goes as it is, the
answer comes back as bytes); ``ContentType`` and ``Accept`` come from ``initial_args`` when it
has them, else from the serializer and the deserializer. The request arguments are
``invoke_endpoint``'s, sent as SageMaker's HTTP headers.
"""

from __future__ import annotations

import io
import json

import requests

from serving._apps import delete, endpoint_url
from serving._codecs import BytesDeserializer, IdentitySerializer
from serving._errors import ServingError

# invoke_endpoint's arguments -> the HTTP headers of SageMaker's InvokeEndpoint
_HEADERS = {"ContentType": "Content-Type", "Accept": "Accept",
            "TargetModel": "X-Amzn-SageMaker-Target-Model",
            "TargetVariant": "X-Amzn-SageMaker-Target-Variant",
            "InferenceId": "X-Amzn-SageMaker-Inference-Id",
            "CustomAttributes": "X-Amzn-SageMaker-Custom-Attributes"}


class Predictor:
    """Calls ``POST /endpoints/<endpoint_name>/invocations``."""

    def __init__(self, endpoint_name: str, sagemaker_session=None,
                 serializer=IdentitySerializer(), deserializer=BytesDeserializer(),
                 component_name: str | None = None, *, timeout: float = 60.0,
                 token: str | None = None, api_key: str | None = None):
        """``serializer`` / ``deserializer``: None means the default. ``token`` / ``api_key``:
        the secret of an endpoint deployed with auth (sent as ``Authorization: Bearer`` /
        ``X-Api-Key``)."""
        self.endpoint_name = endpoint_name
        self.sagemaker_session = sagemaker_session
        self.component_name = component_name
        self.serializer = serializer if serializer is not None else IdentitySerializer()
        self.deserializer = deserializer if deserializer is not None else BytesDeserializer()
        self._content_type, self._accept = None, None
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

    @property
    def content_type(self):
        """The MIME type of the data sent (the serializer's unless set)."""
        return self._content_type or self.serializer.CONTENT_TYPE

    @content_type.setter
    def content_type(self, value: str):
        self._content_type = value

    @property
    def accept(self):
        """The content type(s) expected back (the deserializer's unless set)."""
        return self._accept or self.deserializer.ACCEPT

    @accept.setter
    def accept(self, value):
        self._accept = value

    def predict(self, data, initial_args: dict | None = None, target_model: str | None = None,
                target_variant: str | None = None, inference_id: str | None = None,
                custom_attributes: str | None = None, component_name: str | None = None):
        """Send ``data`` through the serializer; return the deserialized answer.
        ``target_model`` names the model of a multi-model endpoint (its path under the
        prefix); ``target_variant`` pins the production variant that answers;
        ``inference_id`` labels the request in data capture."""
        args = self._create_request_args(data, initial_args, target_model, target_variant,
                                         inference_id, custom_attributes)
        resp = self._post(args)
        self.last_variant = resp.headers.get("X-Amzn-Invoked-Production-Variant")
        return self.deserializer.deserialize(
            io.BytesIO(resp.content), resp.headers.get("content-type", "application/octet-stream"))

    def _create_request_args(self, data, initial_args=None, target_model=None,
                             target_variant=None, inference_id=None,
                             custom_attributes=None) -> dict:
        """``invoke_endpoint``'s arguments, as v2 builds them."""
        args = dict(initial_args) if initial_args else {}
        args.setdefault("EndpointName", self.endpoint_name)
        if "ContentType" not in args:
            ct = self.content_type
            args["ContentType"] = ct if isinstance(ct, str) else ", ".join(ct)
        if "Accept" not in args:
            accept = self.accept
            args["Accept"] = accept if isinstance(accept, str) else ", ".join(accept)
        for key, value in (("TargetModel", target_model), ("TargetVariant", target_variant),
                           ("InferenceId", inference_id), ("CustomAttributes", custom_attributes)):
            if value:
                args[key] = value
        args["Body"] = self.serializer.serialize(data)
        return args

    def _post(self, args: dict) -> requests.Response:
        headers = {header: args[key] for key, header in _HEADERS.items() if args.get(key)}
        if args.get("TargetModel"):  # Serve's header: its proxy routes to a replica holding it
            headers["serve-multiplexed-model-id"] = args["TargetModel"]
        try:
            resp = self._http.post(f"{self.url}/invocations", data=_body(args["Body"], self.serializer),
                                   headers=headers, timeout=self.timeout)
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
            except (json.JSONDecodeError, AttributeError):
                detail = resp.text[:300]
            raise ServingError(f"endpoint {self.endpoint_name!r} answered {resp.status_code}: "
                               f"{detail}", status=resp.status_code)
        return resp

    def delete_endpoint(self, delete_endpoint_config: bool = True) -> None:
        delete(self.endpoint_name)

    def delete_model(self) -> None:  # SageMaker v2 name; the model goes with the endpoint
        pass


def _body(body, serializer):
    """What ``invoke_endpoint`` takes as ``Body``: bytes, or a file (a string as UTF-8)."""
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, (bytes, bytearray)) or hasattr(body, "read"):
        return body
    raise ServingError(f"the request body must be bytes, a string or a file; "
                       f"{type(serializer).__name__} made a {type(body).__name__}: pass a "
                       "serializer that encodes it, e.g. Predictor(..., serializer=CSVSerializer())")
