"""SageMaker's first-party algorithms through the whole platform, one config each
(configs/algorithms/*.yaml): each trains as its file says (two workers) and again on one worker
with results within tolerance of each other, each tunes with its objective reaching the tuner,
and all serve from one endpoint (a variant each) in every answer format their containers give,
and score a batch transform."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
import requests
from scipy import stats

import algorithms
from mlcore import _recordio, _storage
from mlcore.records import Status
from mlcore.services import endpoints, training, transform, tuning
from mlcore.specs import Endpoint, TrainingJob, TransformJob, TuningJob, load_file

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[1]
CONFIGS = {load_file(p).algorithm: p for p in sorted((ROOT / "configs/algorithms").glob("*.yaml"))}
# The keys of each answer (SageMaker's), and the JSON answer's top-level key
KEYS = {"linear-learner": {"score", "predicted_label"}, "kmeans": {"closest_cluster", "distance_to_cluster"},
        "pca": {"projection"}, "randomcutforest": {"score"},
        "factorization-machines": {"score"}, "knn": {"predicted_label"}}
TOP = {"pca": "projections", "randomcutforest": "scores"}
# What the tuning jobs search (one range each, two trials)
RANGES = {"linear-learner": {"wd": {"type": "Continuous", "min_value": 1e-6, "max_value": 1e-2,
                                    "scaling_type": "Logarithmic"}},
          "kmeans": {"epochs": {"type": "Integer", "min_value": 1, "max_value": 3}},
          "pca": {"num_components": {"type": "Integer", "min_value": 1, "max_value": 3}},
          "randomcutforest": {"num_samples_per_tree": {"type": "Integer", "min_value": 64,
                                                       "max_value": 256}},
          "factorization-machines": {"num_factors": {"type": "Integer", "min_value": 2, "max_value": 8}},
          "knn": {"k": {"type": "Integer", "min_value": 1, "max_value": 10}}}
MAXIMIZED = ("accuracy", "auc", "f1", "precision", "recall", "ratio")


def _rows(spec: TrainingJob, algo) -> tuple[np.ndarray, np.ndarray | None]:
    """The second channel's rows (test or validation): features, and labels when it has them."""
    name = next(n for n in spec.inputs if n != "train")
    data = np.loadtxt(_storage.local_path(spec.inputs[name].uri), delimiter=",", ndmin=2)
    if name in algo.unlabelled:
        return data.astype(np.float32), None
    return data[:, 1:].astype(np.float32), data[:, 0]


def _train(spec: TrainingJob, name: str):
    record = training.execute(training.prepare(spec, name, name), logs=False)
    assert record.status == Status.COMPLETED, (name, record.FailureReason)
    algo = algorithms.get(spec.algorithm)
    with tempfile.TemporaryDirectory() as tmp:
        return record, algo.load_model(_storage.fetch_committed(record.ModelArtifacts, tmp))


@pytest.fixture(scope="module")
def jobs(ray_session):
    """Per algorithm: its config's job (two workers), the same on one worker, and the rows
    of its second channel."""
    out = {}
    for name, path in CONFIGS.items():
        spec = load_file(path)
        algo = algorithms.get(name)
        two = _train(spec, f"fp-{name}-2")
        one = _train(spec.model_copy(update={"instance_count": 1}), f"fp-{name}-1")
        out[name] = {"spec": spec, "algo": algo, 2: two, 1: one, "rows": _rows(spec, algo)}
    return out


def test_every_first_party_algorithm_has_a_config():
    assert set(CONFIGS) == set(KEYS) <= set(algorithms.available())


def _agree(name: str, field: str, a: np.ndarray, b: np.ndarray) -> str | None:
    """Why two runs' answers differ beyond tolerance, or None."""
    if field == "closest_cluster":
        return None  # cluster ids are arbitrary; their distances are compared
    if field == "predicted_label":
        share = float(np.mean(a == b))
        return None if share >= 0.9 else f"{share:.2%} of predicted labels agree (< 90%)"
    if field == "distance_to_cluster":
        ratio = float(a.mean() / b.mean())
        return None if abs(ratio - 1) <= 0.05 else f"mean distance ratio {ratio:.3f} (not within 5%)"
    if field == "projection":
        scale = float(np.abs(b).max())
        gap = float(np.abs(a - b).max())
        return None if gap <= 1e-3 * scale else f"projections differ by {gap:.3g} (scale {scale:.3g})"
    rho = stats.spearmanr(a.ravel(), b.ravel()).statistic
    return None if rho >= 0.9 else f"{field} rank correlation {rho:.3f} (< 0.9)"


def test_two_workers_train_what_one_worker_trains(jobs):
    problems = {}
    for name, job in jobs.items():
        X, _ = job["rows"]
        (rec2, m2), (rec1, m1) = job[2], job[1]
        assert rec2.InstanceCount == 2 and rec1.InstanceCount == 1
        out2, out1 = job["algo"].predict(m2, X), job["algo"].predict(m1, X)
        assert set(out2.dtype.names) >= KEYS[name], (name, out2.dtype.names)
        for field in out2.dtype.names:
            why = _agree(name, field, out2[field], out1[field])
            if why:
                problems[f"{name}.{field}"] = why
        objective = job["algo"].default_objective(dict(job["spec"].hyperparameters))
        assert objective in rec2.FinalMetrics and objective in rec1.FinalMetrics, (name, rec2.FinalMetrics)
    assert not problems, problems


def test_each_algorithm_tunes_on_its_objective(jobs):
    for name, job in jobs.items():
        spec = job["spec"]
        objective = job["algo"].default_objective(dict(spec.hyperparameters))
        maximize = any(word in objective for word in MAXIMIZED)
        estimator = spec.model_dump(mode="json", exclude_none=True,
                                    include={"algorithm", "hyperparameters", "inputs", "instance_type"})
        tuning_spec = TuningJob(estimator={**estimator, "instance_count": 1},
                                objective_metric_name=objective,
                                objective_type="Maximize" if maximize else "Minimize",
                                hyperparameter_ranges=RANGES[name], max_jobs=2, max_parallel_jobs=2,
                                strategy="Random", random_seed=3)
        record = tuning.run(tuning_spec, f"fp-tune-{name}", logs=False, say=lambda *a: None)
        assert record.HyperParameterTuningJobStatus == "Completed", (name, record.FailureReason)
        assert record.TrainingJobStatusCounters.get("Completed") == 2, (name, record.TrainingJobStatusCounters)
        best = record.BestTrainingJob
        assert best["ObjectiveMetricName"] == objective and np.isfinite(best["FinalObjectiveValue"]), best


def _post(url: str, variant: str, body: bytes, content_type: str, accept: str):
    return requests.post(url, data=body, timeout=60, headers={
        "Content-Type": content_type, "Accept": accept, "X-Amzn-SageMaker-Target-Variant": variant})


def test_one_endpoint_serves_every_algorithm_in_each_format_and_a_transform_scores(jobs, tmp_path):
    variants = [{"variant_name": name.replace("-", ""), "model": {"training_job": f"fp-{name}-2"},
                 "serverless_config": {"memory_size_in_mb": 1024, "max_concurrency": 1}}
                for name in jobs]
    spec = Endpoint(endpoint_name="first-party", variants=variants)
    described = endpoints.deploy(spec)
    url = f"{described['Url']}/invocations"
    try:
        for name, job in jobs.items():
            variant, (X, _) = name.replace("-", ""), job["rows"]
            X = X[:5]
            expected = job["algo"].predict(job[2][1], X)
            csv = "\n".join(",".join(f"{v:.9g}" for v in row) for row in X).encode()
            answer = _post(url, variant, csv, "text/csv", "application/json")
            assert answer.status_code == 200, (name, answer.text)
            items = answer.json()[TOP.get(name, "predictions")]
            assert len(items) == 5 and set(items[0]) == set(expected.dtype.names), (name, items[0])
            for field in expected.dtype.names:
                assert np.allclose([i[field] for i in items], expected[field], rtol=1e-4,
                                   atol=1e-5), (name, field)
            if "predicted_label" in items[0] and name != "knn":
                assert all(isinstance(i["predicted_label"], int) for i in items), items
            # RecordIO-protobuf in and out: a Record per row, the answer's keys as labels
            answer = _post(url, variant, _recordio.dense_bytes(X), "application/x-recordio-protobuf",
                           "application/x-recordio-protobuf")
            assert answer.status_code == 200, (name, answer.text)
            records = _recordio.read_records(answer.content)
            assert len(records) == 5 and set(records[0]["label"]) == set(expected.dtype.names)
            first = expected.dtype.names[0]
            assert np.allclose([r["label"][first]["values"].ravel()[0] for r in records],
                               expected[first].reshape(5, -1)[:, 0], rtol=1e-4, atol=1e-5)
            lines = _post(url, variant, csv, "text/csv", "application/jsonlines").text.splitlines()
            assert [set(json.loads(line)) for line in lines] == [set(expected.dtype.names)] * 5
            rows = _post(url, variant, csv, "text/csv", "text/csv").text.splitlines()
            assert len(rows) == 5
            wrong = _post(url, variant, b"1,2", "text/csv", "application/json")
            assert wrong.status_code == 422 and "features" in wrong.json()["error"], wrong.text
    finally:
        endpoints.delete(spec.endpoint_name)

    job = jobs["kmeans"]
    data = tmp_path / "batch.csv"
    np.savetxt(data, job["rows"][0], delimiter=",", fmt="%.6f")
    result = transform.run(TransformJob(model={"training_job": "fp-kmeans-2"}, data=str(data),
                                        content_type="text/csv", split_type="Line",
                                        accept="application/jsonlines", assemble_with="Line",
                                        output_path=str(tmp_path / "out"), instance_type="local"),
                           None, logs=False, say=lambda *a: None)
    assert transform.succeeded(result), result.FailureReason
    lines = (tmp_path / "out" / "batch.csv.out").read_text().splitlines()
    assert len(lines) == len(job["rows"][0])
    assert set(json.loads(lines[0])) == {"closest_cluster", "distance_to_cluster"}
