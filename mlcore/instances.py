"""The instance-type catalog: SageMaker instance types as Ray resources."""

from mlcore._instances import (
           CATALOG,
           LOCAL,
           InstanceType,
           Placement,
           check_capacity,
           lookup,
           placement,
           scaling_config,
           worker_resources,
)

__all__ = ["CATALOG", "LOCAL", "InstanceType", "Placement", "check_capacity", "lookup", "placement", "scaling_config",
           "worker_resources"]
