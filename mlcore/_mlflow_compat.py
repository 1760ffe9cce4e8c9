"""MLflow's private API, used here only (the one place to look when MLflow is upgraded)."""

from __future__ import annotations

import mlflow.pyfunc


class PythonModel(mlflow.pyfunc.PythonModel):
    """``mlflow.pyfunc.PythonModel`` without MLflow's type-hint check of ``predict``.

    Private: ``_skip_type_hint_validation``, the attribute MLflow's own ChatModel subclasses
    set. Without it, defining a subclass whose ``predict`` has no type hints prints a colour
    warning on the user's terminal that no filter can silence (MLflow re-enables user
    warnings inside the check). mlcore's models take whatever rows a request had, so they have
    no input type to declare and no MLflow schema validation to enable."""

    _skip_type_hint_validation = True
