"""The steps a TrainingJob spec may ask for after training: register the model, deploy it
(and send it sample rows). The Python API reaches the same code through Estimator."""

from __future__ import annotations

from mlcore import _registry
from mlcore.errors import MLCoreError, SpecError
from mlcore.records import Status, TrainingJobRecord


def completed(name: str) -> TrainingJobRecord:
    """The record of ``name``, which must have completed (it has a model)."""
    record = TrainingJobRecord.load(name)
    if record.status != Status.COMPLETED:
        raise MLCoreError(f"training job {record.TrainingJobName} is {record.status}"
                          f"{': ' + record.FailureReason if record.FailureReason else ''}; "
                          "it has no model")
    return record


def register(name: str, group: str | None = None, approval_status: str | None = None,
             description: str | None = None) -> _registry.ModelPackage:
    """Register job ``name``'s model as a new version of ``group`` (default: the job name)."""
    from mlcore.services.training._mlflow_model import ensure

    record = completed(name)
    return _registry.register(
        ensure(name), group or record.TrainingJobName,
        approval_status or "PendingManualApproval", description,
        tags={"job_name": record.TrainingJobName, "run_id": record.MlflowRunId,
              "model_data": record.ModelArtifacts})


def deploy_and_predict(name: str, d, say) -> None:
    """The spec's ``deploy:`` step: serve job ``name``'s model, predict ``d.sample_input``."""
    import numpy as np

    # Serving imports Ray Serve (~2 s): a training job, and every tuning trial, that deploys
    # nothing should not pay for it.
    import serving
    from mlcore.services import endpoints

    desc = endpoints.deploy_model(endpoints.model_ref(name), d.endpoint_name or name,
                                  d.instance_type, d.initial_instance_count)
    endpoint = desc["EndpointName"]
    say(f"endpoint {endpoint}: POST {desc['Url']}/invocations")
    try:
        if d.sample_input:
            try:
                rows = np.loadtxt(d.sample_input, delimiter=",", ndmin=2)
            except ValueError as e:
                raise SpecError(f"deploy.sample_input: {d.sample_input} is not numeric CSV: {e}",
                                [("deploy.sample_input", "not numeric CSV")]) from None
            # Accept: application/json (StringDeserializer's), read whatever comes back
            predictor = serving.Predictor(endpoint, serializer=serving.CSVSerializer(),
                                          deserializer=serving.StringDeserializer())
            answer = predictor.predict(rows)
            preds = _predictions(answer)
            if preds is None:  # a script's own output_fn: shown as it answered
                say(f"answer for {len(rows)} rows of {d.sample_input}: {answer[:300]}")
                return
            say(f"predictions for {len(rows)} rows of {d.sample_input}:")
            for row, p in zip(rows[:5], preds[:5], strict=False):
                shown = np.array2string(np.atleast_1d(p), precision=4)
                say(f"  {np.array2string(row[:4], precision=3)}... -> {shown}")
    finally:
        if d.delete_after:
            endpoints.delete(endpoint)
            say(f"endpoint {endpoint} deleted")


def _predictions(text: str) -> list | None:
    """The predictions in a JSON answer: the XGBoost container's ``{"predictions": [{"score":
    ...}, ...]}``, mlcore's ``{"predictions": [...]}``; None for any other answer."""
    import json

    try:
        answer = json.loads(text)
    except ValueError:
        return None
    if not (isinstance(answer, dict) and isinstance(answer.get("predictions"), list)):
        return None
    return [p["score"] if isinstance(p, dict) and "score" in p else p for p in answer["predictions"]]
