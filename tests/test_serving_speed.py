"""What the serving speed-ups must not break: the adaptive batcher's policy (no
Ray: its decisions, never its timings), and a serverless endpoint that answers its first
request from zero replicas and goes back to zero when idle."""

from __future__ import annotations

import asyncio
import sys
import threading
import time

import numpy as np
import pytest
import requests
from ray import cloudpickle

import serving
from serving._apps import WAKE_METRICS, _scale
from serving._batch import Batcher

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # replicas need these functions


class _Model:
    """Records the rows of each call and the thread it ran in; ``gate`` (an Event) holds a
    call until the test releases it."""

    def __init__(self, gate: threading.Event | None = None, fail: bool = False):
        self.calls, self.threads, self.gate, self.fail = [], [], gate, fail

    def __call__(self, X):
        self.calls.append(len(X))
        self.threads.append(threading.get_ident())
        if self.gate is not None:
            self.gate.wait(10)
        if self.fail:
            raise ValueError("model failed")
        return X[:, 0] * 10


def _rows(*values):
    return np.array([[v, 0.0] for v in values], dtype=np.float32)


def test_a_lone_request_runs_at_once_in_one_call():
    model = _Model()
    batcher = Batcher(model, max_size=8, max_wait_s=30, gap_s=30)  # a wait would hang the test

    async def main():
        return [await batcher(_rows(i)) for i in range(3)]  # one after another: always alone

    out = asyncio.run(main())
    assert [o.tolist() for o in out] == [[0.0], [10.0], [20.0]]
    assert model.calls == [1, 1, 1]


def test_requests_arriving_while_the_model_is_busy_share_the_next_call():
    gate = threading.Event()
    model = _Model(gate)
    batcher = Batcher(model, max_size=4, max_wait_s=0, gap_s=0)

    async def main():
        first = asyncio.ensure_future(batcher(_rows(0)))
        while not model.calls:  # the first call is running (held by the gate)
            await asyncio.sleep(0.001)
        rest = [asyncio.ensure_future(batcher(_rows(i, -i))) for i in range(1, 7)]
        await asyncio.sleep(0)
        gate.set()
        return await first, await asyncio.gather(*rest)

    first, rest = asyncio.run(main())
    assert first.tolist() == [0.0]
    assert [r.tolist() for r in rest] == [[10.0 * i, -10.0 * i] for i in range(1, 7)]
    assert model.calls == [1, 8, 4]  # alone, then max_size requests (of 2 rows), then the rest


def _busy_then_waiting(batcher, model, gate, n):
    """One request held in the model (by ``gate``) and ``n`` more waiting: the replica has
    held ``n + 1`` at once. Returns their tasks."""

    async def start():
        first = asyncio.ensure_future(batcher(_rows(0)))
        while not model.calls:
            await asyncio.sleep(0.001)
        waiting = [asyncio.ensure_future(batcher(_rows(i))) for i in range(1, n + 1)]
        await asyncio.sleep(0)
        return [first, *waiting]

    return start()


async def _until_collecting(batcher) -> None:
    for _ in range(5000):  # the batch clears the event set by the ones waiting once it collects
        if not batcher._joined.is_set():
            return
        await asyncio.sleep(0.001)


def test_a_batch_waits_for_as_many_requests_as_the_replica_held_lately():
    gate = threading.Event()
    model = _Model(gate)
    # A gap far beyond the test's pace: the batch waits for the fifth, then runs at once.
    batcher = Batcher(model, max_size=8, max_wait_s=600, gap_s=300)

    async def main():
        tasks = await _busy_then_waiting(batcher, model, gate, 4)
        gate.set()  # the model is free, 4 wait, 5 were held lately: the batch waits for one more
        await _until_collecting(batcher)
        late = asyncio.ensure_future(batcher(_rows(5)))
        return await asyncio.wait_for(asyncio.gather(*tasks, late), 60)

    out = asyncio.run(main())
    assert [r.tolist() for r in out] == [[10.0 * i] for i in range(6)]
    assert model.calls == [1, 5]  # the late one joined the four that waited


def test_a_batch_stops_waiting_when_requests_stop_joining():
    gate = threading.Event()
    model = _Model(gate)
    batcher = Batcher(model, max_size=8, max_wait_s=600, gap_s=0.01)  # only the gap ends it

    async def main():
        tasks = await _busy_then_waiting(batcher, model, gate, 4)
        gate.set()
        return await asyncio.wait_for(asyncio.gather(*tasks), 60)

    assert [r.tolist() for r in asyncio.run(main())] == [[10.0 * i] for i in range(5)]
    assert model.calls == [1, 4]


def test_a_failing_batch_fails_each_of_its_requests_and_cancelled_ones_are_skipped():
    gate = threading.Event()
    model = _Model(gate, fail=True)
    batcher = Batcher(model, max_size=8, max_wait_s=0, gap_s=0)

    async def main():
        first = asyncio.ensure_future(batcher(_rows(0)))
        while not model.calls:
            await asyncio.sleep(0.001)
        waiting = [asyncio.ensure_future(batcher(_rows(i))) for i in range(1, 4)]
        await asyncio.sleep(0)
        waiting[0].cancel()  # a request that timed out while it waited
        gate.set()
        return await asyncio.gather(first, *waiting, return_exceptions=True)

    results = asyncio.run(main())
    assert isinstance(results[1], asyncio.CancelledError)
    assert all(isinstance(r, ValueError) for r in results[:1] + results[2:])
    assert model.calls == [1, 2]  # the cancelled request never reached the model


def test_a_fast_model_runs_in_the_event_loop_and_a_slow_one_in_a_thread():
    async def calls(model):
        batcher = Batcher(model, max_size=8)
        for i in range(30):
            await batcher(_rows(i))
        return threading.get_ident(), batcher.cost

    fast = _Model()
    loop_thread, cost = asyncio.run(calls(fast))
    assert fast.threads[0] != loop_thread  # unmeasured: a thread, to be safe
    # Measured fast: inline (a call the machine preempted may delay that by a few calls).
    assert fast.threads[-1] == loop_thread, cost.call

    def slow(X):
        time.sleep(0.002)  # 4x the inline bound
        return fast(X)

    fast.threads.clear()
    loop_thread, _ = asyncio.run(calls(slow))
    assert loop_thread not in fast.threads


def test_batching_off_runs_requests_concurrently():
    gate = threading.Event()
    model = _Model(gate)
    batcher = Batcher(model, max_size=1)

    async def main():
        tasks = [asyncio.ensure_future(batcher(_rows(i))) for i in range(3)]
        while len(model.calls) < 3:  # all three calls running at once, none waits for another
            await asyncio.sleep(0.001)
        gate.set()
        return await asyncio.gather(*tasks)

    assert [r.tolist() for r in asyncio.run(main())] == [[0.0], [10.0], [20.0]]
    assert model.calls == [1, 1, 1]


def test_only_a_variant_that_can_scale_to_zero_reports_its_load_often():
    from mlcore.services.endpoints import serverless_autoscaling

    spec = serving.ModelSpec("models:/unused", _no_artifact, _first_times_ten)
    zero = serving.Variant("A", spec, replicas=0, autoscaling=serverless_autoscaling(2))
    assert _scale(zero)["autoscaling_config"].items() >= WAKE_METRICS.items()
    one = serving.Variant("A", spec, autoscaling={"min_replicas": 1, "max_replicas": 2})
    assert "metrics_interval_s" not in _scale(one)["autoscaling_config"]
    default = serving.Variant("A", spec, autoscaling={"max_replicas": 2})
    assert "metrics_interval_s" not in _scale(default)["autoscaling_config"]  # Serve's min is 1


# -- scale from zero (Ray) -----------------------------------------------------------------------


def _no_artifact(uri):
    return {"uri": uri}


def _first_times_ten(model, X):
    return X[:, 0] * 10


def _replicas(name: str) -> int:
    """Replicas in any state: a stopping one still answers while it drains."""
    status = serving.status(name) or {}
    return sum(status.get("deployments", {}).get("ingress", {}).get("replicas", {}).values())


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout} s")
        time.sleep(0.2)


@pytest.mark.integration
def test_serverless_endpoint_wakes_for_its_first_request_and_returns_to_zero(ray_session,
                                                                             monkeypatch):
    from mlcore.services.endpoints import serverless_autoscaling

    monkeypatch.setenv("MLCORE_SERVERLESS_IDLE_S", "1")  # read by serverless_autoscaling
    spec = serving.ModelSpec("models:/unused", _no_artifact, _first_times_ten)
    variant = serving.Variant("AllTraffic", spec, replicas=0, resources={"CPU": 0.25},
                              autoscaling=serverless_autoscaling(max_concurrency=2))
    url = serving.deploy("ep-wake", [variant])
    try:
        assert _replicas("ep-wake") == 0
        for wake in range(2):  # from zero, back to zero, and from zero again
            r = requests.post(f"{url}/invocations", data=f"{wake + 1},2,3",
                              headers={"Content-Type": "text/csv"}, timeout=120)
            assert r.status_code == 200, r.text
            assert r.json() == {"predictions": [10.0 * (wake + 1)]}
            _wait_for(lambda: _replicas("ep-wake") == 0, 90, "no scale back to zero")
    finally:
        serving.delete("ep-wake")
