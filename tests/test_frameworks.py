"""Framework estimators and models (SDK v2's XGBoost, SKLearn, PyTorch, Model): the serving
containers' default inference handlers, the handler contract (input_fn's output reaches
predict_fn untouched, and so on; a handler's fault is a 500 naming it), and deploy() taking
every v2 keyword. One integration test trains with SKLearn and serves the model twice: as the
job's model, and brought back as a model.tar.gz."""

from __future__ import annotations

import io
import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

import serving
from mlcore.errors import AlgorithmError, EndpointError, SpecError
from mlcore.sagemaker import Model, Predictor, image_uris
from mlcore.sagemaker import _endpoints as facade_endpoints
from mlcore.sagemaker.pytorch import PyTorchModel
from mlcore.sagemaker.sklearn import SKLearn, SKLearnModel, SKLearnPredictor
from mlcore.sagemaker.xgboost import XGBoostModel

SCRIPTS = Path(__file__).resolve().parent / "scripts"
NPY, JSON, CSV = "application/x-npy", "application/json", "text/csv"


def _npy(a) -> bytes:
    out = io.BytesIO()
    np.save(out, np.asarray(a))
    return out.getvalue()


def _script(tmp_path, source: str, name: str = "inference.py") -> Path:
    code = tmp_path / "code"
    code.mkdir(exist_ok=True)
    (code / name).write_text(textwrap.dedent(source))
    return code


def _load(code, model_dir, framework, entry="inference.py"):
    from algorithms._script_model import ScriptModel

    return ScriptModel(entry, framework).load(str(code), str(model_dir))


@pytest.fixture(scope="module")
def iris():
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    return X.astype(np.float32), y.astype(np.float32)


@pytest.fixture
def sklearn_model(tmp_path, iris):
    import joblib
    from sklearn.linear_model import LogisticRegression

    X, y = iris
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    fitted = LogisticRegression(max_iter=500).fit(X, y)
    joblib.dump(fitted, model_dir / "model.joblib")
    code = _script(tmp_path, """
        import os, joblib
        def model_fn(model_dir):
            return joblib.load(os.path.join(model_dir, "model.joblib"))
    """)
    return fitted, code, model_dir


# --- the containers' default handlers -----------------------------------------------------

def test_sklearn_defaults_decode_predict_and_encode_by_content_type(sklearn_model, iris):
    fitted, code, model_dir = sklearn_model
    X, _ = iris
    m = _load(code, model_dir, "sklearn")
    want = fitted.predict(X[:5])
    body, media = m.handle(_npy(X[:5]), NPY, NPY)
    assert media == NPY and np.array_equal(np.load(io.BytesIO(body)), want)
    body, media = m.handle(json.dumps(X[:5].tolist()).encode(), JSON, JSON)
    assert media == JSON and json.loads(body) == want.tolist()
    # One CSV row stays one row (2-D), and CSV comes back one prediction a line.
    body, media = m.handle(b"5.1,3.5,1.4,0.2", CSV, CSV)
    assert media == CSV and body.decode().split() == [str(fitted.predict(X[:1])[0])]
    # No Accept (or */*): the toolkits' default, JSON.
    assert m.handle(_npy(X[:2]), NPY, "*/*")[1] == JSON
    with pytest.raises(AlgorithmError) as e:
        m.handle(b"x", "text/plain", JSON)
    assert e.value.fields["status"] == 415 and "input_fn refused the request" in e.value.message
    with pytest.raises(AlgorithmError) as e:
        m.handle(_npy(X[:2]), NPY, "text/html")
    assert e.value.fields["status"] == 406
    with pytest.raises(AlgorithmError) as e:
        m.handle(b"[[1, 2", JSON, JSON)
    assert e.value.fields["status"] == 400


def test_sklearn_and_xgboost_have_no_default_model_fn(tmp_path):
    code = _script(tmp_path, "def predict_fn(data, model):\n    return data\n")
    for framework, container in [("sklearn", "scikit-learn"), ("xgboost", "XGBoost")]:
        with pytest.raises(AlgorithmError, match=f"the {container}.* container has no default model_fn"):
            _load(code, tmp_path, framework)


def test_pytorch_defaults_serve_a_torchscript_model_without_a_script(tmp_path):
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Softmax(dim=-1)).eval()
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    torch.jit.save(torch.jit.script(net), str(model_dir / "model.pt"))
    from algorithms._script_model import ScriptModel

    m = ScriptModel(None, "pytorch").load(str(tmp_path), str(model_dir))
    X = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    with torch.no_grad():
        want = net(torch.from_numpy(X)).numpy()
    body, media = m.handle(json.dumps(X.tolist()).encode(), JSON, JSON)
    assert media == JSON
    np.testing.assert_allclose(json.loads(body), want, rtol=1e-6)
    body, media = m.handle(_npy(X), NPY, f"text/html, {NPY}")  # the first Accept it can encode
    assert media == NPY
    np.testing.assert_allclose(np.load(io.BytesIO(body)), want, rtol=1e-6)
    np.testing.assert_allclose(m.predict(None, X), want, rtol=1e-6)  # MLflow's pyfunc path
    (model_dir / "model.pt").unlink()
    with pytest.raises(AlgorithmError, match="exactly one .pt or .pth file"):
        ScriptModel(None, "pytorch").load(str(tmp_path), str(model_dir))


def test_xgboost_defaults_read_csv_and_libsvm_into_a_dmatrix(tmp_path, iris):
    import xgboost as xgb

    X, y = iris
    booster = xgb.train({"objective": "multi:softprob", "num_class": 3}, xgb.DMatrix(X, label=y), 5)
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    booster.save_model(str(model_dir / "xgboost-model.json"))
    code = _script(tmp_path, """
        import os, xgboost as xgb
        def model_fn(model_dir):
            booster = xgb.Booster()
            booster.load_model(os.path.join(model_dir, "xgboost-model.json"))
            return booster
    """)
    m = _load(code, model_dir, "xgboost")
    want = booster.predict(xgb.DMatrix(X[:3]))
    csv = "\n".join(",".join(f"{v:g}" for v in row) for row in X[:3]).encode()
    body, media = m.handle(csv, CSV, JSON)
    np.testing.assert_allclose(json.loads(body), want, rtol=1e-6)
    libsvm = "\n".join("0 " + " ".join(f"{i}:{v:g}" for i, v in enumerate(row))  # as trained
                       for row in X[:3]).encode()
    body, _ = m.handle(libsvm, "text/libsvm", NPY)
    np.testing.assert_allclose(np.load(io.BytesIO(body)), want, rtol=1e-6)
    with pytest.raises(AlgorithmError) as e:  # the container reads no JSON
        m.handle(b"[[1, 2, 3, 4]]", JSON, JSON)
    assert e.value.fields["status"] == 415


# --- the handler contract ------------------------------------------------------------------

CONTRACT = """
    import json, torch

    class Refused(Exception):  # what a script raises for a request it refuses
        status_code = 422

    def model_fn(model_dir):
        return torch.nn.Linear(2, 1)

    def input_fn(body, content_type):
        assert isinstance(body, str) and content_type == "application/json"
        rows = json.loads(body)
        if rows == "refuse":
            raise Refused("send rows of two numbers")
        return torch.tensor(rows, dtype=torch.float32)  # a tensor, as PyTorch scripts return

    def predict_fn(data, model):
        assert isinstance(data, torch.Tensor), type(data)  # untouched
        if data.shape[-1] != 2:
            raise ValueError(f"need 2 features, got {data.shape[-1]}")
        return {"n": len(data), "ok": True}  # not an array: output_fn gets it as it is

    def output_fn(prediction, accept):
        assert prediction == {"n": prediction["n"], "ok": True}
        return json.dumps(prediction), "application/vnd.custom+json"
"""


def test_each_handlers_output_reaches_the_next_untouched(tmp_path):
    m = _load(_script(tmp_path, CONTRACT), tmp_path, "pytorch")
    body, media = m.handle(b"[[1, 2], [3, 4]]", JSON, JSON)
    assert (json.loads(body), media) == ({"n": 2, "ok": True}, "application/vnd.custom+json")


def test_a_handlers_fault_is_a_500_naming_it_and_a_refusal_its_own_status(tmp_path, caplog):
    from mlcore.services.endpoints._deploy import _script_handle

    m = _load(_script(tmp_path, CONTRACT), tmp_path, "pytorch")
    with caplog.at_level("ERROR", logger="ray.serve"), pytest.raises(serving.BadRequest) as e:
        _script_handle(m, b"[[1, 2, 3]]", JSON, JSON)
    assert e.value.status == 500
    assert e.value.message == "predict_fn raised ValueError: need 2 features, got 3"
    assert "Traceback" in caplog.text and "need 2 features" in caplog.text  # the endpoint log
    with pytest.raises(serving.BadRequest) as e:
        _script_handle(m, b'"refuse"', JSON, JSON)
    assert (e.value.status, e.value.message) == (
        422, "input_fn refused the request: send rows of two numbers")


def test_transform_fn_alone_or_not_at_all(tmp_path):
    code = _script(tmp_path, """
        def model_fn(model_dir):
            return 2
        def transform_fn(model, body, content_type, accept):
            return f"{model * len(body)}", "text/plain"
    """)
    assert _load(code, tmp_path, "sklearn").handle(b"abc", "text/plain", JSON) == (b"6", "text/plain")
    (code / "inference.py").write_text((code / "inference.py").read_text()
                                       + "\ndef input_fn(b, c):\n    return b\n")
    with pytest.raises(AlgorithmError, match="transform_fn together with"):
        _load(code, tmp_path, "sklearn")


# --- Model: what it serves -----------------------------------------------------------------

def test_models_resolve_to_the_right_source(tmp_path):
    art = str(tmp_path / "model.tar.gz")
    ref = Model(image_uri=image_uris.retrieve("xgboost", "us-east-1", "1.7-1"), model_data=art)._ref
    assert (ref.model_data, ref.algorithm, ref.entry_point) == (art, "xgboost", None)
    ecr = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
    ref = Model(image_uri=ecr, model_data=art, entry_point="inference.py", env={"A": "1"})._ref
    assert (ref.framework, ref.entry_point, ref.env) == ("sklearn", "inference.py", {"A": "1"})
    assert XGBoostModel(art, entry_point="serve.py")._ref.framework == "xgboost"
    assert XGBoostModel(art)._ref.algorithm == "xgboost"  # no script: the algorithm mode
    assert PyTorchModel(art)._ref.framework == "pytorch"  # no script: TorchScript defaults
    with pytest.raises(SpecError, match="needs entry_point"):
        _ = Model(model_data=art)._ref
    with pytest.raises(TypeError, match="did you mean 'entry_point'"):
        Model(model_data=art, entry_pont="x.py")


def test_bring_your_own_sklearn_script_without_model_fn_is_refused_at_deploy(tmp_path):
    from mlcore.services.endpoints import _deploy

    code = _script(tmp_path, "def predict_fn(data, model):\n    return data\n")
    (tmp_path / "model").mkdir()
    ref = SKLearnModel(str(tmp_path / "model"), entry_point="inference.py",
                       source_dir=str(code))._ref
    with pytest.raises(EndpointError, match="defines no model_fn"):
        _deploy.resolve(ref)


# --- deploy(): every v2 keyword ------------------------------------------------------------

V2_DEPLOY_NONE = dict(  # v2's Model.deploy keywords (and Estimator.deploy's), not given
    accelerator_type=None, tags=None, kms_key=None, async_inference_config=None,
    volume_size=None, model_data_download_timeout=None, container_startup_health_check_timeout=None,
    inference_recommendation_id=None, explainer_config=None, accept_eula=None,
    endpoint_logging=False, resources=None, endpoint_type=None, managed_instance_scaling=None,
    inference_component_name=None, routing_config=None, model_reference_arn=None,
    inference_ami_version=None, update_endpoint=False, model_name=None, use_compiled_model=False)


@pytest.fixture
def deployed(monkeypatch):
    """The Endpoint specs deploy() would run (no Ray: the service call is replaced)."""
    specs = []
    monkeypatch.setattr(facade_endpoints.endpoints, "deploy", lambda spec, wait: specs.append(spec))
    return specs


def test_deploy_accepts_every_v2_keyword_as_none(tmp_path, deployed, caplog):
    model = SKLearnModel(str(tmp_path), entry_point="inference.py")
    predictor = model.deploy(initial_instance_count=None, instance_type=None, serializer=None,
                             deserializer=None, endpoint_name="fw-none", wait=True,
                             data_capture_config=None, serverless_inference_config=None,
                             **V2_DEPLOY_NONE)
    assert isinstance(predictor, SKLearnPredictor) and predictor.endpoint_name == "fw-none"
    (spec,) = deployed
    variant = spec.variants[0]
    assert (variant.instance_type, variant.initial_instance_count) == ("local", 1)
    assert variant.model.framework == "sklearn" and spec.batching.max_batch_size == 32
    # Values that mean nothing here are accepted and explained once; mlcore's fields apply.
    with caplog.at_level("INFO", logger="mlcore"):
        predictor = Model(model_data=str(tmp_path), entry_point="inference.py").deploy(
            endpoint_name="fw-some", tags=[{"Key": "k", "Value": "v"}], kms_key="key",
            volume_size=30, timeout_s=5.0)
    assert "Model.deploy(tags=...) accepted and not used" in caplog.text
    assert deployed[1].timeout_s == 5.0
    assert type(predictor) is Predictor  # no predictor_cls: the generic one


def test_deploy_refuses_async_and_misspelt_keywords(tmp_path, deployed):
    from mlcore.sagemaker import ModelPackage

    model = SKLearnModel(str(tmp_path), entry_point="inference.py")
    with pytest.raises(ValueError, match="async_inference_config needs to be a "
                                         "AsyncInferenceConfig object"):  # v2's words
        model.deploy(endpoint_name="fw-async", async_inference_config=object())
    with pytest.raises(TypeError, match="unexpected keyword argument 'instance_typ'; did you "
                                        "mean 'instance_type'"):
        model.deploy(endpoint_name="fw-typo", instance_typ="ml.m5.xlarge")
    with pytest.raises(TypeError, match="did you mean 'data_capture_config'"):
        ModelPackage(model_package_arn="group/1").deploy(data_capture_confg=None)
    assert deployed == []  # refused before anything was deployed


# --- one job, served twice -----------------------------------------------------------------

@pytest.mark.integration
def test_sklearn_script_mode_trains_and_serves_as_the_job_and_as_an_artifact(ray_session, tmp_path,
                                                                           iris):
    X, y = iris
    data = tmp_path / "train"
    data.mkdir()
    np.savetxt(data / "iris.csv", np.column_stack([y, X]), delimiter=",", fmt="%.7g")
    helpers = str(SCRIPTS / "iris_helpers")
    est = SKLearn(entry_point=str(SCRIPTS / "sklearn_iris.py"), framework_version="1.2-1",
                  instance_type="local", hyperparameters={"C": 2.0}, dependencies=[helpers],
                  metric_definitions=[{"Name": "train:accuracy", "Regex": r"train_accuracy=([0-9.]+)"}])
    est.fit({"train": str(data)}, logs=False)
    assert est.model_data.endswith("/output/model.tar.gz")
    model = est.create_model()
    assert isinstance(model, SKLearnModel) and model._ref.training_job == est.latest_training_job.name

    import joblib

    from mlcore import _storage

    local = _storage.fetch_committed(est.model_data, str(tmp_path / "unpacked"))
    want = joblib.load(Path(local) / "model.joblib").predict(X[:10])

    predictor = est.deploy(endpoint_name="fw-sklearn-job", tags=None, kms_key=None, model_name=None)
    try:
        assert isinstance(predictor, SKLearnPredictor)
        np.testing.assert_array_equal(predictor.predict(X[:10]), want)  # .npy both ways
    finally:
        predictor.delete_endpoint()

    # The same artifact brought back: a generic Model on the scikit-learn image, code shipped.
    byo = Model(image_uri="683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1",
                model_data=est.model_data, entry_point=str(SCRIPTS / "sklearn_iris.py"),
                dependencies=[helpers], predictor_cls=SKLearnPredictor)
    predictor = byo.deploy(endpoint_name="fw-sklearn-byo")
    try:
        np.testing.assert_array_equal(predictor.predict(X[:10]), want)
        assert predictor.describe()["ProductionVariants"][0]["Model"]["ModelDataUrl"] == est.model_data
    finally:
        predictor.delete_endpoint()
