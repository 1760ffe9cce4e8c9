"""First contact is quiet: Ray's, Serve's and Train's own output goes to a log file under
$MLCORE_HOME, the terminal shows the job's progress and results."""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import os, numpy as np
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3)); y = (X[:, 0] > 0).astype(int)
    path = os.path.join(os.environ["MLCORE_HOME"], "train.csv")
    np.savetxt(path, np.column_stack([y, X]), delimiter=",", fmt="%g")
    from mlcore.sagemaker import Estimator
    from mlcore.sagemaker.serializers import CSVSerializer
    est = Estimator(algorithm="xgboost", instance_type="ml.m5.xlarge",
                    hyperparameters={"num_round": 3, "objective": "binary:logistic"})
    est.fit({"train": path})
    predictor = est.deploy(initial_instance_count=1, instance_type="ml.m5.xlarge",
                           serializer=CSVSerializer())
    print("PREDICTION", predictor.predict([[0.5, 0.1, -0.2]]))
    predictor.delete_endpoint()
""")

BANNERS = ["Started a local Ray instance", "View the dashboard", "Token authentication",
           "Started Serve in namespace", "Throughput optimized Ray Serve", "Reporting training result",
           "(ServeController", "(RayTrainWorker", "(TrainController", "(PlacementGroupCleaner"]


def test_the_log_dispatcher_mlcore_replaces_still_exists():
    """The private Ray API of mlcore._session._route_worker_output."""
    import ray._private.worker as worker
    from ray._private.ray_logging import global_worker_stdstream_dispatcher as dispatcher

    assert callable(dispatcher.add_handler) and callable(dispatcher.remove_handler)
    assert '"ray_print_logs"' in inspect.getsource(worker.connect)


@pytest.mark.integration
@pytest.mark.slow
def test_fit_and_deploy_keep_rays_output_in_the_log_file(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("RAY_ADDRESS", "MLCORE_VERBOSE", "MLCORE_STRICT_RESOURCES", "MLFLOW_TRACKING_URI",
                        "MLCORE_SERVE_PORT")}  # the suite's Serve holds its port
    (tmp_path / "home").mkdir()
    env.update(MLCORE_HOME=str(tmp_path / "home"), MLCORE_NUM_CPUS="2")
    run = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True,
                         timeout=600)
    terminal = run.stdout + run.stderr
    assert run.returncode == 0, terminal
    assert "PREDICTION" in run.stdout and "round 3/3" in run.stderr
    assert "ml.m5.xlarge asks 4 CPUs" in run.stderr  # scaled to this machine, said once
    assert run.stderr.count("ml.m5.xlarge asks") == 1, terminal
    for banner in BANNERS:
        assert banner not in terminal, f"{banner!r} reached the terminal:\n{terminal}"
    assert not re.search(r"^\S*INFO\S* .*(ray|serve)", terminal, re.M), terminal
    named = re.search(r"mlcore: Ray's logs go to (\S+)", run.stderr)
    assert named, terminal
    logged = open(named.group(1)).read()
    for banner in ("Started a local Ray instance", "Started Serve in namespace", "(ServeController"):
        assert banner in logged


def test_worker_lines_go_to_the_file_and_a_scripts_output_to_the_terminal(tmp_path, monkeypatch, capsys):
    from mlcore import _session

    monkeypatch.setenv("MLCORE_HOME", str(tmp_path))
    monkeypatch.setattr(_session, "_log_file", None)
    monkeypatch.setattr(_session, "_recent", {})

    def batch(who, lines, is_err=False, pid=7):
        _session._worker_lines({"actor_name": who, "pid": pid, "lines": lines, "is_err": is_err})

    _session.show_train_output(False)
    batch("ServeController", ["INFO serve -- Throughput optimized Ray Serve enabled"])
    batch("RayTrainWorker", ["Reporting training result 1"])
    batch("RayTrainWorker", ["Error in training function: boom (traceback in /x.log)"], True)
    _session.show_train_output(True)
    batch("RayTrainWorker", ["epoch=1 loss=0.5"])
    batch("RayTrainWorker", ["epoch=1 loss=0.5"], is_err=True)  # Train's echo of the print
    _session.show_train_output(False)
    out = capsys.readouterr()
    assert out.out == "(RayTrainWorker pid=7) epoch=1 loss=0.5\n"
    assert "Throughput" not in out.err and "Reporting" not in out.err
    assert "(RayTrainWorker pid=7) Error in training function: boom (traceback in /x.log)" in out.err
    assert "mlcore: Ray's logs go to " in out.err
    logged = _session.ray_log_path().read_text()
    assert "(ServeController pid=7) INFO serve -- Throughput" in logged
    assert logged.count("epoch=1 loss=0.5") == 2
    _session._log_file.close()
