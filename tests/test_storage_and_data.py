"""Storage (local and S3 on a loopback moto server) and channel reading, without Ray."""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import make_classification, write_csv

from algorithms._data import check_channel, read_shard
from mlcore import DataError, StorageError
from mlcore._storage import COMMIT_MARKER, commit_dir, fetch_committed, filesystem, is_committed


def _artifact(tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "model.bin").write_bytes(b"weights")
    (src / "sub" / "meta.json").write_text("{}")
    return src


def test_local_commit_is_atomic_and_marked(tmp_path):
    dest = tmp_path / "out" / "model"
    dest.parent.mkdir()
    commit_dir(str(_artifact(tmp_path)), str(dest))
    assert (dest / "model.bin").read_bytes() == b"weights"
    assert (dest / COMMIT_MARKER).exists() and is_committed(str(dest))
    assert not [p for p in os.listdir(dest.parent) if ".tmp-" in p]


def test_uncommitted_artifact_is_refused(tmp_path):
    half = tmp_path / "half"
    half.mkdir()
    (half / "model.bin").write_bytes(b"partial")
    assert not is_committed(str(half))
    with pytest.raises(StorageError, match="not a committed artifact"):
        fetch_committed(str(half), str(tmp_path / "x"))


def test_s3_commit_and_fetch(tmp_path, bucket):
    uri = f"s3://{bucket}/jobs/j1/model"
    commit_dir(str(_artifact(tmp_path)), uri)
    assert is_committed(uri)
    local = fetch_committed(uri, str(tmp_path / "fetched"))
    assert open(os.path.join(local, "model.bin"), "rb").read() == b"weights"
    assert os.path.exists(os.path.join(local, "sub", "meta.json"))


def test_csv_shards_split_rows_without_loss(tmp_path):
    X, y = make_classification(101, 5)
    path = write_csv(tmp_path / "train.csv", X, y)
    parts = [read_shard(path, None, r, 3) for r in range(3)]
    assert sum(len(p[1]) for p in parts) == 101
    np.testing.assert_allclose(np.concatenate([p[0] for p in parts]), X, rtol=1e-6)
    np.testing.assert_array_equal(np.concatenate([p[1] for p in parts]), y)


def test_parquet_on_s3_split_by_file(bucket):
    X, y = make_classification(90, 4)
    fs, _ = filesystem(f"s3://{bucket}")
    for i in range(3):
        sl = slice(i * 30, (i + 1) * 30)
        table = pa.table({"label": y[sl], **{f"f{j}": X[sl, j] for j in range(4)}})
        with fs.open(f"{bucket}/pq/part-{i}.parquet", "wb") as f:
            pq.write_table(table, f)
    uri = f"s3://{bucket}/pq/"
    assert check_channel("train", uri, None, None) == 4
    shards = [read_shard(uri, None, r, 2) for r in range(2)]
    assert [len(s[1]) for s in shards] == [60, 30]  # files 0,2 and 1
    np.testing.assert_allclose(shards[1][0], X[30:60], rtol=1e-6)


def _bad_csv(tmp_path, text):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    return str(p)


@pytest.mark.parametrize("make,words", [
    (lambda t: str(t / "nope.csv"), "does not exist"),
    (lambda t: _bad_csv(t, ""), "is empty"),
    (lambda t: _bad_csv(t, "1,0.5,abc\n0,0.1,0.2\n"), "column 3 is not numeric (found 'abc' in row 1)"),
    (lambda t: _bad_csv(t, "1,2,3\n1,2\n"), "not valid CSV"),
])
def test_bad_channels_give_clear_errors(tmp_path, make, words):
    with pytest.raises(DataError) as info:
        check_channel("train", make(tmp_path), None, None)
    assert words in str(info.value)
    assert "channel" in str(info.value) or "bad.csv" in str(info.value)


def test_parquet_without_label_column(tmp_path):
    p = tmp_path / "x.parquet"
    pq.write_table(pa.table({"target": [1.0, 0.0], "f0": [0.1, 0.2]}), p)
    with pytest.raises(DataError, match="no label column 'label'.*set the hyperparameter label_column"):
        check_channel("train", str(p), None, None)
    assert check_channel("train", str(p), None, "target") == 1


def test_unsupported_content_type(tmp_path):
    X, y = make_classification(10, 4)
    with pytest.raises(DataError, match="content_type 'application/json' is not supported"):
        check_channel("train", write_csv(tmp_path / "a.csv", X, y), "application/json", None)
