"""Where a training job reads and writes, as the spec's fields name them: the output locations
checked for writes (by validation, and again on the driver just before workers start: a folder
can change in between), and a failure's reason tied to the field whose path it names."""

from __future__ import annotations

import re

from mlcore import _session, _storage
from mlcore.errors import SpecError, StorageError


def _unwritable(field: str, uri: str, default: bool) -> tuple[str, str] | None:
    why = _storage.unwritable(uri)
    if why is None:
        return None
    if default:
        return field, (f"{uri} (the default, under MLCORE_HOME) is not writable ({why}); set "
                       "output_path or MLCORE_HOME to a folder you can write")
    return field, f"{uri} is not writable ({why}); choose a folder you can write"


def check(spec) -> None:
    """SpecError listing each output location of ``spec`` that cannot take writes."""
    places = [("output_path", spec.output_path or _session.default_output_path(), spec.output_path is None)]
    if spec.checkpoint_s3_uri:
        places.append(("checkpoint_s3_uri", spec.checkpoint_s3_uri, False))
    found = [p for p in (_unwritable(*place) for place in places) if p]
    if found:
        raise SpecError("; ".join(f"{field}: {message}" for field, message in found), found)


def check_plan(plan) -> None:
    """The same check on the job's own folders, on the driver before any worker starts."""
    ckpt_field = "checkpoint_s3_uri" if plan.spec.checkpoint_s3_uri else "output_path"
    for field, uri in (("output_path", plan.output), (ckpt_field, plan.checkpoint_uri)):
        problem = _unwritable(field, uri, field == "output_path" and plan.spec.output_path is None)
        if problem:
            raise StorageError(f"{problem[0]}: {problem[1]}", uri=uri, field=field)


def field_of(plan, text: str) -> str | None:
    """The spec field whose location ``text`` (a failure's reason) names: an input channel
    (``inputs.<name>``), ``checkpoint_s3_uri`` or ``output_path``; None if none is, or if the
    text names the field already."""
    spec = plan.spec
    places = [(f"inputs.{name}", c.uri) for name, c in spec.inputs.items()]
    if spec.checkpoint_s3_uri:
        places.append(("checkpoint_s3_uri", spec.checkpoint_s3_uri))
    places.append(("output_path", plan.output))
    for field, uri in places:
        if any(re.search(re.escape(p) + r"(?![\w.-])", text) for p in _spellings(uri)):
            named = field in text or (field.startswith("inputs.") and f"channel {field[7:]!r}" in text)
            return None if named else field
    return None


def _spellings(uri: str) -> set[str]:
    """How an error may spell a location: a local path absolute, a remote one with or
    without its scheme (s3fs and pyarrow drop it)."""
    if not _storage.is_remote(uri):
        return {_storage.local_path(uri).rstrip("/") or "/"} - {"/"}
    bare = uri.split("://", 1)[1].rstrip("/")
    return {uri.rstrip("/"), bare} if "/" in bare or len(bare) > 2 else {uri.rstrip("/")}
