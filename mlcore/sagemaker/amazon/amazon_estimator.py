"""``sagemaker.amazon.amazon_estimator``: ``AmazonAlgorithmEstimatorBase`` (SageMaker's
first-party algorithms trained on ``RecordSet`` s), ``RecordSet``, ``FileSystemRecordSet``,
``upload_numpy_to_s3_shards``. Examples also import ``image_uris`` and ``get_image_uri``
from here, as v2 keeps them.

v2 trains these algorithms on a ManifestFile channel (``record_set`` writes one); the
training service here reads prefixes, so ``fit`` reads the manifest and passes its prefix,
after checking the prefix holds exactly the files it lists.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import tempfile
from urllib.parse import urlparse

from mlcore.errors import SpecError
from mlcore.sagemaker import _args, image_uris
from mlcore.sagemaker.amazon import validation
from mlcore.sagemaker.amazon.common import CONTENT_TYPE, write_numpy_to_dense_tensor
from mlcore.sagemaker.amazon.hyperparameter import Hyperparameter as hp
from mlcore.sagemaker.estimator import Estimator
from mlcore.sagemaker.inputs import TrainingInput
from mlcore.sagemaker.s3 import s3_path_join
from mlcore.sagemaker.utils import sagemaker_timestamp

log = logging.getLogger("mlcore")
_told: set[tuple[str, str]] = set()


def _explain_once(where: str, what: str, why: str) -> None:
    """The argument policy's message for a v2 setting that has no effect here."""
    if (where, what) not in _told:
        _told.add((where, what))
        log.info("%s(%s) accepted and not used: %s", where, what, why)


class AmazonAlgorithmEstimatorBase(Estimator):
    """Base of the first-party algorithm estimators (not used directly): hyperparameters are
    descriptors on the class (``hyperparameter.Hyperparameter``), training data are
    ``RecordSet`` s (``record_set(numpy_array)``), the built-in is ``repo_name``."""

    feature_dim: hp = hp("feature_dim", validation.gt(0), data_type=int)
    mini_batch_size: hp = hp("mini_batch_size", validation.gt(0), data_type=int)
    repo_name: str | None = None
    repo_version: str | None = None
    DEFAULT_MINI_BATCH_SIZE: int | None = None

    def __init__(self, role: str | None = None, instance_count: int | None = None,
                 instance_type: str | None = None, data_location: str | None = None,
                 enable_network_isolation: bool = False, **kwargs):
        """``data_location``: where ``record_set`` uploads (default
        ``s3://<default bucket>/[<prefix>/]sagemaker-record-sets/``); ``kwargs``: the
        Estimator's (``sagemaker_session``, ``output_path``, ``base_job_name``, ...)."""
        if enable_network_isolation:
            _args.accept(type(self).__name__, {"enable_network_isolation": True})
        # a misspelt hyperparameter is named against this class's own arguments
        known = inspect.signature(Estimator.__init__).parameters
        _args.accept(type(self).__name__, {k: v for k, v in kwargs.items() if k not in known},
                     type(self).__init__, extra=tuple(known))
        if "hyperparameters" in kwargs or "algorithm" in kwargs or "image_uri" in kwargs:
            raise TypeError(f"{type(self).__name__}() takes its hyperparameters as keyword "
                            "arguments (e.g. KMeans(k=10)), and runs its own algorithm; drop "
                            "hyperparameters= / algorithm= / image_uri=")
        super().__init__(role=role, instance_count=1 if instance_count is None else instance_count,
                         instance_type=instance_type or "local", algorithm=self.repo_name,
                         **kwargs)
        self._data_location = None
        if data_location is not None:
            self.data_location = data_location

    @classmethod
    def from_spec(cls, spec):
        """An estimator of ``spec`` (``attach``): its hyperparameters set back on the
        descriptors that hold them (``local_lloyd_max_iter`` -> ``max_iterations``)."""
        est = super().from_spec(spec)
        est._data_location = None
        for klass in reversed(cls.__mro__):
            for attribute, value in vars(klass).items():
                if isinstance(value, hp) and value.name in spec.hyperparameters:
                    setattr(est, attribute, spec.hyperparameters[value.name])
        return est

    def training_image_uri(self) -> str:
        return image_uris.retrieve(self.repo_name, version=self.repo_version)

    def hyperparameters(self) -> dict[str, str]:
        return hp.serialize_all(self)

    def _model_class(self):
        raise NotImplementedError

    def create_model(self, vpc_config_override=None, **kwargs):
        """The algorithm's Model (``KMeansModel``, ...) of the trained model, served as the
        training job's; ``kwargs`` go to the Model."""
        role = kwargs.pop("role", None) or self.role  # transformer() passes role=
        model = self._model_class()(self.model_data, role,
                                    sagemaker_session=self.sagemaker_session, **kwargs)
        return self._linked(model, kwargs.get("env"))

    @property
    def spec(self):
        self._spec.hyperparameters = self.hyperparameters()
        return self._spec

    def _session(self):
        from mlcore.sagemaker.session import Session

        if self.sagemaker_session is None:
            self.sagemaker_session = Session()
        return self.sagemaker_session

    @property
    def data_location(self) -> str:
        # v2 resolves the default at construction; here on first use, so constructing an
        # estimator touches no storage.
        if self._data_location is None:
            session = self._session()
            self._data_location = s3_path_join("s3://", session.default_bucket(),
                                               session.default_bucket_prefix,
                                               "sagemaker-record-sets", with_end_slash=True)
        return self._data_location

    @data_location.setter
    def data_location(self, data_location: str) -> None:
        if not data_location.startswith("s3://"):
            raise ValueError(f'Expecting an S3 URL beginning with "s3://". Got "{data_location}"')
        self._data_location = data_location if data_location.endswith("/") else data_location + "/"

    def _prepare_for_training(self, records, mini_batch_size=None, job_name=None) -> None:
        """``feature_dim`` from the train RecordSet, ``mini_batch_size`` as given (the
        algorithms override this with their defaults, as v2's do)."""
        self.feature_dim = _train(records).feature_dim
        self.mini_batch_size = mini_batch_size

    def _get_default_mini_batch_size(self, num_records: int) -> int:
        return min(self.DEFAULT_MINI_BATCH_SIZE, max(1, int(num_records / self.instance_count)))

    def fit(self, records, mini_batch_size: int | None = None, wait: bool = True,
            logs: bool = True, job_name: str | None = None, experiment_config=None):
        """Train on a ``RecordSet`` (or a list of them, one per channel; one must be
        ``train``)."""
        self._prepare_for_training(records, mini_batch_size=mini_batch_size, job_name=job_name)
        channels = {}
        for record_set in records if isinstance(records, list) else [records]:
            channels.update(record_set.data_channel())
        inputs = {name: _prefix_input(value, self._session(), type(self).__name__)
                  for name, value in channels.items()}
        self._spec.hyperparameters = self.hyperparameters()
        return super().fit(inputs, wait=wait, logs=logs, job_name=job_name,
                           experiment_config=experiment_config)

    def record_set(self, train, labels=None, channel: str = "train", encrypt: bool = False,
                   distribution: str = "ShardedByS3Key") -> RecordSet:
        """Upload ``train`` (2-D numpy; ``labels`` 1-D) as RecordIO-protobuf, one shard per
        training instance, under ``data_location/<ClassName>-<timestamp>/`` with v2's
        ``.amazon.manifest``; the RecordSet of that manifest."""
        if encrypt:
            _explain_once(f"{type(self).__name__}.record_set", "encrypt=True",
                          "storage encryption is the store's")
        parsed = urlparse(self.data_location)
        key_prefix = f"{parsed.path}{type(self).__name__}-{sagemaker_timestamp()}/".lstrip("/")
        manifest = upload_numpy_to_s3_shards(self.instance_count, None, parsed.netloc,
                                             key_prefix, train, labels, encrypt,
                                             sagemaker_session=self._session())
        return RecordSet(manifest, num_records=train.shape[0], feature_dim=train.shape[1],
                         channel=channel, distribution=distribution)


def _train(records):
    for record_set in records if isinstance(records, list) else [records]:
        if not hasattr(record_set, "data_channel"):
            raise TypeError(f"fit() takes a RecordSet (estimator.record_set(numpy_array)) or a "
                            f"list of them; got {type(record_set).__name__}: pass "
                            "RecordSet(s3_uri, num_records, feature_dim, s3_data_type='S3Prefix') "
                            "for data already in S3")
    if not isinstance(records, list):
        return records
    for record_set in records:
        if record_set.channel == "train":
            return record_set
    raise ValueError("Must provide train channel.")


class RecordSet:
    """RecordIO-protobuf records in S3: a manifest (``s3_data_type="ManifestFile"``, as
    ``record_set`` writes) or a prefix (``"S3Prefix"``), bound to ``channel``."""

    def __init__(self, s3_data: str, num_records: int, feature_dim: int,
                 s3_data_type: str = "ManifestFile", channel: str = "train",
                 distribution: str = "ShardedByS3Key"):
        self.s3_data, self.num_records, self.feature_dim = s3_data, num_records, feature_dim
        self.s3_data_type, self.channel, self.distribution = s3_data_type, channel, distribution

    def __repr__(self) -> str:
        return str((RecordSet, self.__dict__))

    def data_channel(self) -> dict:
        return {self.channel: self.records_s3_input()}

    def records_s3_input(self) -> TrainingInput:
        return TrainingInput(self.s3_data, distribution=self.distribution,
                             s3_data_type=self.s3_data_type)


class FileSystemRecordSet:
    """v2's EFS / FSx channel: ``directory_path`` is read as a path on every node (a shared
    file system mounted at the same place), since there are no file system channels here."""

    def __init__(self, file_system_id, file_system_type, directory_path, num_records,
                 feature_dim, file_system_access_mode="ro", channel="train"):
        self.file_system_id, self.file_system_type = file_system_id, file_system_type
        self.directory_path, self.file_system_access_mode = directory_path, file_system_access_mode
        self.num_records, self.feature_dim, self.channel = num_records, feature_dim, channel

    def __repr__(self) -> str:
        return str((FileSystemRecordSet, self.__dict__))

    def data_channel(self) -> dict:
        return {self.channel: TrainingInput(self.directory_path, content_type=CONTENT_TYPE)}


def _prefix_input(value: TrainingInput, session, where: str) -> TrainingInput:
    """``value`` as a prefix channel of RecordIO-protobuf: a ManifestFile's prefix, when the
    prefix holds exactly the files the manifest lists (hidden ones aside)."""
    source = value.config["DataSource"]["S3DataSource"]
    if source["S3DataType"] != "ManifestFile":
        return TrainingInput(value.s3_data, content_type=value.content_type or CONTENT_TYPE)
    _explain_once(where, "s3_data_type='ManifestFile'", "the training service reads prefixes; "
                  "the manifest's prefix is read instead")
    manifest = _read_manifest(value.s3_data, session)
    prefix = manifest[0]["prefix"]
    bucket, key = _bucket_key(prefix)
    listed = {k.lstrip("/") for k in manifest[1:]}
    present = {os.path.relpath(k, key) for k in session.list_s3_files(bucket, key)
               if not os.path.basename(k).startswith((".", "_"))}
    if listed != present:
        missing, extra = sorted(listed - present)[:3], sorted(present - listed)[:3]
        raise SpecError(
            f"manifest {value.s3_data} cannot be read as its prefix {prefix}: "
            + (f"it lists files not there ({missing}); " if missing else "")
            + (f"the prefix holds files it does not list ({extra}); " if extra else "")
            + "put exactly the manifest's files under one prefix and pass "
            "RecordSet(prefix, ..., s3_data_type='S3Prefix')", [("records", "manifest")])
    return TrainingInput(prefix, content_type=CONTENT_TYPE)


def _read_manifest(uri: str, session) -> list:
    bucket, key = _bucket_key(uri)
    try:
        manifest = json.loads(session._get(bucket, key))
    except Exception as e:  # noqa: BLE001 - missing object, not JSON: one message for both
        raise SpecError(f"cannot read the manifest {uri}: {e}; pass the URI record_set() "
                        "returned", [("records", "manifest")]) from None
    if not (isinstance(manifest, list) and manifest and isinstance(manifest[0], dict)
            and "prefix" in manifest[0]):
        raise SpecError(f"manifest {uri} is not [{{'prefix': 's3://...'}}, 'key', ...] as "
                        "record_set() writes", [("records", "manifest")])
    return manifest


def _bucket_key(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    return parsed.netloc, parsed.path.lstrip("/")


def _build_shards(num_shards: int, array):
    if num_shards < 1:
        raise ValueError("num_shards must be >= 1")
    shard_size = int(array.shape[0] / num_shards)
    if shard_size == 0:
        raise ValueError("Array length is less than num shards")
    shards = [array[i * shard_size:(i + 1) * shard_size] for i in range(num_shards - 1)]
    shards.append(array[(num_shards - 1) * shard_size:])
    return shards


def upload_numpy_to_s3_shards(num_shards, s3, bucket, key_prefix, array, labels=None,
                              encrypt=False, sagemaker_session=None) -> str:
    """``array`` (and ``labels``) as ``num_shards`` files ``matrix_<i>.pbr`` under
    ``s3://bucket/key_prefix/`` and the ``.amazon.manifest`` listing them; its URI. ``s3``:
    a boto3 S3 resource as v2 takes, or None to write through ``sagemaker_session``."""
    shards = _build_shards(num_shards, array)
    label_shards = _build_shards(num_shards, labels) if labels is not None else None
    key_prefix = key_prefix if key_prefix.endswith("/") else key_prefix + "/"
    put = _putter(s3, sagemaker_session, bucket)
    uploaded = []
    for index, shard in enumerate(shards):
        with tempfile.TemporaryFile() as file:
            write_numpy_to_dense_tensor(file, shard, label_shards[index] if label_shards else None)
            file.seek(0)
            name = f"matrix_{str(index).zfill(len(str(len(shards))))}.pbr"
            put(key_prefix + name, file.read())
            uploaded.append(name)
    manifest = json.dumps([{"prefix": f"s3://{bucket}/{key_prefix}"}] + uploaded)
    put(key_prefix + ".amazon.manifest", manifest.encode("utf-8"))
    return f"s3://{bucket}/{key_prefix}.amazon.manifest"


def _putter(s3, session, bucket):
    if s3 is not None:
        return lambda key, body: s3.Object(bucket, key).put(Body=body)
    if session is None:
        from mlcore.sagemaker.session import Session

        session = Session()
    return lambda key, body: session._put(bucket, key, body)


def get_image_uri(region_name, repo_name, repo_version="1") -> str:
    """v2's deprecated ``get_image_uri``: ``image_uris.retrieve(repo_name, ...)``."""
    log.warning("The method get_image_uri has been renamed in sagemaker>=2; use "
                "sagemaker.image_uris.retrieve instead")
    return image_uris.retrieve(framework=repo_name, region=region_name, version=repo_version)


__all__ = ["AmazonAlgorithmEstimatorBase", "FileSystemRecordSet", "RecordSet", "get_image_uri",
           "image_uris", "upload_numpy_to_s3_shards"]
