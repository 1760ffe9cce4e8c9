"""Loading spec files: YAML -> validated spec, with paths relative to the file."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from mlcore.errors import SpecError
from mlcore.specs._base import Spec
from mlcore.specs._kinds import parse_spec


def _resolver(base: Path):
    def resolve(uri: str | None) -> str | None:
        if uri is None or "://" in uri or os.path.isabs(os.path.expanduser(uri)):
            return os.path.expanduser(uri) if uri and "://" not in uri else uri
        return str((base / uri).resolve())
    return resolve


def load_file(path: str | os.PathLike) -> Spec:
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
    spec.resolve_paths(_resolver(path.resolve().parent))
    return spec
