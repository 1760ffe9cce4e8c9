"""Typed specs, one module per resource kind, shared by YAML files and the Python API.

Every kind is a pydantic model with ``extra="forbid"``; :data:`KINDS` is the table of kinds
(spec, record, service, CLI noun); :func:`parse_spec` validates a dict completely and
:func:`load_file` a YAML file, each raising one :class:`~mlcore.errors.SpecError` that lists
every problem as ``(field path, message)``. :func:`load_yaml` is the one bounded YAML loader
(no bombs, no deep nesting, no duplicate keys) for any user YAML.
"""

from mlcore.specs._base import NAME_PATTERN, Spec, check_name
from mlcore.specs._kinds import KINDS, Kind, kind_of_noun, parse_spec
from mlcore.specs._yaml import load_file, load_yaml
from mlcore.specs.benchmark import Benchmark
from mlcore.specs.endpoint import (
    AuthSpec,
    AutoscalingSpec,
    BatchingSpec,
    DataCaptureSpec,
    Endpoint,
    ModelRef,
    ServerlessSpec,
    VariantSpec,
)
from mlcore.specs.training import (
    BUILTIN_ALGORITHMS,
    Channel,
    DeploySpec,
    MetricDefinition,
    RegisterSpec,
    TrainingJob,
)
from mlcore.specs.transform import TransformJob
from mlcore.specs.tuning import (
    CategoricalRange,
    CompletionCriteria,
    ContinuousRange,
    IntegerRange,
    TuningJob,
    TuningRegisterSpec,
    WarmStartSpec,
)

__all__ = ["AuthSpec", "AutoscalingSpec", "BUILTIN_ALGORITHMS", "BatchingSpec", "Benchmark",
           "CategoricalRange", "Channel", "CompletionCriteria", "ContinuousRange",
           "DataCaptureSpec", "DeploySpec", "Endpoint", "IntegerRange", "KINDS", "Kind",
           "MetricDefinition", "ModelRef", "NAME_PATTERN", "RegisterSpec", "ServerlessSpec", "Spec",
           "TrainingJob", "TransformJob", "TuningJob", "TuningRegisterSpec", "VariantSpec", "WarmStartSpec",
           "check_name", "kind_of_noun", "load_file", "load_yaml", "parse_spec"]
