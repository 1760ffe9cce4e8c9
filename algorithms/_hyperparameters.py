"""Declarative hyperparameter tables: SageMaker passes every value as a string, so each entry
knows its type and its allowed range, and validation names the fix.

The types follow the SageMaker algorithm toolkit's (``sagemaker_algorithm_toolkit/
hyperparameter_validation.py``): integer, continuous, categorical, and the list forms
:func:`comma_list` (``"auc,logloss"``), :func:`int_tuple` (``"(1,0,-1)"``) and
:func:`nested_int_list` (``"[[0,1],[2,3]]"``).
"""

from __future__ import annotations

import ast
import difflib
import json
from collections.abc import Callable
from dataclasses import dataclass

from mlcore.errors import AlgorithmError


def _literal(raw, kinds: tuple[type, ...]):
    # The toolkit eval()s tuples; literal_eval reads the same strings and runs no code.
    value = ast.literal_eval(raw) if isinstance(raw, str) else raw
    if isinstance(value, int) and tuple in kinds:
        value = (value,)  # "(1)" is the one-element constraint list
    if not isinstance(value, kinds):
        raise ValueError
    return value


def comma_list(raw) -> list[str]:
    items = raw if isinstance(raw, (list, tuple)) else str(raw).split(",")
    return [str(v).strip() for v in items if str(v).strip()]


def int_tuple(raw) -> tuple[int, ...]:
    value = tuple(_literal(raw, (tuple, list)))
    if not all(isinstance(v, int) for v in value):
        raise ValueError
    return value


def nested_int_list(raw) -> list[list[int]]:
    value = [list(inner) for inner in _literal(raw, (list, tuple))]
    if not all(isinstance(v, int) for inner in value for v in inner):
        raise ValueError
    return value


def json_list(raw) -> list[str]:
    """``["msd","ssd"]`` (the SDK's JSON list, its quotes escaped or not), or ``msd,ssd``."""
    if isinstance(raw, (list, tuple)):
        return [str(v).strip() for v in raw]
    text = str(raw).replace('\\"', '"').strip()
    if text.startswith("["):
        try:
            return [str(v).strip() for v in json.loads(text)]
        except json.JSONDecodeError:
            raise ValueError from None
    return [v.strip() for v in text.split(",") if v.strip()]


def auto_or_int(raw):
    """``auto``, or a whole number (``"10"``, ``10.0``)."""
    if str(raw).strip().lower() == "auto":
        return "auto"
    value = float(raw)
    if not value.is_integer():
        raise ValueError
    return int(value)


auto_or_int.kind = "a positive integer or 'auto'"
comma_list.kind = "a comma-separated list, e.g. 'a,b'"
json_list.kind = 'a JSON list, e.g. ["a","b"] (or a,b)'
int_tuple.kind = "a tuple of integers, e.g. '(1,0,-1)'"
nested_int_list.kind = "a list of lists of feature indices, e.g. '[[0,1],[2,3]]'"


@dataclass(frozen=True)
class HP:
    type: type | Callable  # int, float, str, bool, or one of the list parsers above
    low: float | None = None
    high: float | None = None
    choices: tuple | None = None  # for lists: every element must be one of them
    required: bool = False
    low_open: bool = False   # (low, ...] instead of [low, ...]
    high_open: bool = False  # [..., high) instead of [..., high]
    alias_of: str | None = None  # another name for that hyperparameter (learning_rate -> eta)

    def convert(self, name: str, raw):
        try:
            if self.type is bool and isinstance(raw, str):
                if raw.lower() not in ("true", "false", "1", "0"):
                    raise ValueError
                value = raw.lower() in ("true", "1")
            elif self.type is int and isinstance(raw, float) and raw.is_integer():
                value = int(raw)
            else:
                value = self.type(raw)
        except (TypeError, ValueError, SyntaxError):
            kind = getattr(self.type, "kind", self.type.__name__)
            raise ValueError(f"{name} must be {kind}; got {raw!r}") from None
        elements = _flat(value) if isinstance(value, (list, tuple)) else [value]
        if self.choices is not None and any(v not in self.choices for v in elements):
            bad = next(v for v in elements if v not in self.choices)
            raise ValueError(f"{name} must be one of {', '.join(map(str, self.choices))}; "
                             f"got {raw!r}" + (f" ({bad!r})" if bad != value else ""))
        for v in elements:
            problem = self._out_of_range(v)
            if problem:
                raise ValueError(f"{name} must be {problem} (range {self.interval()}); got {raw!r}")
        return value

    def _out_of_range(self, v) -> str | None:
        if not isinstance(v, (int, float)):
            return None
        if self.low is not None and (v <= self.low if self.low_open else v < self.low):
            return f"{'>' if self.low_open else '>='} {self.low}"
        if self.high is not None and (v >= self.high if self.high_open else v > self.high):
            return f"{'<' if self.high_open else '<='} {self.high}"
        return None

    def interval(self) -> str:
        """The range as SageMaker's toolkit writes it: ``(0, 1]``, ``[1, +inf)``."""
        lo = "(-inf" if self.low is None else ("(" if self.low_open else "[") + _number(self.low)
        hi = "+inf)" if self.high is None else _number(self.high) + (")" if self.high_open else "]")
        return f"{lo}, {hi}"


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


def _flat(value) -> list:
    return [w for v in value for w in (_flat(v) if isinstance(v, (list, tuple)) else [v])]


def validate(algorithm: str, table: dict[str, HP], given: dict) -> dict:
    """Convert and check ``given``; one :class:`AlgorithmError` listing every problem as a
    ``(hyperparameter name, message)`` pair in its ``problems``. An alias is stored under the
    name it stands for."""
    problems, out = [], {}
    for name, raw in given.items():
        spec = table.get(name)
        if spec is None:
            close = difflib.get_close_matches(name, table, n=1)
            hint = f"did you mean {close[0]!r}?" if close else "see the algorithm's hyperparameter list"
            problems.append((name, f"unknown hyperparameter {name!r} for {algorithm} ({hint})"))
            continue
        target = spec.alias_of or name
        if spec.alias_of:
            spec = table[spec.alias_of]
        if target in out:
            problems.append((name, f"{name} and its other name {target} are both set; keep one"))
            continue
        try:
            out[target] = spec.convert(name, raw)
        except ValueError as e:
            problems.append((name, str(e)))
    seen = {table[k].alias_of or k for k in given if k in table}
    problems += [(name, f"{name} is required for {algorithm}") for name, spec in table.items()
                 if spec.required and name not in seen]
    if problems:
        raise AlgorithmError(f"invalid hyperparameters for {algorithm}:\n  - "
                             + "\n  - ".join(m for _, m in problems), problems=problems)
    return out
