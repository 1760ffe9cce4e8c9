"""Serving: realtime endpoints on Ray Serve (SageMaker's invocations/ping HTTP contract) with
production variants, autoscaling and scale to zero, dynamic batching, auth and limits; the
request/response codecs and the HTTP client."""

from serving._apps import delete, deploy, endpoint_url, status, statuses
from serving._capture import CaptureConfig
from serving._client import Predictor
from serving._codecs import (
    BaseDeserializer,
    BaseSerializer,
    BytesDeserializer,
    CSVDeserializer,
    CSVSerializer,
    DataSerializer,
    IdentitySerializer,
    JSONDeserializer,
    JSONLinesDeserializer,
    JSONLinesSerializer,
    JSONSerializer,
    LibSVMSerializer,
    NumpyDeserializer,
    NumpySerializer,
    PandasDeserializer,
    SimpleBaseDeserializer,
    SimpleBaseSerializer,
    SparseMatrixSerializer,
    StreamDeserializer,
    StringDeserializer,
    StringSerializer,
    TorchTensorDeserializer,
    TorchTensorSerializer,
)
from serving._compare import compare_variants
from serving._errors import BadRequest, ServingError
from serving._model import ModelSpec
from serving._payload import parse as parse_payload
from serving._payload import render as render_payload
from serving._state import set_weights, variant_stats
from serving._types import Settings, Variant, secret_hash

__all__ = [
    "BadRequest", "BaseDeserializer", "BaseSerializer", "BytesDeserializer", "CSVDeserializer",
    "CSVSerializer", "CaptureConfig", "DataSerializer", "IdentitySerializer", "JSONDeserializer",
    "JSONLinesDeserializer", "JSONLinesSerializer", "JSONSerializer", "LibSVMSerializer",
    "ModelSpec", "NumpyDeserializer", "NumpySerializer", "PandasDeserializer", "Predictor",
    "ServingError", "Settings", "SimpleBaseDeserializer", "SimpleBaseSerializer",
    "SparseMatrixSerializer", "StreamDeserializer", "StringDeserializer", "StringSerializer",
    "TorchTensorDeserializer", "TorchTensorSerializer", "Variant", "compare_variants", "delete",
    "deploy", "endpoint_url", "parse_payload", "render_payload", "secret_hash", "set_weights",
    "status", "statuses", "variant_stats"]
