"""Resolve a training spec once into the plan that the driver and the workers follow.

The plan holds what every later step needs, looked up once: the algorithm (a built-in or the
script), the placement of its workers, the channels, and where the model, the checkpoints and
the code go. Checks that need no cluster run here, so a mistake fails before any job exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import algorithms
from mlcore import _instances, _session, _storage
from mlcore.records import TrainingJobRecord
from mlcore.services import _lifecycle
from mlcore.services.training import _outputs
from mlcore.services.training._builtin import BuiltinJob
from mlcore.services.training._script import ScriptJob
from mlcore.specs import TrainingJob


@dataclass
class TrainingPlan:
    spec: TrainingJob
    name: str
    job: BuiltinJob | ScriptJob        # the algorithm and how its workers are set up
    placement: _instances.Placement
    output: str                        # <output_path>
    checkpoint_uri: str
    # The channels as the driver's checks resolved them (content type, data files), for the
    # workers; filled in before training starts.
    channels: dict = field(default_factory=dict)

    @property
    def algorithm(self) -> algorithms.Algorithm:
        return self.job.algorithm

    def job_uri(self, *parts: str) -> str:
        return _storage.join(self.output, self.name, *parts)


def check(spec: TrainingJob, placement: _instances.Placement | None = None) -> BuiltinJob | ScriptJob:
    """What can be checked without a cluster: the algorithm and its hyperparameters and
    channels, or the script and its distribution. Returns the job's kind."""
    placement = placement or _instances.placement(spec.instance_type, spec.instance_count)
    if spec.entry_point:
        return ScriptJob.prepare(spec, placement)
    return BuiltinJob.prepare(spec)


def prepare(spec: TrainingJob, job_name: str | None, base: str | None,
            resume: bool = False) -> TrainingPlan:
    """Check ``spec``, then claim ``job_name`` (or a generated one) atomically; ``resume``:
    the named job exists and runs again. Raises before any job exists on a user error."""
    placement = _instances.placement(spec.instance_type, spec.instance_count)
    job = check(spec, placement)
    _outputs.check(spec)
    if not base:
        base = spec.algorithm or "training"
    name = _lifecycle.claim_name(TrainingJobRecord, job_name, base, resume=resume)
    output = spec.output_path or _session.default_output_path()
    ckpt = spec.checkpoint_s3_uri or _storage.join(output, name, "checkpoints")
    return TrainingPlan(spec, name, job, placement, output, ckpt)


def fit(plan: TrainingPlan, nodes: list[dict[str, float]]) -> None:
    """The plan's placement fitted to the cluster's nodes (see ``Placement.fit``: scaled down
    on mlcore's own local Ray, a CapacityError on a cluster that can never hold it). A GPU
    type that now runs on CPU is checked again, so a script's distribution gets a CPU backend."""
    fitted = plan.placement.fit(nodes)
    if fitted.accelerator != plan.placement.accelerator:
        plan.job = check(plan.spec, fitted)
    plan.placement = fitted
