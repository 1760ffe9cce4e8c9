"""Data capture: a sampled share of requests and responses, written as JSON lines.

Records follow SageMaker's capture format (``captureData.endpointInput`` /
``endpointOutput``, ``eventMetadata.eventId`` and ``inferenceTime``), plus the variant, so
what reads SageMaker capture files reads these. The request path only appends to an
in-memory buffer; a background thread writes each batch as one new file under
``<destination>/<endpoint>/<variant>/<yyyy>/<mm>/<dd>/<hh>/<time>-<uuid>.jsonl``
(any fsspec URI: a local folder, s3://...). A full buffer drops records rather than slow a
request; the drop count is logged.
"""

from __future__ import annotations

import base64
import json
import random
import threading
import time
import uuid
from dataclasses import dataclass

from serving._log import replica_log as log

_TEXT = ("text/csv", "application/json", "text/plain")


@dataclass(frozen=True)
class CaptureConfig:
    destination: str
    sampling_percentage: float = 100.0
    flush_s: float = 1.0
    max_buffer: int = 10_000


def _encode(body: bytes, content_type: str) -> dict:
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind in _TEXT:
        try:
            return {"observedContentType": content_type, "data": body.decode(),
                    "encoding": "CSV" if kind == "text/csv" else "JSON"}
        except UnicodeDecodeError:
            pass
    return {"observedContentType": content_type, "data": base64.b64encode(body).decode(),
            "encoding": "BASE64"}


class Capture:
    """One per ingress replica: ``record(...)`` from the request path, writes in a thread."""

    def __init__(self, endpoint: str, config: CaptureConfig):
        self.endpoint, self.config = endpoint, config
        self._rows: list[tuple[str, dict]] = []
        self._lock = threading.Lock()
        self._dropped = 0
        self._stop = threading.Event()
        self._writer = threading.Thread(target=self._loop, name="mlcore-capture", daemon=True)
        self._writer.start()

    def sampled(self) -> bool:
        return random.random() * 100 < self.config.sampling_percentage

    def record(self, variant: str, inference_id: str, request: bytes, request_type: str,
               response: bytes, response_type: str) -> None:
        row = {"captureData": {"endpointInput": {**_encode(request, request_type), "mode": "INPUT"},
                               "endpointOutput": {**_encode(response, response_type), "mode": "OUTPUT"}},
               "eventMetadata": {"eventId": inference_id, "inferenceId": inference_id,
                                 "inferenceTime": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
                                 + f".{int(time.time() * 1000) % 1000:03d}Z",
                                 "variant": variant},
               "eventVersion": "0"}
        with self._lock:
            if len(self._rows) >= self.config.max_buffer:
                self._dropped += 1
                return
            self._rows.append((variant, row))

    def _loop(self) -> None:
        while not self._stop.wait(self.config.flush_s):
            self.flush()

    def flush(self) -> None:
        with self._lock:
            rows, self._rows = self._rows, []
            dropped, self._dropped = self._dropped, 0
        if dropped:
            log.warning("data capture of %s dropped %d records (buffer full)", self.endpoint, dropped)
        by_variant: dict[str, list[dict]] = {}
        for variant, row in rows:
            by_variant.setdefault(variant, []).append(row)
        for variant, batch in by_variant.items():
            try:
                self._write(variant, batch)
            except Exception as e:  # storage down: the endpoint keeps serving
                log.warning("data capture of %s could not write %d records: %s",
                            self.endpoint, len(batch), e)

    def _write(self, variant: str, batch: list[dict]) -> None:
        from mlcore import _storage

        now = time.gmtime()
        name = f"{time.strftime('%H-%M-%S', now)}-{uuid.uuid4().hex[:12]}.jsonl"
        uri = _storage.join(self.config.destination, self.endpoint, variant,
                            time.strftime("%Y/%m/%d/%H", now), name)
        fs, path = _storage.filesystem(uri)
        fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        with fs.open(path, "w") as f:
            f.write("".join(json.dumps(r) + "\n" for r in batch))

    def close(self) -> None:
        self._stop.set()
        self.flush()


def new_inference_id() -> str:
    return uuid.uuid4().hex
