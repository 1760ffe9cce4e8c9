"""Loading spec files: YAML -> validated spec, with paths relative to the file.

Spec files come from users and from whoever wrote the file they were sent, so the loader
refuses what no spec needs and what would hang or flood the process: aliases that expand to
more than :data:`MAX_ALIAS_VALUES` values (a "billion laughs" file is a few hundred bytes
and 10**9 values), nesting deeper than :data:`MAX_DEPTH` (5,000 levels overflow Python's
stack), a key given twice in one mapping (PyYAML keeps the last one without a word), and
files larger than :data:`MAX_FILE_BYTES`. Each refusal is one SpecError naming the line.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from mlcore.errors import SpecError
from mlcore.specs._base import Spec, shown
from mlcore.specs._kinds import parse_spec

MAX_DEPTH = 64  # the deepest spec (tuning -> estimator -> distribution -> deepspeed) nests ~6
# Anchors and aliases are allowed (one `autoscaling: &scale {...}` shared by every variant is
# a fair use), but only while what they expand to stays small: refusing them outright would
# break such files, and a budget on the expanded size is what stops a bomb.
MAX_ALIAS_VALUES = 10_000
MAX_FILE_BYTES = 4 * 1024 * 1024


class RefusedYAML(yaml.YAMLError):
    """A spec file the loader will not read: ``message`` says what and how to fix it,
    ``line`` (1-based) where."""

    def __init__(self, message: str, mark):
        super().__init__(message)
        self.message, self.line = message, (mark.line + 1 if mark else None)


class SpecLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader, bounded: depth, alias expansion and duplicate keys are checked
    while the file is composed, before any value is built."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0
        self._alias_values = 0
        self._open: list[str | None] = []  # anchors of the nodes being composed
        self._expanded: dict[int, tuple[int, int]] = {}  # id(node) -> (values, depth)
        self._keys_checked: set[int] = set()  # id(node) of the mappings checked for duplicates

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            target = self.anchors.get(event.anchor)
            if target is not None:  # else PyYAML reports the undefined alias
                self._count_alias(event, target)
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise RefusedYAML(f"values nest more than {MAX_DEPTH} levels deep; a spec needs a "
                              "few levels, so flatten the file", event.start_mark)
        self._open.append(event.anchor)
        try:
            return super().compose_node(parent, index)
        finally:
            self._open.pop()
            self._depth -= 1

    def _count_alias(self, event, target) -> None:
        if event.anchor in self._open:
            raise RefusedYAML(f"alias *{shown(event.anchor, 40)[1:-1]} refers to a value that "
                              "contains it (a value cannot contain itself); write it out",
                              event.start_mark)
        values, depth = self._size(target)
        self._alias_values += values
        if self._alias_values > MAX_ALIAS_VALUES:
            raise RefusedYAML(f"aliases (*name) expand to more than {MAX_ALIAS_VALUES} values, "
                              "far more than a spec holds (a 'billion laughs' file?); write the "
                              "values out or use fewer aliases", event.start_mark)
        if self._depth + depth > MAX_DEPTH:
            raise RefusedYAML(f"alias *{shown(event.anchor, 40)[1:-1]} nests values more than "
                              f"{MAX_DEPTH} levels deep; flatten the file", event.start_mark)

    def _size(self, node) -> tuple[int, int]:
        """``(values, depth)`` of ``node`` with its aliases expanded. Every node composed so
        far passed the depth check, so this recursion is at most MAX_DEPTH deep."""
        key = id(node)
        if key not in self._expanded:
            if isinstance(node, yaml.SequenceNode):
                children = node.value
            elif isinstance(node, yaml.MappingNode):
                children = [n for pair in node.value for n in pair]
            else:
                children = []
            sizes = [self._size(c) for c in children]
            self._expanded[key] = (1 + sum(v for v, _ in sizes),
                                   1 + max((d for _, d in sizes), default=0))
        return self._expanded[key]

    def flatten_mapping(self, node) -> None:
        # Every mapping passes here before its merge keys are resolved (a merged mapping
        # too, and flattening rewrites its pairs), so its own keys are checked here, once.
        if id(node) not in self._keys_checked:
            self._keys_checked.add(id(node))
            self._refuse_duplicate_keys(node)
        super().flatten_mapping(node)

    def _refuse_duplicate_keys(self, node) -> None:
        lines: dict = {}  # key -> the line it first appeared on
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base`: overriding is its point
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = lines.get(key)
            except TypeError:  # an unhashable key: PyYAML's own error names it
                continue
            if first is not None:
                raise RefusedYAML(f"key {shown(key, 80)} is given twice in one mapping (first "
                                  f"on line {first}); keep one of them", key_node.start_mark)
            lines[key] = key_node.start_mark.line + 1


def load_yaml(text: str):
    """A YAML document from spec text, through :class:`SpecLoader` (every spec file and any
    other user YAML goes through here)."""
    return yaml.load(text, Loader=SpecLoader)  # noqa: S506 (SpecLoader is a SafeLoader)


def _resolver(base: Path):
    def resolve(uri: str | None) -> str | None:
        if uri is None or "://" in uri or os.path.isabs(os.path.expanduser(uri)):
            return os.path.expanduser(uri) if uri and "://" not in uri else uri
        return str((base / uri).resolve())
    return resolve


def _read(path: Path) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise SpecError(f"spec file {str(path)!r} is {size / 2**20:.1f} MiB; spec files are at "
                            f"most {MAX_FILE_BYTES // 2**20} MiB, so keep data in channels, not "
                            "in the spec", [("(file)", "too large")])
        return path.read_text()
    except FileNotFoundError:
        raise SpecError(f"spec file {str(path)!r} does not exist; check the path",
                        [("(file)", "not found")]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError(f"cannot read spec file {str(path)!r}: {e}; pass a YAML text file",
                        [("(file)", "unreadable")]) from None


def load_file(path: str | os.PathLike) -> Spec:
    """Read and validate a spec file; relative data paths resolve against the file's folder."""
    path = Path(path)
    text = _read(path)
    try:
        data = load_yaml(text)
    except RefusedYAML as e:
        where = f", line {e.line}" if e.line else ""
        raise SpecError(f"{path}{where}: {e.message}", [("(file)", e.message)]) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise SpecError(f"{path} is not valid YAML{where}: {getattr(e, 'problem', e)}",
                        [("(file)", "invalid YAML")]) from None
    spec = parse_spec(data)
    spec.resolve_paths(_resolver(path.resolve().parent))
    return spec
