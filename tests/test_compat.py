"""The private Ray, Ray Tune and Optuna API mlcore relies on still exists in the pinned
versions (see parallel/_ray_compat.py and mlcore/services/tuning/_compat.py)."""

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
