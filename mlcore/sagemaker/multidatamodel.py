"""``sagemaker.multidatamodel``: many models of one algorithm behind one endpoint."""

from __future__ import annotations

import tempfile

from mlcore import _storage
from mlcore.errors import EndpointError
from mlcore.sagemaker import _args, _endpoints
from mlcore.specs import ModelRef


class MultiDataModel:
    """Every committed model artifact under ``model_data_prefix`` (any fsspec URI) is served
    by one endpoint, loaded on first use and evicted least-recently-used past
    ``max_models_per_replica`` (Ray Serve multiplexing). A request names its model with
    ``predict(..., target_model="<path under the prefix>")``.

    ``model``: an ``Estimator`` whose algorithm loads the models, or pass ``algorithm``."""

    def __init__(self, name: str, model_data_prefix: str, model=None, algorithm: str | None = None,
                 max_models_per_replica: int = 50, **kwargs):
        _args.accept("MultiDataModel", kwargs, MultiDataModel.__init__)
        _args.name(name, "name", _args.ENDPOINT)  # the endpoint's name by default
        self.name, self.model_data_prefix = name, model_data_prefix.rstrip("/")
        self.algorithm = algorithm or getattr(getattr(model, "_spec", None), "algorithm", None)
        if not self.algorithm:
            raise EndpointError("MultiDataModel needs the built-in algorithm of its models: pass "
                                "model=<a built-in Estimator> or algorithm='xgboost'")
        self.max_models_per_replica = max_models_per_replica

    def add_model(self, model_data_source: str, model_data_path: str | None = None) -> str:
        """Copy a committed model artifact (e.g. ``estimator.model_data``) under the prefix,
        at ``model_data_path`` (default: the source's last path part); return that path."""
        path = (model_data_path or model_data_source.rstrip("/").rsplit("/", 1)[-1]).strip("/")
        dest = _storage.child(self.model_data_prefix, path)  # refuses '..' and absolute paths
        with tempfile.TemporaryDirectory(prefix="mlcore-mme-") as tmp:
            local = _storage.fetch_committed(model_data_source, tmp)
            _storage.commit_dir(local, dest)
        return path

    def list_models(self):
        """Paths (under the prefix) of the committed models, sorted."""
        fs, root = _storage.filesystem(self.model_data_prefix)
        if not fs.exists(root):
            return
        for marker in sorted(fs.glob(f"{root}/**/{_storage.COMMIT_MARKER}")):
            yield marker[len(root.rstrip("/")) + 1:].rsplit("/", 1)[0]

    def deploy(self, initial_instance_count: int = 1, instance_type: str = "local",
               serializer=None, deserializer=None, endpoint_name: str | None = None,
               wait: bool = True, **endpoint_fields):
        ref = ModelRef(model_data_prefix=self.model_data_prefix, algorithm=self.algorithm,
                               max_models_per_replica=self.max_models_per_replica)
        name = _args.name(endpoint_name, "endpoint_name", _args.ENDPOINT) or self.name
        return _endpoints.deploy(ref, name, instance_type,
                                 initial_instance_count, serializer, deserializer, wait,
                                 **endpoint_fields)


__all__ = ["MultiDataModel"]
