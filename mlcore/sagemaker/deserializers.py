"""``sagemaker.deserializers``: v2's deserializers (``RecordDeserializer`` is not offered)."""

from serving import (
    BaseDeserializer,
    BytesDeserializer,
    CSVDeserializer,
    JSONDeserializer,
    JSONLinesDeserializer,
    NumpyDeserializer,
    PandasDeserializer,
    SimpleBaseDeserializer,
    StreamDeserializer,
    StringDeserializer,
    TorchTensorDeserializer,
)

__all__ = ["BaseDeserializer", "BytesDeserializer", "CSVDeserializer", "JSONDeserializer",
           "JSONLinesDeserializer", "NumpyDeserializer", "PandasDeserializer",
           "SimpleBaseDeserializer", "StreamDeserializer", "StringDeserializer",
           "TorchTensorDeserializer"]
