"""sagemaker_xgboost_container/distributed.py: ``rabit_run`` and the ``Rabit`` context, on
XGBoost's collective (``xgboost.collective`` and ``xgboost.tracker.RabitTracker``), as the
container's XGBoost 3.x version does it.

``rabit_run`` starts the collective twice, as the container does: once with every host, to
learn which hosts have training data, then with only those, to run ``exec_fun`` (where
``xgb.train`` sees the collective and trains one model over all of their data). The host
first in sorted order is the master: it runs the tracker, every host connects to it with its
index in the sorted hosts as task id, so ranks follow host order.

What differs on Ray: SageMaker's host names (algo-1, ...) resolve by DNS and the tracker
takes the fixed ports 9099/9100 of a single-tenant instance. mlcore's hosts are Ray Train
workers, several of them possibly on one machine beside other jobs, and their names resolve
nowhere. So the first ``Rabit`` of a multi-host job gathers every worker's address and two
free ports over the process group the workers already share (torch.distributed, set up by
Ray's TorchTrainer); host names then resolve through that table, and a ``Rabit`` without
an explicit port takes its master's next free port. Without such a group (the container's
own setting) names go to DNS and ports default to 9099, 9100, ...
"""

import json
import logging
import socket
import sys
import time

from xgboost import collective
from xgboost.tracker import RabitTracker

LOCAL_HOSTNAME = "127.0.0.1"
DEFAULT_PORT = 9099
_PEERS = None  # {host: {"ip": str, "ports": [int, int]}}, once per process
_ROUNDS = {"n": 0}  # Rabit contexts made so far: every host makes the same ones in order


def _dns_lookup(host):
    """The address of ``host``: from the workers' table when there is one, else DNS."""
    peer = (_PEERS or {}).get(host)
    if peer is not None:
        return peer["ip"]
    if host in ("localhost", LOCAL_HOSTNAME):
        return LOCAL_HOSTNAME
    return socket.gethostbyname(host)


def wait_hostname_resolution(sm_hosts):
    """Every host resolves (at once on Ray: the workers are all up)."""
    for host in sm_hosts:
        _dns_lookup(host)


def _own_ip():
    if "ray" in sys.modules:
        import ray

        if ray.is_initialized():
            return ray.util.get_node_ip_address()
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return LOCAL_HOSTNAME


def _free_ports(ip, n=2):
    """``n`` ports free on ``ip`` now (the tracker binds one moments later)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((ip, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _gather_peers(current_host, n_hosts):
    """Every worker's host name, address and free ports, over the workers' torch process
    group; None where there is none (or it is not this job's hosts)."""
    global _PEERS
    if _PEERS is not None:
        return _PEERS
    if "torch" not in sys.modules:  # no torch imported: no process group either
        return None
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() != n_hosts:
        return None
    ip = _own_ip()
    rows = [None] * dist.get_world_size()
    dist.all_gather_object(rows, {"host": current_host, "ip": ip, "ports": _free_ports(ip)})
    _PEERS = {row["host"]: row for row in rows}
    logging.getLogger("RabitContextManager").info("hosts: %s", json.dumps(_PEERS, sort_keys=True))
    return _PEERS


def rabit_run(exec_fun, args, include_in_training, hosts, current_host, first_port=None,
              second_port=None, max_connect_attempts=None, connect_retry_timeout=10,
              update_rabit_args=False):
    """Run ``exec_fun(**args)`` inside the collective of the hosts that have training data.

    :param exec_fun: the function that calls ``xgb.train`` (in this process).
    :param args: its keyword arguments; ``is_master`` is added with ``update_rabit_args``.
    :param include_in_training: whether this host has data to train on. Hosts without it
        leave the job (``sys.exit(0)``) once every host knows.
    :param hosts: every host's name (SM_HOSTS); ``current_host``: this one's (SM_CURRENT_HOST).
    :param first_port, second_port: the tracker's ports for the two rounds (None: the master
        host's free ports on Ray, 9099 and the next one elsewhere).
    :param max_connect_attempts, connect_retry_timeout: connecting to the tracker.
    """
    with Rabit(hosts=hosts, current_host=current_host, port=first_port,
               max_connect_attempts=max_connect_attempts,
               connect_retry_timeout=connect_retry_timeout) as rabit_ctx:
        hosts_with_data = rabit_ctx.synchronize(
            {"host": rabit_ctx.current_host, "include_in_training": include_in_training})
        hosts_with_data = [record["host"] for record in hosts_with_data if record["include_in_training"]]
        previous_port = rabit_ctx.master_port

    if not include_in_training:
        logging.warning(f"Host {current_host} not being used for distributed training.")
        sys.exit(0)

    # the container's previous port + 1 when ports are given; else the master's next free one
    second_rabit_port = second_port if second_port else (previous_port + 1 if first_port else None)

    if len(hosts_with_data) > 1:
        with Rabit(hosts=hosts_with_data, current_host=current_host, port=second_rabit_port,
                   max_connect_attempts=max_connect_attempts,
                   connect_retry_timeout=connect_retry_timeout) as cluster:
            if update_rabit_args:
                args.update({"is_master": cluster.is_master})
            exec_fun(**args)
    elif len(hosts_with_data) == 1:
        logging.debug("Only 1 host with training data, starting single node training job from: "
                      f"{current_host}")
        if update_rabit_args:
            args.update({"is_master": True})
        exec_fun(**args)
    else:
        raise RuntimeError("No hosts received training data.")


class RabitHelper:
    """What a ``Rabit`` context gives: is_master, rank, world size, and ``synchronize``."""

    def __init__(self, is_master, current_host, master_port):
        self.is_master = is_master
        self.current_host = current_host
        self.master_port = master_port
        try:
            self.rank = collective.get_rank()
            self.world_size = collective.get_world_size()
        except Exception:
            self.rank, self.world_size = 0, 1

    def synchronize(self, data):
        """Every host's ``data`` (JSON-serialisable), in rank order, on every host."""
        if self.world_size == 1:
            return [data]
        results = []
        data_str = json.dumps(data)
        for i in range(self.world_size):
            result = collective.broadcast(data_str if self.rank == i else "", i)
            results.append(json.loads(str(result)))
        return results


class Rabit:
    """A context in which this process is one worker of ``hosts``' XGBoost collective."""

    @staticmethod
    def _get_logger(current_host):
        logging.basicConfig(format=f"%(name)s [{current_host}]: %(message)s")
        return logging.getLogger("RabitContextManager")

    def __init__(self, hosts, current_host=None, master_host=None, port=None,
                 max_connect_attempts=None, connect_retry_timeout=3):
        self.current_host = current_host or LOCAL_HOSTNAME
        self.logger = self._get_logger(self.current_host)
        self.hosts = sorted(hosts)
        self.n_workers = len(self.hosts)
        self.master_host = master_host or self.hosts[0]
        self.is_master_host = self.current_host == self.master_host
        if max_connect_attempts is not None and max_connect_attempts <= 0:
            raise ValueError("max_connect_attempts must be None or an integer greater than 0.")
        self.max_connect_attempts = max_connect_attempts
        self.connect_retry_timeout = connect_retry_timeout
        self._round = _ROUNDS["n"]
        _ROUNDS["n"] += 1
        self.port = port
        self.tracker = None
        self._comm_ctx = None

    def _resolve_port(self):
        if self.port is not None:
            return self.port
        ports = ((_PEERS or {}).get(self.master_host) or {}).get("ports") or []
        return ports[self._round] if self._round < len(ports) else DEFAULT_PORT + self._round

    def start(self):
        """Start the tracker on the master host, then join the collective on every host."""
        if self.n_workers == 1:
            self.port = self._resolve_port()
            return RabitHelper(True, self.current_host, self.port)
        _gather_peers(self.current_host, self.n_workers)
        self.port = self._resolve_port()
        try:
            master_ip = str(_dns_lookup(self.master_host))
            if self.is_master_host:
                self.tracker = RabitTracker(n_workers=self.n_workers, host_ip=master_ip,
                                            port=self.port, sortby="task")
                self.tracker.start()
                worker_args = self.tracker.worker_args()
                self.logger.info(f"RabitTracker started, worker_args: {worker_args}")
            else:
                worker_args = {"dmlc_tracker_uri": master_ip, "dmlc_tracker_port": self.port}
            worker_args["dmlc_task_id"] = str(self.hosts.index(self.current_host))
            # An operation waits this long for the slowest host (the container: >= 30 s; a
            # shared machine's workers can fall further behind each other).
            worker_args["dmlc_timeout"] = max(self.connect_retry_timeout or 0, 600)
            self._connect(worker_args)
        except Exception:
            self.logger.error(f"Collective init failed on {self.current_host}", exc_info=True)
            self._cleanup()
            raise
        helper = RabitHelper(self.is_master_host, self.current_host, self.port)
        self.logger.info("joined the collective of %s as rank %d of %d", self.hosts,
                         helper.rank, helper.world_size)
        return helper

    def _connect(self, worker_args):
        """The collective's init does not retry a refused connection (the tracker may not
        listen yet), so the whole init is retried."""
        timeout = self.connect_retry_timeout or 60
        attempts = self.max_connect_attempts or max(timeout // 5, 6)
        for attempt in range(attempts):
            try:
                self._comm_ctx = collective.CommunicatorContext(**worker_args)
                self._comm_ctx.__enter__()
                return
            except Exception:
                self._comm_ctx = None
                if attempt == attempts - 1:
                    raise
                self.logger.debug("Tracker not ready (attempt %d/%d), retrying in 1s",
                                  attempt + 1, attempts)
                time.sleep(1)

    def stop(self):
        if self._comm_ctx is not None:
            try:
                self._comm_ctx.__exit__(None, None, None)
            except Exception:
                self.logger.error("CommunicatorContext exit failed", exc_info=True)
            self._comm_ctx = None
        self._cleanup()

    def _cleanup(self):
        if self.tracker is not None:
            try:
                self.tracker.wait_for(timeout=30)
            except Exception:
                pass
            try:
                self.tracker.free()
            except Exception:
                pass
            self.tracker = None

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc_value, exc_traceback):
        self.stop()
