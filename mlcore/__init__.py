"""mlcore: SageMaker's managed-ML workflow (train, tune, register, deploy) on any Ray cluster.

The base layer: errors, constants, embedded defaults (Ray, storage, MLflow), the instance
catalog, tracking and the model registry, typed specs (``mlcore.specs``) and one record store
for every resource kind (``mlcore.records``). Above it the engines (``mlcore.services``), the
SageMaker v2 facade (``mlcore.sagemaker``) and the command line (``mlcore``).
"""

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
    TrackingError,
)
from mlcore.records import Status
from mlcore.specs import Channel, DeploySpec, RegisterSpec, TrainingJob, load_file, parse_spec

__version__ = "0.1.0"

__all__ = ["AlgorithmError", "CapacityError", "Channel", "DataError", "DeploySpec",
           "EndpointError", "JobNotFound", "MLCoreError", "RegisterSpec", "RegistryError",
           "SpecError", "Status", "StorageError", "TrackingError", "TrainingJob", "load_file", "parse_spec"]
