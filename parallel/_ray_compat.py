"""Every use of Ray Train's private API in ``parallel``, in one place, each with the reason the
public API does not suffice. ``tests/test_compat.py`` fails loudly when the pinned Ray
changes any of them (read this file first on a Ray upgrade).
"""

from __future__ import annotations


def train_controller():
    """This run's Ray Train V2 controller actor, from inside a worker (None if unavailable).

    Why private: Train V2 aborts a run gracefully (worker group and placement group released)
    only through its controller's ``abort``, and hands the controller to the driver only in a
    SIGINT handler; the worker's train context holds it (``TrainContext.controller_actor``).
    """
    try:
        from ray.train.v2._internal.execution.context import get_train_context

        return get_train_context().controller_actor
    except Exception:  # an older or newer Ray: no graceful abort, the run ends with its owner
        return None


def abort_run(controller, timeout_s: float) -> None:
    """Ask a Train V2 controller (see :func:`train_controller`) to abort its run.

    Why private: ``TrainController.abort`` is the method Train's own SIGINT handler calls;
    there is no public "stop this run" call for a run started elsewhere.
    """
    import ray

    ray.get(controller.abort.remote(), timeout=timeout_s)


def names() -> dict[str, object]:
    """The private objects this module relies on, for the compatibility test."""
    from ray.train.v2._internal.execution.context import TrainContext, get_train_context
    from ray.train.v2._internal.execution.controller import TrainController

    return {"get_train_context": get_train_context, "TrainContext": TrainContext,
            "TrainController.abort": TrainController.abort}
