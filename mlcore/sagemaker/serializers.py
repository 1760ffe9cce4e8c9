"""``sagemaker.serializers``: v2's serializers (``RecordSerializer`` from
``sagemaker.amazon.common``, and its deprecated name ``numpy_to_record_serializer``)."""

from mlcore.sagemaker.amazon.common import RecordSerializer
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

numpy_to_record_serializer = RecordSerializer  # v2's deprecated name

__all__ = ["BaseSerializer", "CSVSerializer", "DataSerializer", "IdentitySerializer",
           "JSONLinesSerializer", "JSONSerializer", "LibSVMSerializer",
           "numpy_to_record_serializer", "NumpySerializer", "RecordSerializer",
           "SimpleBaseSerializer", "SparseMatrixSerializer", "StringSerializer",
           "TorchTensorSerializer"]
