"""``sagemaker.amazon.hyperparameter``: v2's ``Hyperparameter`` descriptor. An estimator
attribute (``KMeans.max_iterations``) that stores its value under the algorithm's name
(``local_lloyd_max_iter``) after converting it to ``data_type`` and validating it; ``None``
unsets it (unset ones are not sent to training)."""

from __future__ import annotations

import json


class Hyperparameter:
    """``Hyperparameter(name, validate=..., validation_message="", data_type=str)``:
    ``validate`` is one check or a tuple of them (``validation.gt(0)``, ...)."""

    def __init__(self, name, validate=lambda _: True, validation_message="", data_type=str):
        self.name, self.validation_message, self.data_type = name, validation_message, data_type
        self.validation = list(validate) if isinstance(validate, (list, tuple)) else [validate]

    def validate(self, value) -> None:
        if value is None:  # assigning None unsets the hyperparameter
            return
        for valid in self.validation:
            if not valid(value):
                message = f"Invalid hyperparameter value {value} for {self.name}"
                if self.validation_message:
                    message += f". Expecting: {self.validation_message}"
                raise ValueError(message)

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        values = obj.__dict__.get("_hyperparameters", {})
        if self.name not in values:
            raise AttributeError(f"{type(obj).__name__} has no value for hyperparameter "
                                 f"{self.name!r}")
        return values[self.name]

    def __set__(self, obj, value) -> None:
        value = None if value is None else self.data_type(value)
        self.validate(value)
        obj.__dict__.setdefault("_hyperparameters", {})[self.name] = value

    def __delete__(self, obj) -> None:
        del obj.__dict__["_hyperparameters"][self.name]

    @staticmethod
    def serialize_all(obj) -> dict[str, str]:
        """Every hyperparameter of ``obj`` that is set, as SageMaker sends them: strings,
        lists as JSON."""
        return {k: json.dumps(v) if isinstance(v, list) else str(v)
                for k, v in obj.__dict__.get("_hyperparameters", {}).items() if v is not None}


__all__ = ["Hyperparameter"]
