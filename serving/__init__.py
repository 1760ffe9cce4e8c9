"""Serving: realtime endpoints on Ray Serve (SageMaker's invocations/ping HTTP contract) with
production variants, autoscaling and scale to zero, dynamic batching, auth and limits; the
request/response codecs and the HTTP client."""

from serving._apps import delete, deploy, endpoint_url, status, statuses
from serving._capture import CaptureConfig
from serving._client import Predictor
from serving._codecs import (
    BytesDeserializer,
    CSVDeserializer,
    CSVSerializer,
    IdentitySerializer,
    JSONDeserializer,
    JSONSerializer,
    NumpyDeserializer,
    StringDeserializer,
)
from serving._compare import compare_variants
from serving._errors import BadRequest, ServingError
from serving._model import ModelSpec
from serving._payload import parse as parse_payload
from serving._payload import render as render_payload
from serving._state import set_weights, variant_stats
from serving._types import Settings, Variant, secret_hash

__all__ = ["BadRequest", "BytesDeserializer", "CaptureConfig", "CSVDeserializer", "CSVSerializer",
           "IdentitySerializer", "JSONDeserializer", "JSONSerializer", "NumpyDeserializer",
           "Predictor", "ModelSpec", "ServingError", "Settings", "StringDeserializer", "Variant",
           "compare_variants", "delete", "deploy", "endpoint_url", "parse_payload", "render_payload", "secret_hash", "set_weights",
           "status", "statuses", "variant_stats"]
