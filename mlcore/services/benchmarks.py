"""The benchmark "service": a Benchmark spec runs its side-by-side script with its parameters
(see benchmarks/); it keeps no record."""

from __future__ import annotations

import json
import subprocess
import sys

from mlcore.errors import SpecError
from mlcore.specs import Benchmark

RECORD = None


def check(spec: Benchmark) -> None:
    import os

    if not os.path.isfile(spec.script):
        raise SpecError(f"script: {spec.script} does not exist; point it at a benchmark script",
                        [("script", "not found")])


def run(spec: Benchmark, name: str | None = None, logs: bool = True, say=print) -> int:
    check(spec)
    return subprocess.call([sys.executable, spec.script, "--config", json.dumps(spec.params)])


def succeeded(returncode: int) -> bool:
    return returncode == 0
