"""SageMaker batch transform's data processing: ``InputFilter`` (what of each record the model
sees), ``JoinSource`` (each answer joined to its input record) and ``OutputFilter`` (what of the
joined record is written), with SageMaker's JSONPath subset.

A CSV record is treated as a JSON array of its fields (kept as the text they were); JSON and
JSON Lines records are parsed JSON. Supported operators, as SageMaker lists them: ``$`` (the
record), ``.name`` and ``['name', ...]`` (children), ``[n, ...]`` (indices; negative from the
end), ``[start:end]`` (slices, open ends allowed) and ``*`` (every child). A union of names on an
object keeps an object of those keys; filter expressions ``?(...)`` and recursive descent
``..`` are refused.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable

CSV, JSON, JSONL = "text/csv", "application/json", "application/jsonlines"
OUTPUT_KEY = "SageMakerOutput"
_STEP = re.compile(r"""\.(?P<name>[A-Za-z_][\w-]*|\*)|\[(?P<inner>[^\]]*)\]""")
_SLICE = re.compile(r"^\s*(-?\d+)?\s*:\s*(-?\d+)?\s*$")


def _kind(media: str) -> str:
    media = (media or "").split(";")[0].strip().lower()
    return JSONL if media in (JSONL, "application/json-lines", "application/x-jsonlines") else media


def compile_path(expr: str) -> Callable:
    """``expr`` as a function of a parsed record; ValueError naming what is not supported."""
    text = expr.strip()
    if not text.startswith("$"):
        raise ValueError(f"JSONPath {expr!r} must start with $ (the record), e.g. '$[1:]' or "
                         "'$.features'")
    if ".." in text or "?(" in text or "@" in text:
        raise ValueError(f"JSONPath {expr!r} uses an operator batch transform does not support "
                         "(recursive descent '..' or a filter '?()'); use $, .name, ['name'], "
                         "[n], [start:end] or *")
    steps, pos = [], 1
    for m in _STEP.finditer(text, 1):
        if m.start() != pos:
            break
        steps.append(_step(m, expr))
        pos = m.end()
    if pos != len(text):
        raise ValueError(f"JSONPath {expr!r}: cannot read {text[pos:]!r}; use $, .name, "
                         "['name', ...], [n, ...], [start:end] or *")

    def select(value):
        for step in steps:
            value = step(value)
        return value

    return select


def _step(m: re.Match, expr: str) -> Callable:
    if m["name"] is not None:
        name = m["name"]
        return _all if name == "*" else (lambda v: _child(v, name, expr))
    inner = m["inner"].strip()
    if inner == "*":
        return _all
    if (s := _SLICE.match(inner)) is not None:
        start, end = (int(x) if x else None for x in s.groups())
        return lambda v: _array(v, expr)[start:end]
    parts = [p.strip() for p in inner.split(",")]
    if all(re.fullmatch(r"-?\d+", p) for p in parts):
        indices = [int(p) for p in parts]
        if len(indices) == 1:
            return lambda v: _index(v, indices[0], expr)
        return lambda v: [_index(v, i, expr) for i in indices]
    if all(re.fullmatch(r"'[^']*'|\"[^\"]*\"", p) for p in parts):
        names = [p[1:-1] for p in parts]
        if len(names) == 1:
            return lambda v: _child(v, names[0], expr)
        return lambda v: {n: _child(v, n, expr) for n in names}
    raise ValueError(f"JSONPath {expr!r}: [{inner}] is not an index list, a slice, a list of "
                     "quoted names or *")


def _all(v):
    return list(v.values()) if isinstance(v, dict) else _array(v, "*")


def _array(v, expr):
    if not isinstance(v, list):
        raise ValueError(f"{expr}: the record is not an array here")
    return v


def _index(v, i: int, expr: str):
    v = _array(v, expr)
    if not -len(v) <= i < len(v):
        raise ValueError(f"{expr}: index {i} is outside the record's {len(v)} fields")
    return v[i]


def _child(v, name: str, expr: str):
    if not isinstance(v, dict) or name not in v:
        raise ValueError(f"{expr}: the record has no field {name!r}")
    return v[name]


def _parse(record: bytes, kind: str):
    if kind == CSV:
        text = record.decode()
        if '"' not in text:
            return text.split(",")
        return next(csv.reader([text]))
    return json.loads(record)


def _render(value, kind: str) -> bytes:
    if kind == CSV:
        fields = value if isinstance(value, list) else [value]
        if any(isinstance(f, list | dict) for f in fields):
            raise ValueError("a CSV record's fields must be values, not arrays or objects")
        text = [f if isinstance(f, str) else json.dumps(f) for f in fields]
        if not any(c in f for f in text for c in ',"\n\r'):
            return ",".join(text).encode()
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="").writerow(text)
        return buffer.getvalue().encode()
    return json.dumps(value, separators=(",", ":")).encode()


def check(input_filter: str | None, output_filter: str | None, join_source: str | None,
          content_type: str, accept: str) -> list[tuple[str, str]]:
    """``(field, message)`` for every problem of these settings."""
    problems = []
    for field, expr in (("input_filter", input_filter), ("output_filter", output_filter)):
        if expr:
            try:
                compile_path(expr)
            except ValueError as e:
                problems.append((field, str(e)))
    kind, out = _kind(content_type), _kind(accept)
    if (input_filter or join_source == "Input") and kind not in (CSV, JSON, JSONL):
        problems.append(("input_filter" if input_filter else "join_source", f"input_filter and "
                         f"join_source work on text/csv, application/json or application/"
                         f"jsonlines records; got {content_type}"))
    if (output_filter or join_source == "Input") and out not in (CSV, JSON, JSONL):
        problems.append(("accept", f"output_filter and join_source need answers in text/csv, "
                         f"application/json or application/jsonlines; got accept {accept}"))
    if join_source == "Input" and kind in (CSV, JSON, JSONL) and out in (CSV, JSON, JSONL) \
            and (kind == CSV) != (out == CSV):
        problems.append(("join_source", f"join_source Input joins records of one format: "
                         f"{content_type} input with {accept} answers cannot be joined; set "
                         f"accept to {'text/csv' if kind == CSV else 'application/jsonlines'}"))
    return problems


class DataProcessing:
    """Built once per job; per-record methods raise ValueError(reason) for a record they
    cannot process."""

    def __init__(self, input_filter: str | None, output_filter: str | None,
                 join_source: str | None, content_type: str, accept: str):
        problems = check(input_filter, output_filter, join_source, content_type, accept)
        if problems:
            raise ValueError("; ".join(f"{f}: {m}" for f, m in problems))
        self.kind, self.out = _kind(content_type), _kind(accept)
        self.join_input = join_source == "Input"
        self._in = compile_path(input_filter) if input_filter and input_filter.strip() != "$" else None
        self._out = compile_path(output_filter) if output_filter and output_filter.strip() != "$" else None
        self.filters_input = self._in is not None
        self.identity = not (self._in or self._out or self.join_input)

    def filter_input(self, record: bytes) -> bytes:
        return _render(self._in(_parse(record, self.kind)), self.kind)

    def split_output(self, body: bytes, n: int) -> list[bytes]:
        """One answer for ``n`` records as ``n`` per-record answers."""
        if self.out == JSON:
            value = json.loads(body)
            if isinstance(value, dict) and isinstance(value.get("predictions"), list):
                value = value["predictions"]
            items = value if isinstance(value, list) else [value]
            parts = [json.dumps(v, separators=(",", ":")).encode() for v in items]
        else:
            parts = body.decode().rstrip("\n").split("\n") if body.strip() else []
            parts = [p.rstrip("\r").encode() for p in parts]
        if len(parts) != n:
            raise ValueError(f"the model answered {len(parts)} records for {n}; join_source and "
                             "output_filter need one answer per record")
        return parts

    def join(self, record: bytes, output: bytes) -> bytes:
        """The written record for one input ``record`` and its ``output``."""
        answer = _parse(output, self.out if self.out != JSONL else JSON)
        if self.join_input:
            value = _parse(record, self.kind)
            if self.kind == CSV:
                value = value + (answer if isinstance(answer, list) else [answer])
            elif isinstance(value, dict):
                value = {**value, OUTPUT_KEY: answer}
            elif isinstance(value, list):
                value = [*value, answer]
            else:
                raise ValueError("a JSON record to join must be an object or an array")
            kind = self.kind
        else:
            value, kind = answer, self.out
        if self._out is not None:
            value = self._out(value)
        return _render(value, CSV if kind == CSV else JSON)


__all__ = ["DataProcessing", "check", "compile_path"]
