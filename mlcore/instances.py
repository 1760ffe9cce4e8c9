"""The instance-type catalog: SageMaker instance types as Ray resources, fitted to the machine
on mlcore's own local Ray."""

from mlcore._instances import (
    CATALOG,
    LOCAL,
    LOCAL_GPU,
    InstanceType,
    Placement,
    check_capacity,
    fitted_resources,
    lookup,
    placement,
    scale_down,
    scaling_config,
    strict,
    worker_resources,
)

__all__ = ["CATALOG", "LOCAL", "LOCAL_GPU", "InstanceType", "Placement", "check_capacity",
           "fitted_resources", "lookup", "placement", "scale_down", "scaling_config", "strict",
           "worker_resources"]
