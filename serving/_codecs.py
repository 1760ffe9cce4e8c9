"""Serializers and deserializers with SageMaker v2's names and behaviour."""

from __future__ import annotations

import csv
import io
import json

import numpy as np


class CSVSerializer:
    CONTENT_TYPE = "text/csv"

    def __init__(self, content_type: str = "text/csv"):
        self.CONTENT_TYPE = content_type

    def serialize(self, data) -> str:
        if isinstance(data, str):
            return data
        if isinstance(data, bytes):
            return data.decode()
        if hasattr(data, "to_numpy"):  # pandas
            data = data.to_numpy()
        arr = np.asarray(data)
        if arr.ndim == 1:
            arr = arr[None, :]
        return "\n".join(",".join(repr(float(v)) if isinstance(v, (float, np.floating)) else str(v)
                                  for v in row) for row in arr.tolist())


class JSONSerializer:
    CONTENT_TYPE = "application/json"

    def __init__(self, content_type: str = "application/json"):
        self.CONTENT_TYPE = content_type

    def serialize(self, data) -> str:
        if isinstance(data, str):
            return data
        if hasattr(data, "to_numpy"):
            data = data.to_numpy()
        if isinstance(data, np.ndarray):
            data = data.tolist()
        return json.dumps(data)


class IdentitySerializer:
    def __init__(self, content_type: str = "application/octet-stream"):
        self.CONTENT_TYPE = content_type

    def serialize(self, data):
        return data


class JSONDeserializer:
    ACCEPT = ("application/json",)

    def deserialize(self, stream, content_type: str):
        return json.loads(stream.read())


class CSVDeserializer:
    ACCEPT = ("text/csv",)

    def deserialize(self, stream, content_type: str):
        return list(csv.reader(io.StringIO(stream.read().decode())))


class NumpyDeserializer:
    ACCEPT = ("application/json",)

    def deserialize(self, stream, content_type: str):
        body = json.loads(stream.read())
        return np.asarray(body["predictions"] if isinstance(body, dict) else body)


class StringDeserializer:
    ACCEPT = ("application/json",)

    def deserialize(self, stream, content_type: str):
        return stream.read().decode()


class BytesDeserializer:
    ACCEPT = ("*/*",)

    def deserialize(self, stream, content_type: str):
        return stream.read()
