"""sagemaker_containers/_env.py's TrainingEnv, from the SM_* variables mlcore's script mode
sets (the toolkit reads /opt/ml/input/config/*.json and sets the same variables from them)."""

import json
import os


def _json(name, default):
    value = os.environ.get(name)
    return json.loads(value) if value else default


class TrainingEnv:
    """The fields scripts read: hosts, current_host, hyperparameters, channels, folders."""

    def __init__(self, resource_config=None, input_data_config=None, hyperparameters=None):
        resource = resource_config or _json("SM_RESOURCE_CONFIG", {})
        self.resource_config = resource
        self.hosts = list(resource.get("hosts") or _json("SM_HOSTS", ["algo-1"]))
        self.current_host = resource.get("current_host") or os.environ.get("SM_CURRENT_HOST", self.hosts[0])
        self.master_hostname = sorted(self.hosts)[0]
        self.is_master = self.current_host == self.master_hostname
        self.input_data_config = input_data_config or _json("SM_INPUT_DATA_CONFIG", {})
        self.hyperparameters = hyperparameters or _json("SM_HPS", {})
        self.channel_input_dirs = {name: os.environ.get("SM_CHANNEL_" + name.upper())
                                   for name in _json("SM_CHANNELS", [])}
        self.model_dir = os.environ.get("SM_MODEL_DIR")
        self.output_data_dir = os.environ.get("SM_OUTPUT_DATA_DIR")
        self.output_dir = os.environ.get("SM_OUTPUT_DIR")
        self.input_dir = os.environ.get("SM_INPUT_DIR")
        self.job_name = os.environ.get("SM_TRAINING_JOB_NAME")
        self.num_gpus = int(os.environ.get("SM_NUM_GPUS", "0"))
        self.num_cpus = int(os.environ.get("SM_NUM_CPUS", str(os.cpu_count() or 1)))
        self.user_entry_point = os.environ.get("SM_USER_ENTRY_POINT")
        self.network_interface_name = os.environ.get("SM_NETWORK_INTERFACE_NAME", "eth0")
