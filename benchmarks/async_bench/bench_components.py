"""What one async request costs, piece by piece, in one process with one thread for the model
(``OMP_NUM_THREADS=1``, as in a 1-CPU replica): the realtime path's own parse -> predict ->
render on the endpoint's model, and the async path's storage and queue steps, each the code an
``AsyncWorker`` runs (``serving._async``, ``serving._queue``) on the same filesystem as the
benchmark's endpoints. Prints one JSON line: the median ms of each step per payload.

Run: ``python bench_components.py MODEL_DIR WORK_DIR NAME=CSV_FILE ...`` (or ``--contended
WORK_DIR``: only the queue under three concurrent writers)
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")


def timed(fn, reps: int) -> float:
    """The median ms of ``reps`` calls (after one untimed)."""
    fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return round(statistics.median(times), 3)


def storage_steps(d: Path, body: bytes, result: bytes, reps: int) -> dict:
    """The async path's file steps, as the ingress and a worker run them (serving._async)."""
    from serving import _async

    d.mkdir(parents=True)
    i = iter(range(10**6))

    def store():  # the ingress keeps a posted body as a file
        _async._write(str(d / f"in-{next(i)}"), body)

    def stage_and_move():  # the worker's staged outcome, moved into place
        final = str(d / f"{next(i)}.out")
        staged = _async._staging(final, 1)
        _async._write(staged, result)
        _async._move(staged, final)
        _async._remove_staged(final)

    return {"write_body_file": timed(store, reps),
            "read_body_file": timed(lambda: _async.read(str(d / "in-0")), reps),
            "stage_move_result": timed(stage_and_move, reps)}


def main(model_dir: str, work: Path, payloads: dict[str, Path]) -> dict:
    from mlcore.services import endpoints
    from mlcore.specs.endpoint import ModelRef
    from serving._model import _load
    from serving._payload import parse, render
    from serving._queue import COMPLETED, SqliteQueue

    spec, _ = endpoints.resolve(ModelRef(model_data=model_dir, algorithm="xgboost"))
    t = time.perf_counter()
    model, n_features = _load(spec)  # the first load in this process (XGBoost imported earlier)
    out: dict[str, dict] = {"load_model_ms": round((time.perf_counter() - t) * 1000, 1)}
    for name, path in payloads.items():
        body = path.read_bytes()
        reps = 200 if len(body) < 100_000 else 15
        X = parse(body, "text/csv", n_features, len(body))
        y = spec.predict(model, X)
        steps = {
            "parse_csv": timed(lambda b=body: parse(b, "text/csv", n_features, len(b)), reps),
            "predict": timed(lambda X=X: spec.predict(model, X), reps),
            "render_csv": timed(lambda y=y: render(y, "text/csv", spec.container), reps),
            **storage_steps(work / name, body, render(y, "text/csv", spec.container)[0], reps),
        }
        out[name] = {"bytes": len(body), "rows": int(X.shape[0]), "ms": steps}
    # The queue's transactions of one request (each a BEGIN IMMEDIATE ... COMMIT, synchronous=FULL).
    q = SqliteQueue(str(work / "queue.db"))
    ops: dict[str, list[float]] = {k: [] for k in
                                   ("submit", "claim", "finish", "claim_settle", "moved", "get")}
    for n in range(150):
        rid = f"r{n}"
        calls = {"submit": lambda r=rid: q.submit(r, "in", "text/csv", "text/csv", "o", "f", 3600),
                 "claim": lambda: q.claim("w", 30, 3),
                 "finish": lambda r=rid: q.finish(r, 1, COMPLETED, "staged"),
                 "claim_settle": lambda r=rid: q.claim_settle(r, "w", 30),
                 "moved": lambda r=rid: q.moved(r),
                 "get": lambda r=rid: q.get(r)}
        for op, call in calls.items():
            t = time.perf_counter()
            call()
            ops[op].append((time.perf_counter() - t) * 1000)
    out["queue_ms"] = {k: round(statistics.median(v), 3) for k, v in ops.items()}
    out["queue_contended_ms"] = contended(q)
    return out


def contended(q, threads: int = 3, each: int = 100) -> dict:
    """Per-transaction ms with ``threads`` threads (each its own connection, as the ingress
    and the worker threads have) writing to the queue at once."""
    import threading

    times: list[float] = []

    def writer(w: int):
        for n in range(each):
            t = time.perf_counter()
            with q._tx() as db:  # as renew does: a changed row, committed (an fsync)
                db.execute("UPDATE requests SET lease_until = ? WHERE id = ?",
                           (time.time() + n, f"r{(w * each + n) % 150}"))
            times.append((time.perf_counter() - t) * 1000)

    ts = [threading.Thread(target=writer, args=(w,)) for w in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    v = sorted(times)
    return {"threads": threads, "p50": round(v[len(v) // 2], 3),
            "p99": round(v[int(len(v) * 0.99) - 1], 3), "max": round(v[-1], 3)}


def contended_only(work: Path) -> dict:
    """The contended figure alone, on a fresh queue of 150 finished requests."""
    from serving._queue import COMPLETED, SqliteQueue

    q = SqliteQueue(str(work / "queue.db"))
    for n in range(150):
        q.submit(f"r{n}", "in", "text/csv", "text/csv", "o", "f", 3600)
        q.claim("w", 30, 3)
        q.finish(f"r{n}", 1, COMPLETED, None)
    return {"queue_contended_ms": contended(q)}


if __name__ == "__main__":
    if sys.argv[1] == "--contended":  # python bench_components.py --contended WORK_DIR
        print(json.dumps(contended_only(Path(sys.argv[2]))))
        sys.exit(0)
    model_dir, work = sys.argv[1], Path(sys.argv[2])
    payloads = {a.split("=", 1)[0]: Path(a.split("=", 1)[1]) for a in sys.argv[3:]}
    print(json.dumps(main(model_dir, work, payloads)))
