"""The benchmark's clients (asyncio + aiohttp, one process, the same code path for both arms).

* realtime, saturated: ``k`` connections POST ``n`` requests to ``.../invocations``, each as
  soon as the previous answer arrived; throughput = n / wall time.
* async, saturated: ``k`` submitters POST ``m`` requests to ``.../async-invocations`` (each as
  soon as the previous 202 arrived); a watcher lists ``<output_path>`` every ``poll_s`` for
  ``<id>.out`` files; throughput = m / (first submit sent -> last result seen).
* steady (both arms): requests sent at a fixed rate (open loop: a request is sent on time
  whether or not earlier ones were answered).

After an async phase every request's status is read (outside the timed window) for the
server's timestamps: SubmittedTime, StartedTime, FinishedTime (``time.time()`` on the same
machine as the client's clock).
"""

from __future__ import annotations

import asyncio
import json
import os
import time

import aiohttp

CSV = {"Content-Type": "text/csv", "Accept": "text/csv"}


def pct(values: list[float], q: float) -> float | None:
    """The ``q`` quantile (0-1) by rank, as loadgen.summary takes it; None if empty."""
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, max(0, int(len(v) * q + 0.5) - 1))] if q < 1 else v[-1]


def dist_ms(values_s: list[float]) -> dict:
    """p50 / p99 / mean / max of durations given in seconds, in ms."""
    if not values_s:
        return {"n": 0}
    ms = [x * 1000 for x in values_s]
    return {"n": len(ms), "p50": round(pct(ms, 0.5), 2), "p99": round(pct(ms, 0.99), 2),
            "mean": round(sum(ms) / len(ms), 2), "max": round(max(ms), 2)}


def _session(limit: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limit),
                                 timeout=aiohttp.ClientTimeout(total=600))


# -- realtime ------------------------------------------------------------------------------------


async def _post(http, url: str, body: bytes) -> tuple[float, bytes, int]:
    t = time.perf_counter()
    async with http.post(url, data=body, headers=CSV) as r:
        data = await r.read()
        return time.perf_counter() - t, data, r.status


async def realtime_saturated(url: str, body: bytes, n: int, k: int) -> dict:
    latencies, errors, left = [], 0, n
    async with _session(k) as http:
        for _ in range(min(k, 5)):  # warm-up: connections, caches
            await _post(http, url, body)

        async def worker():
            nonlocal left, errors
            while left > 0:
                left -= 1
                dt, _, status = await _post(http, url, body)
                latencies.append(dt)
                errors += status != 200

        t = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(k)))
        wall = time.perf_counter() - t
    return {"requests": n, "concurrency": k, "seconds": round(wall, 3), "rps": round(n / wall, 2),
            "errors": errors, "latency_ms": dist_ms(latencies)}


async def realtime_steady(url: str, body: bytes, rate: float, duration_s: float) -> dict:
    n = max(1, int(rate * duration_s))
    latencies, errors, late = [], 0, []
    async with _session(256) as http:
        for _ in range(3):
            await _post(http, url, body)

        async def one(at: float):
            nonlocal errors
            delay = at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            late.append(max(0.0, time.perf_counter() - at))
            dt, _, status = await _post(http, url, body)
            latencies.append(dt)
            errors += status != 200

        t0 = time.perf_counter() + 0.05
        await asyncio.gather(*(one(t0 + i / rate) for i in range(n)))
    return {"requests": n, "rate": round(rate, 2), "errors": errors,
            "latency_ms": dist_ms(latencies), "send_lateness_ms": dist_ms(late)}


# -- async ---------------------------------------------------------------------------------------


class Watcher:
    """Lists ``out_dir`` every ``poll_s`` and notes when each ``<prefix>*.out`` first appears."""

    def __init__(self, out_dir: str, prefix: str, poll_s: float):
        self.dir, self.prefix, self.poll_s = out_dir, prefix, poll_s
        self.seen: dict[str, float] = {}

    def scan(self) -> None:
        now = time.time()
        try:
            entries = os.scandir(self.dir)
        except FileNotFoundError:
            return
        with entries:
            for e in entries:
                name = e.name
                if name.startswith(self.prefix) and name.endswith(".out"):
                    self.seen.setdefault(name[:-4], now)

    async def until(self, ids: set[str] | None, count: int, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.scan()
            if len(self.seen) >= count and (ids is None or ids <= self.seen.keys()):
                return True
            await asyncio.sleep(self.poll_s)
        return False


async def _submit(http, base: str, body: bytes, inference_id: str) -> tuple[float, float, dict]:
    """(time.time() sent, seconds to the 202, its JSON)."""
    sent, t = time.time(), time.perf_counter()
    async with http.post(f"{base}/async-invocations", data=body,
                         headers={**CSV, "X-Amzn-SageMaker-Inference-Id": inference_id}) as r:
        text = await r.text()
        if r.status != 202:
            raise RuntimeError(f"submit {inference_id}: {r.status} {text[:500]}")
        out = json.loads(text)
    return sent, time.perf_counter() - t, out


async def statuses(base: str, ids: list[str], k: int = 8) -> dict[str, dict]:
    out: dict[str, dict] = {}
    todo = list(ids)
    async with _session(k) as http:
        async def worker():
            while todo:
                i = todo.pop()
                async with http.get(f"{base}/async-invocations/{i}") as r:
                    out[i] = await r.json()

        await asyncio.gather(*(worker() for _ in range(k)))
    return out


def phases(ids: list[str], status: dict[str, dict], seen: dict[str, float],
           sent: dict[str, float]) -> dict:
    """Where each request's time went, from the server's timestamps and the client's."""
    st = [status[i] for i in ids]
    bad = [s for s in st if s.get("Status") != "Completed"]
    started = min(s["StartedTime"] for s in st)
    finished = max(s["FinishedTime"] for s in st)
    busy = sum(s["FinishedTime"] - s["StartedTime"] for s in st)
    return {
        "not_completed": len(bad),
        # requests / (first StartedTime -> last FinishedTime): without the first poll's wait
        "rps_started_to_finished": round(len(st) / max(finished - started, 1e-9), 2),
        # the worker threads' time between claim and finish, over the window, per thread
        "busy_s": round(busy, 4), "window_s": round(finished - started, 4),
        "attempts_max": max(s.get("Attempts") or 0 for s in st),
        "accepted_to_done_ms": dist_ms([s["FinishedTime"] - s["SubmittedTime"] for s in st]),
        "submitted_to_started_ms": dist_ms([s["StartedTime"] - s["SubmittedTime"] for s in st]),
        "started_to_finished_ms": dist_ms([s["FinishedTime"] - s["StartedTime"] for s in st]),
        "finished_to_result_seen_ms": dist_ms([seen[i] - status[i]["FinishedTime"] for i in ids]),
        "sent_to_result_seen_ms": dist_ms([seen[i] - sent[i] for i in ids]),
    }


async def async_saturated(base: str, body: bytes, m: int, k: int, out_dir: str, prefix: str,
                          poll_s: float, timeout_s: float, mark=None) -> dict:
    """``mark``: called once the last result is seen (before the statuses are read)."""
    ids = [f"{prefix}{i:05d}" for i in range(m)]
    todo = list(reversed(ids))
    sent, submit_lat = {}, []
    watcher = Watcher(out_dir, prefix, poll_s)
    async with _session(k) as http:
        async def submitter():
            while todo:
                i = todo.pop()
                sent[i], dt, _ = await _submit(http, base, body, i)
                submit_lat.append(dt)

        t_first = time.time()
        t = time.perf_counter()
        subs = asyncio.gather(*(submitter() for _ in range(k)))
        done = asyncio.ensure_future(watcher.until(set(ids), m, timeout_s))
        await subs
        submitted_s = time.perf_counter() - t
        ok = await done
        if mark is not None:
            mark()
    if not ok:
        raise RuntimeError(f"{prefix}: only {len(watcher.seen)} of {m} results within {timeout_s} s")
    last = max(watcher.seen[i] for i in ids)
    status = await statuses(base, ids)
    first_sub = min(s["SubmittedTime"] for s in status.values())
    last_fin = max(s["FinishedTime"] for s in status.values())
    return {"requests": m, "concurrency": k, "seconds": round(last - t_first, 3),
            "rps": round(m / (last - t_first), 2),
            "rps_server": round(m / (last_fin - first_sub), 2),  # first SubmittedTime -> last FinishedTime
            "submitting_s": round(submitted_s, 3), "submit_rps": round(m / submitted_s, 2),
            "submit_latency_ms": dist_ms(submit_lat),
            "phases": phases(ids, status, watcher.seen, sent)}


async def async_steady(base: str, body: bytes, rate: float, duration_s: float, out_dir: str,
                       prefix: str, poll_s: float, timeout_s: float) -> dict:
    n = max(1, int(rate * duration_s))
    ids = [f"{prefix}{i:05d}" for i in range(n)]
    sent, submit_lat, late = {}, [], []
    watcher = Watcher(out_dir, prefix, poll_s)
    async with _session(256) as http:
        async def one(i: str, at: float):
            delay = at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            late.append(max(0.0, time.perf_counter() - at))
            sent[i], dt, _ = await _submit(http, base, body, i)
            submit_lat.append(dt)

        t0 = time.perf_counter() + 0.05
        done = asyncio.ensure_future(watcher.until(set(ids), n, duration_s + timeout_s))
        await asyncio.gather(*(one(i, t0 + j / rate) for j, i in enumerate(ids)))
        ok = await done
    if not ok:
        raise RuntimeError(f"{prefix}: only {len(watcher.seen)} of {n} results")
    status = await statuses(base, ids)
    return {"requests": n, "rate": round(rate, 2), "submit_latency_ms": dist_ms(submit_lat),
            "send_lateness_ms": dist_ms(late), "phases": phases(ids, status, watcher.seen, sent)}


async def async_one(base: str, body: bytes, out_dir: str, inference_id: str, poll_s: float,
                    timeout_s: float) -> dict:
    """One request (a warm-up, or the first one at zero workers), to its result."""
    watcher = Watcher(out_dir, inference_id, poll_s)
    async with _session(1) as http:
        t = time.time()
        sent, dt, _ = await _submit(http, base, body, inference_id)
        ok = await watcher.until({inference_id}, 1, timeout_s)
    if not ok:
        raise RuntimeError(f"{inference_id}: no result within {timeout_s} s")
    [s] = (await statuses(base, [inference_id], 1)).values()
    seen = watcher.seen[inference_id]
    return {"first_result_ms": round((seen - t) * 1000, 1), "submit_ms": round(dt * 1000, 1),
            "submitted_to_started_ms": round((s["StartedTime"] - s["SubmittedTime"]) * 1000, 1),
            "started_to_finished_ms": round((s["FinishedTime"] - s["StartedTime"]) * 1000, 1),
            "finished_to_result_seen_ms": round((seen - s["FinishedTime"]) * 1000, 1),
            "status": s["Status"]}


async def realtime_one(url: str, body: bytes) -> dict:
    async with _session(1) as http:
        dt, data, status = await _post(http, url, body)
    if status != 200:
        raise RuntimeError(f"{url}: {status} {data[:300]!r}")
    return {"first_result_ms": round(dt * 1000, 1), "body": data}
