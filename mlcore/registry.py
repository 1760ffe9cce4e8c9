"""The model registry (MLflow): model package groups, versions and their approval status."""

from mlcore._registry import (
    APPROVED_ALIAS,
    ModelPackage,
    describe,
    list_groups,
    list_versions,
    register,
    set_approval,
)


def approve(group: str, version: int) -> ModelPackage:
    return set_approval(group, version, "Approved")


def reject(group: str, version: int) -> ModelPackage:
    return set_approval(group, version, "Rejected")


__all__ = ["APPROVED_ALIAS", "ModelPackage", "approve", "describe", "list_groups",
           "list_versions", "register", "reject", "set_approval"]
