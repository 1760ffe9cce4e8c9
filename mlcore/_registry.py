"""Model registry on MLflow: model package groups are registered models, packages are versions.

Approval follows SageMaker: ``PendingManualApproval | Approved | Rejected``, kept as the
version tag ``approval_status`` (visible in ``mlflow ui``). The alias ``approved`` points at
the newest approved version, so ``models:/<group>@approved`` always loads what may serve.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlcore import _session, _tracking
from mlcore._names import MODEL_PACKAGE_GROUP_MAX, check_name
from mlcore.errors import RegistryError

APPROVAL_TAG = "approval_status"
APPROVED_ALIAS = "approved"
STATUSES = ("PendingManualApproval", "Approved", "Rejected")


@dataclass(frozen=True)
class ModelPackage:
    model_package_group_name: str
    version: int
    approval_status: str
    source: str
    run_id: str | None
    job_name: str | None
    description: str | None

    @property
    def model_uri(self) -> str:
        return f"models:/{self.model_package_group_name}/{self.version}"

    @property
    def model_package_arn(self) -> str:  # SageMaker-style identifier
        return f"{self.model_package_group_name}/{self.version}"


def _client():
    return _tracking.client(_session.tracking_uri())


def _group(group: str) -> str:
    """``group`` if it is a model package group name by SageMaker's rule (it goes into MLflow
    names, model URIs and a search filter string), else a SpecError."""
    return check_name(group, "model_package_group_name", MODEL_PACKAGE_GROUP_MAX)


def _check_status(status: str) -> None:
    if status not in STATUSES:
        raise RegistryError(f"approval_status must be one of {', '.join(STATUSES)}; got {status!r}")


def register(model_uri: str, group: str, approval_status: str = "PendingManualApproval",
             description: str | None = None, tags: dict | None = None) -> ModelPackage:
    """Create a new version of ``group`` from a logged model."""
    import mlflow

    _group(group)
    _check_status(approval_status)
    c = _client()
    try:
        c.get_registered_model(group)
    except mlflow.exceptions.MlflowException:
        c.create_registered_model(group, description="mlcore model package group")
    mv = c.create_model_version(group, model_uri, run_id=(tags or {}).get("run_id"),
                                description=description,
                                tags={APPROVAL_TAG: approval_status, **(tags or {})})
    if approval_status == "Approved":
        c.set_registered_model_alias(group, APPROVED_ALIAS, mv.version)
    return describe(group, int(mv.version))


def _to_package(mv) -> ModelPackage:
    return ModelPackage(mv.name, int(mv.version), mv.tags.get(APPROVAL_TAG, "PendingManualApproval"),
                        mv.source, mv.run_id, mv.tags.get("job_name"), mv.description)


def describe(group: str, version: int) -> ModelPackage:
    import mlflow

    _group(group)
    try:
        return _to_package(_client().get_model_version(group, str(version)))
    except mlflow.exceptions.MlflowException:
        raise RegistryError(f"model package {group}/{version} does not exist; "
                            f"`mlcore models list {group}` shows its versions") from None


def by_alias(group: str, alias: str) -> ModelPackage:
    """The version ``alias`` points at (``approved``: the newest approved one)."""
    import mlflow

    _group(group)
    try:
        return _to_package(_client().get_model_version_by_alias(group, alias))
    except mlflow.exceptions.MlflowException:
        hint = (" (no version is approved yet: `mlcore models approve GROUP VERSION`)"
                if alias == APPROVED_ALIAS else "")
        raise RegistryError(f"model package group {group!r} has no version with alias "
                            f"{alias!r}{hint}") from None


def list_versions(group: str) -> list[ModelPackage]:
    _group(group)
    versions = _client().search_model_versions(f"name = '{group}'")
    if not versions:
        import mlflow
        try:
            _client().get_registered_model(group)
        except mlflow.exceptions.MlflowException:
            raise RegistryError(f"no model package group named {group!r}; "
                                "`mlcore models list` shows all groups") from None
    return sorted((_to_package(v) for v in versions), key=lambda p: p.version)


def list_groups() -> list[str]:
    return sorted(m.name for m in _client().search_registered_models())


def set_approval(group: str, version: int, status: str) -> ModelPackage:
    """Approve or reject a version; keeps the ``approved`` alias on the newest approved one."""
    _group(group)
    _check_status(status)
    describe(group, version)  # raises a clear error if it does not exist
    c = _client()
    c.set_model_version_tag(group, str(version), APPROVAL_TAG, status)
    approved = [p.version for p in list_versions(group) if p.approval_status == "Approved"]
    if approved:
        c.set_registered_model_alias(group, APPROVED_ALIAS, str(max(approved)))
    else:
        try:
            c.delete_registered_model_alias(group, APPROVED_ALIAS)
        except Exception:  # no alias set: nothing to remove
            pass
    return describe(group, version)
