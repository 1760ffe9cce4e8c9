"""Batch transform on the session's Ray: outputs laid out as SageMaker lays them out, equal to
the realtime endpoint's predictions, joined and filtered as SageMaker joins them; bad records
listed with their line numbers; bad jobs refused before any work; a killed scoring actor and a
killed driver lose and duplicate nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlcore import _storage
from mlcore.errors import MLCoreError, SpecError
from mlcore.records import Status
from mlcore.sagemaker.deserializers import CSVDeserializer
from mlcore.sagemaker.serializers import CSVSerializer
from mlcore.sagemaker.sklearn import SKLearnModel
from mlcore.sagemaker.transformer import Transformer
from mlcore.services import _shapes, transform
from mlcore.specs import TransformJob
from tests.conftest import make_classification

pytestmark = pytest.mark.integration
ROOT = Path(__file__).parents[1]

INFERENCE = textwrap.dedent('''
    """A script model: y = X @ w, with the framework containers' four handlers."""
    import io
    import json
    import os
    import time

    import numpy as np


    def model_fn(model_dir):
        return np.loadtxt(os.path.join(model_dir, "w.txt"))


    def input_fn(body, content_type):
        text = body.decode() if isinstance(body, bytes) else body
        if content_type == "application/jsonlines":
            rows = [json.loads(line) for line in text.splitlines() if line]
            return np.array([r["features"] if isinstance(r, dict) else r for r in rows])
        return np.loadtxt(io.StringIO(text), delimiter=",", ndmin=2)


    def predict_fn(data, model):
        pace = os.environ.get("PACE_DIR")  # chaos tests: slow, and say who scores
        if pace:
            open(os.path.join(pace, str(os.getpid())), "w").close()
            time.sleep(float(os.environ.get("PACE_S", "0.2")))
        return data @ model


    def output_fn(prediction, accept):
        return "".join(f"{v:.6f}\\n" for v in prediction)
''')


def _lines(path) -> list[str]:
    return Path(_storage.local_path(str(path))).read_text().splitlines()


def _csv(path: Path, X: np.ndarray, ids: np.ndarray | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cols = X if ids is None else np.column_stack([ids, X])
    np.savetxt(path, cols, delimiter=",", fmt="%.7g")
    return path


@pytest.fixture(scope="module")
def endpoint(trained):
    p = trained.deploy(initial_instance_count=1, instance_type="local", endpoint_name="tx-ref",
                       serializer=CSVSerializer(), deserializer=CSVDeserializer())
    yield p
    p.delete_endpoint()


def _realtime(endpoint, X: np.ndarray) -> np.ndarray:
    return np.asarray(endpoint.predict(X), dtype=float).ravel()


@pytest.fixture(scope="module")
def script_model(tmp_path_factory):
    d = tmp_path_factory.mktemp("script-model")
    (d / "code").mkdir()
    (d / "code" / "inference.py").write_text(INFERENCE)
    (d / "model").mkdir()
    np.savetxt(d / "model" / "w.txt", np.arange(1, 9, dtype=float) / 10)
    return d


def test_xgboost_csv_jsonl_parquet_local_and_s3_equal_the_endpoint(trained, endpoint, tmp_path,
                                                                  bucket, capsys):
    X, _ = make_classification(3000, 8, seed=5)
    inp = tmp_path / "in"
    _csv(inp / "a.csv", X[:2500])           # one big file: split into shards, order kept
    _csv(inp / "nested" / "deep" / "b.csv", X[2500:])
    t = trained.transformer(instance_count=1, instance_type="ml.m5.large",
                            output_path=str(tmp_path / "out"), accept="text/csv",
                            assemble_with="Line", strategy="MultiRecord", max_payload=1)
    t.transform(str(inp), content_type="text/csv", split_type="Line")
    said = capsys.readouterr().out
    shards = t.describe()["Progress"]["shards"]
    assert shards >= 3 and f"{shards} shard(s) of 2 file(s), 2 scoring actor(s)" in said, said
    assert f"2/2 files ({shards}/{shards} shards), 3,000 records (" in said, said
    assert "/s), 0 errors in " in said, said
    expected = _realtime(endpoint, X)
    got_a = np.array(_lines(tmp_path / "out" / "a.csv.out"), dtype=float)
    got_b = np.array(_lines(tmp_path / "out" / "nested" / "deep" / "b.csv.out"), dtype=float)
    np.testing.assert_allclose(np.concatenate([got_a, got_b]), expected, rtol=1e-6)
    assert sorted(p.name for p in (tmp_path / "out").rglob("*")) == ["a.csv.out", "b.csv.out",
                                                                    "deep", "nested"]
    d = t.describe()
    assert _shapes.shape_problems(d, "DescribeTransformJob") == []
    assert d["TransformJobStatus"] == "Completed" and d["BatchStrategy"] == "MultiRecord"
    assert d["Progress"]["records"] == 3000 and d["Progress"]["files_done"] == 2
    assert d["TransformInput"]["SplitType"] == "Line" and d["ModelName"] == trained.latest_training_job.name
    assert {"Setup", "FirstShard", "Scoring", "Commit", "ModelLoad", "Total"} <= set(d["PhaseTimings"])
    attached = Transformer.attach(t.latest_transform_job.name)
    assert attached.output_path == str(tmp_path / "out") and attached.max_payload == 1

    # JSON Lines from s3:// (the loopback S3 server), answered as the container's JSON Lines.
    rows = "".join(json.dumps({"features": r.tolist()}) + "\n" for r in X[:700])
    import boto3

    s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    s3.put_object(Bucket=bucket, Key="in/part-0.jsonl", Body=rows.encode())
    t2 = trained.transformer(instance_count=1, instance_type="local",
                             output_path=f"s3://{bucket}/out", accept="application/jsonlines")
    t2.transform(f"s3://{bucket}/in/", content_type="application/jsonlines", split_type="Line",
                 wait=False)
    t2.wait(logs=False)
    body = s3.get_object(Bucket=bucket, Key="out/part-0.jsonl.out")["Body"].read().decode()
    scores = [json.loads(line)["score"] for line in body.splitlines()]
    np.testing.assert_allclose(scores, expected[:700], rtol=1e-6)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert sorted(keys) == ["in/part-0.jsonl", "out/part-0.jsonl.out"]  # no parts left behind

    # Parquet row groups, through the boto3-shaped client as the examples call it.
    pq.write_table(pa.table({f"f{i}": X[:, i] for i in range(8)}), tmp_path / "x.parquet",
                   row_group_size=400)
    from mlcore.sagemaker import Session

    sm = Session().sagemaker_client
    sm.create_transform_job(
        TransformJobName="tx-parquet", ModelName=trained.latest_training_job.name,
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                        "S3Uri": str(tmp_path / "x.parquet")}},
                        "ContentType": "application/x-parquet"},
        TransformOutput={"S3OutputPath": str(tmp_path / "pq"), "Accept": "text/csv"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1})
    sm.get_waiter("transform_job_completed_or_stopped").wait(TransformJobName="tx-parquet")
    assert sm.describe_transform_job(TransformJobName="tx-parquet")["TransformJobStatus"] == "Completed"
    got = np.array(_lines(tmp_path / "pq" / "x.parquet.out"), dtype=float)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    listed = sm.list_transform_jobs(NameContains="tx-parq")["TransformJobSummaries"]
    assert [j["TransformJobName"] for j in listed] == ["tx-parquet"]


def test_script_model_joins_and_filters_like_sagemaker(script_model, tmp_path):
    X, _ = make_classification(400, 8, seed=6)
    ids = np.arange(1000, 1400)
    _csv(tmp_path / "in" / "rows.csv", X, ids)
    model = SKLearnModel(str(script_model / "model"), entry_point="inference.py",
                         source_dir=str(script_model / "code"))
    t = model.transformer(instance_count=1, instance_type="ml.m5.large",
                          output_path=str(tmp_path / "out"), accept="text/csv",
                          assemble_with="Line")
    t.transform(str(tmp_path / "in"), content_type="text/csv", split_type="Line",
                input_filter="$[1:]", join_source="Input", output_filter="$[0,-1]", logs=False)
    w = np.arange(1, 9) / 10
    lines = _lines(tmp_path / "out" / "rows.csv.out")
    assert [line.split(",")[0] for line in lines] == [str(i) for i in ids]
    np.testing.assert_allclose([float(line.split(",")[1]) for line in lines],
                               X.astype(np.float32).astype(float) @ w, atol=2e-5)
    # The same model behind a realtime endpoint answers the same numbers.
    predictor = model.deploy(initial_instance_count=1, instance_type="local",
                             endpoint_name="tx-script", serializer=CSVSerializer(),
                             deserializer=CSVDeserializer())
    try:
        realtime = np.asarray(predictor.predict(X[:50]), dtype=float).ravel()
    finally:
        predictor.delete_endpoint()
    np.testing.assert_allclose([float(line.split(",")[1]) for line in lines[:50]], realtime,
                               atol=1e-6)

    # JSON Lines: the model sees $.features; the output keeps the id and SageMakerOutput.
    rows = "".join(json.dumps({"id": int(i), "features": r.tolist()}) + "\n" for i, r in zip(ids, X, strict=True))
    (tmp_path / "json").mkdir()
    (tmp_path / "json" / "rows.jsonl").write_text(rows)
    t2 = model.transformer(instance_count=1, instance_type="local", output_path=str(tmp_path / "jout"),
                           accept="application/jsonlines", assemble_with="Line")
    t2.transform(str(tmp_path / "json"), content_type="application/jsonlines", split_type="Line",
                 input_filter="$.features", join_source="Input",
                 output_filter="$['id','SageMakerOutput']", logs=False)
    out = [json.loads(line) for line in _lines(tmp_path / "jout" / "rows.jsonl.out")]
    assert [o["id"] for o in out] == [int(i) for i in ids]
    assert set(out[0]) == {"id", "SageMakerOutput"}


def test_poison_records_are_listed_and_the_other_files_finish(trained, tmp_path):
    X, _ = make_classification(300, 8, seed=7)
    _csv(tmp_path / "in" / "good.csv", X)
    bad = _csv(tmp_path / "in" / "bad.csv", X)
    lines = bad.read_text().splitlines()
    lines[56] = "1,2,abc,4,5,6,7,8"         # line 57: not a number
    lines[199] = "1,2,3"                      # line 200: three features of eight
    bad.write_text("\n".join(lines) + "\n")
    t = trained.transformer(instance_count=1, instance_type="local",
                            output_path=str(tmp_path / "out"), accept="text/csv",
                            assemble_with="Line")
    with pytest.raises(MLCoreError, match=r"1 of 2 files failed; first: bad.csv: 1 of 300 records "
                                          r"failed \(first at line 57"):
        t.transform(str(tmp_path / "in"), content_type="text/csv", split_type="Line", logs=False)
    assert len(_lines(tmp_path / "out" / "good.csv.out")) == 300
    assert not (tmp_path / "out" / "bad.csv.out").exists()
    errors = [json.loads(x) for x in _lines(tmp_path / "out" / "bad.csv.errors.jsonl")]
    assert errors[0]["line"] == 57 and "numbers separated by commas" in errors[0]["reason"]
    d = t.describe()
    assert d["TransformJobStatus"] == "Failed" and d["FailedFiles"][0]["rel"] == "bad.csv"

    # With a tolerance, both bad lines are listed, the file commits, and its lines stay aligned.
    spec = TransformJob(model={"training_job": trained.latest_training_job.name},
                        data=str(bad), output_path=str(tmp_path / "tol"), content_type="text/csv",
                        split_type="Line", accept="text/csv", assemble_with="Line",
                        max_error_rate=0.01)
    rec = transform.run(spec, logs=False, say=lambda *_: None)
    assert rec.status == Status.COMPLETED, rec.FailureReason
    out = _lines(tmp_path / "tol" / "bad.csv.out")
    assert len(out) == 300 and out[56] == "" and out[199] == "" and out[0] != ""
    errors = [json.loads(x) for x in _lines(tmp_path / "tol" / "bad.csv.errors.jsonl")]
    assert [e["line"] for e in errors] == [57, 200]
    assert "needs 8 features; got 3" in errors[1]["reason"]
    assert rec.Progress["errors"] == 2 and rec.Progress["records"] == 300


def test_bad_jobs_are_refused_before_any_work(trained, tmp_path, registered_pending):
    X, _ = make_classification(20, 8, seed=8)
    data = str(_csv(tmp_path / "in" / "x.csv", X))
    job = trained.latest_training_job.name
    out = tmp_path / "never"
    base = dict(model={"training_job": job}, data=data, output_path=str(out), split_type="Line",
                content_type="text/csv")
    cases = [
        (dict(data=str(tmp_path / "missing")), "does not exist"),
        (dict(content_type="text/plain"), "unsupported content type 'text/plain'"),
        (dict(content_type="application/x-parquet", split_type="Line"),
         "split_type Line does not fit content_type application/x-parquet"),
        (dict(split_type="TFRecord"), "TFRecord is not supported"),
        (dict(accept="application/x-npy"), "accept application/x-npy is not answered"),
        (dict(model={"training_job": "no-such-job"}), "no training job named 'no-such-job'"),
        (dict(model={"name": registered_pending.model_package_group_name,
                      "version": registered_pending.version}), "is PendingManualApproval"),
        (dict(input_filter="$..x", join_source="Input"), "$..x"),
        (dict(split_type="None", join_source="Input"), "work per record; set split_type Line"),
        (dict(output_path="/proc/mlcore-cannot-write"), "cannot be written"),
    ]
    for change, words in cases:
        with pytest.raises(MLCoreError) as info:
            transform.run(TransformJob(**{**base, **change}), logs=False, say=lambda *_: None)
        assert words in str(info.value), (change, str(info.value))
        assert "Traceback" not in str(info.value)
    assert not out.exists()  # nothing was written
    with pytest.raises(SpecError, match="over max_payload"):  # one request per file: too big
        big = _csv(tmp_path / "big" / "x.csv", make_classification(20000, 8, seed=1)[0])
        transform.run(TransformJob(**{**base, "data": str(big), "split_type": None,
                                      "max_payload": 1}), logs=False, say=lambda *_: None)
    with pytest.raises(ValueError, match="Failed to fetch model information for nope"):
        Transformer("nope", 1, "local").transform(data)
    # The CLI says the same in one line.
    res = subprocess.run([sys.executable, "-m", "mlcore.cli", "transform", "--model", job,
                          "--data", str(tmp_path / "missing")], capture_output=True, text=True,
                         env={**os.environ}, timeout=120)
    assert res.returncode != 0 and "does not exist" in res.stderr and "Traceback" not in res.stderr


@pytest.fixture
def registered_pending(trained):
    import uuid

    return trained.register(model_package_group_name=f"tx-{uuid.uuid4().hex[:6]}")


def _pids(folder: Path) -> set[int]:
    return {int(p.name) for p in folder.iterdir()} if folder.exists() else set()


def _wait_for(predicate, timeout: float, what: str):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _check_exactly_once(out: Path, inputs: dict[str, int]) -> None:
    for rel, n in inputs.items():
        lines = _lines(out / f"{rel}.out")
        assert len(lines) == n, (rel, len(lines), n)


@pytest.mark.chaos
def test_killed_actor_and_killed_driver_lose_and_duplicate_nothing(ray_session, script_model,
                                                                  tmp_path):
    n = 40
    X, _ = make_classification(6 * n, 8, seed=9)
    inputs = {}
    for i in range(6):
        _csv(tmp_path / "in" / f"f{i}.csv", X[i * n:(i + 1) * n])
        inputs[f"f{i}.csv"] = n
    w = np.arange(1, 9) / 10
    expected = {f"f{i}.csv": X[i * n:(i + 1) * n].astype(np.float32).astype(float) @ w
                for i in range(6)}
    pace = tmp_path / "pace"
    pace.mkdir()
    model = {"model_data": str(script_model / "model"), "entry_point": "inference.py",
             "source_dir": str(script_model / "code"), "framework": "sklearn",
             "env": {"PACE_DIR": str(pace), "PACE_S": "0.05"}}
    # SingleRecord: one record per request, so each file takes a while.
    base = dict(model=model, data=str(tmp_path / "in"), content_type="text/csv",
                split_type="Line", accept="text/csv", assemble_with="Line", strategy="SingleRecord",
                max_concurrent_transforms=2, instance_type="ml.m5.large")

    # 1. SIGKILL a scoring actor mid-run: Ray Data restarts it, the shard is scored again.
    spec = TransformJob(**base, output_path=str(tmp_path / "out1"), name="tx-chaos-actor")
    plan = transform.prepare(spec)
    done: dict = {}
    import threading

    th = threading.Thread(target=lambda: done.update(rec=transform.execute(
        plan, logs=False, say=lambda *_: None)))
    th.start()
    victim = _wait_for(lambda: next(iter(_pids(pace)), None), 120, "a scoring actor")
    os.kill(victim, signal.SIGKILL)
    th.join(timeout=300)
    assert done["rec"].status == Status.COMPLETED, done["rec"].FailureReason
    _check_exactly_once(tmp_path / "out1", inputs)
    for rel, values in expected.items():
        np.testing.assert_allclose(np.array(_lines(tmp_path / "out1" / f"{rel}.out"), dtype=float),
                                   values, atol=2e-5)

    # 2. A stop: the actors finish their request, committed files stay whole, the job Stopped.
    slow = SKLearnModel(str(script_model / "model"), entry_point="inference.py",
                        source_dir=str(script_model / "code"),
                        env={"PACE_DIR": str(pace), "PACE_S": "0.2"})
    t = slow.transformer(instance_count=1, instance_type="ml.m5.large",
                         output_path=str(tmp_path / "stopped"), accept="text/csv",
                         assemble_with="Line", strategy="SingleRecord")
    seen = _pids(pace)
    t.transform(str(tmp_path / "in"), content_type="text/csv", split_type="Line", wait=False,
                logs=False)
    _wait_for(lambda: _pids(pace) - seen, 120, "the stopped job's actors")
    t.stop_transform_job()
    assert t.describe()["TransformJobStatus"] == "Stopped"
    for p in (tmp_path / "stopped").glob("*.out"):
        assert len(_lines(p)) == n, p
    assert len(list((tmp_path / "stopped").glob("*.out"))) < 6

    # 3. SIGKILL the driver (`mlcore transform` in its own process, its own local Ray) after
    # some files are committed; no .out is ever partial; the re-run scores only the rest.
    home = tmp_path / "home"
    spec_file = tmp_path / "job.yaml"
    import yaml

    spec_file.write_text(yaml.safe_dump({"kind": "TransformJob", **base,
                                         "output_path": str(tmp_path / "out2")}))
    env = {**os.environ, "MLCORE_HOME": str(home), "MLCORE_NUM_CPUS": "2",
           "MLFLOW_TRACKING_URI": f"sqlite:///{home}/mlflow.db", "PYTHONPATH": str(ROOT)}
    env.pop("MLCORE_RECORDS_URI", None)
    cmd = [sys.executable, "-m", "mlcore.cli", "transform", str(spec_file), "--job-name",
           "tx-chaos-driver", "--quiet"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out2 = tmp_path / "out2"
    try:
        _wait_for(lambda: len(list(out2.glob("*.out"))) >= 1, 240, "a committed file")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    first = {p.name for p in out2.glob("*.out")}
    for p in out2.glob("*.out"):  # whatever was visible at the kill is whole
        assert len(_lines(p)) == n, p
    before = {p.name: p.stat().st_mtime_ns for p in out2.glob("*.out")}
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    _check_exactly_once(out2, inputs)
    for name, mtime in before.items():  # committed files were kept, not scored again
        assert (out2 / name).stat().st_mtime_ns == mtime
    assert len(first) < 6  # the kill happened while work remained
    assert not list(out2.rglob("*.part")) and not (out2 / ".mlcore-transform").exists()
    from mlcore.records import RecordStore

    record = RecordStore(f"sqlite:///{home}/records.db").get("TransformJob", "tx-chaos-driver")
    assert record["TransformJobStatus"] == "Completed" and record["Resumes"] == 1
    assert record["Progress"]["records"] == 6 * n - sum(n for _ in first)
