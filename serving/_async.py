"""Async inference: the replicas that work through an endpoint's queue, and the autoscaling
that follows the queue down to zero replicas and back.

An async endpoint's application is an ingress (``serving._async_ingress``: accepts, answers
202 with the inference id, reports status; no model, always up) and a worker deployment of
:class:`AsyncWorker` replicas. Each replica loads the model once and runs
``max_concurrent_invocations_per_instance`` worker threads; each thread claims the oldest
request under a lease (:mod:`serving._queue`), reads its input from storage, answers it as
the realtime endpoint would (the model's own handlers, or ``_payload.parse`` -> predict ->
``_payload.render``), stages the outcome, commits it through the queue's fence, moves it into
place and sends the notification. One more thread renews the leases of what the replica holds.

Ray Serve's task consumers (``@task_consumer``) are not used: their one working backend is
Celery, whose embedded brokers lose or strand a message when a replica dies, and their
autoscaling policy counts waiting messages only. :class:`QueueDepthPolicy` counts pending
*and* running work, so a replica is never taken away under a running request.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import threading
import time
import traceback
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from mlcore import _storage
from serving._errors import BadRequest
from serving._log import replica_log as log
from serving._queue import COMPLETED, FAILED, Request, open_queue

STAGING = ".mlcore-async"  # staging objects: <output or failure path>/.mlcore-async/<id>.<attempt>


@dataclass(frozen=True)
class AsyncConfig:
    """An async endpoint's settings (SageMaker's AsyncInferenceConfig, plus the queue's)."""

    queue: str  # the queue's URI (serving._queue.open_queue)
    output_path: str  # S3OutputPath: <output_path>/<inference id>.out
    failure_path: str  # S3FailurePath: <failure_path>/<inference id>-error.out
    inputs: str  # where bodies posted over HTTP are kept: <inputs>/<inference id>
    max_concurrent: int = 1  # MaxConcurrentInvocationsPerInstance
    success_topic: str | Callable | None = None  # a URL (POSTed JSON) or a callable(message)
    error_topic: str | Callable | None = None
    include_response: bool = False  # IncludeInferenceResponseIn: SUCCESS_NOTIFICATION_TOPIC
    lease_s: float = 30.0
    max_attempts: int = 3
    ttl_s: float = 6 * 3600.0  # RequestTTLSeconds' default
    invocation_timeout_s: float = 900.0  # InvocationTimeoutSeconds' default
    any_content_type: bool = False  # the model's own input handler decides what it reads
    accepts: tuple[str, ...] = ()  # the Accept types the model answers (empty: any)
    # A request without a content type is read as this (the XGBoost container's: LIBSVM)
    default_content_type: str = ""

    def locations(self, inference_id: str) -> tuple[str, str]:
        """``(OutputLocation, FailureLocation)`` of a request, as SageMaker names them."""
        return (_storage.child(self.output_path, f"{inference_id}.out"),
                _storage.child(self.failure_path, f"{inference_id}-error.out"))


# -- storage --------------------------------------------------------------------------------------


def read(uri: str) -> bytes:
    fs, path = _storage.filesystem(uri)
    return fs.cat_file(path)


def exists(uri: str) -> bool:
    fs, path = _storage.filesystem(uri)
    return fs.exists(path)


def _staging(final: str, attempt: int) -> str:
    parent, _, name = final.rpartition("/")
    return f"{parent}/{STAGING}/{name}.{attempt}"


def _write(uri: str, body: bytes) -> None:
    fs, path = _storage.filesystem(uri)
    fs.makedirs(path.rpartition("/")[0], exist_ok=True)
    fs.pipe_file(path, body)


def _remove_staged(final: str) -> None:
    fs, path = _storage.filesystem(_staging(final, 0))
    for left in fs.glob(path[:-1] + "*"):  # <name>.<attempt>
        try:
            fs.rm(left)
        except FileNotFoundError:
            pass


def _move(src: str, dest: str) -> None:
    fs, path = _storage.filesystem(src)
    if _storage.is_remote(dest):  # a server-side copy: the object appears whole or not at all
        fs.copy(path, _storage.filesystem(dest)[1])
        fs.rm(path)
    else:
        os.replace(path, _storage.local_path(dest))


def settle(queue, request: Request, config: AsyncConfig, owner: str,
           claimed: bool = False) -> None:
    """Move a finished request's staging object into place (once), then notify. Idempotent,
    and safe to run in several processes: the move is done under a short claim (``claimed``:
    the caller took it when it finished the request)."""
    if request.staged is not None:
        if not claimed and not queue.claim_settle(request.id, owner, config.lease_s):
            return  # another process is settling it
        final = request.failure if request.status == FAILED else request.output
        if exists(final):  # a crash after the move and before `moved` left it in place
            _storage.remove(request.staged)
        else:
            _move(request.staged, final)
        if request.attempt > 1:  # what attempts that died before their commit left staged
            _remove_staged(final)
        queue.moved(request.id)
    if not request.notified:
        notify(request, config)
        queue.notified(request.id)


# -- notifications --------------------------------------------------------------------------------


def message(request: Request, config: AsyncConfig) -> dict:
    """SageMaker's notification message (the SNS payload of an async inference)."""
    output, failure = config.locations(request.id)
    ok = request.status == COMPLETED
    msg = {"awsRegion": "local", "eventTime": _iso(request.finished),
           "receivedTime": _iso(request.submitted), "invocationStatus": request.status,
           "requestParameters": {"accept": request.accept, "contentType": request.content_type,
                                 "inputLocation": request.input},
           "responseParameters": {"contentType": request.accept if ok else "application/json"},
           "inferenceId": request.id, "eventVersion": "1.0", "eventSource": "aws:sagemaker",
           "eventName": "InferenceResult"}
    if ok:
        msg["responseParameters"]["outputLocation"] = output
        if config.include_response:
            msg["responseBody"] = {"content": read(output).decode("utf-8", "replace"),
                                   "message": "", "encoding": "UTF-8"}
    else:
        msg["responseParameters"]["failureLocation"] = failure
        msg["failureReason"] = request.reason
    return msg


def _iso(t: float | None) -> str | None:
    return None if t is None else time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + \
        f".{int(t * 1000) % 1000:03d}Z"


def notify(request: Request, config: AsyncConfig) -> None:
    """Deliver the notification of a finished request to its topic, if it has one. Raises if
    delivery failed (the request stays unnotified and is tried again)."""
    topic = config.success_topic if request.status == COMPLETED else config.error_topic
    if topic is None:
        return
    msg = message(request, config)
    if callable(topic):
        topic(msg)
        return
    req = urllib.request.Request(topic, json.dumps(msg).encode(), method="POST", headers={
        "Content-Type": "application/json", "X-Amzn-SageMaker-Inference-Id": request.id})
    with urllib.request.urlopen(req, timeout=10) as res:
        res.read()


# -- the worker replica --------------------------------------------------------------------------


class AsyncWorker:
    """A replica of an async endpoint's model (see the module docstring)."""

    def __init__(self, model, config: AsyncConfig, poll_s: float = 0.01):
        from serving._model import _load

        self.model, self.n_features = _load(model)
        self._predict, self._handle, self._container = model.predict, model.handle, model.container
        self.config, self._poll = config, poll_s
        self.queue = open_queue(config.queue, durable=False)  # see SqliteQueue's durable
        self.owner = f"replica-{uuid.uuid4().hex[:12]}"
        self._held: dict[str, int] = {}  # id -> attempt, what this replica works on
        self._lock, self._stop = threading.Lock(), threading.Event()
        self._threads = [threading.Thread(target=self._work, daemon=True, name=f"async-{i}")
                         for i in range(config.max_concurrent)]
        self._threads.append(threading.Thread(target=self._keep_leases, daemon=True))
        for t in self._threads:
            t.start()

    def __del__(self):  # Serve's graceful shutdown: finish what runs, give back the rest
        self.shutdown()

    def shutdown(self, timeout: float = 60.0) -> None:
        if getattr(self, "_stop", None) is None or self._stop.is_set():
            return
        self._stop.set()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            held = dict(self._held)
        for id, attempt in held.items():
            self.queue.release(id, attempt)

    def check_health(self) -> None:  # Serve's health check: a dead worker thread fails it
        if not self._stop.is_set() and not all(t.is_alive() for t in self._threads):
            raise RuntimeError("an async worker thread stopped")

    def held(self) -> list[str]:
        with self._lock:
            return sorted(self._held)

    def _keep_leases(self) -> None:
        while not self._stop.wait(self.config.lease_s / 3):
            with self._lock:
                held = list(self._held.items())
            kept = self.queue.renew(held, self.config.lease_s)
            for id, _ in held:
                if id not in kept:
                    log.warning("async request %s was reclaimed from this replica (its lease "
                                "lapsed); its outcome here will be discarded", id)

    def _work(self) -> None:
        idle = self._poll
        while not self._stop.is_set():
            try:
                request = self.queue.claim(self.owner, self.config.lease_s, self.config.max_attempts)
            except Exception as e:  # the queue file busy past its timeout: try again
                log.warning("async queue not reachable: %s", e)
                request = None
            if request is None:
                self._stop.wait(idle)
                idle = min(idle * 2, 0.5)  # 10 ms after work, backing off to 0.5 s when idle
                continue
            idle = self._poll
            with self._lock:
                self._held[request.id] = request.attempt
            try:
                self._process(request)
            except Exception:  # storage failing mid-commit: the lease lapses, another retries
                log.error("async request %s: %s", request.id, traceback.format_exc())
            finally:
                with self._lock:
                    self._held.pop(request.id, None)

    def _process(self, request: Request) -> None:
        output, failure = request.output, request.failure  # as the ingress named them
        reason = request.reason
        if reason is None:
            try:
                body, _ = self.answer(read(request.input), request.content_type, request.accept)
            except FileNotFoundError:
                reason = f"the input {request.input} does not exist (it was removed after submit)"
            except BadRequest as e:
                reason = e.message
            except Exception as e:
                log.error("async request %s failed: %s", request.id, traceback.format_exc())
                reason = f"prediction failed: {type(e).__name__}: {e}"
        if reason is None:
            status, final, content = COMPLETED, output, body
        else:
            status, final = FAILED, failure
            content = json.dumps({"InferenceId": request.id, "FailureReason": reason,
                                  "InputLocation": request.input}).encode()
        staged = _staging(final, request.attempt)
        _write(staged, content)
        if not self.queue.finish(request.id, request.attempt, status, staged, reason,
                                 self.owner, self.config.lease_s):
            _storage.remove(staged)  # fenced: another attempt owns the outcome
            return
        done = dataclasses.replace(request, status=status, staged=staged, reason=reason,
                                   finished=time.time())
        settle(self.queue, done, self.config, self.owner, claimed=True)

    def answer(self, raw: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        """What the realtime endpoint answers for this body (``serving._ingress``)."""
        from serving._payload import parse, render

        if self._handle is not None:
            handled = self._handle(self.model, raw, content_type, accept)
            if handled is not None:
                return handled
        X = parse(raw, content_type, self.n_features, len(raw))
        return render(self._predict(self.model, X), accept, self._container)


# -- autoscaling ----------------------------------------------------------------------------------


def replicas_for(open_work: int, per_replica: int) -> int:
    """Replicas an async endpoint needs for ``open_work`` requests (pending + running) at
    ``per_replica`` at a time each: zero for an empty queue."""
    return math.ceil(open_work / per_replica)


class QueueDepthPolicy:
    """Serve's autoscaling policy of an async worker deployment: the replicas that
    :func:`replicas_for` asks for, read from the queue (every 0.2 s at most). Serve bounds
    the answer by min/max replicas and applies the scale-in delay."""

    def __init__(self, queue: str, per_replica: int):
        self._queue, self._per = open_queue(queue), per_replica
        self._seen, self._at = 0, 0.0

    def __call__(self, ctx) -> tuple[int, dict]:
        now = time.monotonic()
        if now - self._at > 0.2:
            try:
                self._seen, self._at = self._queue.open_work(), now
            except Exception as e:  # keep the last count; Serve's loop must not fail
                log.warning("async queue not readable by the autoscaler: %s", e)
        return replicas_for(self._seen, self._per), {"open_work": self._seen}
