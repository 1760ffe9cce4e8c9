"""The instance-type catalog: SageMaker instance types as Ray resources."""

from mlcore._instances import (
           CATALOG,
           LOCAL,
           InstanceType,
           check_capacity,
           lookup,
           scaling_config,
           worker_resources,
)

__all__ = ["CATALOG", "LOCAL", "InstanceType", "check_capacity", "lookup", "scaling_config",
           "worker_resources"]
