"""``sagemaker.Session`` and ``get_execution_role``: AWS notions mapped onto mlcore's defaults."""

from __future__ import annotations

import logging
import os

from mlcore import _session, _storage, constants
from mlcore.errors import StorageError
from mlcore.sagemaker import _args, _endpoints
from mlcore.services import endpoints

log = logging.getLogger("mlcore")
LOCAL_ROLE = "arn:mlcore:iam::local:role/ray-cluster"
LOCAL_ACCOUNT = "000000000000"


class Session:
    """``sagemaker.Session``: data staging on ``s3://`` URIs and endpoint calls. The URIs go
    to the S3-compatible service that is configured (``AWS_ENDPOINT_URL`` or AWS
    credentials), or, with none, to a local object store under ``$MLCORE_HOME/s3`` (one folder
    per bucket; the log says so once), so an example's ``f"s3://{bucket}/{prefix}"`` works
    unchanged. Tracking and records come from mlcore's defaults."""

    def __init__(self, boto_session=None, sagemaker_client=None, sagemaker_runtime_client=None,
                 sagemaker_featurestore_runtime_client=None, default_bucket: str | None = None,
                 settings=None, sagemaker_metrics_client=None, sagemaker_config: dict | None = None,
                 default_bucket_prefix: str | None = None, **kwargs):
        _args.accept("Session", kwargs, Session.__init__)
        _args.accept("Session", {k: v for k, v in {
            "sagemaker_client": sagemaker_client, "sagemaker_runtime_client": sagemaker_runtime_client,
            "sagemaker_featurestore_runtime_client": sagemaker_featurestore_runtime_client,
            "sagemaker_metrics_client": sagemaker_metrics_client, "settings": settings,
            "sagemaker_config": sagemaker_config}.items() if v is not None})
        self._boto_session = boto_session
        self._bucket_override = default_bucket
        self._default_bucket: str | None = None
        self.default_bucket_prefix = default_bucket_prefix.strip("/") if default_bucket_prefix else None
        self.local_mode = _storage.local_s3_root() is not None

    # -- AWS notions --------------------------------------------------------------------
    @property
    def boto_region_name(self) -> str:
        """``AWS_REGION`` / ``AWS_DEFAULT_REGION``, else us-east-1 (what a bare boto3 picks
        in most examples' accounts)."""
        env = constants.present(("AWS_REGION", "AWS_DEFAULT_REGION"))
        return env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"

    @property
    def boto_session(self):
        if self._boto_session is None:
            import boto3

            self._boto_session = boto3.Session(region_name=self.boto_region_name)
        return self._boto_session

    @property
    def sagemaker_client(self):
        """The boto3 SageMaker calls examples make directly (update_model_package,
        describe_training_job, ...), answered by mlcore."""
        from mlcore.sagemaker._client import SageMakerClient

        return SageMakerClient()

    @property
    def sagemaker_runtime_client(self):
        """``invoke_endpoint`` as boto3's ``sagemaker-runtime`` client has it."""
        from mlcore.sagemaker._client import SageMakerRuntimeClient

        return SageMakerRuntimeClient()

    def describe_training_job(self, job_name: str) -> dict:
        return self.sagemaker_client.describe_training_job(TrainingJobName=job_name)

    def describe_tuning_job(self, job_name: str) -> dict:
        return self.sagemaker_client.describe_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=job_name)

    def describe_transform_job(self, job_name: str) -> dict:
        return self.sagemaker_client.describe_transform_job(TransformJobName=job_name)

    def stop_transform_job(self, name: str) -> None:
        self.sagemaker_client.stop_transform_job(TransformJobName=name)

    def wait_for_transform_job(self, job: str, poll: int = 5) -> dict:
        """Wait until the transform job ``job`` ends; its description. A job that did not
        complete raises, as v2's does (``UnexpectedStatusException``, a ValueError)."""
        import time

        while (d := self.describe_transform_job(job))["TransformJobStatus"] in ("InProgress",
                                                                               "Stopping"):
            time.sleep(min(poll, 1))
        if d["TransformJobStatus"] != "Completed":
            raise ValueError(f"Error for Transform job {job}: {d['TransformJobStatus']}. "
                             f"Reason: {d.get('FailureReason')}")
        return d

    def logs_for_transform_job(self, job_name: str, wait: bool = False, poll: int = 10) -> None:
        """The job's progress lines are printed by the job itself here; waits when ``wait``."""
        if wait:
            self.wait_for_transform_job(job_name, poll)

    def account_id(self) -> str:
        return LOCAL_ACCOUNT if not self._on_aws() else self.boto_session.client(
            "sts").get_caller_identity()["Account"]

    def _on_aws(self) -> bool:
        return not self.local_mode and not constants.get("AWS_ENDPOINT_URL")

    def get_caller_identity_arn(self) -> str:
        return LOCAL_ROLE

    # -- the default bucket -------------------------------------------------------------
    def default_bucket(self) -> str:
        """The bucket examples stage data in, created if it does not exist: the constructor's
        ``default_bucket``, else ``MLCORE_DEFAULT_BUCKET``, else ``sagemaker-<region>-<account>``
        on AWS (SageMaker's name) and ``mlcore-default`` on another store."""
        if self._default_bucket:
            return self._default_bucket
        name = self._bucket_override or constants.get("MLCORE_DEFAULT_BUCKET") or (
            f"sagemaker-{self.boto_region_name}-{self.account_id()}" if self._on_aws()
            else "mlcore-default")
        self._create_bucket(name)
        self._default_bucket = name
        return name

    def _create_bucket(self, name: str) -> None:
        fs, path = _storage.filesystem(f"s3://{name}")
        if fs.exists(path):
            return
        try:
            fs.makedirs(path, exist_ok=True)  # s3fs: CreateBucket; the local store: a folder
        except Exception as e:  # noqa: BLE001 - a race with another creator, or no permission
            if not fs.exists(path):
                raise StorageError(f"cannot create bucket {name!r}: {e}; create it yourself or "
                                   "pass Session(default_bucket=...)", uri=f"s3://{name}") from None
        log.info("created bucket %s%s", name,
                 f" under {_storage.local_s3_root()}" if self.local_mode else "")

    def _bucket_and_prefix(self, bucket, key_prefix) -> tuple[str, str]:
        if bucket:
            return bucket, key_prefix or ""
        from mlcore.sagemaker.s3 import s3_path_join

        return self.default_bucket(), s3_path_join(self.default_bucket_prefix, key_prefix)

    # -- objects --------------------------------------------------------------------------
    def upload_data(self, path: str, bucket: str | None = None, key_prefix: str = "data",
                    callback=None, extra_args=None) -> str:
        """Upload a file (to ``<key_prefix>/<file name>``) or a folder (its tree under
        ``key_prefix``); returns ``s3://bucket/key_prefix[/file name]`` as v2."""
        bucket, key_prefix = self._bucket_and_prefix(bucket, key_prefix)
        if not os.path.exists(path):
            raise StorageError(f"upload_data: {path!r} does not exist; pass a local file or folder",
                               uri=path)
        if os.path.isdir(path):
            files = [(os.path.join(d, f), os.path.relpath(os.path.join(d, f), path))
                     for d, _, fs_ in os.walk(path) for f in fs_]
        else:
            files = [(path, os.path.basename(path))]
        for local, rel in files:
            self._put_file(bucket, f"{key_prefix}/{rel}".lstrip("/"), local)
        uri = f"s3://{bucket}/{key_prefix}"
        return f"{uri}/{os.path.basename(path)}" if not os.path.isdir(path) else uri

    def upload_string_as_file_body(self, body: str, bucket: str, key: str, kms_key=None) -> str:
        self._put(bucket, key, body.encode() if isinstance(body, str) else body)
        return f"s3://{bucket}/{key}"

    def download_data(self, path: str, bucket: str, key_prefix: str = "", extra_args=None) -> list[str]:
        """Download every object under ``key_prefix`` into ``path`` (relative layout kept, as
        v2; a key naming a file lands as its base name). Returns the local paths."""
        keys = self.list_s3_files(bucket, key_prefix)
        out = []
        for key in keys:
            rel = os.path.basename(key) if os.path.splitext(key_prefix)[1] else os.path.relpath(key, key_prefix or ".")
            dest = os.path.abspath(os.path.join(path, rel))
            if os.path.commonpath([os.path.abspath(path), dest]) != os.path.abspath(path):
                raise StorageError(f"object {key!r} would be written outside {path}", uri=f"s3://{bucket}/{key}")
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            fs, src = _storage.filesystem(f"s3://{bucket}/{key}")
            fs.get(src, dest)
            out.append(dest)
        if not out:
            log.info("Nothing to download from bucket: %s, key_prefix: %s.", bucket, key_prefix)
        return out

    def read_s3_file(self, bucket: str, key_prefix: str) -> str:
        return self._get(bucket, key_prefix).decode("utf-8")

    def list_s3_files(self, bucket: str, key_prefix: str) -> list[str]:
        """Keys of the objects whose key starts with ``key_prefix``."""
        fs, root = _storage.filesystem(f"s3://{bucket}")
        prefix = key_prefix.lstrip("/")
        base = f"{root.rstrip('/')}/{prefix}"
        parent = base if fs.isdir(base) else os.path.dirname(base)
        if not fs.exists(parent):
            return []
        found = [base] if fs.isfile(base) else fs.find(parent)
        keys = sorted(os.path.relpath(f, root) for f in found)
        return [k for k in keys if k.startswith(prefix) and os.path.basename(k) != _storage.COMMIT_MARKER]

    def _put_file(self, bucket: str, key: str, local: str) -> None:
        fs, dest = _storage.filesystem(f"s3://{bucket}/{key}")
        fs.makedirs(os.path.dirname(dest), exist_ok=True)
        fs.put_file(local, dest)

    def _put(self, bucket: str, key: str, data: bytes) -> None:
        fs, dest = _storage.filesystem(f"s3://{bucket}/{key}")
        fs.makedirs(os.path.dirname(dest), exist_ok=True)
        with fs.open(dest, "wb") as f:
            f.write(data)

    def _get(self, bucket: str, key: str) -> bytes:
        fs, src = _storage.filesystem(f"s3://{bucket}/{key}")
        try:
            with fs.open(src, "rb") as f:
                return f.read()
        except FileNotFoundError:
            # boto3's answer (examples poll read_s3_file until it stops raising NoSuchKey)
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "NoSuchKey", "Message":
                                         f"s3://{bucket}/{key} does not exist"}},
                              "GetObject") from None

    @property
    def tracking_uri(self) -> str:
        return _session.tracking_uri()

    def endpoint_from_production_variants(self, name: str, production_variants: list, wait: bool = True,
                                          **endpoint_fields):
        """Deploy an endpoint of several variants (see :func:`production_variant`)."""
        _args.name(name, "name", _args.ENDPOINT)
        return _endpoints.deploy_variants(name, list(production_variants), wait=wait, **endpoint_fields)

    def update_endpoint_weights_and_capacities(self, endpoint_name: str,
                                               desired_weights_and_capacities: list[dict]) -> str:
        """Set ``DesiredWeight`` per ``VariantName`` in place: no restart, no dropped request."""
        _args.name(endpoint_name, "endpoint_name", _args.ENDPOINT)
        for d in desired_weights_and_capacities:
            _args.name(d.get("VariantName"), "VariantName", _args.VARIANT)
        weights = {d["VariantName"]: d["DesiredWeight"] for d in desired_weights_and_capacities
                   if "DesiredWeight" in d}
        endpoints.update_weights(endpoint_name, weights)
        return endpoint_name

    def describe_endpoint(self, endpoint_name: str) -> dict:
        return endpoints.describe(_args.name(endpoint_name, "endpoint_name", _args.ENDPOINT))

    def delete_endpoint(self, endpoint_name: str) -> None:
        endpoints.delete(_args.name(endpoint_name, "endpoint_name", _args.ENDPOINT))


def production_variant(model_name: str, instance_type: str = "local", initial_instance_count: int = 1,
                       variant_name: str = "AllTraffic", initial_weight: float = 1.0,
                       serverless_inference_config=None, **kwargs):
    _args.accept("production_variant", kwargs, production_variant)
    """One variant for :meth:`Session.endpoint_from_production_variants`. ``model_name``:
    ``<group>/<version>`` or ``<group>@<alias>`` (registered) or a training job name."""
    return _endpoints.variant_spec(_endpoints.model_ref(model_name), instance_type, initial_instance_count,
                                variant_name, initial_weight, serverless_inference_config)


def get_execution_role(sagemaker_session=None) -> str:
    log.info("get_execution_role: no IAM here; jobs run with the Ray cluster's own identity")
    return LOCAL_ROLE


__all__ = ["Session", "get_execution_role", "production_variant"]
