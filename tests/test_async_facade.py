"""SageMaker v2's async inference names on mlcore: ``deploy(async_inference_config=...)``
returns an ``AsyncPredictor`` whose ``predict_async`` / ``predict`` go through the runtime
client's ``invoke_endpoint_async`` and read their results from the session's S3 (the loopback
moto server), with v2's defaults, paths, result types and errors."""

from __future__ import annotations

import csv
import json
import pickle
import re
import time

import boto3
import numpy as np
import pytest
from botocore.exceptions import ClientError, ParamValidationError

from mlcore.sagemaker import Session
from mlcore.sagemaker.async_inference import (
    AsyncInferenceConfig,
    AsyncInferenceResponse,
    WaiterConfig,
)
from mlcore.sagemaker.deserializers import CSVDeserializer
from mlcore.sagemaker.exceptions import (
    AsyncInferenceError,
    AsyncInferenceModelError,
    ObjectNotExistedError,
    PollingTimeoutError,
)
from mlcore.sagemaker.predictor import Predictor
from mlcore.sagemaker.predictor_async import AsyncPredictor
from mlcore.sagemaker.serializers import CSVSerializer
from tests.conftest import make_classification

pytestmark = pytest.mark.integration

WAIT = WaiterConfig(max_attempts=120, delay=1)  # the first request starts a replica from zero


def _expected_rows(job: str, body: str) -> list[list[str]]:
    """What the realtime path answers ``body`` with (its own functions, the same model), as
    CSVDeserializer reads it."""
    from algorithms import get as algorithm
    from mlcore.services import endpoints
    from mlcore.specs import ModelRef
    from serving._model import _load
    from serving._payload import parse, render

    model_spec, _ = endpoints.resolve(ModelRef(training_job=job))
    model, n_features = _load(model_spec)
    raw = body.encode()
    X = parse(raw, "text/csv", n_features, len(raw))
    answer = render(algorithm("xgboost").predict(model, X), "text/csv", model_spec.container)[0]
    return list(csv.reader(answer.decode().splitlines()))


def _wait_for(cond, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (value := cond()):
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.2)
    return value


def test_async_predictor_results_failures_notifications_and_refusals(
        trained, bucket, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("MLCORE_DEFAULT_BUCKET", bucket)  # Session().default_bucket()
    notes = tmp_path / "success.jsonl"

    def on_success(message, path=str(notes)):  # runs in the replica: pickled by value
        with open(path, "a") as f:
            f.write(json.dumps(message) + "\n")

    name = "ep-async-facade"
    config = AsyncInferenceConfig(max_concurrent_invocations_per_instance=2, notification_config={
        "SuccessTopic": on_success, "ErrorTopic": "arn:aws:sns:us-east-1:123456789012:errors",
        "IncludeInferenceResponseIn": ["SUCCESS_NOTIFICATION_TOPIC"]})
    with caplog.at_level("INFO", logger="mlcore"):
        predictor = trained.deploy(initial_instance_count=1, instance_type="ml.m5.xlarge",
                                   endpoint_name=name, serializer=CSVSerializer(),
                                   deserializer=CSVDeserializer(), async_inference_config=config)
    try:
        assert isinstance(predictor, AsyncPredictor) and predictor.endpoint_name == name
        assert predictor.name == name  # the model's name: the endpoint's, as Estimator.deploy's
        # v2's defaults, filled in on the config object: one unique folder for both.
        m = re.fullmatch(rf"s3://{bucket}/async-endpoint-outputs/({name}-\d+-[0-9a-f]{{4}})",
                         config.output_path)
        assert m, config.output_path
        assert config.failure_path == f"s3://{bucket}/async-endpoint-failures/{m.group(1)}"
        assert "notification_config['ErrorTopic']" in caplog.text and "go nowhere" in caplog.text

        # predict_async(data=...): serialized, uploaded under v2's key, answered at once.
        X1, _ = make_classification(5, 8, seed=21)
        response = predictor.predict_async(data=X1)
        assert isinstance(response, AsyncInferenceResponse)
        with pytest.raises(ObjectNotExistedError, match="Inference could still be running"):
            response.get_result()  # the replica is still starting from zero
        assert re.fullmatch(rf"s3://{bucket}/async-endpoint-inputs/{name}-\d{{6}}-\d{{4}}/"
                            r"\d{4}(-\d\d){5}-\d{3}-[0-9a-f-]{36}", predictor._input_path)
        assert response.output_path.startswith(config.output_path + "/")
        assert response.failure_path.startswith(config.failure_path + "/")
        with pytest.raises(ValueError, match="waiter_config should be a WaiterConfig object"):
            response.get_result({"Delay": 1})
        expected1 = _expected_rows(trained.latest_training_job.name, CSVSerializer().serialize(X1))
        assert response.get_result(WAIT) == expected1
        assert response.get_result() is response.get_result()  # kept after the first read

        # predict_async(input_path=...): the caller's own object, its type in initial_args.
        X2, _ = make_classification(7, 8, seed=22)
        body2 = CSVSerializer().serialize(X2)
        s3 = boto3.client("s3")  # AWS_ENDPOINT_URL: the loopback moto server
        s3.put_object(Bucket=bucket, Key="mine/in.csv", Body=body2.encode(), ContentType="text/csv")
        by_path = predictor.predict_async(input_path=f"s3://{bucket}/mine/in.csv",
                                          initial_args={"ContentType": "text/csv"},
                                          inference_id="by-path-1")
        assert by_path.output_path == f"{config.output_path}/by-path-1.out"
        expected2 = _expected_rows(trained.latest_training_job.name, body2)
        assert by_path.get_result(WAIT) == expected2

        # predict(...) waits; an AsyncPredictor made without a name uploads under the endpoint's.
        plain = AsyncPredictor(Predictor(name, serializer=CSVSerializer(),
                                         deserializer=CSVDeserializer()))
        assert plain.name is None
        assert plain.predict(data=X1, waiter_config=WAIT) == expected1
        assert f"/async-endpoint-inputs/{name}-" in plain._input_path

        # A request only the model finds wrong (3 features, not 8): the failure record.
        bad = predictor.predict_async(data=np.ones((2, 3)))
        with pytest.raises(AsyncInferenceModelError, match="Model returned error: .*features"):
            bad.get_result(WAIT)
        with pytest.raises(AsyncInferenceModelError):
            predictor.predict(data=np.ones((1, 3)), waiter_config=WAIT)
        never = AsyncInferenceResponse(predictor, f"s3://{bucket}/never/x.out",
                                       f"s3://{bucket}/never/x-error.out")
        started = time.monotonic()
        with pytest.raises(PollingTimeoutError, match=rf"No result at s3://{bucket}/never/x.out "
                                                      r"after polling for 0.5 seconds"):
            never.get_result(WaiterConfig(max_attempts=2, delay=0.25))
        assert time.monotonic() - started >= 0.25  # one wait between two looks

        # The runtime client refuses what the endpoint refuses, as boto3's ClientError.
        runtime = Session().sagemaker_runtime_client
        with pytest.raises(ClientError) as refused:
            runtime.invoke_endpoint_async(EndpointName=name, ContentType="text/csv",
                                          InputLocation=f"s3://{bucket}/mine/none.csv")
        err = refused.value.response
        assert err["Error"]["Code"] == "ValidationError" and "does not exist" in err["Error"]["Message"]
        assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
        with pytest.raises(ClientError, match="already used"):
            runtime.invoke_endpoint_async(EndpointName=name, ContentType="text/csv",
                                          InputLocation=f"s3://{bucket}/mine/in.csv",
                                          InferenceId="by-path-1")
        ok = runtime.invoke_endpoint_async(EndpointName=name, ContentType="text/csv",
                                           Accept="text/csv", InputLocation=f"s3://{bucket}/mine/in.csv")
        assert ok["ResponseMetadata"]["HTTPStatusCode"] == 202
        assert ok["OutputLocation"] == f"{config.output_path}/{ok['InferenceId']}.out"

        # One success notification per completed request, with the response body.
        got = _wait_for(lambda: (lambda lines: lines if len(lines) >= 4 else None)(
            notes.read_text().splitlines() if notes.exists() else []), 60, "4 notifications")
        by_id = {m["inferenceId"]: m for m in map(json.loads, got)}
        assert by_id["by-path-1"]["invocationStatus"] == "Completed"
        assert list(csv.reader(by_id["by-path-1"]["responseBody"]["content"].splitlines())) == expected2
        assert len(by_id) == len(got) == 4  # X1 (twice), X2, the runtime call; failures: none

        # DescribeEndpoint's AsyncInferenceConfig (a callable topic shows as its name).
        described = Session().sagemaker_client.describe_endpoint(EndpointName=name)
        a = described["AsyncInferenceConfig"]
        assert a["ClientConfig"] == {"MaxConcurrentInvocationsPerInstance": 2}
        assert (a["OutputConfig"]["S3OutputPath"], a["OutputConfig"]["S3FailurePath"]) == (
            config.output_path, config.failure_path)
        assert a["OutputConfig"]["NotificationConfig"]["SuccessTopic"].endswith("on_success")
        assert "ErrorTopic" not in a["OutputConfig"]["NotificationConfig"]
    finally:
        predictor.delete_endpoint()
    with pytest.raises(ClientError, match="Could not find endpoint"):
        Session().sagemaker_client.describe_endpoint(EndpointName=name)


def test_configs_errors_and_runtime_parameters_as_v2():
    """v2's defaults and request dicts, its error messages (picklable here), and the runtime
    client's botocore-style parameter checks (no endpoint needed)."""
    assert WaiterConfig()._to_request_dict() == {"Delay": 15, "MaxAttempts": 60}
    assert AsyncInferenceConfig()._to_request_dict() == {
        "OutputConfig": {"S3OutputPath": None, "S3FailurePath": None}}
    assert AsyncInferenceConfig("s3://b/o", 4, "key", {"SuccessTopic": "https://h/t"},
                                "s3://b/f")._to_request_dict() == {
        "OutputConfig": {"S3OutputPath": "s3://b/o", "S3FailurePath": "s3://b/f", "KmsKeyId": "key",
                         "NotificationConfig": {"SuccessTopic": "https://h/t"}},
        "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 4}}
    e = PollingTimeoutError(message="Inference could still be running", output_path="s3://b/k",
                            seconds=900)
    assert str(e) == "No result at s3://b/k after polling for 900 seconds. Inference could still be running"
    assert isinstance(e, AsyncInferenceError) and e.kwargs["seconds"] == 900
    back = pickle.loads(pickle.dumps(e))
    assert type(back) is PollingTimeoutError and str(back) == str(e)
    assert str(ObjectNotExistedError(message="m", output_path="s3://b/k")) == "Object not exist at s3://b/k. m"
    assert str(AsyncInferenceModelError(message="boom")) == "Model returned error: boom "

    runtime = Session().sagemaker_runtime_client
    with pytest.raises(ParamValidationError, match="valid min value: 60"):
        runtime.invoke_endpoint_async(EndpointName="x", InputLocation="s3://b/k", RequestTTLSeconds=5)
    with pytest.raises(ParamValidationError, match='Unknown parameter in input: "Inputlocation"'):
        runtime.invoke_endpoint_async(EndpointName="x", Inputlocation="s3://b/k")
    with pytest.raises(TypeError, match="only accepts keyword arguments"):
        runtime.invoke_endpoint_async("x")
    with pytest.raises(ClientError, match="2 validation errors detected: ") as e:
        runtime.invoke_endpoint_async(EndpointName="x", InputLocation="s3://b/k",
                                      RequestTTLSeconds=99999, InferenceId="a" * 65)
    said = e.value.response["Error"]["Message"]
    assert "Value 99999 at 'requestTTLSeconds' failed to satisfy constraint: Member must have " \
           "value less than or equal to 21600" in said
    assert "at 'inferenceId' failed to satisfy constraint: Member must have length less than " \
           "or equal to 64" in said
    with pytest.raises(ClientError, match="Endpoint nope-x of account 000000000000 not found") as e:
        runtime.invoke_endpoint_async(EndpointName="nope-x", InputLocation="s3://b/k")
    assert e.value.response["Error"]["Code"] == "ValidationError"
    with pytest.raises(ValueError, match="async_inference_config needs to be a AsyncInferenceConfig"):
        from mlcore.sagemaker import Model

        Model(model_data="s3://b/model.tar.gz").deploy(async_inference_config={"OutputConfig": {}})
