"""The table of resource kinds: each kind's spec class, record class, service and CLI noun.

``mlcore run``, ``validate``, ``schema`` and each noun's ``list`` / ``describe`` / ``stop`` are
driven from it, so adding a kind is one row here (plus its spec, record and service modules).
Services sit above this layer, so a row names its service by module path and imports it on use.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from mlcore import records
from mlcore.errors import SpecError
from mlcore.specs._base import Spec, field_problems, format_problems, shown
from mlcore.specs.benchmark import Benchmark
from mlcore.specs.endpoint import Endpoint
from mlcore.specs.training import TrainingJob
from mlcore.specs.transform import TransformJob
from mlcore.specs.tuning import TuningJob


@dataclass(frozen=True)
class Kind:
    name: str                             # the spec's `kind:` value
    spec: type[Spec]
    service_module: str                   # mlcore.services.<kind>: check, run, describe, ...
    record: type[records.Record] | None = None  # None: the kind keeps no records (Benchmark)
    noun: str | None = None               # the CLI's noun: `mlcore <noun> <verb> [NAME]`
    verbs: tuple[str, ...] = ("list", "describe", "stop")  # each a function of the service

    @property
    def service(self):
        return importlib.import_module(self.service_module)


KINDS: dict[str, Kind] = {k.name: k for k in [
    Kind("TrainingJob", TrainingJob, "mlcore.services.training", records.TrainingJobRecord, "jobs"),
    Kind("TuningJob", TuningJob, "mlcore.services.tuning", records.TuningJobRecord, "tuning-jobs",
         ("list", "describe", "stop", "results")),
    Kind("Endpoint", Endpoint, "mlcore.services.endpoints", records.EndpointRecord, "endpoints",
         ("list", "describe", "delete", "update-weights")),
    Kind("TransformJob", TransformJob, "mlcore.services.transform", records.TransformJobRecord,
         "transform-jobs"),
    Kind("Benchmark", Benchmark, "mlcore.services.benchmarks"),
]}
PLANNED_KINDS = ("Pipeline",)


def kind_of_noun(noun: str) -> Kind:
    return next(k for k in KINDS.values() if k.noun == noun)


def parse_spec(data: Any, kind: str | None = None) -> Spec:
    """Validate a spec dict completely; raise one :class:`SpecError` listing every problem."""
    if not isinstance(data, dict):
        raise SpecError(f"a spec must be a mapping of fields; got {type(data).__name__}",
                        [("(spec)", "not a mapping")])
    kind = kind or data.get("kind")
    if not isinstance(kind, str | None):
        raise SpecError(format_problems([("kind", f"must be a string such as 'TrainingJob'; got {shown(kind)}")]),
                        [("kind", "not a string")])
    if kind not in KINDS:
        if kind in PLANNED_KINDS:
            msg = f"kind {shown(kind)} is not available in this version; available: {', '.join(KINDS)}"
        else:
            msg = (f"unknown kind {shown(kind)}; set kind to one of {', '.join(KINDS)}" if kind
                   else f"missing; set kind to one of {', '.join(KINDS)}")
        raise SpecError(format_problems([("kind", msg)]), [("kind", msg)])
    model = KINDS[kind].spec
    try:
        spec = model.model_validate(data, context={"skip_cross": True})
        problems = model.cross_field_problems(spec.model_dump(by_alias=False))  # converted values
    except ValidationError as err:
        problems = field_problems(err, model) + model.cross_field_problems(data)  # raw data
        spec = None
    if problems:
        raise SpecError(format_problems(problems), problems)
    return spec
