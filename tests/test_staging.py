"""Data staging as SageMaker v2: ``Session().default_bucket()``, ``upload_data``,
``download_data``, ``sagemaker.s3``; on the loopback S3 server and on the local object store
that stands in for S3 when nothing is configured. No Ray."""

from __future__ import annotations

import os
import tarfile

import pytest
from botocore.exceptions import ClientError

from mlcore import _storage
from mlcore.errors import StorageError
from mlcore.sagemaker import Session
from mlcore.sagemaker.s3 import S3Downloader, S3Uploader, parse_s3_url, s3_path_join


@pytest.fixture(params=["loopback-s3", "local-store"])
def store(request, monkeypatch, tmp_path):
    """Each test runs against both stores: moto on 127.0.0.1, and no object store at all."""
    if request.param == "loopback-s3":
        request.getfixturevalue("_s3_env")
        monkeypatch.setenv("MLCORE_DEFAULT_BUCKET", f"stage-{os.urandom(4).hex()}")
    else:
        monkeypatch.setenv("MLCORE_HOME", str(tmp_path / "home"))
        for var in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
            monkeypatch.delenv(var, raising=False)
        monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.aws either
    return request.param


def test_examples_first_cells_stage_and_read_back(store, tmp_path):
    sess = Session()
    bucket = sess.default_bucket()
    assert "/" not in bucket and not bucket.startswith("s3:")
    assert sess.local_mode == (store == "local-store")
    if store == "local-store":
        assert bucket == "mlcore-default"
        assert os.path.isdir(os.path.join(_storage.local_s3_root(), bucket))
    prefix = "sagemaker/DEMO-xgboost-churn"
    (tmp_path / "train.csv").write_text("1,0.5\n0,0.1\n")
    data = tmp_path / "folder"
    (data / "sub").mkdir(parents=True)
    (data / "a.csv").write_text("a")
    (data / "sub" / "b.csv").write_text("b")

    file_uri = sess.upload_data(str(tmp_path / "train.csv"), bucket=bucket, key_prefix=f"{prefix}/train")
    assert file_uri == f"s3://{bucket}/{prefix}/train/train.csv"
    dir_uri = sess.upload_data(str(data), key_prefix=f"{prefix}/folder")  # default bucket
    assert dir_uri == f"s3://{bucket}/{prefix}/folder"
    assert sess.list_s3_files(bucket, f"{prefix}/folder") == [f"{prefix}/folder/a.csv",
                                                              f"{prefix}/folder/sub/b.csv"]
    assert sess.read_s3_file(bucket, f"{prefix}/train/train.csv") == "1,0.5\n0,0.1\n"

    got = sess.download_data(str(tmp_path / "down"), bucket, f"{prefix}/folder")
    assert sorted(os.path.relpath(p, tmp_path / "down") for p in got) == ["a.csv", "sub/b.csv"]
    assert S3Downloader.list(f"s3://{bucket}/{prefix}/folder") == [
        f"s3://{bucket}/{prefix}/folder/a.csv", f"s3://{bucket}/{prefix}/folder/sub/b.csv"]
    assert S3Downloader.read_file(file_uri) == "1,0.5\n0,0.1\n"
    up = S3Uploader.upload(str(tmp_path / "train.csv"), f"s3://{bucket}/{prefix}/again")
    assert up == f"s3://{bucket}/{prefix}/again/train.csv"
    S3Uploader.upload_string_as_file_body("hello", f"s3://{bucket}/{prefix}/note.txt")
    S3Uploader.upload_bytes(b"\x00\x01", f"s3://{bucket}/{prefix}/raw.bin")
    assert S3Downloader.read_bytes(f"s3://{bucket}/{prefix}/raw.bin") == b"\x00\x01"
    single = S3Downloader.download(f"s3://{bucket}/{prefix}/note.txt", str(tmp_path / "one"))
    assert [open(p).read() for p in single] == ["hello"]
    assert sess.download_data(str(tmp_path / "none"), bucket, "no/such/prefix") == []
    with pytest.raises(ClientError, match="NoSuchKey") as missing:  # boto3's, as v2 raises it
        sess.read_s3_file(bucket, "no/such/key")
    assert missing.value.response["Error"]["Code"] == "NoSuchKey"


def test_model_tarball_round_trip_through_the_store(store, tmp_path):
    """SageMaker's model.tar.gz: members at the top level, unpacked by fetch_committed."""
    bucket = Session().default_bucket()
    model = tmp_path / "model"
    model.mkdir()
    (model / "xgboost-model").write_bytes(b"booster")
    (model / _storage.COMMIT_MARKER).write_text("{}")
    uri = _storage.write_tarball(str(model), f"s3://{bucket}/job/output/model.tar.gz")
    assert uri == f"s3://{bucket}/job/output/model.tar.gz"
    assert _storage.is_committed(uri)
    local = tmp_path / "dl"
    S3Downloader.download(uri, str(local))
    with tarfile.open(local / "model.tar.gz") as tar:
        assert tar.getnames() == ["xgboost-model"]  # no marker, no folder prefix
    out = _storage.fetch_committed(uri, str(tmp_path / "unpacked"))
    assert open(os.path.join(out, "xgboost-model"), "rb").read() == b"booster"
    with pytest.raises(StorageError, match="does not exist"):
        _storage.fetch_committed(f"s3://{bucket}/job/output/missing.tar.gz", str(tmp_path / "x"))


def test_hostile_archive_and_keys_stay_inside(store, tmp_path):
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        (tmp_path / "payload").write_text("x")
        tar.add(tmp_path / "payload", arcname="../../escaped")
    bucket = Session().default_bucket()
    uri = Session().upload_data(str(evil), bucket, "m")
    with pytest.raises(StorageError, match="cannot unpack"):
        _storage.fetch_committed(uri, str(tmp_path / "out"))
    assert not (tmp_path / "escaped").exists()
    if store == "local-store":  # the local store maps keys to paths: '..' must not climb out
        with pytest.raises(StorageError, match="cannot be a folder"):
            _storage.local_path(f"s3://{bucket}/../../etc/passwd")


def test_s3_path_helpers_match_v2():
    # Cases from the SDK's tests/unit/sagemaker/test_s3_utils.py (s3_path_join, parse_s3_url).
    assert s3_path_join("s3://", "bucket", "key") == "s3://bucket/key"
    assert s3_path_join("s3://", "//bucket/", "/key//part/") == "s3://bucket/key/part"
    assert s3_path_join("foo", "", None, "bar") == "foo/bar"
    assert s3_path_join("/foo", "bar/") == "foo/bar"
    assert s3_path_join("foo", "bar", with_end_slash=True) == "foo/bar/"
    assert s3_path_join("s3://") == "s3://"
    assert parse_s3_url("s3://bucket/a/b.csv") == ("bucket", "a/b.csv")
    with pytest.raises(ValueError, match="Expecting 's3' scheme"):
        parse_s3_url("gs://bucket/a")


def test_store_mode_is_explicit_when_asked(monkeypatch, tmp_path):
    monkeypatch.setenv("MLCORE_HOME", str(tmp_path))
    monkeypatch.setenv("MLCORE_S3_STORE", "local")
    assert _storage.local_path("s3://b/k.csv") == str(tmp_path / "s3" / "b" / "k.csv")
    assert not _storage.is_remote("s3://b/k.csv")
    monkeypatch.setenv("MLCORE_S3_STORE", "s3")
    assert _storage.is_remote("s3://b/k.csv")
    monkeypatch.setenv("MLCORE_S3_STORE", "minio")
    with pytest.raises(StorageError, match="auto, local or s3"):
        _storage.is_remote("s3://b/k.csv")
