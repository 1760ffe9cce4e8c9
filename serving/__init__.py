"""Serving: realtime endpoints on Ray Serve (SageMaker's invocations/ping HTTP contract),
the request/response codecs and the HTTP client."""

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
from serving._realtime import delete, deploy, endpoint_url, list_endpoints

__all__ = ["BytesDeserializer", "CSVDeserializer", "CSVSerializer", "IdentitySerializer",
           "JSONDeserializer", "JSONSerializer", "NumpyDeserializer", "Predictor",
           "StringDeserializer", "delete", "deploy", "endpoint_url", "list_endpoints"]
