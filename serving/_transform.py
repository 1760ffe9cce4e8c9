"""Batch transform on Ray Data: input files cut into shards (line-aligned byte ranges, Parquet
row groups, or whole files), scored by one actor pool whose actors load the model once, each
shard's answers written to a part file (temporary name, then committed) with a summary beside
it; the driver joins a file's parts into ``<file>.out`` once all of them exist.

Memory stays flat whatever the input's size: a shard is read in pieces of about one request
(``max_payload``), its answers streamed to its part file, and the driver holds only summaries.
A re-run of a job skips the files whose ``.out`` exists and the shards whose part exists, so
after any crash every input record is answered exactly once, and a ``.out`` is either absent or
whole. What the model sees and answers is the realtime endpoint's (:mod:`serving._payload`, or
a script's own handlers), so both give the same predictions for the same records.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import resource
import struct
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from mlcore import _recordio, _storage
from serving._errors import BadRequest
from serving._model import ModelSpec, _load
from serving._payload import parse, render

PART_SUFFIX = ".part"
SUMMARY_SUFFIX = ".summary.json"
STOP_MARKER = "STOP"
MAX_ERRORS_KEPT = 1000  # per shard; the count is always exact
_READ_BYTES = 1 << 20


@dataclass(frozen=True)
class Shard:
    """A piece of one input file: bytes ``[start, end)`` of a plain Line-split file, row groups
    ``[start, end)`` of a Parquet file, or the whole file (``end == -1``)."""

    uri: str     # the input file
    rel: str     # its path under the input prefix (its .out's path under output_path)
    index: int   # this shard's number within the file
    count: int   # the file's shards
    start: int = 0
    end: int = -1


@dataclass(frozen=True)
class Settings:
    """What every scoring actor needs to know of the job."""

    content_type: str
    accept: str | None
    split: str                      # "None" | "Line" | "RecordIO"
    gzip: bool
    single_record: bool             # SingleRecord: one record per request
    max_payload: int                # bytes per request
    assemble_line: bool
    parts: str                      # where part files and summaries go
    input_filter: str | None = None
    output_filter: str | None = None
    join_source: str | None = None
    max_error_rate: float = 0.0
    env: dict = field(default_factory=dict)


def part_uri(settings: Settings, shard: Shard) -> str:
    return _storage.child(settings.parts, f"{shard.rel}.{shard.index:05d}{PART_SUFFIX}")


class _Count:
    """The physical lines (or records, or rows) of a shard read so far: error line numbers
    of later shards are offset by it."""

    lines = 0


@dataclass
class _Request:
    linenos: Sequence[int]          # each record's line (or record) number in the shard, from 1
    records: list[bytes] | None     # the records (None: in ``body``, or Parquet rows in ``table``)
    table: object = None            # a pyarrow Table of Parquet rows
    body: bytes | None = None       # whole lines, one record each, none blank

    def lines(self) -> list[bytes] | None:
        if self.records is None and self.body is not None:
            return self.body.rstrip(b"\n").split(b"\n")
        return self.records


class Scorer:
    """A scoring actor of the pool (Ray Data builds one per actor): the model loaded once,
    then one shard per call."""

    def __init__(self, model: ModelSpec, settings: Settings):
        t0 = time.perf_counter()
        os.environ.update(settings.env)
        self.spec, self.s = model, settings
        self.model, self.n_features = _load(model)
        self.dp = None  # no filter and no join: answers are written as the model gives them
        if settings.input_filter or settings.output_filter or settings.join_source == "Input":
            from serving._dataproc import DataProcessing

            self.dp = DataProcessing(settings.input_filter, settings.output_filter,
                                     settings.join_source, settings.content_type,
                                     settings.accept or _default_accept(model))
        self._stop_checked, self._stopped = 0.0, False
        self._init_s = time.perf_counter() - t0  # reported with the actor's first shard

    def __call__(self, row: dict) -> dict:
        shard = Shard(**{k: row[k] for k in Shard.__dataclass_fields__})
        t0 = time.perf_counter()
        out = part_uri(self.s, shard)
        summary = {"records": 0, "errors": 0, "error_list": [], "lines": 0, "stopped": False}
        count = _Count()
        with _AtomicWriter(out) as sink:
            requests = _requests(shard, self.s, count, whole_lines=self.dp is None)
            for request in requests:
                if self._stop_requested():
                    summary["stopped"] = True
                    sink.abort()
                    break
                self._score(request, sink, summary)
                if summary["errors"] and self.s.max_error_rate == 0:
                    for _ in requests:  # the file fails whatever the rest holds; count its lines
                        pass
                    break
        summary.update(uri=shard.uri, rel=shard.rel, index=shard.index, count=shard.count,
                       lines=count.lines, seconds=round(time.perf_counter() - t0, 3),
                       init_s=round(self._init_s, 3), pid=os.getpid(),
                       peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        self._init_s = 0.0
        if not summary["stopped"]:  # the summary marks the part as complete
            _write_bytes(out + SUMMARY_SUFFIX, json.dumps(summary).encode())
        return {"summary": json.dumps(summary)}

    def _stop_requested(self) -> bool:
        """A stop marker under the parts folder, looked for at most every 2 s."""
        now = time.monotonic()
        if not self._stopped and now - self._stop_checked > 2.0:
            self._stop_checked = now
            fs, path = _storage.filesystem(_storage.child(self.s.parts, STOP_MARKER))
            self._stopped = fs.exists(path)
        return self._stopped

    def _score(self, request: _Request, sink, summary: dict) -> None:
        n = len(request.linenos)
        summary["records"] += n
        try:
            sink.write(self._answer(request))
            return
        except Exception as e:  # noqa: BLE001 (each record is retried alone below)
            records = request.lines()
            if n == 1 or records is None:
                _error(summary, request.linenos[0] if n == 1 else request.linenos, e)
                if records is None:  # Parquet rows fail together
                    summary["errors"] += n - 1
                sink.write(b"\n" * n if self.s.assemble_line else b"")
                return
        for lineno, record in zip(request.linenos, records, strict=True):  # find the bad ones
            try:
                sink.write(self._answer(_Request([lineno], [record])))
            except Exception as e:  # noqa: BLE001 (recorded with its line number)
                _error(summary, lineno, e)
                sink.write(b"\n" if self.s.assemble_line else b"")
                if self.s.max_error_rate == 0:
                    return

    def _answer(self, request: _Request) -> bytes:
        """The assembled answer to one request's records."""
        records, dp = request.records, self.dp
        accept = self.s.accept or _default_accept(self.spec)
        if records is not None and dp is not None and dp.filters_input:
            records = [dp.filter_input(r) for r in records]
        kind = self.s.content_type
        if request.table is not None:
            body, X = None, _parquet_rows(request.table)
        elif request.body is not None:
            body, X = request.body, None
        else:
            body, X = _body(records, self.s.split), None
        if kind == "application/json" and self.s.split == "Line" and len(request.linenos) > 1:
            kind = "application/jsonlines"  # several JSON documents, one per line
        if self.spec.handle is not None:  # a script's input_fn / predict_fn / output_fn
            if body is None:
                buffer = io.BytesIO()
                import pyarrow.parquet as pq

                pq.write_table(request.table, buffer)
                body = buffer.getvalue()
            answer, _ = self.spec.handle(self.model, body, self.s.content_type, accept)
            answer = answer if isinstance(answer, bytes) else str(answer).encode()
        else:
            if X is None:
                X = parse(body, kind, self.n_features, limit=len(body) + 1)
            predictions = np.asarray(self.spec.predict(self.model, X))
            if len(predictions) != len(X):
                raise BadRequest(500, f"the model answered {len(predictions)} predictions for "
                                      f"{len(X)} records")
            answer, _ = render(predictions, accept, self.spec.container)
        if dp is None or dp.identity:
            return answer + b"\n" if self.s.assemble_line and not answer.endswith(b"\n") else answer
        outputs = dp.split_output(answer, len(request.linenos))
        lines = [dp.join(r, o) for r, o in zip(request.records, outputs, strict=True)]
        return b"\n".join(lines) + b"\n" if self.s.assemble_line else b"".join(lines)


def scorer_class(model: ModelSpec, settings: Settings) -> type:
    """A Scorer class bound to the job (pickled with it): Ray Data builds its actors without
    constructor arguments, which it would otherwise keep in the object store for restarts."""

    class JobScorer(Scorer):
        def __init__(self):
            super().__init__(model, settings)

    return JobScorer


def _default_accept(spec: ModelSpec) -> str:
    from serving._payload import ACCEPTS

    return ACCEPTS.get(spec.container, ACCEPTS[None])[0]


def _error(summary: dict, lineno, e: BaseException) -> None:
    summary["errors"] += 1
    if len(summary["error_list"]) < MAX_ERRORS_KEPT:
        reason = e.message if isinstance(e, BadRequest) else f"{type(e).__name__}: {e}"
        where = ({"line": lineno} if isinstance(lineno, int)
                 else {"lines": [lineno[0], lineno[-1]]})
        summary["error_list"].append({**where, "reason": reason[:2000]})


def _body(records: list[bytes], split: str) -> bytes:
    if split == "RecordIO":
        return b"".join(_frame(r) for r in records)
    return b"\n".join(records) + b"\n" if split == "Line" else records[0]


def _frame(payload: bytes) -> bytes:
    return struct.pack("<II", _recordio.MAGIC, len(payload)) + payload + b"\0" * (-len(payload) % 4)


def _parquet_rows(table) -> np.ndarray:
    import pyarrow.compute as pc

    columns = [pc.cast(c, "float32").to_numpy(zero_copy_only=False) for c in table.columns]
    return np.column_stack(columns) if columns else np.empty((table.num_rows, 0), np.float32)


# -- reading shards into requests ---------------------------------------------------------------

def _requests(shard: Shard, s: Settings, count: _Count, whole_lines: bool = False
              ) -> Iterator[_Request]:
    """The shard's requests. ``whole_lines``: Line-split records with no filter go as the
    file's own bytes, a piece of about max_payload at a time (no per-line work)."""
    if s.content_type == "application/x-parquet":
        yield from _parquet_requests(shard, s, count)
    elif s.split == "Line" and whole_lines and not s.single_record:
        yield from _chunk_requests(shard, s, count)
    else:
        records = (_line_records(shard, s, count) if s.split == "Line" else
                   _recordio_records(shard, s, count) if s.split == "RecordIO"
                   else _whole_file(shard, s, count))
        yield from _batched(records, s)


def _batched(records, s: Settings) -> Iterator[_Request]:
    batch, linenos, size = [], [], 0
    for lineno, record in records:
        if batch and (s.single_record or size + len(record) + 1 > s.max_payload):
            yield _Request(linenos, batch)
            batch, linenos, size = [], [], 0
        batch.append(record)
        linenos.append(lineno)
        size += len(record) + 1
    if batch:
        yield _Request(linenos, batch)


def _open(shard: Shard, s: Settings):
    fs, path = _storage.filesystem(shard.uri)
    f = fs.open(path, "rb")
    return gzip.GzipFile(fileobj=f) if s.gzip else f


def _whole_file(shard: Shard, s: Settings, count: _Count):
    with _open(shard, s) as f:
        body = f.read(s.max_payload + 1)
    if len(body) > s.max_payload:
        raise BadRequest(413, f"{shard.rel} is over max_payload ({s.max_payload} bytes) and "
                              "split_type None sends a whole file as one request: set "
                              "split_type Line (or RecordIO), or raise max_payload")
    count.lines = 1
    if body.strip():
        yield 1, body


def _line_chunks(shard: Shard, s: Settings, size: int) -> Iterator[bytes]:
    """The shard's lines in pieces of about ``size`` bytes, each of whole lines: those that
    start in the shard's byte range (a line belongs to the shard holding its first byte)."""
    with _open(shard, s) as f:
        pos = shard.start
        if shard.start > 0:
            f.seek(shard.start - 1)
            pos += len(f.readline()) - 1  # finish the line begun before the shard
        rest = b""
        while shard.end < 0 or pos < shard.end:
            chunk = f.read(size if shard.end < 0 else min(size, shard.end - pos))
            if not chunk:
                break
            pos += len(chunk)
            data = rest + chunk
            cut = data.rfind(b"\n") + 1
            rest = data[cut:]
            if cut:
                yield data[:cut]
        if shard.end >= 0 and rest:  # the shard's last line ends after its range
            rest += f.readline()
        if rest:
            yield rest


def _lines_of(chunk: bytes) -> list[bytes]:
    return (chunk[:-1] if chunk.endswith(b"\n") else chunk).split(b"\n")


def _line_records(shard: Shard, s: Settings, count: _Count):
    """``(line number within the shard, line)`` for the shard's non-blank lines. Line numbers
    count from 1 within the shard; the driver adds the lines of the shards before it."""
    for chunk in _line_chunks(shard, s, _READ_BYTES):
        for line in _lines_of(chunk):
            count.lines += 1
            if line.strip():
                yield count.lines, line.rstrip(b"\r")


def _chunk_requests(shard: Shard, s: Settings, count: _Count) -> Iterator[_Request]:
    """Requests of whole lines, about max_payload each, the file's bytes as they are; a piece
    with a blank line or CRLF endings goes line by line instead."""
    for chunk in _line_chunks(shard, s, s.max_payload):
        n = chunk.count(b"\n") + (not chunk.endswith(b"\n"))
        if b"\r" in chunk or b"\n\n" in chunk or chunk.startswith(b"\n") or not chunk.strip():
            first = count.lines
            records = [(first + i + 1, line.rstrip(b"\r"))
                       for i, line in enumerate(_lines_of(chunk)) if line.strip()]
            count.lines += n
            yield from _batched(records, s)
            continue
        yield _Request(range(count.lines + 1, count.lines + n + 1), None, body=chunk)
        count.lines += n


def _recordio_records(shard: Shard, s: Settings, count: _Count):
    with _open(shard, s) as f:
        n = 0
        while True:
            header = f.read(8)
            if not header:
                return
            n += 1
            count.lines = n
            if len(header) < 8:
                raise BadRequest(400, f"{shard.rel}: truncated RecordIO header at record {n}")
            magic, length = struct.unpack("<II", header)
            if magic != _recordio.MAGIC:
                raise BadRequest(400, f"{shard.rel} is not RecordIO: bad magic number at "
                                      f"record {n}; use split_type None or Line for this file")
            length &= (1 << 29) - 1  # the upper 3 bits are the continuation flag
            payload = f.read(length)
            f.read(-length % 4)
            yield n, payload


def _parquet_requests(shard: Shard, s: Settings, count: _Count):
    import pyarrow as pa
    import pyarrow.parquet as pq

    fs, path = _storage.filesystem(shard.uri)
    with fs.open(path, "rb") as f:
        pf = pq.ParquetFile(f)
        groups = list(range(shard.start, shard.end if shard.end >= 0 else pf.num_row_groups))
        row_bytes = max(1, pf.metadata.serialized_size // max(1, pf.metadata.num_rows))
        if pf.metadata.num_rows and pf.metadata.num_row_groups:
            row_bytes = max(row_bytes, pf.metadata.row_group(0).total_byte_size
                            // max(1, pf.metadata.row_group(0).num_rows))
        rows = 1 if s.single_record else max(1, s.max_payload // row_bytes)
        first = 1
        for batch in pf.iter_batches(batch_size=rows, row_groups=groups):
            n = batch.num_rows
            count.lines += n
            yield _Request(list(range(first, first + n)), None, pa.Table.from_batches([batch]))
            first += n


# -- planning and committing (the driver's side) -------------------------------------------------

def plan_shards(files: list[tuple[str, str, int]], s: Settings, actors: int,
                max_shard_bytes: int = 64 << 20, min_shard_bytes: int = 64 << 10) -> list[Shard]:
    """Shards for ``(uri, rel, size)`` files: plain Line-split files in line-aligned byte
    ranges of about a (2 x actors)-th of the input (so the actors finish together), within
    [``min_shard_bytes``, ``max_shard_bytes``]; a Parquet file by row groups; anything else
    (gzip, RecordIO, unsplit) whole."""
    total = sum(size for *_, size in files)
    target = min(max_shard_bytes, max(min_shard_bytes, total // max(1, 2 * actors)))
    shards = []
    for uri, rel, size in files:
        if s.content_type == "application/x-parquet":
            shards += _parquet_shards(uri, rel, max(1, round(size / target)))
            continue
        if s.split != "Line" or s.gzip or size == 0:
            shards.append(Shard(uri, rel, 0, 1))
            continue
        n = max(1, -(-size // target))
        step = -(-size // n)
        bounds = [(i * step, min(size, (i + 1) * step)) for i in range(n) if i * step < size]
        shards += [Shard(uri, rel, i, len(bounds), a, b) for i, (a, b) in enumerate(bounds)]
    return shards


def _parquet_shards(uri: str, rel: str, pieces: int) -> list[Shard]:
    import pyarrow.parquet as pq

    fs, path = _storage.filesystem(uri)
    with fs.open(path, "rb") as f:
        groups = pq.ParquetFile(f).metadata.num_row_groups
    pieces = max(1, min(pieces, groups))
    step = -(-groups // pieces) if groups else 1
    bounds = [(a, min(groups, a + step)) for a in range(0, max(groups, 1), step)]
    return [Shard(uri, rel, i, len(bounds), a, b) for i, (a, b) in enumerate(bounds)]


def read_summary(settings: Settings, shard: Shard) -> dict | None:
    """The summary of a shard scored before (its part is complete), or None."""
    fs, path = _storage.filesystem(part_uri(settings, shard) + SUMMARY_SUFFIX)
    try:
        with fs.open(path, "rb") as f:
            return json.loads(f.read())
    except FileNotFoundError:
        return None


def commit_file(settings: Settings, output: str, rel: str, summaries: list[dict]) -> dict:
    """Join a file's parts into ``<output>/<rel>.out`` (temporary name first) and write its
    errors to ``<rel>.errors.jsonl`` (before the .out: a committed .out has its errors file).
    The file fails, without a .out, when its error share passes ``max_error_rate``.
    Returns ``{"rel", "records", "errors", "failed", "reason"}``."""
    summaries = sorted(summaries, key=lambda d: d["index"])
    records = sum(d["records"] for d in summaries)
    errors, offset, listed = sum(d["errors"] for d in summaries), 0, []
    for d in summaries:
        for e in d["error_list"]:
            listed.append({**e, "line": e["line"] + offset} if "line" in e else
                          {**e, "lines": [e["lines"][0] + offset, e["lines"][1] + offset]})
        offset += d.get("lines") or d["records"]
    out = _storage.child(output, f"{rel}.out")
    if listed or errors:
        body = "".join(json.dumps({"file": rel, **e}) + "\n" for e in listed)
        _write_bytes(_storage.child(output, f"{rel}.errors.jsonl"), body.encode())
    failed = errors > 0 and errors > settings.max_error_rate * max(records, 1)
    if not failed:
        parts = [part_uri(settings, Shard("", rel, d["index"], d["count"])) for d in summaries]
        _concat(parts, out)
    for d in summaries:
        part = part_uri(settings, Shard("", rel, d["index"], d["count"]))
        _storage.remove(part + SUMMARY_SUFFIX)
        _storage.remove(part)
    reason = None
    if failed:
        first = listed[0] if listed else {}
        where = f"line {first['line']}" if "line" in first else "a request"
        reason = (f"{rel}: {errors} of {records} records failed (first at {where}: "
                  f"{first.get('reason', '?')}); see {rel}.errors.jsonl")
    return {"rel": rel, "records": records, "errors": errors, "failed": failed, "reason": reason}


def output_exists(output: str, rel: str) -> bool:
    fs, path = _storage.filesystem(_storage.child(output, f"{rel}.out"))
    return fs.exists(path)


def _concat(parts: list[str], dest: str) -> None:
    if len(parts) == 1 and not _storage.is_remote(dest) and not _storage.is_remote(parts[0]):
        target = _storage.local_path(dest)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.replace(_storage.local_path(parts[0]), target)  # the part becomes the .out at once
        return
    with _AtomicWriter(dest) as sink:
        for part in parts:
            fs, path = _storage.filesystem(part)
            with fs.open(path, "rb") as f:
                while chunk := f.read(8 << 20):
                    sink.write(chunk)


def _write_bytes(uri: str, data: bytes) -> None:
    with _AtomicWriter(uri) as sink:
        sink.write(data)


class _AtomicWriter:
    """A file that appears whole or not at all: a local file is written under a temporary
    name and renamed; an object store makes an upload visible only when it completes."""

    def __init__(self, uri: str):
        self.fs, self.path = _storage.filesystem(uri)
        self.local = not _storage.is_remote(uri)
        self.tmp = f"{self.path}.tmp-{uuid.uuid4().hex[:8]}" if self.local else self.path
        self._aborted = False

    def __enter__(self):
        if self.local:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            self.f = open(self.tmp, "wb")  # noqa: SIM115 (closed in __exit__)
        else:
            self.f = self.fs.open(self.path, "wb")
        return self

    def write(self, data: bytes) -> None:
        if data:
            self.f.write(data)

    def abort(self) -> None:
        self._aborted = True

    def __exit__(self, kind, value, tb):
        if kind is not None or self._aborted:
            if self.local:
                self.f.close()
                os.unlink(self.tmp)
            else:
                getattr(self.f, "discard", lambda: None)()  # s3fs: abort the multipart upload
                try:
                    self.f.close()
                except Exception:  # noqa: BLE001 (the upload is being thrown away)
                    pass
            return False
        self.f.close()
        if self.local:
            os.replace(self.tmp, self.path)
        return False


def settings_dict(s: Settings) -> dict:
    return asdict(s)


__all__ = ["Scorer", "Settings", "Shard", "commit_file", "scorer_class", "output_exists", "part_uri",
           "plan_shards", "read_summary", "settings_dict"]
