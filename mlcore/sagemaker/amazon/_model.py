"""What the first-party algorithms' Model and Predictor classes share: v2's ``KMeansModel``,
``PCAPredictor``, ... differ only in the algorithm they name."""

from __future__ import annotations

import logging

from mlcore.sagemaker import image_uris
from mlcore.sagemaker.amazon.common import RecordDeserializer, RecordSerializer
from mlcore.sagemaker.model import Model
from mlcore.sagemaker.predictor import Predictor

log = logging.getLogger("mlcore")


class RecordPredictor(Predictor):
    """Numpy rows out as RecordIO-protobuf, the answer back as a list of ``Record``
    (``record.label["score"].float32_tensor.values[0]``)."""

    def __init__(self, endpoint_name: str, sagemaker_session=None,
                 serializer=RecordSerializer(), deserializer=RecordDeserializer(),
                 component_name: str | None = None):
        super().__init__(endpoint_name, sagemaker_session, serializer or RecordSerializer(),
                         deserializer or RecordDeserializer(), component_name)


class AlgorithmModel(Model):
    """A trained model of the built-in ``_repo_name``, served by that built-in; ``deploy``
    returns ``_predictor_cls``. ``predictor_cls`` / ``image_uri`` are fixed, as in v2."""

    _repo_name: str = ""
    _predictor_cls = RecordPredictor

    def __init__(self, model_data: str, role: str | None = None, sagemaker_session=None,
                 **kwargs):
        image_uri = image_uris.retrieve(self._repo_name, version="1")
        for fixed, value in (("predictor_cls", self._predictor_cls.__name__),
                             ("image_uri", image_uri)):
            if kwargs.pop(fixed, None) is not None:
                log.warning("%s(%s=...) is not used: it is always %s", type(self).__name__,
                            fixed, value)
        super().__init__(image_uri, model_data, role, predictor_cls=self._predictor_cls,
                         sagemaker_session=sagemaker_session, **kwargs)
