"""``sagemaker.deserializers``: v2's deserializers (``RecordDeserializer`` from
``sagemaker.amazon.common``, and its deprecated name ``record_deserializer``)."""

from mlcore.sagemaker.amazon.common import RecordDeserializer
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

record_deserializer = RecordDeserializer  # v2's deprecated name

__all__ = ["BaseDeserializer", "BytesDeserializer", "CSVDeserializer", "JSONDeserializer",
           "JSONLinesDeserializer", "NumpyDeserializer", "PandasDeserializer",
           "record_deserializer", "RecordDeserializer", "SimpleBaseDeserializer",
           "StreamDeserializer", "StringDeserializer", "TorchTensorDeserializer"]
