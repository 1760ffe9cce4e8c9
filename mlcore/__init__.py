"""mlcore: SageMaker's managed-ML workflow (train, tune, register, deploy) on any Ray cluster.

The platform core: typed specs and YAML loading, embedded defaults (Ray, storage, MLflow),
storage, the instance catalog, tracking, the model registry and job records. The SageMaker
v2-style facade is ``mlcore.sagemaker``; the command line is ``mlcore``.
"""

from mlcore._specs import Channel, DeploySpec, RegisterSpec, TrainingJob, parse_spec
from mlcore._yaml import load_file
from mlcore.errors import (
    AlgorithmError,
    CapacityError,
    DataError,
    EndpointError,
    JobNotFound,
    MLCoreError,
    RegistryError,
    SpecError,
    StorageError,
)

__version__ = "0.1.0"

__all__ = ["AlgorithmError", "CapacityError", "Channel", "DataError", "DeploySpec",
           "EndpointError", "JobNotFound", "MLCoreError", "RegisterSpec", "RegistryError",
           "SpecError", "StorageError", "TrainingJob", "load_file", "parse_spec"]
