"""What every spec kind shares: the pydantic base, SageMaker's name rule, tags, the instance
type check, and turning pydantic's errors into ``(field path, message)`` pairs."""

from __future__ import annotations

import difflib
import re
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from mlcore import _instances
from mlcore.errors import SpecError

ApprovalStatus = Literal["PendingManualApproval", "Approved", "Rejected"]
HyperparameterValue = str | int | float | bool
# SageMaker's resource names: alphanumerics and hyphens, no leading or trailing hyphen.
NAME_RULE = "1-{n} characters: letters, digits and hyphens, starting and ending with a letter or digit"
NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"


def check_name(name: str, field: str = "name", max_len: int = 63) -> str:
    """``name`` if it follows SageMaker's naming rule, else a SpecError that states the rule."""
    if not isinstance(name, str) or len(name) > max_len or not re.fullmatch(
            r"[a-zA-Z0-9](-*[a-zA-Z0-9])*", name):
        shown = name if not isinstance(name, str) or len(name) <= 80 else name[:77] + "..."
        msg = f"{NAME_RULE.format(n=max_len)}; got {shown!r}"
        raise SpecError(f"{field}: {msg}", [(field, msg)])
    return name


class Spec(BaseModel):
    """Base of every spec kind: unknown fields are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, populate_by_name=True,
                              serialize_by_alias=True)
    # The spec kinds (models with a ``kind`` field) say which fields are paths to resolve
    # against a YAML file's folder; see :func:`mlcore.specs.load_file`.
    KIND: ClassVar[str | None] = None

    @classmethod
    def cross_field_problems(cls, data: dict) -> list[tuple[str, str]]:
        """Rules spanning several fields, on dumped (or, after a field error, raw) data."""
        return []

    def resolve_paths(self, resolve) -> None:
        """Rewrite relative paths with ``resolve(path)`` (a YAML file's folder is the base)."""


def tag_dict(v: Any) -> Any:
    """Tags as ``{key: value}``; SageMaker's ``[{"Key": k, "Value": v}]`` is accepted."""
    if isinstance(v, list):
        return {t["Key"]: t["Value"] for t in v if isinstance(t, dict) and "Key" in t}
    return v


def check_instance_type(v: str) -> str:
    try:
        _instances.lookup(v)
    except SpecError as e:
        raise ValueError(e.problems[0][1]) from None
    return v


def format_problems(problems: list[tuple[str, str]]) -> str:
    head = f"{len(problems)} problem{'s' if len(problems) > 1 else ''} in the spec:"
    return "\n".join([head] + [f"  - {path}: {msg}" for path, msg in problems])


_UNION_TAGS = {"str", "int", "float", "bool"}
_RANGE_TAGS = {"Continuous", "Integer", "Categorical"}  # a tuning range's discriminator


def field_problems(err: ValidationError, model: type[BaseModel]) -> list[tuple[str, str]]:
    out, union_paths = [], set()
    for e in err.errors():
        loc = e["loc"]
        if loc and loc[-1] in _UNION_TAGS:  # one error per union member: report it once
            path = ".".join(str(p) for p in loc[:-1])
            if path not in union_paths:
                union_paths.add(path)
                out.append((path, f"must be a string, number or boolean; got {e['input']!r}"))
            continue
        path = ".".join(str(p) for p in loc if p not in _RANGE_TAGS)
        if e["type"] == "extra_forbidden":
            known = _known_fields(model, e["loc"][:-1])
            close = difflib.get_close_matches(str(e["loc"][-1]), known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known fields: {', '.join(known)}"
            msg = f"unknown field; remove it ({hint})"
        else:
            msg = e["msg"].removeprefix("Value error, ")
            if e["type"] not in ("value_error", "missing"):
                msg += f"; got {e['input']!r}"
        out.append((path or "(spec)", msg))
    return out


def _known_fields(model: type[BaseModel], loc: tuple) -> list[str]:
    for part in loc:
        field = model.model_fields.get(str(part)) or next(
            (f for f in model.model_fields.values() if f.alias == str(part)), None)
        if field is None:
            continue
        ann = field.annotation
        for cand in getattr(ann, "__args__", ()) + (ann,):
            if isinstance(cand, type) and issubclass(cand, BaseModel):
                model = cand
    return [f.alias or name for name, f in model.model_fields.items()]
