"""Model registry on MLflow: model package groups are registered models, packages are versions.

Approval follows SageMaker: ``PendingManualApproval | Approved | Rejected``, kept as the
version tag ``approval_status`` (visible in ``mlflow ui``). The alias ``approved`` points at
the newest approved version, so ``models:/<group>@approved`` always loads what may serve.

A version is either an MLflow logged model (a training job's, registered by ``register``) or
a model artifact registered as SageMaker's CreateModelPackage has it, a container's Image and
ModelDataUrl (``register_artifact``): its MLflow source is then the model.tar.gz's URI itself
and tags name what serves it (``algorithm`` for a built-in's image, or ``entry_point`` and
``framework`` for an inference script), so the endpoint service loads the tarball with the
algorithm's own loader, exactly as it serves ``model_data``. Nothing is unpacked or copied at
registration: the registered artifact is the one that serves.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

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
    # A CreateModelPackage version (see the module's docstring); None for MLflow models.
    model_data_url: str | None = None
    image: str | None = None
    algorithm: str | None = None
    entry_point: str | None = None
    framework: str | None = None
    environment: dict = field(default_factory=dict)
    content_types: tuple[str, ...] = ()
    response_types: tuple[str, ...] = ()
    approval_description: str | None = None
    created_ms: int | None = None  # MLflow's creation / last update, epoch milliseconds
    modified_ms: int | None = None

    @property
    def artifact(self) -> dict:
        """What serves a CreateModelPackage version, as ModelRef's fields besides model_data:
        ``{"algorithm": ...}`` or ``{"entry_point": ..., "framework": ..., "env": ...}``."""
        if self.algorithm:
            return {"algorithm": self.algorithm}
        return {k: v for k, v in (("entry_point", self.entry_point), ("framework", self.framework),
                                  ("env", self.environment)) if v}

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
    t = mv.tags

    def split(key: str) -> tuple[str, ...]:
        return tuple(x for x in t.get(key, "").split(",") if x)

    return ModelPackage(mv.name, int(mv.version), t.get(APPROVAL_TAG, "PendingManualApproval"),
                        mv.source, mv.run_id, t.get("job_name"), mv.description,
                        t.get("model_data_url"), t.get("image"), t.get("algorithm"),
                        t.get("entry_point"), t.get("framework"),
                        json.loads(t.get("environment", "{}")), split("content_types"),
                        split("response_types"), t.get("approval_description"),
                        mv.creation_timestamp, mv.last_updated_timestamp)


@dataclass(frozen=True)
class ModelPackageGroup:
    name: str
    description: str | None
    created_ms: int


def create_group(group: str, description: str | None = None) -> ModelPackageGroup:
    """A new, empty model package group; a RegistryError if one of that name exists (SageMaker's
    names are case-insensitive: ``Churn`` and ``churn`` are one group)."""
    _group(group)
    existing = canonical_group(group)
    if existing:
        raise RegistryError(f"model package group {existing!r} already exists", exists=True)
    _client().create_registered_model(group, description=description or "")
    return describe_group(group)


def canonical_group(name: str) -> str | None:
    """The existing group named ``name`` (SageMaker's names ignore case; MLflow's do not, and
    ARNs carry the name lowercased), or None."""
    import mlflow

    try:
        return _client().get_registered_model(name).name
    except mlflow.exceptions.MlflowException:
        pass
    return next((g for g in list_groups() if g.lower() == name.lower()), None)


def describe_group(group: str) -> ModelPackageGroup:
    import mlflow

    _group(group)
    try:
        m = _client().get_registered_model(canonical_group(group) or group)
    except mlflow.exceptions.MlflowException:
        raise RegistryError(f"no model package group named {group!r}; "
                            "`mlcore models list` shows all groups") from None
    return ModelPackageGroup(m.name, m.description or None, m.creation_timestamp)


def delete_group(group: str) -> None:
    """Delete an empty group; a RegistryError (``conflict``) while it has versions."""
    group = describe_group(group).name
    if list_versions(group):
        raise RegistryError(f"model package group {group!r} still has versions; delete them "
                            "first", conflict=True)
    _client().delete_registered_model(group)


def delete_version(group: str, version: int) -> None:
    pkg = describe(group, version)
    c = _client()
    c.delete_model_version(pkg.model_package_group_name, str(version))
    if pkg.approval_status == "Approved":  # the alias moves to the newest version still approved
        _move_alias(pkg.model_package_group_name)


def register_artifact(model_data_url: str, group: str, image: str | None = None,
                      algorithm: str | None = None, entry_point: str | None = None,
                      framework: str | None = None, environment: dict | None = None,
                      content_types: tuple[str, ...] = (), response_types: tuple[str, ...] = (),
                      approval_status: str = "PendingManualApproval",
                      description: str | None = None) -> ModelPackage:
    """A new version of (existing) ``group`` from a model artifact (see the module's
    docstring): a built-in's ``algorithm``, or an inference script's ``entry_point``."""
    if not (algorithm or entry_point):
        raise RegistryError(f"model data {model_data_url} needs the built-in algorithm or the "
                            "inference script (entry_point) that serves it")
    _check_status(approval_status)
    group = describe_group(group).name
    tags = {APPROVAL_TAG: approval_status, "model_data_url": model_data_url, "image": image,
            "algorithm": algorithm, "entry_point": entry_point, "framework": framework,
            "environment": json.dumps(environment) if environment else None,
            "content_types": ",".join(content_types) or None,
            "response_types": ",".join(response_types) or None}
    c = _client()
    mv = c.create_model_version(group, model_data_url, description=description,
                                tags={k: v for k, v in tags.items() if v is not None})
    if approval_status == "Approved":
        c.set_registered_model_alias(group, APPROVED_ALIAS, mv.version)
    return describe(group, int(mv.version))


_ARN = re.compile(r"arn:aws[a-z-]*:sagemaker:[^:]*:\d*:model-package/([^/]+)/(\d+)")


def parse_arn(arn: str) -> tuple[str, int] | None:
    """``(group, version)`` of SageMaker's model package ARN (its group name lowercased, as
    SageMaker writes it, matched back to the group's own spelling), or None if ``arn`` is
    not one."""
    m = _ARN.fullmatch(arn or "")
    if not m:
        return None
    return canonical_group(m.group(1)) or m.group(1), int(m.group(2))


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


def set_approval(group: str, version: int, status: str,
                 description: str | None = None) -> ModelPackage:
    """Approve or reject a version (``description``: why, SageMaker's ApprovalDescription);
    keeps the ``approved`` alias on the newest approved one."""
    _group(group)
    _check_status(status)
    describe(group, version)  # raises a clear error if it does not exist
    c = _client()
    c.set_model_version_tag(group, str(version), APPROVAL_TAG, status)
    if description is not None:
        c.set_model_version_tag(group, str(version), "approval_description", description)
    _move_alias(group)
    return describe(group, version)


def _move_alias(group: str) -> None:
    c = _client()
    approved = [p.version for p in list_versions(group) if p.approval_status == "Approved"]
    if approved:
        c.set_registered_model_alias(group, APPROVED_ALIAS, str(max(approved)))
    else:
        try:
            c.delete_registered_model_alias(group, APPROVED_ALIAS)
        except Exception:  # no alias set: nothing to remove
            pass
