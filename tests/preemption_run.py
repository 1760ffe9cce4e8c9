"""A spot preemption on a 3-node ``ray.cluster_utils.Cluster`` (run in its own process: the
test session already has a Ray). Prints one JSON line with the job's record and metrics.

Head (0 CPUs, the driver) + 2 one-CPU worker nodes, one training worker each. Mid-training
one worker node is drained with reason PREEMPTION and a deadline (what a cloud's spot
reclaim notice does through Ray's autoscaler); after checking the just-in-time checkpoint
was written, a replacement node joins, and the drained one is removed at the deadline.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))


def main(home: str, steps: int, notice_s: float) -> None:
    os.environ["MLCORE_HOME"] = home
    import ray
    from ray.cluster_utils import Cluster
    from ray.core.generated import autoscaler_pb2

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    nodes = [cluster.add_node(num_cpus=1, include_dashboard=False) for _ in range(2)]
    cluster.wait_for_nodes()
    os.environ["RAY_ADDRESS"] = cluster.address
    try:
        from mlcore.records import TrainingJobRecord
        from mlcore.sagemaker import Estimator

        # Only a just-in-time checkpoint: the periodic ones are set too rare to happen.
        est = Estimator(entry_point="counter.py", source_dir=os.path.join(os.path.dirname(__file__), "scripts"),
                        instance_count=2, hyperparameters={"steps": steps, "step_seconds": 0.02},
                        use_spot_instances=True, max_run=3600, max_wait=7200,
                        checkpoint_frequency=1_000_000)
        name = "spot-preempted"
        fit = threading.Thread(target=est.fit, kwargs={"logs": False, "job_name": name})
        fit.start()

        def step() -> int:
            try:
                return TrainingJobRecord.load(name).Progress.get("step", 0)
            except Exception:
                return 0

        deadline = time.monotonic() + 240
        while step() < steps // 4:
            assert time.monotonic() < deadline and fit.is_alive(), "training never got going"
            time.sleep(0.2)
        victim = nodes[-1]
        gcs = ray._private.worker.global_worker.gcs_client
        deadline_ms = int((time.time() + notice_s) * 1000)
        accepted, msg = gcs.drain_node(
            victim.node_id, autoscaler_pb2.DrainNodeReason.Value("DRAIN_NODE_REASON_PREEMPTION"),
            "spot instance reclaimed", deadline_ms)
        assert accepted, msg
        noticed_at = step()
        # The just-in-time checkpoint must exist before the deadline (the job keeps no
        # periodic ones).
        ckpts = os.path.join(home, "output", name, "checkpoints")

        def jit_written() -> bool:
            return os.path.isdir(ckpts) and any(
                os.path.exists(os.path.join(ckpts, n, "mlcore-checkpoint.json")) for n in os.listdir(ckpts))

        while not jit_written():
            assert time.time() * 1000 < deadline_ms, "no just-in-time checkpoint before the deadline"
            time.sleep(0.1)
        # A replacement node joins while the notice runs (as an autoscaler starts one for a
        # reclaimed instance; main thread only), so the restart need not wait for its start-up.
        cluster.add_node(num_cpus=1, include_dashboard=False)
        # The reclaim itself, at the deadline: Ray Train restarts the group then (a node that
        # dies before its deadline counts as an ordinary failure, not a preemption).
        while time.time() * 1000 < deadline_ms:
            time.sleep(0.1)
        cluster.remove_node(victim)
        fit.join(timeout=400)
        rec = TrainingJobRecord.load(name)
        from mlcore import _tracking

        history = _tracking.client().get_metric_history(rec.MlflowRunId, "sum") if rec.MlflowRunId else []
        print(json.dumps({"status": rec.TrainingJobStatus, "reason": rec.FailureReason,
                          "interruptions": rec.Interruptions, "restarts": rec.Restarts,
                          "steps": sorted(m.step for m in history), "noticed_at": noticed_at,
                          "model": rec.ModelArtifacts, "training_s": rec.TrainingTimeInSeconds,
                          "transitions": [(t["Status"], t.get("Seconds")) for t in rec.SecondaryStatusTransitions],
                          "progress": rec.Progress,
                          "billable_s": rec.BillableTimeInSeconds}))
    finally:
        ray.shutdown()
        try:
            cluster.shutdown()
        except ValueError:  # "removing a node connected to this client": the driver is gone
            pass


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]))
