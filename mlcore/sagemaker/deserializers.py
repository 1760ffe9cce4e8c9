"""``sagemaker.deserializers``."""

from serving import (
    BytesDeserializer,
    CSVDeserializer,
    JSONDeserializer,
    NumpyDeserializer,
    StringDeserializer,
)

__all__ = ["BytesDeserializer", "CSVDeserializer", "JSONDeserializer", "NumpyDeserializer",
           "StringDeserializer"]
