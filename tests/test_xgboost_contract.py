"""The built-in XGBoost's SageMaker contract, training side: the hyperparameter table of the
XGBoost container (aws/sagemaker-xgboost-container, hyperparameter_validation.py) mapped onto
xgboost 3.2, the tuning objective's metric, content types (data_utils.py), SageMaker's
RecordIO-protobuf (sagemaker/amazon/common.py) and the ``xgboost-model`` artifact."""

from __future__ import annotations

import io
import os
import tempfile
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import xgboost as xgb
from conftest import make_classification

from algorithms import _xgboost
from algorithms._data import CSV, LIBSVM, PARQUET, RECORDIO, canonical, read_shard_weighted
from mlcore import AlgorithmError, DataError, SpecError, _recordio

# Every name of the container's table (branches 1.0-1 to 3.0-5), as SageMaker passes them.
SAGEMAKER_VALUES = {
    "num_round": "3", "csv_weights": "0", "early_stopping_rounds": "2", "booster": "dart",
    "silent": "1", "verbosity": "1", "nthread": "1", "eta": "0.3", "gamma": "0",
    "max_depth": "3", "min_child_weight": "1", "max_delta_step": "0", "subsample": "1",
    "colsample_bytree": "1", "colsample_bylevel": "1", "colsample_bynode": "1", "lambda": "1",
    "alpha": "0", "tree_method": "hist", "sketch_eps": "0.03", "scale_pos_weight": "1",
    "updater": "grow_quantile_histmaker,prune", "dsplit": "row", "refresh_leaf": "1",
    "process_type": "default", "grow_policy": "depthwise", "max_leaves": "0", "max_bin": "256",
    "predictor": "auto", "monotone_constraints": "(1,0,0,0)",
    "interaction_constraints": "[[0,1],[2]]", "sample_type": "uniform",
    "normalize_type": "tree", "rate_drop": "0", "one_drop": "0", "skip_drop": "0",
    "lambda_bias": "0", "tweedie_variance_power": "1.5", "objective": "binary:logistic",
    "base_score": "0.5", "_tuning_objective_metric": "validation:auc", "eval_metric": "logloss",
    "seed": "7", "num_parallel_tree": "1", "save_model_on_termination": "false",
    "aft_loss_distribution": "normal", "aft_loss_distribution_scale": "1",
    "single_precision_histogram": "false", "deterministic_histogram": "true",
    "sampling_method": "uniform", "prob_buffer_row": "2", "use_dask_gpu_training": "false",
    "gpu_id": "0",
}


def _tiny(n=80, f=4, seed=0):
    X, y = make_classification(n, f, seed=seed)
    return xgb.DMatrix(X, label=y)


def _train_warnings(params, dmat, rounds=2, **kw) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        xgb.train(params, dmat, rounds, evals=[(dmat, "validation")], verbose_eval=False, **kw)
    return [str(w.message) for w in caught]


# ---- the hyperparameter table ----------------------------------------------------------

def test_every_sagemaker_hyperparameter_is_accepted_and_xgboost_3_takes_the_result():
    notes = []
    params, rounds, early = _xgboost.xgboost_params(SAGEMAKER_VALUES, notes=notes)
    assert (rounds, early) == (3, 2)
    dropped = {"silent", "dsplit", "predictor", "lambda_bias", "sketch_eps",
               "single_precision_histogram", "deterministic_histogram", "gpu_id", "prob_buffer_row",
               "use_dask_gpu_training"}
    assert not dropped & set(params), dropped & set(params)
    assert sorted(n.split("=")[0] for n in notes) == sorted(dropped)  # one line each
    assert params["eval_metric"] == ["auc", "logloss"]  # the tuning objective's metric added
    caught = _train_warnings(params, _tiny())  # no xgboost error
    unused = " ".join(w for w in caught if "not used" in w)
    for name in dropped | set(_xgboost._JOB):
        assert f'"{name}"' not in unused, (name, unused)


def test_aliases_are_the_sagemaker_names():
    params, _, _ = _xgboost.xgboost_params({"num_round": 1, "learning_rate": "0.1", "reg_alpha": 2,
                                            "reg_lambda": 3, "min_split_loss": 0.5})
    assert {k: params[k] for k in ("eta", "alpha", "lambda", "gamma")} == {
        "eta": 0.1, "alpha": 2.0, "lambda": 3.0, "gamma": 0.5}


@pytest.mark.parametrize("gpu,device", [(False, None), (True, "cuda")])
def test_gpu_hist_maps_to_hist_and_the_device(gpu, device):
    notes = []
    params, _, _ = _xgboost.xgboost_params({"num_round": 1, "tree_method": "gpu_hist"}, gpu=gpu,
                                           notes=notes)
    assert params["tree_method"] == "hist" and params.get("device") == device
    assert len(notes) == 1 and "gpu_hist" in notes[0]


def test_silent_is_verbosity_zero_and_removed_updaters_are_dropped():
    notes = []
    params, _, _ = _xgboost.xgboost_params(
        {"num_round": 1, "silent": 1, "updater": "grow_skmaker,prune"}, notes=notes)
    assert params["verbosity"] == 0 and "silent" not in params
    assert "updater" not in params  # prune alone cannot grow trees: tree_method decides
    assert any("grow_skmaker" in n for n in notes)
    _train_warnings(params, _tiny())
    params, _, _ = _xgboost.xgboost_params({"num_round": 1, "updater": "grow_skmaker,grow_colmaker,prune"})
    assert params["updater"] == "grow_colmaker,prune"
    _train_warnings(params, _tiny())


@pytest.mark.parametrize("hp,name,words", [
    ({"max_detph": 3}, "max_detph", "did you mean 'max_depth'"),
    ({"learning_rat": 0.1}, "learning_rat", "did you mean 'learning_rate'"),
    ({"eta": 1.5}, "eta", "eta must be <= 1.0 (range [0, 1]); got 1.5"),
    ({"subsample": 0}, "subsample", "range (0, 1]"),
    ({"tweedie_variance_power": 2}, "tweedie_variance_power", "range (1, 2)"),
    ({"seed": 2**31}, "seed", "range (-2147483648, 2147483647)"),
    ({"csv_weights": 2}, "csv_weights", "range [0, 1]"),
    ({"booster": "gbm"}, "booster", "must be one of gbtree, gblinear, dart"),
    ({"updater": "grow_colmaker,grow_histmaker"}, "updater", "only one tree grow updater"),
    ({"booster": "gblinear", "updater": "prune"}, "updater", "shotgun, coord_descent"),
    ({"monotone_constraints": "(1,2)", "tree_method": "hist"}, "monotone_constraints",
     "one of -1, 0, 1"),
    ({"monotone_constraints": "(1,0)"}, "monotone_constraints", "needs tree_method exact or hist"),
    ({"interaction_constraints": "[[0],[-1]]", "tree_method": "hist"},
     "interaction_constraints", "range [0, +inf)"),
    ({"eval_metric": "auc"}, "eval_metric", "metric 'auc' needs a binary: or rank: objective"),
    ({"eval_metric": "rmse,error@x"}, "eval_metric", "eval_metric error@x unknown"),
    ({"_tuning_objective_metric": "validation:acc"}, "_tuning_objective_metric",
     "'validation:<metric>'"),
    ({"save_model_on_termination": "maybe"}, "save_model_on_termination", "must be bool"),
    ({"eta": 0.1, "learning_rate": 0.2}, "learning_rate", "both set"),
])
def test_bad_values_name_the_range_or_the_closest_name(hp, name, words):
    with pytest.raises(AlgorithmError) as info:
        _xgboost.xgboost_params({"num_round": 1, **hp})
    problems = dict(info.value.fields["problems"])
    assert name in problems and words in problems[name], problems


def test_monotone_constraints_are_parsed_without_eval():
    with pytest.raises(AlgorithmError, match="tuple of integers"):
        _xgboost.xgboost_params({"num_round": 1, "tree_method": "hist",
                                 "monotone_constraints": "__import__('os').getpid()"})


# ---- metrics --------------------------------------------------------------------------

def test_tuning_objective_metric_is_reported_without_eval_metric():
    hp = {"num_round": 2, "objective": "binary:logistic", "_tuning_objective_metric": "validation:auc"}
    assert _xgboost.metric_names(hp, ["train", "validation"]) == ["train:auc", "validation:auc"]
    assert _xgboost.default_objective(hp) == "validation:auc"
    params, _, _ = _xgboost.xgboost_params(hp)
    assert params["eval_metric"] == ["auc"]
    # with eval_metric: the union, sorted, as the container's get_union_metrics
    both = {**hp, "eval_metric": "logloss,error"}
    assert _xgboost.metric_names(both, ["validation"]) == [
        "validation:auc", "validation:error", "validation:logloss"]


@pytest.mark.parametrize("objective", _xgboost.OBJECTIVES)
def test_declared_default_metric_is_what_xgboost_reports(objective):
    hp = {"num_round": 1, "objective": objective}
    if objective.startswith("multi:"):
        hp["num_class"] = 2
    params, _, _ = _xgboost.xgboost_params(hp)
    X, y = make_classification(60, 4, seed=4)
    dmat = xgb.DMatrix(X, label=y + (1 if objective in ("reg:gamma", "survival:cox") else 0))
    if objective.startswith("rank:"):
        dmat.set_group([30, 30])
    if objective == "survival:aft":
        dmat.set_float_info("label_lower_bound", y + 1)
        dmat.set_float_info("label_upper_bound", y + 2)
    log = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        xgb.train(params, dmat, 1, evals=[(dmat, "validation")], evals_result=log, verbose_eval=False)
    assert _xgboost.metric_names(hp, ["validation"]) == [f"validation:{m}" for m in log["validation"]]


def test_container_defined_metrics_are_computed_and_reported():
    X, y = make_classification(200, 4, seed=2)
    dmat = xgb.DMatrix(X, label=y)
    hp = {"num_round": 3, "objective": "binary:logistic", "eval_metric": "accuracy,f1_binary"}
    params, rounds, _ = _xgboost.xgboost_params(hp)
    v = _xgboost._validated(hp)
    log = {}
    booster = xgb.train(params, dmat, rounds, evals=[(dmat, "validation")], evals_result=log,
                        custom_metric=_xgboost._custom_metric(v), verbose_eval=False)
    assert [f"validation:{m}" for m in log["validation"]] == _xgboost.metric_names(hp, ["validation"])
    assert list(log["validation"]) == ["logloss", "accuracy", "f1_binary"]  # default metric too
    accuracy = ((booster.predict(dmat) > 0.5) == y).mean()
    assert log["validation"]["accuracy"][-1] == pytest.approx(accuracy)


def test_early_stopping_watches_the_tuning_metric_on_validation():
    v = _xgboost._validated({"num_round": 50, "objective": "binary:logistic", "eval_metric": "logloss",
                             "_tuning_objective_metric": "validation:auc", "early_stopping_rounds": 3})
    stop = _xgboost._early_stopping(v, 3)
    assert (stop.metric_name, stop.data, stop.maximize) == ("auc", "validation", True)
    v = _xgboost._validated({"num_round": 5, "eval_metric": "rmse,mae"})
    assert (_xgboost._early_stopping(v, 2).metric_name, _xgboost._early_stopping(v, 2).maximize) == (
        "mae", False)


# ---- content types and data -----------------------------------------------------------

@pytest.mark.parametrize("spelling,kind", [
    ("csv", CSV), ("text/csv", CSV), ("text/csv; label_size=1", CSV), ("TEXT/CSV;charset=utf8", CSV),
    ("libsvm", LIBSVM), ("text/libsvm", LIBSVM), ("text/x-libsvm", LIBSVM),
    ("parquet", PARQUET), ("application/x-parquet", PARQUET),
    ("recordio-protobuf", RECORDIO), ("application/x-recordio-protobuf", RECORDIO),
])
def test_every_container_content_type_spelling(spelling, kind):
    assert canonical(spelling) == kind


def test_unreadable_content_types_are_refused_before_the_job(tmp_path):
    from mlcore.services.training._builtin import BuiltinJob
    from mlcore.specs import TrainingJob

    with pytest.raises(DataError, match="label_size must be 1"):
        canonical("text/csv; label_size=2")
    spec = TrainingJob(algorithm="xgboost", hyperparameters={"num_round": 1}, inputs={
        "train": {"uri": str(tmp_path / "t.json"), "content_type": "application/json"}})
    with pytest.raises(SpecError) as info:
        BuiltinJob.prepare(spec)
    field, message = info.value.problems[0]
    assert field == "inputs.train.content_type"
    assert "application/json" in message and "text/libsvm" in message and "recordio" in message


def _write_libsvm(path, X, y, weights=None):
    with open(path, "w") as f:
        for i, row in enumerate(X):
            head = f"{y[i]:g}" + (f":{weights[i]:g}" if weights is not None else "")
            f.write(" ".join([head] + [f"{j}:{v:.6g}" for j, v in enumerate(row) if v > 0]) + "\n")
    return str(path)


def test_libsvm_reads_like_xgboost_and_shards_rows(tmp_path):
    X, y = make_classification(41, 5, seed=3)
    w = np.linspace(0.5, 2, len(y)).astype(np.float32)
    path = _write_libsvm(tmp_path / "train.libsvm", X, y, w)
    parts = [read_shard_weighted(path, None, r, 2) for r in range(2)]  # ".libsvm": inferred
    assert [p[0].shape[0] for p in parts] == [20, 21]
    Xs = sp.vstack([p[0] for p in parts]).toarray()
    np.testing.assert_allclose(Xs, np.where(X > 0, X, 0)[:, :Xs.shape[1]], rtol=1e-5)
    np.testing.assert_array_equal(np.concatenate([p[1] for p in parts]), y)
    np.testing.assert_allclose(np.concatenate([p[2] for p in parts]), w, rtol=1e-5)
    with warnings.catch_warnings():  # the same file as xgboost's own (deprecated) text reader
        warnings.simplefilter("ignore")
        native = xgb.DMatrix(f"{path}?format=libsvm")
    np.testing.assert_allclose(native.get_data().toarray(), Xs, rtol=1e-6)


def test_bad_libsvm_names_the_line(tmp_path):
    p = tmp_path / "bad.libsvm"
    p.write_text("1 0:1.5 2:3\n0 1:x\n")
    with pytest.raises(DataError, match="line 2 is not libsvm"):
        read_shard_weighted(str(p), "libsvm", 0, 1)


def test_csv_weights_are_the_second_column(tmp_path):
    X, y = make_classification(30, 4, seed=5)
    w = np.arange(1, 31, dtype=np.float32)
    path = tmp_path / "train.csv"
    np.savetxt(path, np.column_stack([y, w, X]), delimiter=",", fmt="%.7g")
    config = {"hyperparameters": {"num_round": 1, "csv_weights": "1"},
              "channels": {"train": {"uri": str(path), "content_type": "text/csv"}}}
    dmat = _xgboost._load_channels(config, 0, 1)["train"]
    assert dmat.num_col() == 4
    np.testing.assert_array_equal(dmat.get_weight(), w)
    np.testing.assert_array_equal(dmat.get_label(), y)


# ---- RecordIO-protobuf ----------------------------------------------------------------

# sagemaker/amazon/record_pb2.py (SDK v2.257.6): record.proto, serialised by protoc.
SDK_RECORD_PROTO = (
    b'\n\x0crecord.proto\x12\x0baialgs.data"H\n\rFloat32Tensor\x12\x12\n\x06values\x18\x01 \x03'
    b'(\x02B\x02\x10\x01\x12\x10\n\x04keys\x18\x02 \x03(\x04B\x02\x10\x01\x12\x11\n\x05shape'
    b'\x18\x03 \x03(\x04B\x02\x10\x01"H\n\rFloat64Tensor\x12\x12\n\x06values\x18\x01 \x03(\x01B'
    b'\x02\x10\x01\x12\x10\n\x04keys\x18\x02 \x03(\x04B\x02\x10\x01\x12\x11\n\x05shape\x18\x03 '
    b'\x03(\x04B\x02\x10\x01"F\n\x0bInt32Tensor\x12\x12\n\x06values\x18\x01 \x03(\x05B\x02\x10'
    b'\x01\x12\x10\n\x04keys\x18\x02 \x03(\x04B\x02\x10\x01\x12\x11\n\x05shape\x18\x03 \x03('
    b'\x04B\x02\x10\x01",\n\x05Bytes\x12\r\n\x05value\x18\x01 \x03(\x0c\x12\x14\n\x0ccontent_ty'
    b'pe\x18\x02 \x01(\t"\xd3\x01\n\x05Value\x124\n\x0efloat32_tensor\x18\x02 \x01(\x0b2\x1a.ai'
    b'algs.data.Float32TensorH\x00\x124\n\x0efloat64_tensor\x18\x03 \x01(\x0b2\x1a.aialgs.data.'
    b'Float64TensorH\x00\x120\n\x0cint32_tensor\x18\x07 \x01(\x0b2\x18.aialgs.data.Int32TensorH'
    b'\x00\x12#\n\x05bytes\x18\t \x01(\x0b2\x12.aialgs.data.BytesH\x00B\x07\n\x05value"\xa9\x02'
    b'\n\x06Record\x123\n\x08features\x18\x01 \x03(\x0b2!.aialgs.data.Record.FeaturesEntry\x12-'
    b'\n\x05label\x18\x02 \x03(\x0b2\x1e.aialgs.data.Record.LabelEntry\x12\x0b\n\x03uid\x18\x03'
    b' \x01(\t\x12\x10\n\x08metadata\x18\x04 \x01(\t\x12\x15\n\rconfiguration\x18\x05 \x01(\t'
    b'\x1aC\n\rFeaturesEntry\x12\x0b\n\x03key\x18\x01 \x01(\t\x12!\n\x05value\x18\x02 \x01(\x0b'
    b'2\x12.aialgs.data.Value:\x028\x01\x1a@\n\nLabelEntry\x12\x0b\n\x03key\x18\x01 \x01(\t\x12'
    b'!\n\x05value\x18\x02 \x01(\x0b2\x12.aialgs.data.Value:\x028\x01B0\n com.amazonaws.aialgor'
    b'ithms.protoB\x0cRecordProtos'
)


@pytest.fixture(scope="module")
def sdk_record():
    """The SDK's Record message class, built from its own descriptor."""
    from google.protobuf import descriptor_pool, message_factory

    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(SDK_RECORD_PROTO)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("aialgs.data.Record"))


def _sdk_tensor(value, dtype):
    return {np.dtype(int): value.int32_tensor, np.dtype(float): value.float64_tensor,
            np.dtype("float32"): value.float32_tensor}[np.dtype(dtype)]


def _sdk_dense(Record, array, labels=None) -> bytes:
    """The SDK's write_numpy_to_dense_tensor."""
    f, record = io.BytesIO(), Record()
    for index, vector in enumerate(array):
        record.Clear()
        _sdk_tensor(record.features["values"], array.dtype).values.extend(vector)
        if labels is not None:
            _sdk_tensor(record.label["values"], labels.dtype).values.extend([labels[index]])
        _recordio._frame(f, record.SerializeToString())
    return f.getvalue()


def _sdk_sparse(Record, array, labels=None) -> bytes:
    """The SDK's write_spmatrix_to_sparse_tensor."""
    f, record, csr = io.BytesIO(), Record(), array.tocsr()
    for row_idx in range(csr.shape[0]):
        record.Clear()
        row, tensor = csr.getrow(row_idx), _sdk_tensor(record.features["values"], csr.dtype)
        tensor.values.extend(row.data)
        tensor.keys.extend(row.indices.astype(np.uint64))
        if labels is not None:
            _sdk_tensor(record.label["values"], labels.dtype).values.extend([labels[row_idx]])
        tensor.shape.extend([csr.shape[1]])
        _recordio._frame(f, record.SerializeToString())
    return f.getvalue()


@pytest.mark.parametrize("dtype,label_dtype", [("float32", "float64"), ("float64", "int64"),
                                               ("int64", "float32")])
def test_recordio_dense_matches_the_sdk_byte_for_byte(sdk_record, dtype, label_dtype):
    rng = np.random.default_rng(8)
    X = (rng.normal(size=(7, 4)) * 100).astype(dtype)
    y = rng.integers(-3, 3, size=7).astype(label_dtype)
    sdk = _sdk_dense(sdk_record, X, y)
    out = io.BytesIO()
    _recordio.write_dense(out, X, y)
    assert out.getvalue() == sdk
    features, labels = _recordio.to_arrays(sdk)
    np.testing.assert_allclose(features, X.astype(np.float32))
    np.testing.assert_allclose(labels, y.astype(np.float32))
    records = _recordio.read_records(io.BytesIO(sdk))
    assert records[0]["features"]["values"]["dtype"] == {"int64": "int32"}.get(dtype, dtype)


def test_recordio_sparse_matches_the_sdk_and_keeps_empty_rows(sdk_record):
    S = sp.csr_matrix(np.array([[0, 2.5, 0, 0, 0], [0, 0, 0, 0, 0], [1, 0, 0, 0, -3]], np.float32))
    y = np.array([1.0, 0.0, 1.0], np.float32)
    sdk = _sdk_sparse(sdk_record, S, y)
    out = io.BytesIO()
    _recordio.write_sparse(out, S, y)
    assert out.getvalue() == sdk
    features, labels = _recordio.to_arrays(sdk)
    np.testing.assert_array_equal(features, S.toarray())
    np.testing.assert_array_equal(labels, y)
    parsed = sdk_record()  # and the SDK's parser reads what mlcore writes
    parsed.ParseFromString(bytes(next(_recordio.frames(out.getvalue()))))
    assert list(parsed.features["values"].float32_tensor.keys) == [1]
    assert list(parsed.features["values"].float32_tensor.shape) == [5]


def test_recordio_without_labels_and_bad_bytes():
    X = np.eye(3, dtype=np.float32)
    features, labels = _recordio.to_arrays(_recordio.dense_bytes(X))
    assert labels is None and features.shape == (3, 3)
    good = _recordio.dense_bytes(X, np.ones(3))
    for bad, words in [(b"1,2,3,4,5\n", "bad magic"), (good[:-6], "truncated"),
                       (good[:10], "truncated")]:
        with pytest.raises(ValueError, match=words):  # a ValueError for request parsers
            _recordio.to_arrays(bad)
    with pytest.raises(DataError):
        _recordio.to_arrays(b"garbage!")


# ---- the artifact ---------------------------------------------------------------------

def test_model_file_loads_in_plain_xgboost(tmp_path):
    X, y = make_classification(100, 4, seed=6)
    booster = xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(X, label=y), 3)
    _xgboost.save_model(booster, str(tmp_path))
    plain = xgb.Booster()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # xgboost guesses the format of an extension-less name
        plain.load_model(str(tmp_path / "xgboost-model"))
    np.testing.assert_allclose(plain.predict(xgb.DMatrix(X)), booster.predict(xgb.DMatrix(X)))
    np.testing.assert_allclose(_xgboost.load_model(str(tmp_path)).inplace_predict(X),
                               booster.inplace_predict(X))


# ---- through the training service -----------------------------------------------------

def _model_file(job_name: str, into: str) -> str:
    from mlcore import _storage
    from mlcore.jobs import describe

    return os.path.join(_storage.fetch_committed(describe(job_name).ModelArtifacts, into),
                        "xgboost-model")


def _auc(y, p) -> float:
    from sklearn.metrics import roc_auc_score

    return roc_auc_score(y, p)


@pytest.mark.integration
def test_libsvm_and_recordio_jobs_train_and_save_xgboost_model(tmp_path, ray_session):
    from mlcore.sagemaker import Estimator, TrainingInput

    X, y = make_classification(1200, 5, seed=9)
    Xt, yt, Xv, yv = X[:1000], y[:1000], X[1000:], y[1000:]
    held = sp.csr_matrix(np.where(Xv > 0, Xv, 0))  # what the libsvm files hold: zeros absent
    _write_libsvm(tmp_path / "train.libsvm", Xt, yt)
    _write_libsvm(tmp_path / "validation.libsvm", Xv, yv)
    for name, (a, b) in {"train": (Xt, yt), "validation": (Xv, yv)}.items():
        (tmp_path / f"{name}.pbr").write_bytes(_recordio.dense_bytes(a, b))
    hp = {"num_round": 8, "max_depth": 3, "objective": "binary:logistic",
          "_tuning_objective_metric": "validation:auc"}
    cases = {"libsvm": ("libsvm", "train.libsvm", "validation.libsvm", held),
             "recordio": ("application/x-recordio-protobuf", "train.pbr", "validation.pbr", Xv)}
    for label, (ctype, train, validation, features) in cases.items():
        est = Estimator(algorithm="xgboost", instance_type="local", instance_count=1,
                        hyperparameters=hp)
        est.fit({"train": TrainingInput(str(tmp_path / train), content_type=ctype),
                 "validation": TrainingInput(str(tmp_path / validation), content_type=ctype)},
                logs=False)
        metrics = est.training_job_analytics_metrics()
        assert metrics["validation:auc"] > 0.8, (label, metrics)
        with tempfile.TemporaryDirectory() as tmp:
            booster = xgb.Booster()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                booster.load_model(_model_file(est.latest_training_job.name, tmp))
        p = booster.predict(xgb.DMatrix(features))
        assert _auc(yv, p) == pytest.approx(metrics["validation:auc"], abs=1e-3), label
