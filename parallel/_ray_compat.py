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


def user_exception(error: BaseException) -> BaseException:
    """The exception a worker's training function raised, out of Train's wrapper.

    Why private: Train V2 hands the driver each failed worker's error as a
    ``UserExceptionWithTraceback`` whose public face is only the traceback text; the
    exception itself (its type and fields, e.g. an mlcore DataError) is its ``_base_exc``.
    """
    base = getattr(error, "_base_exc", None)
    return base if isinstance(base, BaseException) else error


def quiet_worker_tracebacks() -> None:
    """In a Train worker: a log record of Train's that carries a traceback (its "Error in
    training function:" record, the whole user traceback) reaches the console, which Ray
    streams to the driver's terminal, as one line naming the worker log that keeps it whole.

    Why private: Train logs it through the ``ray.train`` logger it configures in each worker
    (two session log files and a console ``StreamHandler``), with no option to keep it off
    the console; only that handler is filtered, the log files keep everything.
    """
    import logging

    handlers = logging.getLogger("ray.train").handlers
    files = [p for h in handlers if callable(getattr(h, "get_log_file_path", None))
             and (p := h.get_log_file_path())]
    where = next((p for p in files if "app-worker" in p), files[0] if files else "Ray's worker logs")
    for h in handlers:
        if isinstance(h, logging.StreamHandler) and not any(isinstance(f, _OneLine) for f in h.filters):
            h.addFilter(_OneLine(h, where))


class _OneLine:
    """A handler filter: a record with a traceback is emitted as one line instead."""

    def __init__(self, handler, where: str):
        self.handler, self.where = handler, where

    def filter(self, record) -> bool:
        import logging

        from mlcore.errors import root_cause

        if getattr(record, "mlcore_one_line", False):
            return True
        text = record.getMessage()
        if not record.exc_info and "Traceback (most recent call last)" not in text:
            return True
        head = text.strip().splitlines()[0].rstrip(":") if text.strip() else "error"
        cause = root_cause(record.exc_info[1]) if record.exc_info else root_cause(text)
        self.handler.handle(logging.makeLogRecord({
            **record.__dict__, "msg": f"{head}: {cause} (traceback in {self.where})", "args": None,
            "exc_info": None, "exc_text": None, "mlcore_one_line": True}))
        return False


def without_placement_group_cleaner(trainer_cls):
    """``trainer_cls`` without Ray Train's placement-group cleaner: a detached actor per run
    that watches the controller through the state API, which needs Ray's dashboard, so on a
    Ray without one (mlcore's embedded Ray) it costs a process and cleans nothing. mlcore's
    own abort (``parallel._launch._abort``) removes the placement group of a run it kills.

    Why private: the cleaner is one of the default callbacks ``_create_default_callbacks``
    builds, and Ray offers no setting to leave it out.
    """
    from ray.train.v2._internal.callbacks.placement_group_callback import (
        PlacementGroupCleanerCallback,
    )

    class Trainer(trainer_cls):
        def _create_default_callbacks(self):
            return [c for c in super()._create_default_callbacks()
                    if not isinstance(c, PlacementGroupCleanerCallback)]

    Trainer.__name__ = Trainer.__qualname__ = trainer_cls.__name__
    return Trainer


def set_train_fn_utils(utils) -> None:
    """Install ``utils`` as this process's Ray Train function utilities (what
    ``ray.train.report`` / ``get_checkpoint`` / ``get_context`` call).

    Why private: the fast path (``parallel._fast``) runs a one-worker job's training function
    in a plain task, as Ray Train's own local mode (``ScalingConfig(num_workers=0)``) does,
    but with checkpoints persisted to the job's folder; Train documents its ``TrainFnUtils``
    as the class to patch for other behaviour, but installs it only from private code.
    """
    from ray.train.v2._internal.execution.train_fn_utils import set_train_fn_utils as install

    install(utils)


def local_train_fn_utils():
    """Ray Train's local-mode ``LocalTrainFnUtils`` (see :func:`set_train_fn_utils`)."""
    from ray.train.v2._internal.execution.train_fn_utils import LocalTrainFnUtils

    return LocalTrainFnUtils


def names() -> dict[str, object]:
    """The private objects this module relies on, for the compatibility test."""
    from ray.train.v2._internal.callbacks.placement_group_callback import (
        PlacementGroupCleanerCallback,
    )
    from ray.train.v2._internal.exceptions import UserExceptionWithTraceback
    from ray.train.v2._internal.execution.context import TrainContext, get_train_context
    from ray.train.v2._internal.execution.controller import TrainController
    from ray.train.v2._internal.execution.train_fn_utils import (
        LocalTrainFnUtils,
        set_train_fn_utils,
    )
    from ray.train.v2.api.data_parallel_trainer import DataParallelTrainer

    return {"get_train_context": get_train_context, "TrainContext": TrainContext,
            "PlacementGroupCleanerCallback": PlacementGroupCleanerCallback,
            "DataParallelTrainer._create_default_callbacks": DataParallelTrainer._create_default_callbacks,
            "LocalTrainFnUtils.report": LocalTrainFnUtils.report,
            "LocalTrainFnUtils._get_last_metrics": LocalTrainFnUtils._get_last_metrics,
            "set_train_fn_utils": set_train_fn_utils,
            "TrainController.abort": TrainController.abort,
            "UserExceptionWithTraceback": UserExceptionWithTraceback}
