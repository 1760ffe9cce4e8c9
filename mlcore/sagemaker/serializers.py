"""``sagemaker.serializers``: v2's serializers (``RecordSerializer`` is not offered)."""

from serving import (
    BaseSerializer,
    CSVSerializer,
    DataSerializer,
    IdentitySerializer,
    JSONLinesSerializer,
    JSONSerializer,
    LibSVMSerializer,
    NumpySerializer,
    SimpleBaseSerializer,
    SparseMatrixSerializer,
    StringSerializer,
    TorchTensorSerializer,
)

__all__ = ["BaseSerializer", "CSVSerializer", "DataSerializer", "IdentitySerializer",
           "JSONLinesSerializer", "JSONSerializer", "LibSVMSerializer", "NumpySerializer",
           "SimpleBaseSerializer", "SparseMatrixSerializer", "StringSerializer",
           "TorchTensorSerializer"]
