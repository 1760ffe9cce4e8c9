"""The async queue's guarantees without Ray: claims are exclusive, a lapsed lease is taken up
again under a new attempt, a late writer is fenced, a crash between commit and move is
repaired once, poison and expired requests end as failure records, and the autoscaling
decision counts running work as well as waiting work."""

from __future__ import annotations

import json
import multiprocessing
import time
import uuid
from pathlib import Path

import pytest

from serving._async import AsyncConfig, replicas_for, settle
from serving._queue import COMPLETED, FAILED, IN_PROGRESS, PENDING, QueueFull, SqliteQueue, Taken


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


@pytest.fixture(params=["sqlite", "redis"])
def queue_uri(request, tmp_path):
    """The embedded queue, and the queue on a real redis-server (both backends, one protocol)."""
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'q.db'}"
    server = request.getfixturevalue("redis_server")
    return f"{server.url}?prefix=mlcore:test:{uuid.uuid4().hex}"


def _open(uri, clock=None):
    if uri.startswith("redis://"):
        from serving._queue_redis import RedisQueue

        return RedisQueue(uri, clock or Clock())
    return SqliteQueue(uri.removeprefix("sqlite://"), clock or Clock())


def _submit(q, id, tmp_path, **kw):
    return q.submit(id, str(tmp_path / "in" / id), "text/csv", "*/*", str(tmp_path / "out" / f"{id}.out"),
                    str(tmp_path / "fail" / f"{id}-error.out"), kw.pop("ttl_s", 3600), **kw)


def test_claim_lease_fence_and_settle(tmp_path, queue_uri):
    clock = Clock()
    q = _open(queue_uri, clock)
    for i in range(3):
        _submit(q, f"r{i}", tmp_path)
        clock.t += 1
    assert q.counts()[PENDING] == 3 and q.open_work() == 3
    with pytest.raises(Taken):  # an inference id is used once
        _submit(q, "r0", tmp_path)

    a = q.claim("A", lease_s=10, max_attempts=3)
    b = q.claim("B", lease_s=10, max_attempts=3)
    assert (a.id, a.attempt, a.status, b.id) == ("r0", 1, IN_PROGRESS, "r1")  # oldest first
    assert q.open_work() == 3  # running work counts: the autoscaler keeps its replica

    # A's lease lapses (its replica froze); C takes r0 up again under attempt 2.
    clock.t += 5
    assert q.renew([("r1", 1)], 10) == {"r1"}
    clock.t += 6
    c = q.claim("C", lease_s=10, max_attempts=3)
    assert (c.id, c.attempt) == ("r0", 2)
    assert q.renew([("r0", 1)], 10) == set()  # A learns it lost r0
    assert not q.finish("r0", 1, COMPLETED, "staged-by-A")  # A, late: fenced
    assert q.finish("r0", 2, COMPLETED, None)  # C's outcome is the one
    assert not q.finish("r0", 2, FAILED, None)  # and only once
    assert q.get("r0").status == COMPLETED and q.get("r0").settled

    # Pending r2 and B's r1 are still open work; nothing else is claimable once r2 is taken.
    assert q.claim("C", 10, 3).id == "r2" and q.claim("C", 10, 3) is None
    q.release("r2", 1)  # a replica shutting down gives it back, its attempt not counted
    again = q.claim("D", 10, 3)
    assert (again.id, again.attempt) == ("r2", 1)


def test_poison_and_expired_requests_come_back_with_a_reason(tmp_path, queue_uri):
    clock = Clock()
    q = _open(queue_uri, clock)
    _submit(q, "poison", tmp_path)
    for attempt in (1, 2):  # its replica dies twice under it
        r = q.claim("X", 5, max_attempts=2)
        assert (r.attempt, r.reason) == (attempt, None)
        clock.t += 6
    r = q.claim("X", 5, max_attempts=2)
    assert r.attempt == 3 and "stopped 2 times" in r.reason
    assert q.finish(r.id, r.attempt, FAILED, None, r.reason)  # its claimer records the failure
    _submit(q, "late", tmp_path, ttl_s=60)
    clock.t += 61
    r = q.claim("X", 5, max_attempts=2)
    assert r.id == "late" and "RequestTTLSeconds" in r.reason


def _config(tmp_path, queue_uri=None) -> AsyncConfig:
    return AsyncConfig(queue=queue_uri or f"sqlite://{tmp_path / 'q.db'}", output_path=str(tmp_path / "out"),
                       failure_path=str(tmp_path / "fail"), inputs=str(tmp_path / "in"))


def test_a_commit_interrupted_before_its_move_is_settled_once(tmp_path, queue_uri):
    cfg, sent = _config(tmp_path, queue_uri), []
    cfg = AsyncConfig(**{**cfg.__dict__, "success_topic": sent.append})
    q = _open(queue_uri)
    _submit(q, "r", tmp_path, notify=True)
    r = q.claim("A", 10, 3)
    staged = tmp_path / "out" / ".mlcore-async" / "r.out.1"
    staged.parent.mkdir(parents=True)
    staged.write_bytes(b"0.5\n")
    assert q.finish(r.id, r.attempt, COMPLETED, str(staged))
    # ... the worker dies here. Its outcome is committed but not in place:
    assert not (tmp_path / "out" / "r.out").exists() and not q.get("r").settled
    assert q.unsettled()[0].id == "r"
    # Two sweepers: only the one holding the settle claim moves it.
    q2 = _open(queue_uri)
    assert q2.claim_settle("r", "S1", 10) and not q2.claim_settle("r", "S2", 10)
    settle(q, q.get("r"), cfg, "S1")
    settle(q, q.get("r"), cfg, "S2")  # nothing left to do
    assert (tmp_path / "out" / "r.out").read_bytes() == b"0.5\n" and not staged.exists()
    assert q.get("r").settled and q.unsettled() == []
    assert len(sent) == 1 and sent[0]["inferenceId"] == "r"
    assert sent[0]["invocationStatus"] == COMPLETED
    assert sent[0]["responseParameters"]["outputLocation"].endswith("/out/r.out")


def _claimer(uri: str, out) -> None:
    q = _open(uri, time.time)
    got = []
    while (r := q.claim(f"p{multiprocessing.current_process().pid}", 60, 3)) is not None:
        got.append(r.id)
        assert q.finish(r.id, r.attempt, COMPLETED, None)
    out.put(got)


def test_claims_are_exclusive_across_processes(tmp_path, queue_uri):
    q = _open(queue_uri, time.time)
    for i in range(200):
        _submit(q, f"r{i}", tmp_path)
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_claimer, args=(queue_uri, out)) for _ in range(3)]
    for p in procs:
        p.start()
    got = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
    ids = [i for g in got for i in g]
    assert sorted(ids) == sorted(f"r{i}" for i in range(200))  # each once, none lost
    assert q.counts()[COMPLETED] == 200 and q.open_work() == 0


def test_queue_limit_and_scaling_decision(tmp_path, queue_uri):
    q = _open(queue_uri)
    _submit(q, "a", tmp_path, max_open=1)
    with pytest.raises(QueueFull):
        _submit(q, "b", tmp_path, max_open=1)
    assert [replicas_for(n, 4) for n in (0, 1, 4, 5, 9)] == [0, 1, 1, 2, 3]


def test_failure_record_is_json_with_the_reason(tmp_path):
    """What a failure record holds (AsyncPredictor raises AsyncInferenceModelError with it)."""
    from serving._async import AsyncWorker

    cfg = _config(tmp_path)
    q = _open(cfg.queue)
    _submit(q, "gone", tmp_path)
    worker = AsyncWorker.__new__(AsyncWorker)  # the processing step alone, without a model
    worker.config, worker.queue, worker.owner = cfg, q, "W"
    worker.answer = lambda *a: (_ for _ in ()).throw(AssertionError("no input, no model call"))
    worker._process(q.claim("W", 10, 3))
    record = json.loads(Path(tmp_path / "fail" / "gone-error.out").read_text())
    assert record["InferenceId"] == "gone" and "does not exist" in record["FailureReason"]
    assert q.get("gone").status == FAILED and q.get("gone").settled
