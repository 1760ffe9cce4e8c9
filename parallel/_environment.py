"""What a script-mode worker's script sees, as SageMaker's training toolkit gives it: command-
line hyperparameters, SM_* variables, channel folders, and metrics parsed from its output."""

from __future__ import annotations

import io
import json
import os
import re


def cli_args(hp: dict) -> list[str]:
    """Hyperparameters as SageMaker's training toolkit passes them (``mapping.to_cmd_args``):
    sorted by name, ``--name`` (``-n`` for one letter), ``str(value)``, dicts as ``k=v,k2=v2``."""
    out = []
    for k in sorted(hp):
        v = hp[k]
        value = ",".join(f"{a}={b}" for a, b in sorted(v.items())) if isinstance(v, dict) else str(v)
        out += [f"--{k}" if len(str(k)) > 1 else f"-{k}", value]
    return out


def _env_json(value) -> str:
    """An SM_* value: strings as they are, anything else as compact sorted JSON (the toolkit's)."""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"))


def sm_environment(cfg: dict, st, source_dir: str, num_gpus: int) -> dict[str, str]:
    """The SM_* variables of SageMaker's training toolkit, for this worker."""
    hp = cfg["hyperparameters"]
    hosts = [f"algo-{i + 1}" for i in range(st.world_size)]
    env = {
        "SM_MODEL_DIR": st.model_dir, "SM_OUTPUT_DATA_DIR": st.output_data_dir,
        "SM_OUTPUT_DIR": os.path.dirname(st.output_data_dir), "SM_CHECKPOINT_DIR": st.checkpoint_dir,
        "SM_OUTPUT_INTERMEDIATE_DIR": os.path.join(os.path.dirname(st.output_data_dir), "intermediate"),
        "SM_INPUT_DIR": os.path.join(os.path.dirname(os.path.dirname(st.output_data_dir)), "input"),
        "SM_CHANNELS": _env_json(sorted(st.channels)), "SM_HPS": _env_json(hp),
        "SM_USER_ARGS": _env_json(cli_args(hp)), "SM_HOSTS": _env_json(hosts),
        "SM_CURRENT_HOST": hosts[st.rank], "SM_NUM_GPUS": str(num_gpus),
        "SM_NUM_CPUS": str(_worker_cpus()), "SM_NUM_NEURONS": str(cfg.get("neuron_cores", 0)),
        "SM_CURRENT_INSTANCE_TYPE": cfg["instance_type"], "SM_MODULE_DIR": source_dir,
        "SM_MODULE_NAME": os.path.splitext(cfg["entry_point"])[0],
        "SM_USER_ENTRY_POINT": cfg["entry_point"], "SM_FRAMEWORK_MODULE": "mlcore",
        "SM_LOG_LEVEL": "20", "SM_NETWORK_INTERFACE_NAME": "eth0", "SM_IS_HETERO": "false",
        "SM_TRAINING_JOB_NAME": cfg["job_name"],
        "SM_RESOURCE_CONFIG": json.dumps({"current_host": hosts[st.rank], "hosts": hosts}),
        "SM_INPUT_DATA_CONFIG": json.dumps({n: {"ContentType": c.get("content_type"),
                                                "TrainingInputMode": c.get("input_mode", "File")}
                                            for n, c in cfg["channels"].items()}),
        "SM_DISTRIBUTION_CONFIG": json.dumps(cfg.get("distribution") or {}),
    }
    for name, path in st.channels.items():
        env[f"SM_CHANNEL_{name.upper()}"] = path
    for k, v in hp.items():
        env[f"SM_HP_{k.upper()}"] = _env_json(v)
    env["SM_TRAINING_ENV"] = json.dumps({
        "hyperparameters": hp, "channel_input_dirs": st.channels, "model_dir": st.model_dir,
        "output_data_dir": st.output_data_dir, "hosts": hosts, "current_host": hosts[st.rank],
        "num_gpus": num_gpus, "job_name": cfg["job_name"], "user_entry_point": cfg["entry_point"]})
    return env


def _worker_cpus() -> int:
    from parallel._reporting import worker_cpus

    return worker_cpus()


def _stage_channel(name: str, ch: dict, root: str) -> str:
    """A local folder holding channel ``name``: the folder itself when it is local, else a
    copy of the remote files (File/FastFile modes) in this worker's scratch space."""
    from mlcore import _storage

    uri = ch["uri"]
    if ch.get("input_mode") == "Pipe":
        return uri  # streamed through context.dataset(name)
    if not _storage.is_remote(uri):
        path = _storage.local_path(uri)
        if os.path.isdir(path):
            return path
        folder = os.path.join(root, "input", "data", name)
        os.makedirs(folder, exist_ok=True)
        link = os.path.join(folder, os.path.basename(path))
        if not os.path.exists(link):
            os.symlink(os.path.abspath(path), link)
        return folder
    folder = os.path.join(root, "input", "data", name)
    fs, path = _storage.filesystem(uri)
    files = [f for f in fs.find(path)] or [path]
    os.makedirs(folder, exist_ok=True)
    for f in files:
        rel = os.path.relpath(f, path) if f != path else os.path.basename(f)
        dest = os.path.join(folder, rel)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        fs.get(f, dest)
    return folder


class _MetricTee(io.TextIOBase):
    """Rank 0's stdout, passed through and scanned for ``metric_definitions`` (SageMaker
    parses the container's log the same way). A metric's n-th match is step ``base + n``."""

    def __init__(self, stream, definitions: list[dict], buffer, base_step: int, counts=None):
        self._stream, self._buffer = stream, buffer
        self._defs = [(d["Name"], re.compile(d["Regex"])) for d in definitions]
        self._counts = counts if counts is not None else {}
        for name, _ in self._defs:
            self._counts.setdefault(name, base_step)
        self._pending = ""

    def write(self, s: str) -> int:
        self._stream.write(s)
        self._pending += s
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            for name, rx in self._defs:
                m = rx.search(line)
                if m:
                    try:
                        value = float(m.group(1))
                    except ValueError:
                        continue
                    self._counts[name] += 1
                    self._buffer.add(self._counts[name], {name: value}, {"step": self._counts[name]})
        return len(s)

    def flush(self) -> None:
        self._stream.flush()

    def __getattr__(self, name):  # encoding, fileno, buffer, isatty, ... of the real stream
        return getattr(self._stream, name)
