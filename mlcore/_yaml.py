"""Loading spec files: YAML -> validated spec, with paths relative to the file."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from mlcore._specs import Benchmark, TrainingJob, parse_spec
from mlcore._tuning_spec import TuningJob
from mlcore.errors import SpecError


def _resolve(uri: str | None, base: Path) -> str | None:
    if uri is None or "://" in uri or os.path.isabs(os.path.expanduser(uri)):
        return os.path.expanduser(uri) if uri and "://" not in uri else uri
    return str((base / uri).resolve())


def load_file(path: str | os.PathLike):
    """Read and validate a spec file; relative data paths resolve against the file's folder."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise SpecError(f"spec file {str(path)!r} does not exist; check the path",
                        [("(file)", "not found")]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError(f"cannot read spec file {str(path)!r}: {e}; pass a YAML text file",
                        [("(file)", "unreadable")]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise SpecError(f"{path} is not valid YAML{where}: {getattr(e, 'problem', e)}",
                        [("(file)", "invalid YAML")]) from None
    spec = parse_spec(data)
    base = path.resolve().parent
    if isinstance(spec, TrainingJob):
        _resolve_training(spec, base)
    if isinstance(spec, TuningJob):
        _resolve_training(spec.estimator, base)
    if isinstance(spec, Benchmark):
        spec.script = _resolve(spec.script, base)
    return spec


def _resolve_training(spec: TrainingJob, base: Path) -> None:
    for channel in spec.inputs.values():
        channel.uri = _resolve(channel.uri, base)
    for field in ("output_path", "checkpoint_s3_uri", "source_dir"):
        if getattr(spec, field):
            setattr(spec, field, _resolve(getattr(spec, field), base))
    if spec.entry_point and not spec.source_dir:
        spec.entry_point = _resolve(spec.entry_point, base)
    ds = (spec.distribution or {}).get("deepspeed")
    if isinstance(ds, dict) and isinstance(ds.get("config"), str):
        ds["config"] = _resolve(ds["config"], base)
    if spec.deploy and spec.deploy.sample_input:
        spec.deploy.sample_input = _resolve(spec.deploy.sample_input, base)
