"""The model registry (MLflow): model package groups, versions and their approval status."""

from mlcore._registry import (
    APPROVED_ALIAS,
    ModelPackage,
    ModelPackageGroup,
    create_group,
    delete_group,
    delete_version,
    describe,
    describe_group,
    list_groups,
    list_versions,
    register,
    register_artifact,
    set_approval,
)


def approve(group: str, version: int) -> ModelPackage:
    return set_approval(group, version, "Approved")


def reject(group: str, version: int) -> ModelPackage:
    return set_approval(group, version, "Rejected")


__all__ = ["APPROVED_ALIAS", "ModelPackage", "ModelPackageGroup", "approve", "create_group",
           "delete_group", "delete_version", "describe", "describe_group", "list_groups",
           "list_versions", "register", "register_artifact", "reject", "set_approval"]
