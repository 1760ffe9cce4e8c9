"""One policy for SageMaker v2 arguments across the facade.

An argument v2 has that means nothing on Ray (an IAM role, a KMS key, a VPC) is accepted and
explained once in the log; an argument v2 does not have is a TypeError naming the closest
one, as Python itself would say for a typo, so a misspelt keyword never passes silently.
"""

from __future__ import annotations

import difflib
import inspect
import logging

from mlcore._names import (
    ENDPOINT_MAX,
    MODEL_PACKAGE_GROUP_MAX,
    TRAINING_JOB_MAX,
    TUNING_JOB_MAX,
    VARIANT_MAX,
)
from mlcore.specs import check_name

log = logging.getLogger("mlcore")

# v2 arguments with no meaning on a Ray cluster, and what we do instead.
IGNORED = {
    "role": "IAM roles do not apply; workers run with the Ray cluster's identity",
    "sagemaker_session": "mlcore's session defaults are used (MLCORE_HOME, RAY_ADDRESS, MLflow)",
    "volume_size": "workers use the node's disk",
    "volume_kms_key": "storage encryption is the store's",
    "encrypt": "storage encryption is the store's",
    "s3_data_type": "training reads prefixes; a ManifestFile's prefix is read instead",
    "output_kms_key": "storage encryption is the store's",
    "kms_key": "storage encryption is the store's",
    "subnets": "networking is the cluster's", "security_group_ids": "networking is the cluster's",
    "vpc_config": "networking is the cluster's",
    "enable_network_isolation": "networking is the cluster's",
    "encrypt_inter_container_traffic": "networking is the cluster's",
    "input_mode": "set it per channel: TrainingInput(uri, input_mode='Pipe')",
    "keep_alive_period_in_seconds": "Ray keeps its workers warm",
    "container_log_level": "use Python logging", "disable_profiler": "no profiler is attached",
    "debugger_hook_config": "no debugger is attached", "rules": "no debugger is attached",
    "profiler_config": "no profiler is attached",
    "enable_sagemaker_metrics": "metrics always go to MLflow",
    "code_location": "code is shipped by Ray", "image_uri": "no containers are used",
    "strategy_config": "Hyperband's settings follow from the ranges and max_jobs",
    "include_cls_metadata": "the estimator's class is not encoded in hyperparameters",
    "estimator_name": "one estimator per tuner", "autotune": "set the ranges explicitly",
    "hyperparameters_to_keep_static": "fixed hyperparameters stay on the estimator",
    "content_types": "the endpoint accepts CSV, JSON and npy",
    "response_types": "the endpoint answers in the Accept type",
    "inference_instances": "the deploy call chooses the instance type",
    "transform_instances": "the deploy call chooses the instance type",
    "accelerator_type": "Elastic Inference is gone; use a GPU instance type",
    "kms_key_id": "storage encryption is the store's", "tags": "tags are not kept for this resource",
    "model_data_download_timeout": "the model loads when the replica starts",
    "container_startup_health_check_timeout": "replicas report their own health",
    "volume_size_in_gb": "replicas use the node's disk", "predictor_cls": "a Predictor is returned",
    "delete_endpoint_config": "there is no separate endpoint config",
    "force_refresh": "the table is read fresh each time", "logs": "progress goes to stderr",
    **{k: "AWS clients are not used; storage and tracking come from mlcore's defaults" for k in (
        "sagemaker_client", "sagemaker_runtime_client", "sagemaker_featurestore_runtime_client",
        "sagemaker_metrics_client", "default_bucket_prefix", "settings", "sagemaker_config")},
    "distribution": "each worker reads its own shard of every file (ShardedByS3Key)",
    "compression": "compressed files are read by their extension",
    "record_wrapping": "records are read as the content type says",
    "attribute_names": "every column of the manifest is read",
    "target_attribute_name": "the label is the first CSV column (or label_column)",
    "shuffle_config": "workers read their shards in order", "instance_groups": "one worker group",
    "capture_options": "requests and responses are both captured",
    "csv_content_types": "CSV is captured as text/csv", "json_content_types": "JSON is captured as application/json",
    "managed_instance_scaling": "use autoscaling on the variant", "routing_config": "requests go to the least busy replica",
    "inference_ami_version": "no AMIs are used", "estimator_kwargs": "pass them to the estimator",
    "py_version": "the cluster's Python runs the code", "instance_type": "it does not change the image",
    "image_scope": "built-ins have one implementation each", "model_id": "no JumpStart models",
    "model_version": "no JumpStart models", "hub_arn": "no JumpStart models",
    # v2's deploy() and Model() keywords that mean nothing here
    "inference_recommendation_id": "there is no Inference Recommender",
    "explainer_config": "there is no SageMaker Clarify explainer", "accept_eula": "no JumpStart models",
    "endpoint_logging": "replica logs are Ray Serve's (and the endpoint's log)",
    "resources": "the instance type sets each replica's resources",
    "endpoint_type": "endpoints are model-based", "inference_component_name": "no inference components",
    "model_reference_arn": "no model references",
    "model_name": "models are no separate resource here: the endpoint holds its model", "use_compiled_model": "no Neo compilation",
    "update_endpoint": "deploying to an existing endpoint's name updates it in place",
    "model_kms_key": "storage encryption is the store's", "image_config": "no containers are used",
    "model_server_workers": "each replica is one worker; set initial_instance_count",
    "framework_version": "the cluster's installed framework serves the model",
    "git_config": "no repository is cloned; clone it and pass source_dir",
    "additional_model_data_sources": "one model_data per model",
    "vpc_config_override": "networking is the cluster's", "component_name": "no inference components",
    "image_uri_region": "no containers are used", "compiler_config": "no Training Compiler",
    "training_recipe": "training recipes are not run; pass entry_point",
    "recipe_overrides": "training recipes are not run; pass entry_point",
}
_explained: set[tuple[str, str]] = set()


def accept(where: str, kwargs: dict, signature_of=None, extra: tuple[str, ...] = ()) -> None:
    """Refuse unknown keywords in ``kwargs`` (TypeError naming the closest known one) and log
    once per (``where``, name) what the ignored ones mean here."""
    known = list(inspect.signature(signature_of).parameters) if signature_of else []
    for name in kwargs:
        if name in IGNORED:
            if (where, name) not in _explained:
                _explained.add((where, name))
                log.info("%s(%s=...) accepted and not used: %s", where, name, IGNORED[name])
            continue
        close = difflib.get_close_matches(name, [*known, *extra, *IGNORED], n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise TypeError(f"{where}() got an unexpected keyword argument {name!r}{hint}")


# Each resource's longest name, for name(); the rule itself is mlcore.specs.check_name.
TRAINING_JOB, TUNING_JOB, ENDPOINT, GROUP, VARIANT = (
    TRAINING_JOB_MAX, TUNING_JOB_MAX, ENDPOINT_MAX, MODEL_PACKAGE_GROUP_MAX, VARIANT_MAX)


def name(value: str | None, field: str, max_len: int = TRAINING_JOB) -> str | None:
    """A name keyword (``job_name``, ``endpoint_name``, ...) checked by SageMaker's rule
    before the facade does anything with it (a SpecError naming the keyword); None passes."""
    return value if value is None else check_name(value, field, max_len)
