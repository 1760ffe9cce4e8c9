"""A built-in algorithm's job: hyperparameters checked by the algorithm, channels read by its
workers as Ray Data shards of CSV / Parquet files, the model logged in its MLflow flavour."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass

import algorithms
from algorithms._data import content_type_problem, resolve_channel
from mlcore import _storage
from mlcore.errors import DataError, SpecError


@dataclass(frozen=True)
class BuiltinJob:
    algorithm: algorithms.Algorithm
    backend: str | None = None  # Ray Train picks the trainer's default

    @classmethod
    def prepare(cls, spec) -> BuiltinJob:
        algo = algorithms.get(spec.algorithm)
        algo.validate(spec.hyperparameters)  # invalid: no job at all
        unreadable = [(f"inputs.{n}.content_type", f"{algo.name}: {why}")
                      for n, c in spec.inputs.items() if n in algo.channels
                      and (why := content_type_problem(c.content_type, algo.content_types))]
        if unreadable:  # a type the workers cannot read: refused before any job exists
            raise SpecError("; ".join(m for _, m in unreadable), unreadable)
        missing = [c for c in algo.required_channels if c not in spec.inputs]
        if missing:
            raise SpecError(f"inputs: {algo.name} needs the channel(s) {', '.join(missing)}; pass "
                            f"fit({{'train': uri}}) or inputs: {{train: uri}}",
                            [("inputs", f"missing {', '.join(missing)}")])
        return cls(algo)

    def preflight(self, plan) -> None:
        plan.channels = self.check_data(plan.spec)

    def check_data(self, spec) -> dict[str, dict]:
        """Every channel is readable and they agree on the feature count; returns them
        resolved (content type, data files) so the workers list nothing again."""
        algo = self.algorithm
        label = spec.hyperparameters.get("label_column")
        resolved = {n: resolve_channel(n, c.uri, c.content_type, label, n not in algo.unlabelled)
                    for n, c in spec.inputs.items() if n in algo.channels}
        features = {n: c["features"] for n, c in resolved.items()}
        if len(set(features.values())) > 1:
            raise DataError(f"channels have different feature counts ({features}); every "
                            "channel needs the same features in the same order")
        declared = (algo.hyperparameters or {}).get("feature_dim") and \
            spec.hyperparameters.get("feature_dim")
        for n, count in features.items():
            if declared and count is not None and count != int(declared):
                layout = ("features only, no label" if n in algo.unlabelled else
                          "the label first, then the features")
                raise DataError(f"channel {n!r} has {count} features but feature_dim is "
                                f"{declared}; set feature_dim={count}, or check the rows "
                                f"({algo.name}'s {n} rows hold {layout})", channel=n)
        return resolved

    def train_config(self, plan) -> dict:
        spec = plan.spec
        return {"hyperparameters": spec.hyperparameters,
                "checkpoint_frequency": spec.checkpoint_frequency,
                "checkpoint_min_interval_s": spec.checkpoint_min_interval_s,
                "channels": plan.channels or {k: c.model_dump() for k, c in spec.inputs.items()},
                # a tuning job's trials read the same data: parsed once per warm worker
                "data_cache_key": spec.tags.get("mlcore.tuning_job")}

    def environment(self, plan) -> dict[str, str]:
        return dict(plan.spec.environment)

    def datasets(self, plan) -> dict | None:
        return None  # the workers read their own shards (algorithms._data)

    def check_result(self, plan, timings: dict) -> None:
        pass

    def commit(self, plan, checkpoint) -> str:
        """Commit the final checkpoint as the model artifact; return its URI."""
        with tempfile.TemporaryDirectory(prefix="mlcore-model-") as tmp:
            local = checkpoint.to_directory(tmp)
            self.algorithm.load_model(local)  # a checkpoint the algorithm cannot load fails here
            return _storage.commit_dir(local, plan.job_uri("model"),
                                       {"job": plan.name, "algorithm": self.algorithm.name})
