"""The framework predictors of SDK v2 (``sagemaker.xgboost.XGBoostPredictor``,
``sagemaker.sklearn.SKLearnPredictor``, ``sagemaker.pytorch.PyTorchPredictor``): a
:class:`Predictor` with the serializer and deserializer its framework's ``model.py`` sets."""

from __future__ import annotations

from mlcore.sagemaker.predictor import Predictor
from serving import CSVDeserializer, LibSVMSerializer, NumpyDeserializer, NumpySerializer


class XGBoostPredictor(Predictor):
    """LIBSVM text out (``text/libsvm``), the CSV answer back as a list of rows of strings."""

    def __init__(self, endpoint_name: str, sagemaker_session=None,
                 serializer=LibSVMSerializer(), deserializer=CSVDeserializer(),
                 component_name: str | None = None):
        super().__init__(endpoint_name, sagemaker_session, serializer or LibSVMSerializer(),
                         deserializer or CSVDeserializer(), component_name)


class SKLearnPredictor(Predictor):
    """``.npy`` out, ``.npy`` back (``Accept: application/x-npy``) as an array."""

    def __init__(self, endpoint_name: str, sagemaker_session=None,
                 serializer=NumpySerializer(), deserializer=NumpyDeserializer(),
                 component_name: str | None = None):
        super().__init__(endpoint_name, sagemaker_session, serializer or NumpySerializer(),
                         deserializer or NumpyDeserializer(), component_name)


class PyTorchPredictor(Predictor):
    """``.npy`` out, ``.npy`` back (``Accept: application/x-npy``) as an array."""

    def __init__(self, endpoint_name: str, sagemaker_session=None,
                 serializer=NumpySerializer(), deserializer=NumpyDeserializer(),
                 component_name: str | None = None):
        super().__init__(endpoint_name, sagemaker_session, serializer or NumpySerializer(),
                         deserializer or NumpyDeserializer(), component_name)


__all__ = ["PyTorchPredictor", "SKLearnPredictor", "XGBoostPredictor"]
