"""Dynamic batching in a replica: requests that arrive together share one model call.

The wait adapts to the load instead of being fixed (measured: a fixed 2 ms wait closed
batches too early at 64 connections, a fixed 10 ms one cost every request its wait at 8).
A batch waits only for requests that are likely to come:

* how many: as many as were in the replica at once lately (``max_size`` at most). A client
  alone on the endpoint has its requests run at once, without waiting;
* how long: while each next request joins within a gap of the one before, the gap being
  three times the recent pace of arrivals (``gap_s`` at least), and never beyond
  ``max_wait_s`` after the oldest waiting request arrived (``gap_s >= max_wait_s``: a
  fixed wait).

One model call runs at a time: requests arriving meanwhile wait for the next one. A call runs
in a worker thread (the event loop keeps taking requests meanwhile) unless the model has been
measured to answer within :data:`INLINE_S`: then the thread hop would cost more than the call,
and it runs in the event loop.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import Callable

import numpy as np

# A model call expected to take less than this runs in the event loop (a hop to a worker
# thread and back costs ~0.1 ms of latency and CPU, more than a small XGBoost call).
INLINE_S = 0.0005
# How long the most requests seen at once counts as the number to expect.
PEAK_WINDOW_S = 1.0


class _Cost:
    """The expected duration of a model call on ``rows`` rows, from the calls measured so
    far: the larger of a typical call and a typical per-row cost times ``rows`` (a big
    request to a fast model is not taken for a small one)."""

    def __init__(self):
        self.call = self.row = None  # seconds, moving averages

    def expected(self, rows: int) -> float:
        return float("inf") if self.call is None else max(self.call, self.row * rows)

    def add(self, seconds: float, rows: int) -> None:
        row = seconds / max(rows, 1)
        if self.call is None:
            self.call, self.row = seconds, row
        else:
            self.call, self.row = 0.8 * self.call + 0.2 * seconds, 0.8 * self.row + 0.2 * row


class _Load:
    """What the batcher expects: the most requests it held at once within the last
    :data:`PEAK_WINDOW_S`, and the pace at which requests arrive while others are held."""

    def __init__(self):
        self.inside = self.peak = 0
        self.pace: float | None = None  # seconds between arrivals, moving average
        self._peak_at = self._last = 0.0

    def arrived(self, now: float) -> None:
        if self.inside:  # an idle spell is no measure of the pace
            gap = now - self._last
            self.pace = gap if self.pace is None else 0.8 * self.pace + 0.2 * gap
        self._last = now
        self.inside += 1
        if self.inside >= self.peak or now - self._peak_at > PEAK_WINDOW_S:
            self.peak, self._peak_at = self.inside, now


class Batcher:
    """``await batcher(X)``: ``predict(X)``'s rows for ``X``, alone or within a batch."""

    def __init__(self, predict: Callable[[np.ndarray], np.ndarray], max_size: int = 32,
                 max_wait_s: float = 0.01, gap_s: float = 0.001):
        self._predict, self.max_size = predict, max_size
        self.max_wait_s, self.gap_s = max_wait_s, gap_s
        self._waiting: deque[tuple[np.ndarray, asyncio.Future, float]] = deque()
        self._joined: asyncio.Event | None = None  # made in the replica's event loop
        self._busy = False  # a model call is running (or the drain task is about to start)
        self.cost, self.load = _Cost(), _Load()

    async def __call__(self, X: np.ndarray) -> np.ndarray:
        if self.max_size <= 1:  # batching off: every request its own call, concurrently
            return await self._run(X)
        now = time.perf_counter()
        self.load.arrived(now)
        try:
            if not self._busy and not self._waiting and self.load.peak <= 1:  # alone
                self._busy = True
                try:
                    return await self._run(X)
                finally:
                    self._busy = False
                    if self._waiting:
                        self._drain_soon()
            if self._joined is None:
                self._joined = asyncio.Event()
            future = asyncio.get_running_loop().create_future()
            self._waiting.append((X, future, now))
            self._joined.set()
            if not self._busy:
                self._drain_soon()
            return await future
        finally:
            self.load.inside -= 1

    def _drain_soon(self) -> None:
        self._busy = True
        asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while self._waiting:
                await self._collect()
                n = min(self.max_size, len(self._waiting))
                await self._run_batch([self._waiting.popleft() for _ in range(n)])
        finally:
            self._busy = False

    async def _collect(self) -> None:
        """Wait while requests keep joining, until the batch holds as many as are expected
        or the oldest has waited ``max_wait_s``."""
        expected = min(self.max_size, self.load.peak)
        pace = self.load.pace
        gap = self.gap_s if pace is None else min(self.max_wait_s, max(self.gap_s, 3 * pace))
        deadline = self._waiting[0][2] + self.max_wait_s
        while len(self._waiting) < expected:
            wait = min(gap, deadline - time.perf_counter())
            if wait <= 0:
                return
            self._joined.clear()
            try:
                async with asyncio.timeout(wait):
                    await self._joined.wait()
            except TimeoutError:
                return

    async def _run_batch(self, batch: list) -> None:
        batch = [(X, f) for X, f, _ in batch if not f.done()]  # not cancelled (timed out)
        if not batch:
            return
        try:
            if len(batch) > 1 and len({X.shape[1] for X, _ in batch}) == 1:
                out = await self._run(np.concatenate([X for X, _ in batch]))
                ends = list(itertools.accumulate(len(X) for X, _ in batch))  # cheaper than np.split
                outs = [out[i:j] for i, j in zip([0, *ends], ends, strict=False)]
            else:  # one request, or rows of different widths: one call each
                outs = [await self._run(X) for X, _ in batch]
        except Exception as e:  # the model failed on the batch: so did each of its requests
            outs = [e] * len(batch)
        for (_, future), out in zip(batch, outs, strict=True):
            if future.done():
                continue
            if isinstance(out, Exception):
                future.set_exception(out)
            else:
                future.set_result(out)

    async def _run(self, X: np.ndarray) -> np.ndarray:
        if self.cost.expected(len(X)) < INLINE_S:
            return self._call(X)
        return await asyncio.to_thread(self._call, X)

    def _call(self, X: np.ndarray) -> np.ndarray:
        start = time.perf_counter()
        out = np.asarray(self._predict(X))
        self.cost.add(time.perf_counter() - start, len(X))
        return out
