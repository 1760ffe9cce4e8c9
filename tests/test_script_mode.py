"""Script mode: an unmodified SageMaker-style script on 2 Ray Train workers, its model
registered; bad scripts and bad distributions refused or failed with a reason."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import write_csv

from mlcore import _tracking
from mlcore.errors import MLCoreError, SpecError
from mlcore.jobs import describe
from mlcore.records import TrainingJobRecord
from mlcore.sagemaker import Estimator
from mlcore.sagemaker.pytorch import PyTorch

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "configs" / "scripts"


@pytest.fixture(scope="module")
def regression_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("reg")
    rng = np.random.default_rng(7)
    X = rng.normal(size=(600, 5)).astype(np.float32)
    y = (X @ np.arange(1, 6) + 0.1 * rng.normal(size=600)).astype(np.float32)
    write_csv(d / "train.csv", X, y)
    return d, X


@pytest.mark.integration
def test_unmodified_sagemaker_script_trains_and_registers(ray_session, regression_dir):
    data, X = regression_dir
    est = PyTorch(entry_point="train.py", source_dir=str(SCRIPTS / "sagemaker_style"),
                  framework_version="2.13", py_version="py311", instance_count=2,
                  instance_type="local", hyperparameters={"epochs": 25, "lr": 0.05},
                  metric_definitions=[{"Name": "train:loss", "Regex": r"train_loss=([0-9.]+)"}])
    est.fit({"train": str(data)}, logs=False)
    rec = describe(est.latest_training_job.name)
    assert rec.TrainingJobStatus == "Completed", rec.FailureReason
    assert rec.AlgorithmName == "script:train.py"
    assert sorted(os.listdir(rec.ModelArtifacts)) == ["_COMMITTED", "features.json", "model.pth"]
    # Every host's SM_OUTPUT_DATA_DIR was uploaded.
    out = Path(rec.OutputPath) / rec.TrainingJobName / "output" / "data"
    assert sorted(p.name for p in out.iterdir()) == ["algo-1.txt", "algo-2.txt"]
    # Metrics parsed from the script's output, one step per printed epoch.
    history = _tracking.client().get_metric_history(rec.MlflowRunId, "train:loss")
    assert sorted(m.step for m in history) == list(range(1, 26))
    losses = [m.value for m in sorted(history, key=lambda m: m.step)]
    assert losses[-1] < losses[0]

    pkg = est.register(model_package_group_name="script-mode-model")
    import mlflow.pyfunc
    import torch

    served = mlflow.pyfunc.load_model(pkg.model_uri).predict(X[:8])
    # The same weights loaded by hand, as the script's own model_fn would.
    sys.path.insert(0, str(SCRIPTS / "sagemaker_style"))
    try:
        import train as sm_train
    finally:
        sys.path.pop(0)
    net = sm_train.model_fn(rec.ModelArtifacts)
    with torch.no_grad():
        np.testing.assert_allclose(served, net(torch.tensor(X[:8])).numpy(), rtol=1e-6)
    # The same model on an endpoint, through the script's own model_fn, input_fn, predict_fn
    # and output_fn (SageMaker's inference handler contract): CSV and JSON in, {"scores"} out.
    from mlcore.sagemaker.deserializers import JSONDeserializer
    from mlcore.sagemaker.serializers import CSVSerializer

    predictor = est.deploy(endpoint_name="script-mode-ep", serializer=CSVSerializer(),
                           deserializer=JSONDeserializer())
    try:
        got = np.asarray(predictor.predict(X[:8])["scores"])
        np.testing.assert_allclose(got, served.ravel(), rtol=1e-5)
        import requests

        r = requests.post(f"{predictor.url}/invocations", json={"features": X[:2].tolist()}, timeout=60)
        assert r.status_code == 200
        np.testing.assert_allclose(r.json()["scores"], served.ravel()[:2], rtol=1e-5)
        r = requests.post(f"{predictor.url}/invocations", data=b"x", timeout=60,
                          headers={"Content-Type": "text/plain"})
        assert r.status_code == 500  # a handler's exception, named (the containers answer 500)
        assert "input_fn raised ValueError: unsupported content type" in r.json()["error"]
    finally:
        predictor.delete_endpoint()


@pytest.mark.integration
def test_script_errors_fail_the_job_with_the_scripts_reason(ray_session, tmp_path):
    (tmp_path / "boom.py").write_text("raise ValueError('column price is missing')\n")
    (tmp_path / "nomodel.py").write_text("print('trained, saved nothing')\n")
    (tmp_path / "exits.py").write_text("import sys\nsys.exit(3)\n")
    for script, reason in [("boom.py", "ValueError: column price is missing"),
                           ("nomodel.py", "wrote nothing to its model folder"),
                           ("exits.py", "exited with status 3")]:
        est = Estimator(entry_point=script, source_dir=str(tmp_path), instance_count=1)
        with pytest.raises(MLCoreError, match="failed"):
            est.fit(logs=False)
        rec = describe(est.latest_training_job.name)
        assert rec.TrainingJobStatus == "Failed" and reason in rec.FailureReason, rec.FailureReason
        assert rec.ModelArtifacts is None


@pytest.mark.parametrize("kwargs, path, words", [
    ({"entry_point": "missing.py"}, "entry_point", "not found"),
    ({"entry_point": "train.py", "source_dir": "/nonexistent/src"}, "source_dir", "does not exist"),
    ({"entry_point": "train.py", "distribution": {"deepspeed": {"zero_stage": 2,
                                                                "pipeline_parallel_degree": 2}}},
     "distribution.deepspeed.zero_stage", "cannot be combined with pipeline"),
    ({"entry_point": "train.py", "instance_count": 3,
      "distribution": {"deepspeed": {"pipeline_parallel_degree": 2}}},
     "distribution.deepspeed.pipeline_parallel_degree", "does not divide the world size 3"),
])
def test_bad_script_jobs_are_refused_before_any_job_exists(kwargs, path, words):
    kwargs.setdefault("source_dir", str(ROOT / "configs" / "scripts" / "tiny_lm"))
    before = {r.TrainingJobName for r in TrainingJobRecord.list()}
    with pytest.raises(SpecError) as e:
        Estimator(**kwargs).fit(logs=False)
    assert any(p.startswith(path) for p, _ in e.value.problems), e.value.problems
    assert words in str(e.value)
    assert {r.TrainingJobName for r in TrainingJobRecord.list()} == before  # no job was created


def test_cli_validate_reports_a_bad_distribution(tmp_path):
    spec = tmp_path / "job.yaml"
    spec.write_text(f"""kind: TrainingJob
entry_point: train.py
source_dir: {ROOT / 'configs' / 'scripts' / 'tiny_lm'}
instance_count: 2
distribution: {{deepspeed: {{zero_stage: 3, pipeline_parallel_degree: 2}}}}
""")
    res = subprocess.run([sys.executable, "-m", "mlcore.cli", "validate", str(spec)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert "distribution.deepspeed.zero_stage" in res.stderr and "Traceback" not in res.stderr


def test_example_configs_validate():
    names = ("deepspeed-zero.yaml", "pipeline-parallel.yaml", "script-mode.yaml")
    res = subprocess.run([sys.executable, "-m", "mlcore.cli", "validate",
                          *(str(ROOT / "configs" / n) for n in names)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    for n in names:  # one command checks them all; each is reported valid
        assert f"{ROOT / 'configs' / n}: valid TrainingJob" in res.stdout, res.stdout


@pytest.mark.integration
def test_pipe_mode_channel_arrives_as_each_workers_ray_data_shard(ray_session, regression_dir, bucket):
    """A Pipe channel on S3 is streamed: the workers' shards together hold every row once."""
    import boto3

    data, X = regression_dir
    s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    s3.upload_file(str(data / "train.csv"), bucket, "pipe/train.csv")
    from mlcore.sagemaker.inputs import TrainingInput

    est = Estimator(entry_point="pipe_rows.py", source_dir=str(Path(__file__).parent / "scripts"),
                    instance_count=2, output_path=f"s3://{bucket}/out")
    est.fit({"train": TrainingInput(f"s3://{bucket}/pipe/", content_type="text/csv",
                                    input_mode="Pipe")}, logs=False)
    rec = describe(est.latest_training_job.name)
    assert rec.TrainingJobStatus == "Completed", rec.FailureReason
    import s3fs

    fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": os.environ["AWS_ENDPOINT_URL"]})
    seen = [json.loads(fs.cat(p)) for p in sorted(fs.glob(rec.ModelArtifacts + "/rows-rank-*.json"))]
    assert len(seen) == 2 and all(s["rows"] > 0 for s in seen)
    assert sum(s["rows"] for s in seen) == len(X)
    y = np.loadtxt(data / "train.csv", delimiter=",")[:, 0]
    assert sum(s["label_sum"] for s in seen) == pytest.approx(float(y.sum()), rel=1e-5)
