"""What every spec kind shares: the pydantic base, SageMaker's name rule as a field type,
tags, the instance type check, and turning pydantic's errors into ``(field path, message)``
pairs that quote at most a couple of hundred characters of any value received."""

from __future__ import annotations

import difflib
from functools import partial
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError, WithJsonSchema

from mlcore import _instances
from mlcore._names import (
    ENDPOINT_MAX,
    MODEL_PACKAGE_GROUP_MAX,
    NAME_PATTERN,
    NAME_RULE,
    TRAINING_JOB_MAX,
    TRANSFORM_JOB_MAX,
    TUNING_JOB_MAX,
    VARIANT_MAX,
    channel_problem,
    check_name,
    name_problem,
    shown,
)
from mlcore.errors import SpecError

ApprovalStatus = Literal["PendingManualApproval", "Approved", "Rejected"]
HyperparameterValue = str | int | float | bool
# Re-exported: the rule lives in mlcore._names, below specs, records and storage alike.
__all__ = ["NAME_PATTERN", "NAME_RULE", "ChannelName", "EndpointName", "ModelPackageGroupName",
           "Spec", "TrainingJobName", "TransformJobName", "TuningJobName", "VariantName",
           "check_name", "resource_name", "shown"]


def _valid_name(max_len: int, v: str) -> str:
    problem = name_problem(v, max_len)
    if problem:
        raise ValueError(problem)
    return v


def resource_name(max_len: int = 63):
    """The type of a spec field holding a resource name (SageMaker's rule, ``max_len`` long
    at most): checked by the one checker, its problem reported with the spec's others. The
    JSON schema carries the pattern and the length for editors."""
    pattern = f"^[a-zA-Z0-9](-*[a-zA-Z0-9]){{0,{max_len - 1}}}$"
    return Annotated[str, AfterValidator(partial(_valid_name, max_len)),
                     WithJsonSchema({"type": "string", "pattern": pattern, "maxLength": max_len})]


# The name fields of the spec kinds, one type per resource (only the longest name differs).
TrainingJobName = resource_name(TRAINING_JOB_MAX)
TuningJobName = resource_name(TUNING_JOB_MAX)
EndpointName = resource_name(ENDPOINT_MAX)
ModelPackageGroupName = resource_name(MODEL_PACKAGE_GROUP_MAX)
VariantName = resource_name(VARIANT_MAX)
TransformJobName = resource_name(TRANSFORM_JOB_MAX)


def _valid_channel(v: str) -> str:
    problem = channel_problem(v)
    if problem:
        raise ValueError(problem)
    return v


ChannelName = Annotated[str, AfterValidator(_valid_channel)]


class _SpecMeta(type(BaseModel)):
    """``SomeSpec(...)`` from Python raises a SpecError listing every problem, as a YAML
    file does (the facade and the services build specs from keyword arguments). Only the
    Python-level call is wrapped: pydantic validates nested specs without calling the class,
    so their problems still come back together, with their field paths. (Overriding
    ``__init__`` would not do: pydantic then calls it for every nested spec.)"""

    def __call__(cls, *args, **kwargs):
        try:
            return super().__call__(*args, **kwargs)
        except ValidationError as err:
            problems = field_problems(err, cls)
            raise SpecError(format_problems(problems), problems) from None


class Spec(BaseModel, metaclass=_SpecMeta):
    """Base of every spec kind: unknown fields are errors, assignments are validated, and
    constructing one from Python raises a SpecError listing every problem (as YAML does)."""

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
    if len(v) > 64:  # no instance type is this long; the catalog's error would quote it whole
        raise ValueError(f"is not an instance type (ml.m5.xlarge, ..., or local); got {shown(v)}")
    try:
        _instances.lookup(v)
    except SpecError as e:
        raise ValueError(e.problems[0][1]) from None
    return v


MAX_LISTED = 50  # a file of 10,000 unknown fields gets a readable error, not 10,000 lines


def format_problems(problems: list[tuple[str, str]]) -> str:
    head = f"{len(problems)} problem{'s' if len(problems) > 1 else ''} in the spec:"
    lines = [f"  - {path}: {msg}" for path, msg in problems[:MAX_LISTED]]
    if len(problems) > MAX_LISTED:
        lines.append(f"  ... and {len(problems) - MAX_LISTED} more")
    return "\n".join([head, *lines])


_UNION_TAGS = {"str", "int", "float", "bool"}
_RANGE_TAGS = {"Continuous", "Integer", "Categorical"}  # a tuning range's discriminator


def _path(loc) -> str:
    # A key can be as hostile as a value (a 1 MB field name): each part is cut short too.
    return ".".join(p if len(p) <= 80 else p[:77] + "..." for p in map(str, loc))


def field_problems(err: ValidationError, model: type[BaseModel]) -> list[tuple[str, str]]:
    """pydantic's errors as ``(field path, message)``; received values are quoted through
    :func:`shown` (never more than ~200 characters)."""
    out, union_paths = [], set()
    for e in err.errors():
        loc = e["loc"]
        if loc and loc[-1] in _UNION_TAGS:  # one error per union member: report it once
            path = _path(loc[:-1])
            if path not in union_paths:
                union_paths.add(path)
                out.append((path, f"must be a string, number or boolean; got {shown(e['input'])}"))
            continue
        if loc and loc[-1] == "[key]":  # a dict key (a channel name) is the problem
            loc = loc[:-2]
        path = _path(p for p in loc if p not in _RANGE_TAGS)
        if e["type"] == "extra_forbidden":
            known = _known_fields(model, e["loc"][:-1])
            close = difflib.get_close_matches(str(e["loc"][-1])[:80], known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known fields: {', '.join(known)}"
            msg = f"unknown field; remove it ({hint})"
        else:
            msg = e["msg"].removeprefix("Value error, ")
            if e["type"] not in ("value_error", "missing"):
                msg += f"; got {shown(e['input'])}"
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
