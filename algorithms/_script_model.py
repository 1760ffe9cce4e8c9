"""A script-mode model: SageMaker's inference handler contract (``model_fn``, ``input_fn``,
``predict_fn``, ``output_fn``, or ``transform_fn``) taken from the inference script, with the
framework container's own defaults for whichever the script leaves out, and its MLflow
pyfunc wrapper.

The defaults follow the containers' sources: PyTorch's ``default_pytorch_inference_handler``
(sagemaker-pytorch-inference-toolkit), scikit-learn's ``serving.py``
(sagemaker-scikit-learn-container), XGBoost's framework-mode ``serving.py``
(sagemaker-xgboost-container), all on sagemaker-inference's codecs. As there, a JSON or CSV
body reaches ``input_fn`` as ``str``, anything else as ``bytes``; ``input_fn``'s result goes
to ``predict_fn`` untouched and ``predict_fn``'s to ``output_fn`` untouched.

Imported on use only: it imports MLflow, which takes seconds.
"""

from __future__ import annotations

import importlib.util
import inspect
import io
import json
import logging
import os
import sys
import traceback
import types

import numpy as np

from mlcore._mlflow_compat import PythonModel
from mlcore.errors import AlgorithmError

# A replica's log file holds only Serve's own logger (serving/_log.py says why).
replica_log = logging.getLogger("ray.serve")
JSON, CSV, NPY = "application/json", "text/csv", "application/x-npy"
LIBSVM = ("text/libsvm", "text/x-libsvm")
RECORDIO = "application/x-recordio-protobuf"
UTF8_TYPES = (JSON, CSV)
ENCODABLE = (JSON, CSV, NPY)
HANDLERS = ("model_fn", "input_fn", "predict_fn", "output_fn", "transform_fn")


def load_handlers(code_dir: str, entry_point: str):
    """Import the entry point as a module (its ``__main__`` block does not run)."""
    if code_dir not in sys.path:
        sys.path.insert(0, code_dir)
    name = f"mlcore_entry_{os.path.splitext(entry_point)[0].replace('/', '_')}"
    spec = importlib.util.spec_from_file_location(name, os.path.join(code_dir, entry_point))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def unsupported(content_type: str, status: int = 415) -> AlgorithmError:
    """sagemaker-inference's UnsupportedFormatError: 415 for a body, 406 for an Accept."""
    what = "Content type" if status == 415 else "Accept"
    return AlgorithmError(f"{what} {content_type!r} is not supported by this framework's default "
                          "handlers; implement input_fn (or output_fn) for it", status=status)


# --- sagemaker-inference's decoder and encoder ---------------------------------------------

def decode(body, content_type: str, ndmin: int = 0) -> np.ndarray:
    """A request body as a numpy array (JSON, CSV or NPY). ``.npy`` bodies load without
    pickles (the toolkit allows them: a pickle in a request runs code on the server)."""
    try:
        if content_type == JSON:
            return np.array(json.loads(body), ndmin=ndmin)
        if content_type == CSV:
            return np.genfromtxt(io.StringIO(body), delimiter=",", ndmin=ndmin)
        if content_type == NPY:
            return np.load(io.BytesIO(body), allow_pickle=False)
    except ValueError as e:  # the body's fault (JSONDecodeError is a ValueError): a 400
        raise AlgorithmError(f"the {content_type} body does not decode: {e}", status=400) from None
    raise unsupported(content_type)


def encode(prediction, content_type: str) -> bytes:
    if content_type == JSON:
        return json.dumps(prediction, default=lambda a: a.tolist() if hasattr(a, "tolist")
                          else json.JSONEncoder().default(a)).encode()
    if content_type == CSV:
        out = io.StringIO()
        np.savetxt(out, np.atleast_1d(np.asarray(prediction)), delimiter=",", fmt="%s")
        return out.getvalue().encode()
    if content_type == NPY:
        out = io.BytesIO()
        np.save(out, np.asarray(prediction), allow_pickle=False)
        return out.getvalue()
    raise unsupported(content_type, 406)


def _encode_first(prediction, accept: str) -> tuple[bytes, str]:
    """The first type of ``accept`` the encoders know (sagemaker-inference's parse_accept)."""
    for media in accept.replace(" ", "").split(","):
        if media in ENCODABLE:
            return encode(prediction, media), media
    raise unsupported(accept, 406)


# --- the containers' default handlers --------------------------------------------------------

class PyTorchDefaults:
    """sagemaker-pytorch-inference-toolkit's DefaultPytorchInferenceHandler."""

    @staticmethod
    def model_fn(model_dir: str):
        import torch

        path = os.path.join(model_dir, "model.pt")
        if not os.path.exists(path):
            found = [f for f in os.listdir(model_dir) if f.endswith((".pt", ".pth"))
                     and os.path.isfile(os.path.join(model_dir, f))]
            if len(found) != 1:
                raise AlgorithmError(f"the default PyTorch model_fn needs exactly one .pt or .pth "
                                     f"file (TorchScript) in the model; found {found}. Define "
                                     "model_fn(model_dir) in the inference script to load it")
            path = os.path.join(model_dir, found[0])
        try:
            return torch.jit.load(path, map_location=_device())
        except RuntimeError as e:
            raise AlgorithmError(f"the default PyTorch model_fn could not load {os.path.basename(path)}"
                                 f" as TorchScript ({e}); save it with torch.jit.save or define "
                                 "model_fn(model_dir)") from None

    @staticmethod
    def input_fn(body, content_type: str):
        import torch

        array = decode(body, content_type)
        tensor = (torch.FloatTensor(array) if content_type in UTF8_TYPES
                  else torch.from_numpy(array))
        return tensor.to(_device())

    @staticmethod
    def predict_fn(data, model):
        import torch

        with torch.no_grad():
            model = model.to(_device())
            model.eval()
            return model(data.to(_device()))

    @staticmethod
    def output_fn(prediction, accept: str):
        import torch

        if type(prediction) is torch.Tensor:
            prediction = prediction.detach().cpu().numpy().tolist()
        return _encode_first(prediction, accept)

    @staticmethod
    def from_array(X: np.ndarray):
        """What the default input_fn makes of rows that arrive already decoded."""
        import torch

        return torch.as_tensor(np.asarray(X, dtype=np.float32)).to(_device())


def _device():
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _no_model_fn(container: str):
    def model_fn(model_dir):
        raise AlgorithmError(f"the {container} container has no default model_fn; define "
                             "model_fn(model_dir) in the inference script to load the model "
                             "your training script saved")
    return staticmethod(model_fn)


class SKLearnDefaults:
    """sagemaker-scikit-learn-container's serving.py. One difference: CSV rows stay 2-D (the
    container squeezes one row to 1-D, which scikit-learn's predict refuses)."""

    model_fn = _no_model_fn("scikit-learn")

    @staticmethod
    def input_fn(body, content_type: str):
        array = decode(body, content_type, ndmin=2 if content_type == CSV else 0)
        return array.astype(np.float32) if content_type in UTF8_TYPES else array

    @staticmethod
    def predict_fn(data, model):
        return model.predict(data)

    @staticmethod
    def output_fn(prediction, accept: str):
        return encode(prediction, accept), accept

    from_array = staticmethod(lambda X: X)


class XGBoostDefaults:
    """sagemaker-xgboost-container's framework-mode serving.py: CSV, LibSVM or
    RecordIO-protobuf in, as a DMatrix; JSON, CSV or NPY out."""

    model_fn = _no_model_fn("XGBoost (framework mode)")

    @staticmethod
    def input_fn(body, content_type: str):
        import xgboost as xgb

        text = body.decode() if content_type in LIBSVM else body
        if content_type == CSV:  # empty fields are missing values, as the container reads them
            rows = [["nan" if v == "" else v for v in line.split(",")]
                    for line in text.strip().split("\n")]
            return xgb.DMatrix(np.array(rows, dtype=np.float32))
        if content_type in LIBSVM:  # indices as given, as training read the files
            from algorithms._data import _read_libsvm

            X, _, _ = _read_libsvm("the libsvm body", None, text.encode())
            return xgb.DMatrix(X)
        if content_type == RECORDIO:
            from mlcore._recordio import to_arrays

            features, labels = to_arrays(bytes(body))
            return xgb.DMatrix(features, label=labels)
        raise unsupported(content_type)

    @staticmethod
    def predict_fn(data, model):
        return model.predict(data, validate_features=False)

    output_fn = SKLearnDefaults.output_fn

    @staticmethod
    def from_array(X):
        import xgboost as xgb

        return xgb.DMatrix(np.asarray(X, dtype=np.float32))


DEFAULTS = {"pytorch": PyTorchDefaults, "sklearn": SKLearnDefaults, "xgboost": XGBoostDefaults}


def _with_context(fn, n_args: int):
    """The toolkit passes a request context to handlers that take one more argument."""
    try:
        takes = len(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return fn
    return (lambda *a: fn(*a, None)) if takes == n_args + 1 else fn


def _status_of(e: Exception) -> int | None:
    """The HTTP status a script's exception asks for: sagemaker-inference's
    BaseInferenceToolkitError (``status_code``), serving.BadRequest (``status``), or mlcore's
    own (a ``status`` field)."""
    fields = getattr(e, "fields", None) or {}
    for value in (getattr(e, "status_code", None), getattr(e, "status", None), fields.get("status")):
        if isinstance(value, int) and 400 <= value < 600:
            return value
    return None


class ScriptModel(PythonModel):
    """The inference script's handlers over ``framework``'s defaults (``None``: PyTorch's, as
    a generic script-mode job trains with torch); ``env`` is set before the model loads."""

    def __init__(self, entry_point: str, framework: str | None = None, env: dict | None = None):
        self.entry_point, self.framework, self.env = entry_point, framework, dict(env or {})

    def load_context(self, context):
        self.load(context.artifacts["code"], context.artifacts["model"])

    def load(self, code_dir: str, model_dir: str) -> ScriptModel:
        os.environ.update(getattr(self, "env", {}))
        from algorithms._container_modules import activate

        activate(getattr(self, "framework", None))  # scripts import the container's modules
        # No script: the container's defaults alone (PyTorch's load a TorchScript model).
        self._handlers = (load_handlers(code_dir, self.entry_point) if self.entry_point
                          else types.SimpleNamespace())
        defaults = DEFAULTS[getattr(self, "framework", None) or "pytorch"]
        own = {n: getattr(self._handlers, n) for n in HANDLERS if callable(getattr(self._handlers, n, None))}
        if "transform_fn" in own and {"input_fn", "predict_fn", "output_fn"} & set(own):
            raise AlgorithmError(f"{self.entry_point} defines transform_fn together with input_fn, "
                                 "predict_fn or output_fn; define transform_fn alone or the others")
        self._own = set(own)
        arity = {"model_fn": 1, "input_fn": 2, "predict_fn": 2, "output_fn": 2, "transform_fn": 4}
        self._fns = {n: _with_context(own.get(n) or getattr(defaults, n, None), arity[n])
                     for n in HANDLERS if n in own or hasattr(defaults, n)}
        self._defaults = defaults
        self._model = self._fns["model_fn"](model_dir)
        return self

    # --- a raw request: the containers' transform ------------------------------------------
    def handle(self, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        """``(response body, media type)``. A handler's fault is an AlgorithmError with a
        ``status`` field: the status the exception asked for (a 4xx), else 500 naming the
        handler and the exception; the traceback goes to the replica's log."""
        ctype = (content_type or JSON).split(";")[0].strip().lower()
        accept = (accept or "").strip()
        if accept in ("", "*/*"):  # the toolkits' default accept
            accept = os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", JSON)
        if ctype in UTF8_TYPES:
            try:
                body = body.decode("utf-8")
            except UnicodeDecodeError:
                raise AlgorithmError(f"the {ctype} body is not UTF-8 text", status=400) from None
        if "transform_fn" in self._fns:
            result = self._run("transform_fn", self._model, body, ctype, accept)
        else:
            data = self._run("input_fn", body, ctype)
            prediction = self._run("predict_fn", data, self._model)
            result = self._run("output_fn", prediction, accept)
        return self._response(result, accept)

    def _run(self, name: str, *args):
        try:
            return self._fns[name](*args)
        except Exception as e:
            status = _status_of(e)
            message = str(getattr(e, "message", None) or e)[:1000]
            if status is not None and status < 500:
                raise AlgorithmError(f"{name} refused the request: {message}", status=status) from None
            replica_log.error("%s: %s raised %s: %s\n%s", self.entry_point, name,
                              type(e).__name__, message, traceback.format_exc())
            raise AlgorithmError(f"{name} raised {type(e).__name__}: {message}",
                                 status=status or 500) from None

    def _response(self, result, accept: str) -> tuple[bytes, str]:
        """``output_fn`` may return the body, or ``(body, content type)`` as the toolkit allows."""
        body, media = result if isinstance(result, tuple) and len(result) == 2 else (result, None)
        media = media or accept.split(",")[0].split(";")[0].strip()
        if isinstance(body, str):
            body = body.encode()
        if not isinstance(body, (bytes, bytearray, memoryview)):
            raise AlgorithmError(f"output_fn returned {type(body).__name__}; return bytes, str or "
                                 "(body, content_type)", status=500)
        return bytes(body), media

    # --- rows already decoded: MLflow pyfunc, pipeline stages, the conformance suite ---------
    def predict(self, context, model_input, params=None):
        data = model_input.to_numpy() if hasattr(model_input, "to_numpy") else np.asarray(model_input)
        if "input_fn" not in self._own:  # as the default input_fn would have decoded it
            data = self._defaults.from_array(data)
        out = self._fns["predict_fn"](data, self._model)
        return out.detach().cpu().numpy() if hasattr(out, "detach") else np.asarray(out)


def has_model_fn(code_dir: str, entry_point: str) -> bool:
    """Whether the script defines ``model_fn`` (read, not imported: nothing of it runs)."""
    import ast

    with open(os.path.join(code_dir, entry_point)) as f:
        tree = ast.parse(f.read())
    return any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == "model_fn"
               for n in tree.body)
