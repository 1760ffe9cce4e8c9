"""The private Ray, Ray Tune, Optuna and MLflow API mlcore relies on still exists in the
pinned versions (see parallel/_ray_compat.py, mlcore/services/tuning/_compat.py and
mlcore/_mlflow_compat.py)."""

from __future__ import annotations

import inspect

import ray


def test_ray_train_internals():
    from parallel import _ray_compat

    names = _ray_compat.names()
    assert callable(names["get_train_context"]) and callable(names["TrainController.abort"])
    assert "controller_actor" in inspect.signature(names["TrainContext"]).parameters, (
        f"ray {ray.__version__}: TrainContext lost controller_actor; update parallel/_ray_compat.py")


def test_ray_tune_and_optuna_internals():
    import optuna

    from mlcore.services.tuning import _compat

    FunctionTrainable, get_session, duplicate = _compat.function_trainable_base()
    assert callable(get_session) and isinstance(duplicate, str)
    for method in ("setup", "_trainable_func", "cleanup"):
        assert hasattr(FunctionTrainable, method), f"FunctionTrainable lost {method}"
    from ray.train._internal.session import _TrainSession

    src = inspect.getsource(_TrainSession)
    for attr in ("stop_event", "continue_lock", "training_thread", "training_started"):
        assert f"self.{attr}" in src, f"ray {ray.__version__}: the train session lost {attr}"
    dist = optuna.distributions.FloatDistribution(0.0, 1.0)
    assert _compat.distribution_contains(dist, 0.5) and not _compat.distribution_contains(dist, 2.0)


def test_mlflow_python_model_without_type_hints_warns_nothing():
    import warnings

    from mlcore._mlflow_compat import PythonModel

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")

        class Plain(PythonModel):
            def predict(self, context, model_input, params=None):
                return model_input

    assert not [w for w in seen if "type hint" in str(w.message)], (
        "MLflow no longer honours _skip_type_hint_validation; update mlcore/_mlflow_compat.py")
    assert Plain().predict(None, [1]) == [1]
