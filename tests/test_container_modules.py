"""The SageMaker XGBoost container's own modules (``sagemaker_containers``,
``sagemaker_xgboost_container``) as framework-mode scripts import them: importable only
where mlcore puts them on ``sys.path`` (XGBoost scripts), ``data_utils.get_dmatrix`` on
channel folders, ``encoder`` on request bodies, and ``distributed.rabit_run`` on one host and
on two real processes in one XGBoost collective. No Ray."""

from __future__ import annotations

import importlib
import io
import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import algorithms
from algorithms._container_modules import PATH
from mlcore import _recordio
from mlcore.errors import DataError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def container(monkeypatch):
    """The modules as a script imports them (the folder on sys.path, as for an XGBoost job)."""
    monkeypatch.syspath_prepend(PATH)
    return {name: importlib.import_module(name) for name in (
        "sagemaker_xgboost_container.data_utils", "sagemaker_xgboost_container.encoder",
        "sagemaker_xgboost_container.distributed", "sagemaker_containers.entry_point")}


def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return path


# --- where they are importable ---------------------------------------------------------

def test_only_xgboost_scripts_get_the_container_modules():
    assert algorithms.container_path("xgboost") == [PATH]
    assert algorithms.container_path(None) == [] and algorithms.container_path("sklearn") == []
    code = textwrap.dedent(f"""
        import importlib.util, sys
        sys.path[:] = [p for p in sys.path if p != {PATH!r}]
        assert importlib.util.find_spec("sagemaker_xgboost_container") is None
        assert importlib.util.find_spec("sagemaker_containers") is None
        from algorithms._container_modules import activate
        activate("sklearn")
        assert importlib.util.find_spec("sagemaker_xgboost_container") is None
        activate("xgboost")
        from sagemaker_containers import entry_point
        from sagemaker_containers.beta.framework import entry_point as beta_entry_point, env
        from sagemaker_xgboost_container import distributed, encoder
        from sagemaker_xgboost_container.data_utils import get_dmatrix
        assert beta_entry_point is entry_point
        entry_point._wait_hostname_resolution()  # a no-op on Ray
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_the_packaged_folder_ships_with_algorithms():
    """setuptools' find (include algorithms*) takes only folders with an __init__.py, and
    only .py files are needed."""
    for root, dirs, files in os.walk(PATH):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        assert "__init__.py" in files, root
        assert all(f.endswith(".py") for f in files), (root, files)


def test_training_env_reads_the_sm_variables(container, monkeypatch):
    monkeypatch.setenv("SM_HOSTS", '["algo-1","algo-2"]')
    monkeypatch.setenv("SM_CURRENT_HOST", "algo-2")
    monkeypatch.delenv("SM_RESOURCE_CONFIG", raising=False)
    import sagemaker_containers

    env = sagemaker_containers.training_env()
    assert (env.hosts, env.current_host, env.is_master) == (["algo-1", "algo-2"], "algo-2", False)


# --- data_utils.get_dmatrix ------------------------------------------------------------

def test_get_dmatrix_reads_a_libsvm_folder_as_xgboost_does(container, tmp_path):
    du = container["sagemaker_xgboost_container.data_utils"]
    folder = tmp_path / "train"
    _write(str(folder / "a.libsvm"), "1 1:0.5 2:1\n0:2 1:0.1 3:2\n")
    _write(str(folder / "sub" / "b.libsvm"), "1 2:0.3\n")
    _write(str(folder / ".hidden"), "not data\n")
    _write(str(folder / "_SUCCESS"), "")
    d = du.get_dmatrix(str(folder), "libsvm")
    assert (d.num_row(), d.num_col()) == (3, 4)  # indices as given: column 0 kept
    np.testing.assert_array_equal(d.get_label(), [1, 0, 1])
    np.testing.assert_array_equal(d.get_weight(), [1, 2, 1])  # label:weight
    for spelling in ("text/libsvm", "text/x-libsvm", "LIBSVM"):
        assert du.get_dmatrix(str(folder), spelling).num_row() == 3


def test_get_dmatrix_reads_csv_with_weights_and_a_sniffed_delimiter(container, tmp_path):
    du = container["sagemaker_xgboost_container.data_utils"]
    _write(str(tmp_path / "c" / "x.csv"), "1,0.5,3,4\n0,2,5,\n")
    d = du.get_dmatrix(str(tmp_path / "c"), "text/csv; label_size=1", csv_weights=1)
    assert (d.num_row(), d.num_col()) == (2, 2)
    np.testing.assert_array_equal(d.get_label(), [1, 0])
    np.testing.assert_array_equal(d.get_weight(), [0.5, 2])
    _write(str(tmp_path / "s" / "x.csv"), "1;3;4\n0;5;6\n")
    d = du.get_dmatrix(str(tmp_path / "s"), "csv")
    assert (d.num_row(), d.num_col()) == (2, 2)
    with pytest.raises(DataError, match="label_size must be equal to 1"):
        du.get_dmatrix(str(tmp_path / "s"), "text/csv; label_size=2")


def test_get_dmatrix_reads_parquet_and_recordio(container, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    du = container["sagemaker_xgboost_container.data_utils"]
    os.makedirs(tmp_path / "p")
    pq.write_table(pa.table({"y": [1.0, 0.0, 1.0], "f1": [1.0, 2.0, 3.0], "f2": [4.0, 5.0, 6.0]}),
                   str(tmp_path / "p" / "part.parquet"))
    d = du.get_dmatrix(str(tmp_path / "p"), "application/x-parquet")
    assert (d.num_row(), d.num_col()) == (3, 2)  # the label is the first column
    np.testing.assert_array_equal(d.get_label(), [1, 0, 1])
    os.makedirs(tmp_path / "r")
    X = np.arange(12, dtype=np.float32).reshape(4, 3)
    (tmp_path / "r" / "a.pbr").write_bytes(_recordio.dense_bytes(X[:2], np.array([0.0, 1.0])))
    (tmp_path / "r" / "b.pbr").write_bytes(_recordio.dense_bytes(X[2:], np.array([1.0, 0.0])))
    d = du.get_dmatrix(str(tmp_path / "r"), "recordio-protobuf")
    assert (d.num_row(), d.num_col()) == (4, 3)
    np.testing.assert_array_equal(d.get_label(), [0, 1, 1, 0])


def test_get_dmatrix_without_data_and_refusals(container, tmp_path):
    du = container["sagemaker_xgboost_container.data_utils"]
    assert du.get_dmatrix(None, "libsvm") is None  # no validation channel
    assert du.get_dmatrix(str(tmp_path / "missing"), "libsvm") is None
    os.makedirs(tmp_path / "empty")
    assert du.get_dmatrix(str(tmp_path / "empty"), "csv") is None
    with pytest.raises(DataError, match="is not an accepted ContentType"):
        du.get_dmatrix(str(tmp_path), "application/json")
    _write(str(tmp_path / "d" / "a.libsvm"), "1 1:2\n")
    with pytest.raises(DataError, match="Pipe mode not supported for LibSVM"):
        du.get_dmatrix(str(tmp_path / "d"), "libsvm", is_pipe=True)
    _write(str(tmp_path / "bad" / "a.libsvm"), "1 2 3\n")
    with pytest.raises(DataError, match="line 1 is not libsvm"):
        du.get_dmatrix(str(tmp_path / "bad"), "libsvm")
    assert du.get_size(str(tmp_path / "d")) == 6


# --- encoder ---------------------------------------------------------------------------

def test_encoder_decodes_request_bodies(container):
    enc = container["sagemaker_xgboost_container.encoder"]
    d = enc.libsvm_to_dmatrix("-99 1:3 2:0.37 8:0.067")  # str, as a script's input_fn gets it
    assert (d.num_row(), d.num_col()) == (1, 9)  # column 0 kept, as training read the files
    assert enc.libsvm_to_dmatrix(b"1 1:1\n0 3:2\n").num_col() == 4
    d = enc.csv_to_dmatrix("1,2,\n4,5,6")
    assert (d.num_row(), d.num_col()) == (2, 3)
    assert enc.csv_to_dmatrix(b"1\t2\n3\t4").num_col() == 2  # the delimiter is sniffed
    X = np.arange(6, dtype=np.float32).reshape(2, 3)
    d = enc.recordio_protobuf_to_dmatrix(_recordio.dense_bytes(X))
    assert (d.num_row(), d.num_col()) == (2, 3)
    buf = io.BytesIO()
    np.save(buf, X)
    assert enc.npy_to_dmatrix(buf.getvalue()).num_col() == 3
    assert enc.decode("1,2\n3,4", "text/csv; charset=utf-8").num_row() == 2
    assert enc.decode(b"0 1:1", "text/x-libsvm").num_col() == 2
    with pytest.raises(Exception) as e:
        enc.decode(b"[[1, 2]]", "application/json")  # the container decodes no JSON
    assert type(e.value).__name__ == "UnsupportedFormatError" and e.value.status_code == 415
    assert enc.json_to_jsonlines({"predictions": [{"score": 1}, {"score": 2}]}) == \
        b'{"score": 1}\n{"score": 2}\n'


# --- distributed.rabit_run -------------------------------------------------------------

def test_rabit_run_on_one_host_runs_the_function_as_master(container):
    dist = container["sagemaker_xgboost_container.distributed"]
    seen = []
    dist.rabit_run(lambda **kw: seen.append(kw), {"a": 1}, True, ["algo-1"], "algo-1",
                   update_rabit_args=True)
    dist.rabit_run(lambda **kw: seen.append(kw), {"a": 2}, True, ["algo-1"], "algo-1")
    assert seen == [{"a": 1, "is_master": True}, {"a": 2}]
    with pytest.raises(SystemExit) as e:  # a host without data leaves the job
        dist.rabit_run(lambda **kw: seen.append(kw), {}, False, ["algo-1"], "algo-1")
    assert e.value.code == 0 and len(seen) == 2


_WORKER = """
import json, sys
import numpy as np, xgboost as xgb
from sagemaker_xgboost_container import distributed

host, ports, with_data = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3] == "1"
rng = np.random.default_rng(0)
X = rng.normal(size=(200, 4)).astype(np.float32)
y = (X[:, 0] + X[:, 1] > 0).astype(np.float32)
half = slice(0, 100) if host == "127.0.0.1" else slice(100, 200)
out = {}

def train(dtrain, is_master):
    booster = xgb.train({"objective": "binary:logistic", "tree_method": "hist", "nthread": 1},
                        dtrain, 3)
    from xgboost import collective
    out.update(is_master=is_master, world=collective.get_world_size(),
               model=booster.save_raw("json").decode())

distributed.rabit_run(train, {"dtrain": xgb.DMatrix(X[half], label=y[half])}, with_data,
                      ["localhost", "127.0.0.1"], host, first_port=ports[0],
                      second_port=ports[1], update_rabit_args=True)
print("RESULT" + json.dumps(out))
"""


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _run_hosts(tmp_path, with_data: dict[str, bool]):
    script = _write(str(tmp_path / "worker.py"), _WORKER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([PATH, ROOT])}
    ports = json.dumps(_free_ports(2))
    procs = {h: subprocess.Popen([sys.executable, script, h, ports, "1" if d else "0"], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for h, d in with_data.items()}
    out = {}
    for host, p in procs.items():
        stdout, stderr = p.communicate(timeout=180)
        assert p.returncode == 0, stderr[-3000:]
        lines = [line for line in stdout.splitlines() if line.startswith("RESULT")]
        out[host] = json.loads(lines[0][6:]) if lines else None
    return out


def test_rabit_run_trains_two_processes_in_one_collective(tmp_path):
    """Two hosts (two names of this machine), each with half the rows: one tracker, both in
    the collective, one identical model, the host first in sorted order the master."""
    out = _run_hosts(tmp_path, {"127.0.0.1": True, "localhost": True})
    a, b = out["127.0.0.1"], out["localhost"]
    assert (a["world"], b["world"]) == (2, 2)
    assert (a["is_master"], b["is_master"]) == (True, False)
    assert a["model"] == b["model"]


def test_rabit_run_leaves_out_a_host_without_data(tmp_path):
    out = _run_hosts(tmp_path, {"127.0.0.1": False, "localhost": True})
    assert out["127.0.0.1"] is None  # it exited(0) once the hosts knew
    assert out["localhost"]["world"] == 1 and out["localhost"]["is_master"] is True


def test_xgboost_scripts_report_the_images_built_in_metrics():
    """Without metric_definitions an XGBoost script's evaluation log yields SageMaker's
    XGBoost metrics (a tuner's ``validation:rmse``); other frameworks get none."""
    import re

    defs = {d["Name"]: re.compile(d["Regex"]) for d in algorithms.framework_metrics("xgboost")}
    assert algorithms.framework_metrics("pytorch") == [] and algorithms.framework_metrics(None) == []
    line = "[12]\ttrain-rmse:1.02096\tvalidation-rmse:0.99744"
    assert float(defs["validation:rmse"].search(line).group(1)) == 0.99744
    assert float(defs["train:rmse"].search(line).group(1)) == 1.02096
    assert defs["validation:mae"].search(line) is None
    assert float(defs["validation:auc"].search("[3]#011train-auc:0.9#011validation-auc:8e-1")
                 .group(1)) == 0.8
