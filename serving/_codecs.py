"""Serializers and deserializers with SageMaker Python SDK v2's names, constructor arguments
and behaviour (``sagemaker/base_serializers.py``, ``base_deserializers.py`` in v2.2xx).

They run in the user's process: pandas, scipy and torch are imported only by the codecs that
need them. ``RecordSerializer`` / ``RecordDeserializer`` (RecordIO-protobuf) are not here.
"""

from __future__ import annotations

import abc
import codecs
import csv
import io
import json
import sys
from collections.abc import Iterable

import numpy as np

# -- serializers --------------------------------------------------------------------------------


class BaseSerializer(abc.ABC):
    """``serialize(data)`` into the media type ``CONTENT_TYPE``."""

    @abc.abstractmethod
    def serialize(self, data):
        """The request body for ``data``."""

    @property
    @abc.abstractmethod
    def CONTENT_TYPE(self):  # noqa: N802 (v2's name)
        """The MIME type of the request body."""


class SimpleBaseSerializer(BaseSerializer):
    """A serializer whose Content-Type is set at construction."""

    def __init__(self, content_type: str = "application/json"):
        if not isinstance(content_type, str):
            raise ValueError("content_type must be a string specifying the MIME type of the data "
                             "sent in requests: e.g. 'application/json', 'text/csv', etc. Got "
                             f"{content_type}")
        self.content_type = content_type

    @property
    def CONTENT_TYPE(self):  # noqa: N802
        return self.content_type


def _is_dataframe(data) -> bool:
    pandas = sys.modules.get("pandas")  # not imported: data cannot be a DataFrame
    return pandas is not None and isinstance(data, pandas.DataFrame)


class CSVSerializer(SimpleBaseSerializer):
    """A CSV string from a string, a file, a DataFrame, a list / array (one row) or a list of
    rows / 2-D array (one line per row)."""

    def __init__(self, content_type: str = "text/csv"):
        super().__init__(content_type)

    def serialize(self, data):
        if hasattr(data, "read"):
            return data.read()
        if _is_dataframe(data):
            return data.to_csv(header=False, index=False)
        mutable = self._is_sequence_like(data) and hasattr(data, "__setitem__")
        if mutable and len(data) > 0 and self._is_sequence_like(data[0]):
            return "\n".join(self._serialize_row(row) for row in data)
        return self._serialize_row(data)

    def _serialize_row(self, data) -> str:
        if isinstance(data, str):
            return data
        if isinstance(data, np.ndarray):
            data = data.flatten()
        if hasattr(data, "__len__"):
            if len(data) == 0:
                raise ValueError("Cannot serialize empty array")
            buffer = io.StringIO()
            csv.writer(buffer, delimiter=",").writerow(data)
            return buffer.getvalue().rstrip("\r\n")
        raise ValueError(f"Unable to handle input format: {type(data)}")

    @staticmethod
    def _is_sequence_like(data) -> bool:
        return hasattr(data, "__iter__") and hasattr(data, "__getitem__")


class NumpySerializer(SimpleBaseSerializer):
    """``.npy`` bytes from an array, a list (cast to ``dtype``), or a file / buffer (assumed to
    hold ``.npy`` data already)."""

    def __init__(self, dtype=None, content_type: str = "application/x-npy"):
        super().__init__(content_type)
        self.dtype = dtype

    def serialize(self, data):
        if isinstance(data, np.ndarray):
            if data.size == 0:
                raise ValueError("Cannot serialize empty array.")
            return self._serialize_array(data)
        if isinstance(data, list):
            if len(data) == 0:
                raise ValueError("Cannot serialize empty array.")
            return self._serialize_array(np.array(data, self.dtype))
        if hasattr(data, "read"):
            return data.read()
        return self._serialize_array(np.array(data))

    @staticmethod
    def _serialize_array(array: np.ndarray) -> bytes:
        buffer = io.BytesIO()
        np.save(buffer, array)
        return buffer.getvalue()


class JSONSerializer(SimpleBaseSerializer):
    """A JSON string; arrays (also as a dict's values) become lists, a file is read as is."""

    def serialize(self, data):
        if isinstance(data, dict):
            return json.dumps({k: v.tolist() if isinstance(v, np.ndarray) else v
                               for k, v in data.items()})
        if hasattr(data, "read"):
            return data.read()
        if isinstance(data, np.ndarray):
            return json.dumps(data.tolist())
        return json.dumps(data)


class IdentitySerializer(SimpleBaseSerializer):
    """The data unchanged (bytes from an image file's ``read()``, a CSV string, ...)."""

    def __init__(self, content_type: str = "application/octet-stream"):
        super().__init__(content_type)

    def serialize(self, data):
        return data


class JSONLinesSerializer(SimpleBaseSerializer):
    """One JSON value per line, from a string, a file or an iterable of values."""

    def __init__(self, content_type: str = "application/jsonlines"):
        super().__init__(content_type)

    def serialize(self, data):
        if isinstance(data, str):
            return data
        if hasattr(data, "read"):
            return data.read()
        if isinstance(data, Iterable):
            return "\n".join(json.dumps(element) for element in data)
        raise ValueError(f"Object of type {type(data)} is not JSON Lines serializable.")


class SparseMatrixSerializer(SimpleBaseSerializer):
    """A scipy sparse matrix (csc, csr, bsr, dia or coo) as ``.npz`` bytes."""

    def __init__(self, content_type: str = "application/x-npz"):
        super().__init__(content_type)

    def serialize(self, data):
        import scipy.sparse

        buffer = io.BytesIO()
        scipy.sparse.save_npz(buffer, data)
        return buffer.getvalue()


class LibSVMSerializer(SimpleBaseSerializer):
    """Data already in LIBSVM format (``<label> <index>:<value> ...``): a string or a file."""

    def __init__(self, content_type: str = "text/libsvm"):
        super().__init__(content_type)

    def serialize(self, data):
        if isinstance(data, str):
            return data
        if hasattr(data, "read"):
            return data.read()
        raise ValueError(f"Unable to handle input format: {type(data)}")


class DataSerializer(SimpleBaseSerializer):
    """Raw bytes: the contents of the file at a path, bytes as they are, or ``{"data": ...}``."""

    def __init__(self, content_type: str = "file-path/raw-bytes"):
        super().__init__(content_type)

    def serialize(self, data):
        if isinstance(data, str):
            try:
                with open(data, "rb") as f:
                    return f.read()
            except Exception as e:
                raise ValueError(f"Could not open/read file: {data}. {e}") from e
        if isinstance(data, bytes):
            return data
        if isinstance(data, dict) and "data" in data:
            return self.serialize(data["data"])
        raise ValueError(f"Object of type {type(data)} is not Data serializable.")


class StringSerializer(SimpleBaseSerializer):
    """A string encoded as UTF-8 bytes."""

    def __init__(self, content_type: str = "text/plain"):
        super().__init__(content_type)

    def serialize(self, data):
        if isinstance(data, str):
            return data.encode("utf-8")
        raise ValueError(f"Object of type {type(data)} is not String serializable.")


class TorchTensorSerializer(SimpleBaseSerializer):
    """A ``torch.Tensor`` as ``.npy`` bytes (through :class:`NumpySerializer`)."""

    def __init__(self, content_type: str = "tensor/pt"):
        super().__init__(content_type)
        from torch import Tensor

        self.torch_tensor = Tensor
        self.numpy_serializer = NumpySerializer()

    def serialize(self, data):
        if isinstance(data, self.torch_tensor):
            try:
                return self.numpy_serializer.serialize(data.detach().numpy())
            except Exception as e:
                raise ValueError(f"Unable to serialize your data because: {e}. Please provide "
                                 "custom serialization in InferenceSpec.") from e
        raise ValueError(f"Object of type {type(data)} is not a torch.Tensor")


# -- deserializers ------------------------------------------------------------------------------


class BaseDeserializer(abc.ABC):
    """``deserialize(stream, content_type)`` of a response in one of the ``ACCEPT`` types."""

    @abc.abstractmethod
    def deserialize(self, stream, content_type):
        """The response body read from ``stream`` (a file-like object)."""

    @property
    @abc.abstractmethod
    def ACCEPT(self):  # noqa: N802
        """The content types expected from the endpoint."""


class SimpleBaseDeserializer(BaseDeserializer):
    """A deserializer whose Accept types are set at construction (a string or a tuple)."""

    def __init__(self, accept="*/*"):
        self.accept = accept

    @property
    def ACCEPT(self):  # noqa: N802
        return (self.accept,) if isinstance(self.accept, str) else self.accept


class StringDeserializer(SimpleBaseDeserializer):
    def __init__(self, encoding: str = "UTF-8", accept="application/json"):
        super().__init__(accept)
        self.encoding = encoding

    def deserialize(self, stream, content_type):
        try:
            return stream.read().decode(self.encoding)
        finally:
            stream.close()


class BytesDeserializer(SimpleBaseDeserializer):
    def deserialize(self, stream, content_type):
        try:
            return stream.read()
        finally:
            stream.close()


class CSVDeserializer(SimpleBaseDeserializer):
    """A list of rows, each a list of strings."""

    def __init__(self, encoding: str = "utf-8", accept="text/csv"):
        super().__init__(accept)
        self.encoding = encoding

    def deserialize(self, stream, content_type):
        try:
            return list(csv.reader(stream.read().decode(self.encoding).splitlines()))
        finally:
            stream.close()


class StreamDeserializer(SimpleBaseDeserializer):
    """``(stream, content_type)`` as received; the caller closes the stream."""

    def deserialize(self, stream, content_type):
        return stream, content_type


class NumpyDeserializer(SimpleBaseDeserializer):
    """An array from a ``text/csv``, ``application/json``, ``application/x-npy`` or
    ``application/x-npz`` (a dict-like of arrays) response, chosen by its exact content type."""

    def __init__(self, dtype=None, accept="application/x-npy", allow_pickle: bool = False):
        super().__init__(accept)
        self.dtype = dtype
        self.allow_pickle = allow_pickle

    def deserialize(self, stream, content_type):
        try:
            if content_type == "text/csv":
                return np.genfromtxt(codecs.getreader("utf-8")(stream), delimiter=",",
                                     dtype=self.dtype)
            if content_type == "application/json":
                return np.array(json.load(codecs.getreader("utf-8")(stream)), dtype=self.dtype)
            if content_type in ("application/x-npy", "application/x-npz"):
                try:
                    return np.load(io.BytesIO(stream.read()), allow_pickle=self.allow_pickle)
                except ValueError as e:
                    raise ValueError("Please set the param allow_pickle=True to deserialize "
                                     "pickle objects in NumpyDeserializer") from e
        finally:
            stream.close()
        raise ValueError(f"NumpyDeserializer cannot read content type {content_type}.")


class JSONDeserializer(SimpleBaseDeserializer):
    def __init__(self, accept="application/json"):
        super().__init__(accept)

    def deserialize(self, stream, content_type):
        try:
            return json.load(codecs.getreader("utf-8")(stream))
        finally:
            stream.close()


class PandasDeserializer(SimpleBaseDeserializer):
    """A DataFrame from CSV (with a header row) or JSON (pandas' 'columns' orient)."""

    def __init__(self, accept=("text/csv", "application/json")):
        super().__init__(accept)

    def deserialize(self, stream, content_type):
        import pandas

        if content_type == "text/csv":
            return pandas.read_csv(stream)
        if content_type == "application/json":
            return pandas.read_json(stream)
        raise ValueError(f"PandasDeserializer cannot read content type {content_type}.")


class JSONLinesDeserializer(SimpleBaseDeserializer):
    """A list of the JSON values, one per line."""

    def __init__(self, accept="application/jsonlines"):
        super().__init__(accept)

    def deserialize(self, stream, content_type):
        try:
            return [json.loads(line) for line in stream.read().decode("utf-8").rstrip().split("\n")]
        finally:
            stream.close()


class TorchTensorDeserializer(SimpleBaseDeserializer):
    """A ``torch.Tensor`` from ``.npy`` bytes."""

    def __init__(self, accept="tensor/pt"):
        super().__init__(accept)
        self.numpy_deserializer = NumpyDeserializer()
        try:
            from torch import from_numpy
        except ImportError:
            raise Exception("Unable to import pytorch.") from None
        self.convert_npy_to_tensor = from_numpy

    def deserialize(self, stream, content_type="tensor/pt"):
        try:
            array = self.numpy_deserializer.deserialize(stream, "application/x-npy")
            return self.convert_npy_to_tensor(array)
        except Exception:
            raise ValueError("Unable to deserialize your data to torch.Tensor. Please provide "
                             "custom deserializer in InferenceSpec.") from None
