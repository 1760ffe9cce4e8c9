"""The HTTP entry of an async endpoint (SageMaker's InvokeEndpointAsync).

``POST /endpoints/<name>/async-invocations`` takes the input by location
(``X-Amzn-SageMaker-InputLocation``: an ``s3://`` URI, as SageMaker requires) or as the body
(streamed to storage, never held whole), persists the request in the endpoint's queue and
answers ``202`` with the inference id, ``OutputLocation`` and ``FailureLocation`` at once.
``GET /endpoints/<name>/async-invocations/<id>`` reports its status. Everything that can be
known at submit time (auth, a missing or unreadable input, an unsupported content type or
accept, a taken inference id) is a 4xx with a JSON body; what only the model can find is a
failure record at the failure location.

The ingress holds no model and runs no prediction: it stays up while the workers scale to
zero, and it settles what a dead worker left half done (an outcome committed but not moved
into place, a notification not delivered).
"""

from __future__ import annotations

import re
import threading
import time
import uuid

from starlette.responses import Response

from mlcore import _storage
from serving._async import AsyncConfig, settle
from serving._errors import BadRequest
from serving._ingress import _response, refusal
from serving._log import replica_log as log
from serving._payload import CONTENT_TYPES, media_type
from serving._queue import TERMINAL, QueueFull, Taken, open_queue

MAX_ASYNC_PAYLOAD = 1024 ** 3  # SageMaker's async limit: 1 GB
_ID = re.compile(r"^[\x21-\x7e]{1,64}$")  # InvokeEndpointAsync's InferenceId: 1-64 printable


def _header(headers, name: str, default: str = "") -> str:
    """A header by SageMaker's REST name (``X-Amzn-SageMaker-<name>``) or its plain one."""
    return headers.get(f"x-amzn-sagemaker-{name.lower()}") or headers.get(name.lower()) or default


def _seconds(headers, name: str, low: int, high: int, default: float) -> float:
    raw = _header(headers, name)
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise BadRequest(400, f"X-Amzn-SageMaker-{name} must be a whole number of seconds from "
                              f"{low} to {high}; got {raw[:40]!r}")
    return float(raw)


class AsyncIngress:
    """See the module docstring. ``workers`` is the worker deployment's handle (bound so that
    Serve runs it as part of the endpoint's application; requests never go through it)."""

    def __init__(self, name: str, settings, config: AsyncConfig, workers=None):
        self.name, self.settings, self.config = name, settings, config
        self.queue = open_queue(config.queue)
        self.owner = f"ingress-{uuid.uuid4().hex[:12]}"
        self._stop = threading.Event()
        self._sweeper = threading.Thread(target=self._sweep, daemon=True)
        self._sweeper.start()

    def __del__(self):
        if getattr(self, "_stop", None) is not None:
            self._stop.set()

    async def __call__(self, request) -> Response:
        path = request.scope["path"].rstrip("/").split("/")
        method = request.method
        if path[-1] == "ping" and method == "GET":
            return _response(200, {"status": "Healthy"})
        denied = refusal(self.name, self.settings.auth, request.headers)
        if denied is not None:
            return denied
        try:
            if path[-1] == "async-invocations" and method == "POST":
                return await self._submit(request)
            if len(path) >= 2 and path[-2] == "async-invocations" and method == "GET":
                return self._status(path[-1])
            if path[-1] == "invocations":
                raise BadRequest(400, f"endpoint {self.name!r} is asynchronous: POST the request "
                                      "to .../async-invocations (InvokeEndpointAsync), not "
                                      ".../invocations")
            raise BadRequest(404, f"no route {method} {request.url.path}; use POST "
                                  ".../async-invocations, GET .../async-invocations/<id> or "
                                  "GET .../ping")
        except BadRequest as e:
            return _response(e.status, {"error": e.message})
        except Exception as e:  # a bug or storage failing: no stack trace over HTTP
            log.error("async endpoint %s: %s: %s", self.name, type(e).__name__, e, exc_info=True)
            return _response(500, {"error": f"the request was not accepted: {type(e).__name__} "
                                            "(the ingress log has the details)"})

    # -- submit -------------------------------------------------------------------------------

    async def _submit(self, request) -> Response:
        headers = request.headers
        ctype = _header(headers, "Content-Type") or self.config.default_content_type
        accept = _header(headers, "Accept")
        self._check_types(ctype, accept)
        ttl = _seconds(headers, "RequestTTLSeconds", 60, 21600, self.config.ttl_s)
        inference_id = _header(headers, "Inference-Id") or str(uuid.uuid4())
        if not _ID.match(inference_id):
            raise BadRequest(400, "X-Amzn-SageMaker-Inference-Id must be 1-64 printable ASCII "
                                  f"characters without spaces; got {inference_id[:80]!r}")
        if self.queue.get(inference_id) is not None:
            raise BadRequest(409, f"inference id {inference_id!r} was already used on endpoint "
                                  f"{self.name!r}; send a new one (or none: one is made)")
        location = _header(headers, "InputLocation")
        if location:
            self._check_input(location)
        else:
            location = await self._store_body(request, inference_id)
        output, failure = self.config.locations(inference_id)
        notify = bool(self.config.success_topic or self.config.error_topic)
        try:
            self.queue.submit(inference_id, location, ctype, accept or "*/*", output, failure,
                              ttl, notify=notify)
        except Taken:
            raise BadRequest(409, f"inference id {inference_id!r} was already used on endpoint "
                                  f"{self.name!r}; send a new one") from None
        except QueueFull as e:
            raise BadRequest(429, f"endpoint {self.name!r} is full: {e}; retry later") from None
        return _response(202, {"InferenceId": inference_id, "OutputLocation": output,
                               "FailureLocation": failure},
                         {"X-Amzn-SageMaker-OutputLocation": output,
                          "X-Amzn-SageMaker-FailureLocation": failure})

    def _check_types(self, ctype: str, accept: str) -> None:
        if self.config.any_content_type:  # the model's input_fn / output_fn decide
            return
        if media_type(ctype) not in CONTENT_TYPES:
            raise BadRequest(415, f"unsupported Content-Type {ctype!r}; use "
                                  f"{', '.join(CONTENT_TYPES[:-1])} or {CONTENT_TYPES[-1]}")
        accepts = self.config.accepts
        wanted = [media_type(a) for a in (accept or "*/*").split(",")]
        if accepts and not any(m in ("*/*", "", *accepts) for m in wanted):
            raise BadRequest(406, f"unsupported Accept {accept!r}; use {', '.join(accepts)}")

    def _check_input(self, location: str) -> None:
        if not location.startswith("s3://") or len(location) > 1024:
            raise BadRequest(400, f"X-Amzn-SageMaker-InputLocation must be an s3:// URI of at "
                                  f"most 1024 characters; got {location[:200]!r}")
        try:
            fs, path = _storage.filesystem(location)
            info = fs.info(path)
        except FileNotFoundError:
            raise BadRequest(400, f"input {location} does not exist; upload it first "
                                  "(sagemaker.s3.S3Uploader, or send the payload as the body)") from None
        except (PermissionError, OSError) as e:
            raise BadRequest(400, f"input {location} cannot be read: {e}") from None
        if info.get("type") == "directory":
            raise BadRequest(400, f"input {location} is a folder; name one object")
        if info.get("size", 0) > MAX_ASYNC_PAYLOAD:
            raise BadRequest(413, f"input {location} is {info['size']} bytes; the async limit is "
                                  f"{MAX_ASYNC_PAYLOAD} (1 GB)")

    async def _store_body(self, request, inference_id: str) -> str:
        """The body, streamed into ``<inputs>/<inference id>`` (a chunk in memory at a time)."""
        uri = _storage.child(self.config.inputs, inference_id)
        fs, path = _storage.filesystem(uri)
        fs.makedirs(path.rpartition("/")[0], exist_ok=True)
        size = 0
        try:
            with fs.open(path, "wb") as f:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > MAX_ASYNC_PAYLOAD:
                        raise BadRequest(413, f"payload is over {MAX_ASYNC_PAYLOAD} bytes (the "
                                              "async limit, 1 GB)")
                    f.write(chunk)
        except BaseException:
            fs.rm(path) if fs.exists(path) else None
            raise
        if size == 0:
            fs.rm(path)
            raise BadRequest(400, "no input: send the payload as the body, or its s3:// URI in "
                                  "the X-Amzn-SageMaker-InputLocation header")
        return uri

    # -- status -------------------------------------------------------------------------------

    def _status(self, inference_id: str) -> Response:
        r = self.queue.get(inference_id)
        if r is None:
            raise BadRequest(404, f"no inference {inference_id[:80]!r} on endpoint {self.name!r}")
        # Completed / Failed only once the outcome is at its location.
        status = r.status if r.settled or r.status not in TERMINAL else "InProgress"
        return _response(200, {"InferenceId": r.id, "Status": status,
                               "OutputLocation": r.output, "FailureLocation": r.failure,
                               "InputLocation": r.input, "FailureReason": r.reason,
                               "SubmittedTime": r.submitted, "StartedTime": r.started,
                               "FinishedTime": r.finished, "Attempts": r.attempt})

    # -- what a dead worker left --------------------------------------------------------------

    def _sweep(self) -> None:
        while not self._stop.wait(1.0):
            try:
                unsettled = self.queue.unsettled()
            except Exception as e:  # the queue file busy past its timeout: next round
                log.warning("async endpoint %s: queue not readable: %s", self.name, e)
                continue
            for r in unsettled:
                if not r.finished or time.time() - r.finished < 2.0:  # its worker's turn first
                    continue
                try:
                    settle(self.queue, r, self.config, self.owner)
                except Exception as e:  # a notification target down: tried again next round
                    log.warning("async endpoint %s: settling %s: %s", self.name, r.id, e)
