"""Serving: realtime endpoints on Ray Serve (SageMaker's invocations/ping HTTP contract) with
production variants, autoscaling and scale to zero, dynamic batching, auth and limits; the
request/response codecs and the HTTP client."""

import importlib

# Public name -> (module, name there). Imported on first use: a batch transform's scoring
# actor needs the codecs and the model loader, not Ray Serve (seconds to import).
_CODECS = ("BaseDeserializer", "BaseSerializer", "BytesDeserializer", "CSVDeserializer",
           "CSVSerializer", "DataSerializer", "IdentitySerializer", "JSONDeserializer",
           "JSONLinesDeserializer", "JSONLinesSerializer", "JSONSerializer", "LibSVMSerializer",
           "NumpyDeserializer", "NumpySerializer", "PandasDeserializer", "SimpleBaseDeserializer",
           "SimpleBaseSerializer", "SparseMatrixSerializer", "StreamDeserializer",
           "StringDeserializer", "StringSerializer", "TorchTensorDeserializer",
           "TorchTensorSerializer")
_WHERE = {
    **{n: ("_apps", n) for n in ("delete", "deploy", "endpoint_url", "status", "statuses")},
    "CaptureConfig": ("_capture", "CaptureConfig"), "Predictor": ("_client", "Predictor"),
    **{n: ("_codecs", n) for n in _CODECS},
    "compare_variants": ("_compare", "compare_variants"),
    "BadRequest": ("_errors", "BadRequest"), "ServingError": ("_errors", "ServingError"),
    "ModelSpec": ("_model", "ModelSpec"),
    "parse_payload": ("_payload", "parse"), "render_payload": ("_payload", "render"),
    "set_weights": ("_state", "set_weights"), "variant_stats": ("_state", "variant_stats"),
    **{n: ("_types", n) for n in ("Settings", "Variant", "secret_hash")},
}


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'serving' has no attribute {name!r}")
    module, attr = _WHERE[name]
    value = getattr(importlib.import_module(f"serving.{module}"), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


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
