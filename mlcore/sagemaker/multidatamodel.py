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

    ``model``: a ``Model`` (``estimator.create_model()``) or ``Estimator`` of a built-in whose
    algorithm loads the models; or ``image_uri`` of a built-in, or ``algorithm``. A model is a
    ``model.tar.gz`` (SageMaker's form) or a committed model folder."""

    def __init__(self, name: str, model_data_prefix: str, model=None, image_uri: str | None = None,
                 role=None, sagemaker_session=None, algorithm: str | None = None,
                 max_models_per_replica: int = 50, **kwargs):
        from mlcore.sagemaker import image_uris

        _args.accept("MultiDataModel", kwargs, MultiDataModel.__init__)
        _args.name(name, "name", _args.ENDPOINT)  # the endpoint's name by default
        self.name, self.model_data_prefix = name, model_data_prefix.rstrip("/")
        image = image_uri or getattr(model, "image_uri", None)
        self.algorithm = (algorithm or getattr(getattr(model, "_spec", None), "algorithm", None)
                          or (image_uris.algorithm_of(image) if image else None))
        if not self.algorithm:
            raise EndpointError("MultiDataModel needs the built-in algorithm of its models: pass "
                                "model=estimator.create_model(), image_uri=image_uris.retrieve"
                                "('xgboost', ...) or algorithm='xgboost'")
        self.max_models_per_replica = max_models_per_replica

    def add_model(self, model_data_source: str, model_data_path: str | None = None) -> str:
        """Copy a model (``estimator.model_data``: a ``model.tar.gz``, or a committed model
        folder) under the prefix at ``model_data_path`` (default: the source's last path
        part); return that path. A live endpoint serves it from its next request on."""
        path = (model_data_path or model_data_source.rstrip("/").rsplit("/", 1)[-1]).strip("/")
        dest = _storage.child(self.model_data_prefix, path)  # refuses '..' and absolute paths
        with tempfile.TemporaryDirectory(prefix="mlcore-mme-") as tmp:
            if _storage.is_tarball(model_data_source):  # copied whole, as SageMaker's objects
                if not _storage.is_tarball(dest):
                    raise EndpointError(f"model_data_path {path!r} must end in .tar.gz like its "
                                        f"source {model_data_source}")
                local = _storage.fetch_file(model_data_source, tmp)
                _storage.put_file(local, dest)
            else:
                _storage.commit_dir(_storage.fetch_committed(model_data_source, tmp), dest)
        return path

    def list_models(self):
        """Paths (under the prefix) of the models: tarballs and committed folders, sorted."""
        fs, root = _storage.filesystem(self.model_data_prefix)
        if not fs.exists(root):
            return
        root = root.rstrip("/")
        found = [m[len(root) + 1:].rsplit("/", 1)[0]
                 for m in fs.glob(f"{root}/**/{_storage.COMMIT_MARKER}")]
        found += [f[len(root) + 1:] for f in fs.find(root) if _storage.is_tarball(f)]
        yield from sorted(found)

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
