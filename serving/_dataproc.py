"""SageMaker batch transform's data processing: ``InputFilter`` (what of each record the model
receives), ``JoinSource`` (each output joined to its input record) and ``OutputFilter`` (what of
the joined record is written), as the developer guide's "Associate Prediction Results with Input
Records" describes them.

Records: a CSV line is a JSON array of its fields, each kept as the text it was (RFC 4180
quoting read and written by the csv module); a JSON or JSON Lines record is parsed JSON.
Joins: CSV writes the input's fields then the output's; a JSON object gets the output under
``SageMakerOutput``; any other JSON value becomes ``{"SageMakerInput": ..., "SageMakerOutput":
...}``. Only the operators that page lists are compiled: ``$``, ``.name``, ``['name', ...]``,
``[n, ...]`` (negative from the end), ``[start:end]`` (both ends included, either left out) and
``*``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable

CSV, JSON, JSONL = "text/csv", "application/json", "application/jsonlines"
KINDS = (CSV, JSON, JSONL)
OUTPUT_KEY, INPUT_KEY = "SageMakerOutput", "SageMakerInput"
MAX_PATH = 63  # the API's length limit on InputFilter and OutputFilter
OPERATORS = "$, .name, ['name', ...], [n, ...], [start:end] and *"

# ``..`` first so that recursive descent is caught before ``.name``; the dot before a bracket
# is optional (the guide's own example: $.field1.['child1','child2']).
_TOKEN = re.compile(r"\.\.|\.?\[(?P<inner>[^\]]*)\]|\.(?P<name>[^.\[\]]+)")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_NAMES = re.compile(rf"\s*(?:{_QUOTED.pattern})(?:\s*,\s*(?:{_QUOTED.pattern}))*\s*")
_NUMBER = re.compile(r"-?\d+")
_SLICE = re.compile(r"(-?\d+)?:(-?\d+)?")

_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)  # compact, one line

Select = Callable[[object], object]


def _kind(media: str | None) -> str:
    """``text/csv`` of ``Text/CSV; header=absent``."""
    return (media or "").split(";")[0].strip().lower()


def _given(expr: str | None) -> str | None:
    """The expression, or None where it selects everything ("$" is the API's default)."""
    expr = (expr or "").strip()
    return None if expr in ("", "$") else expr


# --- JSONPath --------------------------------------------------------------------------------
# A path compiles to steps, each (select, fans_out, by_name). A step that fans out (*, a slice,
# several indices) yields a list of matches, and the steps after it apply to each match.

def _compile_path(expr: str, field: str) -> tuple[Select, bool]:
    """``expr`` as a function of a parsed record, and whether it selects by name (which a CSV
    row, an array, cannot serve). ValueError names the operator that is not supported."""
    where = f"{field} {expr!r}"
    text = expr.strip()
    if not text.startswith("$"):
        raise ValueError(f"{where} must start with $ (the record), e.g. '$[1:]' or '$.features'")
    steps, pos = [], 1
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ValueError(f"{where}: cannot read {text[pos:]!r}; use {OPERATORS}")
        if m.group() == "..":
            raise _unsupported(where, "recursive descent '..'")
        steps.append(_bracket(m["inner"], where) if m["inner"] is not None
                     else _dot(m["name"].strip(), where))
        pos = m.end()

    if len(steps) == 1:  # the common case ($[1:], $.features): no loop per record
        return steps[0][0], steps[0][2]

    def select(value):
        many = False
        for step, fans_out, _ in steps:
            if not many:
                value = step(value)
            elif fans_out:
                value = [y for x in value for y in step(x)]
            else:
                value = [step(x) for x in value]
            many = many or fans_out
        return value

    return select, any(by_name for _, _, by_name in steps)


def _unsupported(where: str, what: str) -> ValueError:
    return ValueError(f"{where} uses {what}, which SageMaker batch transform does not support; "
                      f"write it with {OPERATORS}")


def _dot(name: str, where: str):
    if "(" in name:
        raise _unsupported(where, f"a function {name!r}")
    if name == "*":
        return _every(where), True, False
    return _child(name, where), False, True


def _bracket(inner: str, where: str):
    inner = inner.strip()
    if inner.startswith("?"):
        raise _unsupported(where, f"a filter expression [{inner}]")
    if inner.startswith("("):
        raise _unsupported(where, f"a script expression [{inner}]")
    if inner == "*":
        return _every(where), True, False
    if inner[:1] in ("'", '"'):
        return _names(inner, where)
    return _numbers(inner, where)


def _names(inner: str, where: str):
    if _NAMES.fullmatch(inner) is None:
        raise ValueError(f"{where}: [{inner}] is not a list of quoted names like "
                         "['id','SageMakerOutput'] (names and indices cannot be mixed)")
    names = [q[1:-1] for q in _QUOTED.findall(inner)]
    if any("." in n for n in names):  # the guide: ['child1','child2.grandchild'] is refused
        raise ValueError(f"{where}: a name inside brackets cannot reach further down "
                         "(SageMaker refuses ['child1','child2.grandchild']); select the parent "
                         "first, e.g. $.field1['child1','child2']")
    if len(names) == 1:
        return _child(names[0], where), False, True
    return _pick(names, where), False, True


def _numbers(inner: str, where: str):
    parts = [p.strip() for p in inner.split(",")]
    picks = []
    for p in parts:
        if _NUMBER.fullmatch(p):
            picks.append(int(p))
        elif (m := _SLICE.fullmatch(p.replace(" ", ""))) is not None:
            start, end = (int(x) if x else None for x in m.groups())
            picks.append(slice(start, _after(end)))
        elif p.count(":") == 2:  # Jayway's [start:end:step]; SageMaker lists no step
            raise _unsupported(where, "a slice step [start:end:step]")
        else:
            raise ValueError(f"{where}: [{inner}] is not an index list, a slice or a list of "
                             f"quoted names; use {OPERATORS}")
    if sum(isinstance(p, slice) for p in picks) > 1:  # SageMaker's own limit
        raise ValueError(f"{where}: only a single range is supported in brackets, as in $[0,5:]; "
                         "list the other columns by index")
    if len(picks) == 1 and isinstance(picks[0], int):
        return _index(picks[0], where), False, False
    return _elements(picks, where), True, False


def _after(end: int | None) -> int | None:
    """The Python slice end for SageMaker's end, which is included: "$[1:4] specifies the
    second through fifth columns" (the guide; unlike Jayway JsonPath and Python). The sample
    notebooks agree: AutoGluon's "$[:14]" sends a row's index column and 14 features and
    drops the 16th column, the target."""
    return None if end is None or end == -1 else end + 1


def _every(where: str) -> Select:
    def every(value):
        if isinstance(value, dict):
            return list(value.values())
        return list(_array(value, where, "*"))
    return every


def _child(name: str, where: str) -> Select:
    def child(value):
        if not isinstance(value, dict):
            raise ValueError(f"{where}: {name!r} needs a JSON object here, got {_what(value)}")
        if name not in value:
            raise ValueError(f"{where}: the record has no key {name!r}")
        return value[name]
    return child


def _pick(names: list[str], where: str) -> Select:
    # An object of the keys present, as Jayway JsonPath (which the guide points to) selects
    # several properties: a missing one is left out rather than failing the record.
    def pick(value):
        if not isinstance(value, dict):
            raise ValueError(f"{where}: names need a JSON object here, got {_what(value)}")
        return {n: value[n] for n in names if n in value}
    return pick


def _index(i: int, where: str) -> Select:
    def index(value):
        value = _array(value, where, f"[{i}]")
        if not -len(value) <= i < len(value):
            raise _outside(where, i, value)
        return value[i]
    return index


def _elements(picks: list[int | slice], where: str) -> Select:
    def elements(value):
        value = _array(value, where, "an index")
        out = []
        for p in picks:
            if isinstance(p, slice):
                out.extend(value[p])
            elif -len(value) <= p < len(value):
                out.append(value[p])
            else:
                raise _outside(where, p, value)
        return out
    return elements


def _array(value, where: str, op: str) -> list:
    if not isinstance(value, list):
        raise ValueError(f"{where}: {op} needs an array here, got {_what(value)}")
    return value


def _outside(where: str, i: int, value: list) -> ValueError:
    return ValueError(f"{where}: index {i} is outside the {len(value)} elements there "
                      f"(indices 0 to {len(value) - 1}, or -{len(value)} to -1 from the end)")


def _what(value) -> str:
    if isinstance(value, dict | list):
        return "an object" if isinstance(value, dict) else "an array"
    if isinstance(value, bytes):
        return f"the CSV field {value[:40]!r}"
    return _ENCODER.encode(value)[:40]


# --- records ---------------------------------------------------------------------------------

# CSV stays bytes: the fields are the text they were, and the common line (no quote) is split
# and joined without decoding. Quoted lines go through the csv module as Latin-1, which maps
# every byte to one character, so any encoding (UTF-8 included) comes back byte for byte.

def _fields(data: bytes, what: str) -> list[bytes]:
    """A CSV line's fields."""
    if data.endswith(b"\r"):
        data = data[:-1]
    if b'"' not in data:
        return data.split(b",")
    try:
        rows = list(csv.reader([data.decode("latin-1")], strict=True))
    except csv.Error as e:
        raise ValueError(f"{what} is not RFC 4180 CSV ({e}): {data[:80]!r}") from None
    return [f.encode("latin-1") for f in rows[0]] if rows else [b""]


def _csv_line(fields: list[bytes] | bytes) -> bytes:
    fields = fields if isinstance(fields, list) else [fields]
    line = b",".join(fields)
    if line.count(b",") == len(fields) - 1 and b'"' not in line and b"\n" not in line \
            and b"\r" not in line:
        return line
    buffer = io.StringIO()  # a field holds a comma, a quote or a line break: quote it
    csv.writer(buffer, lineterminator="").writerow([f.decode("latin-1") for f in fields])
    return buffer.getvalue().encode("latin-1")


def _json(data: bytes, what: str):
    try:
        return json.loads(data)
    except ValueError as e:
        raise ValueError(f"{what} is not JSON ({e})") from None


def _json_bytes(value) -> bytes:
    return _ENCODER.encode(value).encode()


def _lines(body: bytes) -> list[bytes]:
    """A response's records, one a line; a trailing newline (and CRLF) tolerated."""
    if not body:
        return []
    if body.endswith(b"\n"):
        body = body[:-1]
    parts = body.split(b"\n")
    if b"\r" in body:
        parts = [p[:-1] if p.endswith(b"\r") else p for p in parts]
    return parts


def _json_answers(body: bytes, n: int) -> list[bytes]:
    """A JSON response split per record: a list, or the list under "predictions" (or
    "projections", "scores")."""
    try:
        value = json.loads(body)
    except ValueError:
        return _lines(body)  # JSON Lines answered under application/json
    # {"predictions": [...]}, or the first-party PCA's "projections" and RCF's "scores"
    items = (next((value[k] for k in ("predictions", "projections", "scores") if k in value), None)
             if isinstance(value, dict) else value)
    # A single record's answer is kept whole, as SageMaker keeps it (e.g. a model answering
    # [0.2, 0.8], its class probabilities, for one record).
    if not isinstance(items, list) or (n == 1 and len(items) != 1):
        items = [value]
    return [_json_bytes(v) for v in items]


# --- validation ------------------------------------------------------------------------------

def check(input_filter: str | None, output_filter: str | None, join_source: str | None,
          content_type: str, accept: str) -> list[tuple[str, str]]:
    """``(field, message)`` for every problem of these settings; [] when they can run."""
    problems = []
    kind, out = _kind(content_type), _kind(accept)
    if join_source not in (None, "None", "Input"):
        problems.append(("join_source", f"join_source must be 'Input' (join each output to "
                         f"its input record) or 'None'; got {join_source!r}"))
    join = join_source == "Input"
    for field, expr, rows in (("input_filter", input_filter, kind),
                              ("output_filter", output_filter, kind if join else out)):
        problems += _path_problems(field, _given(expr), rows)
    if not (_given(input_filter) or _given(output_filter) or join):
        return problems
    if kind not in KINDS:
        field = next(f for f, on in (("input_filter", _given(input_filter)),
                                     ("join_source", join), ("output_filter", True)) if on)
        problems.append((field, f"input_filter, output_filter and join_source need content_type "
                         f"{', '.join(KINDS)}; got {content_type!r}; convert the records to one "
                         "of them or leave the data processing out"))
    if out not in KINDS:
        problems.append(("accept", f"input_filter, output_filter and join_source need accept "
                         f"{', '.join(KINDS)}; got {accept!r}; set accept to one of them"))
    elif join and kind in KINDS and (kind == CSV) != (out == CSV):
        fix = CSV if kind == CSV else JSONL
        problems.append(("accept", f"join_source Input joins an output to its record in the "
                         f"record's format: content_type {kind} cannot be joined with accept "
                         f"{out}; set accept to {fix}"))
    return problems


def _path_problems(field: str, expr: str | None, rows: str) -> list[tuple[str, str]]:
    if expr is None:
        return []
    if len(expr) > MAX_PATH:
        return [(field, f"{field} {expr[:20]!r}... is {len(expr)} characters; SageMaker takes at "
                 f"most {MAX_PATH}: shorten it")]
    try:
        _, by_name = _compile_path(expr, field)
    except ValueError as e:
        return [(field, str(e))]
    if by_name and rows == CSV:
        return [(field, f"{field} {expr!r} selects by name, but a CSV record is an array of its "
                 "fields; select them by index, e.g. '$[0]', '$[1:]' or '$[0,-1]'")]
    return []


def _compiled(expr: str | None, field: str) -> Select | None:
    expr = _given(expr)
    return None if expr is None else _compile_path(expr, field)[0]


# --- the job's data processing -----------------------------------------------------------------

class DataProcessing:
    """Built once per job; per-record methods raise ValueError(reason) for a record they
    cannot process.

    ``identity``: no output_filter and no join, so answers are written as the model gives
    them (an input_filter alone still applies; see ``filters_input``).
    """

    def __init__(self, input_filter: str | None, output_filter: str | None,
                 join_source: str | None, content_type: str, accept: str):
        problems = check(input_filter, output_filter, join_source, content_type, accept)
        if problems:
            raise ValueError("; ".join(f"{field}: {message}" for field, message in problems))
        self.kind, self.out = _kind(content_type), _kind(accept)
        self.join_input = join_source == "Input"
        self._in = _compiled(input_filter, "input_filter")
        self._out = _compiled(output_filter, "output_filter")
        self.filters_input = bool(self._in)
        self.identity = not (self._out or self.join_input)
        self._csv_out = (self.kind if self.join_input else self.out) == CSV

    def filter_input(self, record: bytes) -> bytes:
        """What the model receives of one input record, in the same content type."""
        if self._in is None:
            return record
        if self.kind == CSV:
            return _csv_line(self._in(_fields(record, "the input record")))
        return _json_bytes(self._in(_json(record, "the input record")))

    def split_output(self, body: bytes, n: int) -> list[bytes]:
        """One response for ``n`` records as ``n`` per-record outputs."""
        parts = _json_answers(body, n) if self.out == JSON else _lines(body)
        if len(parts) != n:
            raise ValueError(
                f"the model answered {len(parts)} records for {n} input records (accept "
                f"{self.out}); join_source and output_filter need one output per record: a line "
                "each for text/csv and application/jsonlines, a JSON list or {\"predictions\": "
                "[...]} for application/json, or send one record per request (SingleRecord)")
        return parts

    def join(self, record: bytes, output: bytes) -> bytes:
        """The written record for one (unfiltered) input record and its output."""
        if self.identity:
            return output
        value = self._read(output, self.out, "the model's output for this record")
        if self.join_input:
            source = self._read(record, self.kind, "the input record")
            if self.kind == CSV:
                value = source + value
            elif isinstance(source, dict):
                value = {**source, OUTPUT_KEY: value}
            else:  # the joined JSON record must be an object
                value = {INPUT_KEY: source, OUTPUT_KEY: value}
        if self._out:
            value = self._out(value)
        return _csv_line(value) if self._csv_out else _json_bytes(value)

    @staticmethod
    def _read(data: bytes, kind: str, what: str):
        return _fields(data, what) if kind == CSV else _json(data, what)


__all__ = ["DataProcessing", "check"]
