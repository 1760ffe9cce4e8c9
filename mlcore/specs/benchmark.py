"""The benchmark spec: a side-by-side benchmark script (under benchmarks/) and its parameters."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from mlcore.specs._base import Spec


class Benchmark(Spec):
    """A side-by-side benchmark script run with its parameters (see benchmarks/)."""

    KIND: ClassVar[str] = "Benchmark"
    kind: Literal["Benchmark"] = Field("Benchmark", description="Spec kind.")
    script: str = Field(description="Benchmark script, relative to this file.")
    params: dict[str, Any] = Field(default_factory=dict, description="Passed to the script as JSON.")

    def resolve_paths(self, resolve) -> None:
        self.script = resolve(self.script)
