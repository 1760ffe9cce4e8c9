"""The layers import only downwards, and nothing imports in a cycle.

base (``mlcore`` itself: errors, constants, storage, session, instances, tracking, registry,
``specs``, ``records``) <- ``algorithms`` / ``parallel`` / ``serving`` <- ``mlcore.services``
<- ``mlcore.sagemaker`` and ``mlcore.cli``. Every import is read from the source (in-function
ones too), and every module is imported alone in a fresh interpreter to see what it pulls in.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PACKAGES = ("mlcore", "algorithms", "parallel", "serving")


def _layer(module: str) -> str:
    if module.startswith("mlcore.services"):
        return "services"
    if module.startswith("mlcore.sagemaker"):
        return "facade"
    if module.startswith("mlcore.cli"):
        return "cli"
    return module.split(".")[0] if module.split(".")[0] in PACKAGES[1:] else "base"


# What each layer may import (besides itself). The facade may use serving's client side (the
# HTTP Predictor and the codecs, which run in the user's process), never the engines below it.
ALLOWED = {
    "base": set(),
    "parallel": {"base"},
    "serving": {"base"},
    "algorithms": {"base", "parallel"},
    "services": {"base", "algorithms", "parallel", "serving"},
    "facade": {"base", "services", "serving"},
    "cli": {"base", "services"},
}


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> list[tuple[str, bool]]:
    """``(imported project module, at module level)`` for every import in ``path``."""
    tree = ast.parse(path.read_text())
    top = {id(n) for n in tree.body}
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + [base]).strip(".")
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        out += [(t, id(node) in top) for t in targets if t.split(".")[0] in PACKAGES]
    return out


def test_layers_import_only_downwards():
    bad = []
    for name, path in MODULES.items():
        for target, _ in _imports(name, path):
            src, dst = _layer(name), _layer(target)
            if src != dst and dst not in ALLOWED[src]:
                bad.append(f"{name} ({src}) imports {target} ({dst})")
    assert not bad, "\n".join(bad)


def test_no_import_cycles_at_module_level():
    graph = {n: {t for t, top in _imports(n, p) if top and t in MODULES and t != n}
             for n, p in MODULES.items()}
    # A package's __init__ imports its submodules, and they import their siblings through it:
    # that is not a cycle of modules, so edges into a package's own __init__ are left out.
    for n in graph:
        graph[n] = {t for t in graph[n] if not n.startswith(t + ".")}
    cycles, state = [], {}

    def visit(n, stack):
        state[n] = "open"
        for t in graph[n]:
            if state.get(t) == "open":
                cycles.append(" -> ".join(stack[stack.index(t):] + [t]))
            elif t not in state:
                visit(t, stack + [t])
        state[n] = "done"

    for n in graph:
        if n not in state:
            visit(n, [n])
    assert not cycles, "\n".join(cycles)


def _below(layer: str) -> set[str]:
    """The layers ``layer`` may pull in, directly or through the ones it imports."""
    out, todo = set(), list(ALLOWED[layer])
    while todo:
        if (nxt := todo.pop()) not in out:
            out.add(nxt)
            todo += ALLOWED[nxt]
    return out


# One interpreter loads the third-party libraries (never a module of ours, and never
# mlflow, whose import-time absence is checked), then forks a child per module: each child is
# an interpreter in which no module of ours was imported, so what it pulls in is that module's
# own doing, at a fraction of a fresh interpreter's cost (~0.2 s instead of ~2 s). The
# children are independent of each other: one per CPU runs at a time.
_PROBE = r"""
import importlib, json, os, select, sys, traceback
for lib in ("numpy", "pandas", "pyarrow", "pyarrow.csv", "pyarrow.parquet", "pydantic", "yaml",
            "sqlalchemy", "fsspec", "requests", "ray", "ray.train", "ray.train.torch",
            "ray.train.xgboost", "ray.tune", "ray.serve", "ray.data", "torch", "xgboost",
            "optuna"):
    try:
        importlib.import_module(lib)
    except ImportError:
        pass
assert not [m for m in sys.modules if m.split(".")[0] in PACKAGES], "preloaded one of ours"


def start(name):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            m = importlib.import_module(name)
            out = {"ok": True, "doc": bool(m.__doc__), "mlflow": "mlflow" in sys.modules,
                   "pulled": sorted(k for k in sys.modules if k.split(".")[0] in PACKAGES)}
        except BaseException:
            out = {"ok": False, "error": traceback.format_exc()[-1500:]}
        data = json.dumps(out).encode()
        while data:
            data = data[os.write(w, data):]
        os._exit(0)
    os.close(w)
    return r, (name, pid, [])


results, todo, running = {}, list(NAMES), {}
width = max(2, len(os.sched_getaffinity(0)))
while todo or running:
    while todo and len(running) < width:
        fd, child = start(todo.pop(0))
        running[fd] = child
    for fd in select.select(list(running), [], [])[0]:
        name, pid, chunks = running[fd]
        chunk = os.read(fd, 65536)
        if chunk:
            chunks.append(chunk)
            continue
        os.close(fd)
        os.waitpid(pid, 0)
        del running[fd]
        results[name] = json.loads(b"".join(chunks) or b'{"ok": false, "error": "child died"}')
print(json.dumps(results))
"""


def _probe_all(names: list[str]) -> dict[str, dict]:
    code = f"PACKAGES = {PACKAGES!r}\nNAMES = {names!r}\n" + _PROBE
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def probed() -> dict[str, dict]:
    return _probe_all([m for m in MODULES if not m.endswith("__main__")])


def test_every_module_imports_alone_and_pulls_in_no_higher_layer(probed):
    failures = [f"{n}: {r['error']}" for n, r in probed.items() if not r["ok"]]
    assert not failures, "\n\n".join(failures)
    below = {layer: _below(layer) for layer in ALLOWED}
    bad = []
    for name, r in probed.items():
        src = _layer(name)
        higher = sorted(m for m in r["pulled"] if _layer(m) != src and _layer(m) not in below[src])
        if higher:
            bad.append(f"{name} ({src}) pulls in {', '.join(higher[:5])}")
    assert not bad, "\n".join(bad)


def test_public_modules_say_what_they_are_for_and_do_not_import_mlflow(probed):
    """MLflow takes seconds to import: no public module may need it at import time."""
    public = [n for n in probed if not any(p.startswith("_") for p in n.split("."))]
    assert len(public) > 20
    assert not [n for n in public if not probed[n]["doc"]], "module docstring missing"
    assert not [n for n in public if probed[n]["mlflow"]], "mlflow imported at import time"
