"""SageMaker v2's first-party algorithm estimators (``sagemaker.PCA``, ``sagemaker.KMeans``,
...): v2's constructor arguments and validation, ``record_set`` (RecordIO shards and v2's
manifest on S3), ``fit`` on the RecordSet, ``create_model`` / ``deploy`` and predictions
returned as ``Record`` objects.

One case per algorithm; a case whose backend module (``algorithms/_<name>.py``) is not there
yet is skipped saying so. Endpoints are costly on 2 CPUs, so only PCA and Linear Learner are
deployed; the others check fit, ``create_model()`` and the hyperparameters sent.
"""

from __future__ import annotations

import importlib
import importlib.util
import io
import json
import time
from dataclasses import dataclass, field

import numpy as np
import pytest

from mlcore import sagemaker
from mlcore.errors import SpecError
from mlcore.sagemaker.amazon.amazon_estimator import RecordSet, upload_numpy_to_s3_shards
from mlcore.sagemaker.amazon.common import read_records

SEED = 11
V2_ARGS = {"role": "SageMakerRole", "instance_count": 1, "instance_type": "ml.c4.xlarge"}


def _blobs(n: int, d: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Three well separated clusters; the cluster index as the label."""
    centers = rng.normal(scale=6.0, size=(3, d))
    y = rng.integers(0, 3, size=n)
    return (centers[y] + rng.normal(size=(n, d))).astype(np.float32), y


def _binary(n: int, d: int, rng) -> tuple[np.ndarray, np.ndarray]:
    X = rng.normal(size=(n, d)).astype(np.float32)
    return X, (X @ np.linspace(1.0, -1.0, d) > 0).astype(np.float32)


def _planar(n: int, d: int, rng) -> tuple[np.ndarray, None]:
    """Rows near a plane: variances 25 and 4 along two directions, 0.01 elsewhere."""
    basis, _ = np.linalg.qr(rng.normal(size=(d, d)))
    scales = np.array([5.0, 2.0] + [0.1] * (d - 2))
    return ((rng.normal(size=(n, d)) * scales) @ basis.T + 3.0).astype(np.float32), None


def _check_pca(records, X_train, X_test, _y):
    proj = np.array([list(r.label["projection"].float32_tensor.values) for r in records])
    assert proj.shape == (len(X_test), 2)
    centred = X_train - X_train.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    expected = (X_test - X_train.mean(axis=0)) @ vt[:2].T
    for j in range(2):  # a component's sign is arbitrary
        assert abs(np.corrcoef(proj[:, j], expected[:, j])[0, 1]) > 0.99, j


def _check_binary(records, _X_train, _X_test, y_test):
    score = np.array([r.label["score"].float32_tensor.values[0] for r in records])
    label = np.array([r.label["predicted_label"].float32_tensor.values[0] for r in records])
    assert ((score >= 0) & (score <= 1)).all(), score
    assert set(label) <= {0.0, 1.0}
    assert (label == y_test).mean() >= 0.85, (label, y_test)


@dataclass
class Case:
    algorithm: str  # SageMaker's name
    backend: str  # algorithms/<backend>.py
    cls: type
    model_cls: type
    predictor_cls: type
    kwargs: dict
    data: object  # (n, d, rng) -> (X, y or None)
    sent: dict = field(default_factory=dict)  # hyperparameters fit must send, as strings
    check: object = None  # deployed: (records, X_train, X_test, y_test) -> None


CASES = [
    Case("pca", "_pca", sagemaker.PCA, sagemaker.PCAModel, sagemaker.PCAPredictor,
         {"num_components": 2}, _planar, {"num_components": "2", "mini_batch_size": "300"},
         _check_pca),
    Case("linear-learner", "_linear_learner", sagemaker.LinearLearner,
         sagemaker.LinearLearnerModel, sagemaker.LinearLearnerPredictor,
         {"predictor_type": "binary_classifier", "epochs": 5}, _binary,
         {"predictor_type": "binary_classifier", "mini_batch_size": "300"}, _check_binary),
    Case("kmeans", "_kmeans", sagemaker.KMeans, sagemaker.KMeansModel, sagemaker.KMeansPredictor,
         {"k": 3, "max_iterations": 20}, lambda n, d, rng: (_blobs(n, d, rng)[0], None),
         {"k": "3", "local_lloyd_max_iter": "20", "force_dense": "True"}),
    Case("randomcutforest", "_rcf", sagemaker.RandomCutForest, sagemaker.RandomCutForestModel,
         sagemaker.RandomCutForestPredictor, {"num_trees": 50, "num_samples_per_tree": 64},
         lambda n, d, rng: (rng.normal(size=(n, d)).astype(np.float32), None),
         {"num_trees": "50", "num_samples_per_tree": "64", "mini_batch_size": "1000"}),
    Case("factorization-machines", "_factorization_machines", sagemaker.FactorizationMachines,
         sagemaker.FactorizationMachinesModel, sagemaker.FactorizationMachinesPredictor,
         {"num_factors": 2, "predictor_type": "binary_classifier", "epochs": 3}, _binary,
         {"num_factors": "2", "predictor_type": "binary_classifier"}),
    Case("knn", "_knn", sagemaker.KNN, sagemaker.KNNModel, sagemaker.KNNPredictor,
         {"k": 5, "sample_size": 300, "predictor_type": "classifier"},
         lambda n, d, rng: _blobs(n, d, rng),
         {"k": "5", "sample_size": "300", "predictor_type": "classifier"}),
]


def _backend_gap(case: Case) -> str | None:
    """Why the built-in cannot run this case yet, or None."""
    if importlib.util.find_spec(f"algorithms.{case.backend}") is None:
        return f"algorithms/{case.backend}.py (the {case.algorithm} built-in) is not there yet"
    table = importlib.import_module(f"algorithms.{case.backend}").HYPERPARAMETERS
    unknown = sorted(set(case.cls(**case.kwargs).hyperparameters()) - set(table))
    if unknown:
        return (f"the {case.algorithm} built-in does not accept v2's hyperparameters {unknown} "
                f"yet (algorithms/{case.backend}.py HYPERPARAMETERS)")
    return None


@pytest.mark.integration
@pytest.mark.parametrize("case", CASES, ids=[c.algorithm for c in CASES])
def test_train_and_serve(case: Case, ray_session, bucket):
    gap = _backend_gap(case)
    if gap:
        pytest.skip(gap)
    rng = np.random.default_rng(SEED)
    print(f"seed {SEED}")
    X, y = case.data(350, 6, rng)
    X_train, X_test = X[:300], X[300:]
    y_train, y_test = (None, None) if y is None else (y[:300], y[300:])
    est = case.cls(**V2_ARGS, data_location=f"s3://{bucket}/record-sets",
                   base_job_name=f"v2-{case.algorithm}", **case.kwargs)

    records = est.record_set(X_train, labels=y_train)
    assert (records.num_records, records.feature_dim, records.channel) == (300, 6, "train")
    assert records.s3_data.startswith(f"s3://{bucket}/record-sets/{case.cls.__name__}-")
    started = time.perf_counter()
    est.fit(records)
    print(f"[{case.algorithm}] fit {time.perf_counter() - started:.1f}s")

    sent = est.hyperparameters()
    assert sent["feature_dim"] == "6"
    assert {k: sent.get(k) for k in case.sent} == case.sent
    attached = case.cls.attach(est.latest_training_job.name)  # v2 maps the names back
    assert attached.hyperparameters() == sent
    model = est.create_model()
    assert isinstance(model, case.model_cls) and model.predictor_cls is case.predictor_cls
    if case.check is None:
        return
    started = time.perf_counter()
    predictor = est.deploy(initial_instance_count=1, instance_type="ml.m4.xlarge")
    print(f"[{case.algorithm}] deploy {time.perf_counter() - started:.1f}s")
    try:
        assert isinstance(predictor, case.predictor_cls)
        answers = predictor.predict(X_test)
        assert len(answers) == len(X_test)
        case.check(answers, X_train, X_test, y_test)
    finally:
        predictor.delete_endpoint()


# ---- no training: the manifest, the shards, v2's argument checks ---------------------------

def _manifest(uri: str) -> list:
    return json.loads(sagemaker.s3.S3Downloader.read_bytes(uri))


def test_shards_and_manifest_as_v2_writes_them(bucket):
    X = np.arange(30, dtype=np.float32).reshape(10, 3)
    uri = upload_numpy_to_s3_shards(3, None, bucket, "sets/a", X, np.arange(10.0))
    assert uri == f"s3://{bucket}/sets/a/.amazon.manifest"
    manifest = _manifest(uri)
    assert manifest == [{"prefix": f"s3://{bucket}/sets/a/"}, "matrix_0.pbr", "matrix_1.pbr",
                        "matrix_2.pbr"]
    sizes, labels = [], []
    for name in manifest[1:]:
        body = sagemaker.s3.S3Downloader.read_bytes(f"s3://{bucket}/sets/a/{name}")
        shard = read_records(io.BytesIO(body))
        sizes.append(len(shard))
        labels += [r.label["values"].float64_tensor.values[0] for r in shard]
    assert sizes == [3, 3, 4] and labels == list(np.arange(10.0))  # the last shard takes the rest


def test_fit_refuses_a_manifest_its_prefix_does_not_match(bucket):
    est = sagemaker.PCA(**V2_ARGS, num_components=1, data_location=f"s3://{bucket}/rs/")
    records = est.record_set(np.ones((4, 2), np.float32))
    prefix = _manifest(records.s3_data)[0]["prefix"]
    sagemaker.s3.S3Uploader.upload_bytes(b"stray", prefix + "notes.txt")
    with pytest.raises(SpecError, match=r"holds files it does not list \(\['notes.txt'\]\)"):
        est.fit(records)


def test_mini_batch_size_defaults_as_v2():
    def prepared(est, records, mini_batch_size=None):
        est._prepare_for_training(records, mini_batch_size=mini_batch_size)
        return est.hyperparameters().get("mini_batch_size"), est.feature_dim

    train = RecordSet("s3://b/p/.amazon.manifest", num_records=2000, feature_dim=4)
    assert prepared(sagemaker.PCA(num_components=1, instance_count=2), train) == ("500", 4)
    assert prepared(sagemaker.LinearLearner(instance_count=4), train) == ("500", 4)
    assert prepared(sagemaker.KMeans(k=2), train) == (None, 4)  # v2's fit passes None
    assert prepared(sagemaker.RandomCutForest(), train) == ("1000", 4)
    assert prepared(sagemaker.KNN(k=1), train, 7) == ("7", 4)
    assert prepared(sagemaker.FactorizationMachines(num_factors=1), train) == (None, 4)
    with pytest.raises(ValueError, match="fixed mini_batch_size of 1000"):
        sagemaker.RandomCutForest()._prepare_for_training(train, mini_batch_size=10)
    test = RecordSet("s3://b/q/.amazon.manifest", 10, 4, channel="test")
    with pytest.raises(TypeError, match="takes a RecordSet"):
        sagemaker.PCA(num_components=1).fit("s3://b/p/")
    with pytest.raises(ValueError, match="Must provide train channel"):
        sagemaker.PCA(num_components=1)._prepare_for_training([test])


@pytest.mark.parametrize("make, message", [
    (lambda: sagemaker.KMeans(k=0), "Invalid hyperparameter value 0 for k. Expecting: An integer "
                                    "greater-than 1"),
    (lambda: sagemaker.KMeans(k=2, init_method="sorted"), "init_method"),
    (lambda: sagemaker.KMeans(k=2, tol=2), "local_lloyd_tol"),
    (lambda: sagemaker.PCA(num_components=0), "num_components"),
    (lambda: sagemaker.PCA(num_components=1, algorithm_mode="fast"), "algorithm_mode"),
    (lambda: sagemaker.LinearLearner(predictor_type="multiclass_classifier", num_classes=2),
     "'num_classes' should be set to a value greater than 2"),
    (lambda: sagemaker.LinearLearner(momentum=1.0), "momentum"),
    (lambda: sagemaker.RandomCutForest(num_trees=10), "An integer in \\[50, 1000\\]"),
    (lambda: sagemaker.FactorizationMachines(predictor_type="multiclass"), "predictor_type"),
    (lambda: sagemaker.KNN(k=1, dimension_reduction_type="sign"),
     '"dimension_reduction_target" is required'),
    (lambda: sagemaker.KNN(index_metric="L1"), "index_metric"),
    (lambda: sagemaker.PCA(num_components=1, data_location="/tmp/sets"),
     'Expecting an S3 URL beginning with "s3://"'),
])
def test_v2_validation_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_v2_arguments_and_hyperparameter_names():
    km = sagemaker.KMeans(**V2_ARGS, k=4, init_method="kmeans++", max_iterations=7, tol=0.5,
                          center_factor=2, eval_metrics=["msd", "ssd"],
                          enable_network_isolation=True, output_path="s3://out/put")
    assert km.hyperparameters() == {
        "force_dense": "True", "k": "4", "init_method": "kmeans++", "local_lloyd_max_iter": "7",
        "local_lloyd_tol": "0.5", "extra_center_factor": "2", "eval_metrics": '["msd", "ssd"]'}
    assert (km.k, km.max_iterations, km.instance_type) == (4, 7, "ml.c4.xlarge")
    km.k = None  # v2: None unsets a hyperparameter
    assert "k" not in km.hyperparameters()
    assert sagemaker.LinearLearner(use_bias=False, l1=0.1).hyperparameters() == {
        "use_bias": "False", "l1": "0.1"}
    assert km.training_image_uri() == sagemaker.image_uris.retrieve("kmeans", version="1")
    with pytest.raises(TypeError, match="'num_trees'"):
        sagemaker.RandomCutForest(num_tree=50)
    assert sagemaker.PCA().num_components is None  # set to None by __init__, as in v2
    est = sagemaker.PCA()
    with pytest.raises(AttributeError, match="mini_batch_size"):
        est.mini_batch_size  # noqa: B018 - never set: reading raises, as v2's does


def test_record_set_channels():
    from mlcore.sagemaker.amazon.amazon_estimator import FileSystemRecordSet

    channel = RecordSet("s3://b/p/", 10, 4, s3_data_type="S3Prefix", channel="test").data_channel()
    assert channel["test"].config["DataSource"]["S3DataSource"] == {
        "S3Uri": "s3://b/p/", "S3DataType": "S3Prefix"}
    fs = FileSystemRecordSet("fs-1", "EFS", "/mnt/efs/train", 10, 4).data_channel()["train"]
    assert (fs.s3_data, fs.content_type) == ("/mnt/efs/train", "application/x-recordio-protobuf")


def test_models_fix_image_and_predictor():
    model = sagemaker.KMeansModel("s3://b/model.tar.gz", role="r",
                                  predictor_cls=sagemaker.Predictor)
    assert model.predictor_cls is sagemaker.KMeansPredictor
    assert model.image_uri == sagemaker.image_uris.retrieve("kmeans", version="1")
    predictor = sagemaker.LinearLearnerPredictor("some-endpoint")
    assert predictor.content_type == "application/x-recordio-protobuf"
    assert "application/x-recordio-protobuf" in predictor.accept
