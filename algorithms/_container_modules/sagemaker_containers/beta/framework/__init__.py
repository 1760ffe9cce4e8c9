"""``sagemaker_containers.beta.framework``: the toolkit's public aliases that framework
scripts import (``from sagemaker_containers.beta.framework import entry_point, env``)."""

from ... import _content_types as content_types
from ... import _env as env
from ... import _errors as errors
from ... import entry_point


def training_env(resource_config=None, input_data_config=None, hyperparameters=None):
    return env.TrainingEnv(resource_config, input_data_config, hyperparameters)


__all__ = ["content_types", "entry_point", "env", "errors", "training_env"]
