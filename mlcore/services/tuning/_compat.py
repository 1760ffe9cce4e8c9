"""Every use of Ray Tune's and Optuna's private API in the tuning service, in one place, each
with the reason the public API does not suffice. ``tests/test_compat.py`` fails loudly when
the pinned versions change any of them (read this file first on an upgrade).
"""

from __future__ import annotations


def function_trainable_base():
    """Ray Tune's ``FunctionTrainable`` and the pieces of its session a graceful stop needs:
    ``(FunctionTrainable, get_session, RESULT_DUPLICATE)``.

    Why private: Tune's own stop of a function trainable ends the trial actor at once, and a
    Ray Train run whose driver dies keeps its placement group (its cleaner needs Ray's
    dashboard), so its CPUs leak. Subclassing ``FunctionTrainable`` lets ``cleanup`` first end
    the training thread through the session's ``stop_event`` / ``continue_lock`` (what Tune's
    own wrapper does on ``stop``), and ``RESULT_DUPLICATE`` is the marker with which Tune's
    wrapper tells the controller that the function returned.
    """
    from ray.train._internal.session import get_session
    from ray.tune.result import RESULT_DUPLICATE
    from ray.tune.trainable.function_trainable import FunctionTrainable

    return FunctionTrainable, get_session, RESULT_DUPLICATE


def stop_training_thread(session, timeout_s: float) -> bool:
    """Make a running function trainable's thread return (a report it waits in raises
    SystemExit); False when no training thread runs."""
    thread = getattr(session, "training_thread", None)
    if session is None or not session.training_started or not thread.is_alive():
        return False
    session.stop_event.set()
    session.continue_lock.release()
    thread.join(timeout=timeout_s)
    return True


def trial_actor(trial):
    """The Ray actor a Tune trial runs in (None when it has none now).

    Why private: Tune keeps the handle on the trial's ``temporary_state`` only. When the
    scheduler stops a trial, Tune just stops asking its actor for results and, with
    ``reuse_actors``, keeps the actor for the next trial: the trial's training job would
    run on until then. The driver's callback calls the actor at once to end the job.
    """
    return getattr(getattr(trial, "temporary_state", None), "ray_actor", None)


def distribution_contains(dist, value) -> bool:
    """Whether an Optuna distribution admits ``value``.

    Why private: ``optuna.trial.create_trial`` raises on a value outside a distribution, and
    Optuna exposes the check only as ``BaseDistribution._contains`` (on the internal repr).
    """
    try:
        return value is not None and dist._contains(dist.to_internal_repr(value))
    except (ValueError, TypeError):
        return False
