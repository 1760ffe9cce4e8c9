"""Declarative hyperparameter tables: SageMaker passes every value as a string, so each entry
knows its type and its allowed range, and validation names the fix."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from mlcore.errors import AlgorithmError


@dataclass(frozen=True)
class HP:
    type: type
    low: float | None = None
    high: float | None = None
    choices: tuple | None = None
    required: bool = False
    low_open: bool = False  # (low, high] instead of [low, high]

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
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be {self.type.__name__}; got {raw!r}") from None
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"{name} must be one of {', '.join(map(str, self.choices))}; got {raw!r}")
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            op = ">" if self.low_open else ">="
            raise ValueError(f"{name} must be {op} {self.low}; got {raw!r}")
        if self.high is not None and value > self.high:
            raise ValueError(f"{name} must be <= {self.high}; got {raw!r}")
        return value


def validate(algorithm: str, table: dict[str, HP], given: dict) -> dict:
    """Convert and check ``given``; one :class:`AlgorithmError` listing every problem as a
    ``(hyperparameter name, message)`` pair in its ``problems``."""
    problems, out = [], {}
    for name, raw in given.items():
        spec = table.get(name)
        if spec is None:
            close = difflib.get_close_matches(name, table, n=1)
            hint = f"did you mean {close[0]!r}?" if close else "see the algorithm's hyperparameter list"
            problems.append((name, f"unknown hyperparameter {name!r} for {algorithm} ({hint})"))
            continue
        try:
            out[name] = spec.convert(name, raw)
        except ValueError as e:
            problems.append((name, str(e)))
    problems += [(name, f"{name} is required for {algorithm}") for name, spec in table.items()
                 if spec.required and name not in given]
    if problems:
        raise AlgorithmError(f"invalid hyperparameters for {algorithm}:\n  - "
                             + "\n  - ".join(m for _, m in problems), problems=problems)
    return out
