"""``sagemaker_client``'s model registry operations: model package groups are MLflow
registered models, versioned model packages are their versions (mlcore._registry).

CreateModelPackage registers its container's ModelDataUrl (a model.tar.gz, or a folder) as
the version's source, with what serves it: a built-in algorithm's image
(``image_uris.retrieve("xgboost", ...)`` or SageMaker's own ECR URI), or an inference script
named by ``Environment["SAGEMAKER_PROGRAM"]`` (its framework read from the image, the script
in the artifact's ``code/`` folder). ``ModelPackage(model_package_arn=...).deploy()`` and
``create_endpoint`` serve that artifact with the algorithm's own loader. Approval is
SageMaker's: PendingManualApproval unless the request says otherwise, and only an Approved
version serves (the endpoint service's rules).
"""

from __future__ import annotations

from mlcore import _storage, registry
from mlcore.errors import RegistryError
from mlcore.sagemaker import image_uris
from mlcore.sagemaker._client_calls import (
    arn,
    client_error,
    group_name,
    operation,
    package,
    package_arn,
)
from mlcore.services._shapes import compact, when

# Framework containers by a word of their image's name (SageMaker's ECR repositories).
_FRAMEWORKS = (("pytorch", "pytorch"), ("scikit-learn", "sklearn"), ("sklearn", "sklearn"),
               ("xgboost", "xgboost"))
# Variables SageMaker's framework containers read that mean nothing to mlcore's replicas.
_CONTAINER_ENV = ("SAGEMAKER_PROGRAM", "SAGEMAKER_SUBMIT_DIRECTORY", "SAGEMAKER_REGION",
                  "SAGEMAKER_CONTAINER_LOG_LEVEL", "SAGEMAKER_ENABLE_CLOUDWATCH_METRICS")


def model_data_url(container: dict) -> str | None:
    """A container's artifact: ModelDataUrl, or ModelDataSource's S3 URI."""
    source = (container.get("ModelDataSource") or {}).get("S3DataSource") or {}
    return container.get("ModelDataUrl") or source.get("S3Uri")


def serving_fields(container: dict) -> dict:
    """What serves a container's artifact, as ModelRef's fields besides model_data."""
    image, env = container.get("Image") or "", dict(container.get("Environment") or {})
    program = env.get("SAGEMAKER_PROGRAM")
    if program:
        framework = next((f for word, f in _FRAMEWORKS if word in image.lower()), None)
        return {"entry_point": program, "framework": framework,
                "env": {k: v for k, v in env.items() if k not in _CONTAINER_ENV}}
    algorithm = image_uris.algorithm_of(image) if image else None
    if not algorithm:
        raise RegistryError(
            f"Image {image[:200]!r} is not a built-in algorithm's image and Environment names no "
            "SAGEMAKER_PROGRAM: mlcore runs no containers, so it serves a built-in's artifact "
            "(Image from sagemaker.image_uris.retrieve) or an inference script (Environment "
            "{'SAGEMAKER_PROGRAM': 'inference.py'}, the script in the artifact's code/ folder)")
    return {"algorithm": algorithm}


def check_artifact(url: str | None, what: str) -> str:
    if not url:
        raise RegistryError(f"{what} needs ModelDataUrl (the model.tar.gz): mlcore serves only "
                            "the artifact a container names")
    try:
        fs, path = _storage.filesystem(url)
        found = fs.exists(path)
    except Exception as e:  # an unreachable store reads as the artifact missing, with why
        raise RegistryError(f"ModelDataUrl {url[:200]} cannot be read: {type(e).__name__}: "
                            f"{str(e)[:200]}") from None
    if not found:
        raise RegistryError(f"ModelDataUrl {url[:200]} does not exist; upload the model.tar.gz "
                            "there first")
    return url


def _summary(p: registry.ModelPackage) -> dict:
    return compact({
        "ModelPackageName": p.model_package_group_name,
        "ModelPackageGroupName": p.model_package_group_name, "ModelPackageVersion": p.version,
        "ModelPackageArn": package_arn(p.model_package_group_name, p.version),
        "ModelPackageDescription": p.description or None,
        "CreationTime": when((p.created_ms or 0) / 1000), "ModelPackageStatus": "Completed",
        "ModelApprovalStatus": p.approval_status})


def _described(p: registry.ModelPackage) -> dict:
    if p.model_data_url:
        container = {"Image": p.image, "ModelDataUrl": p.model_data_url,
                     "Environment": p.environment or None}
    else:  # a training job's MLflow model (estimator.register): that model is what serves
        container = {"Image": "mlcore/mlflow-model", "ModelDataUrl": p.source}
    return compact({
        **_summary(p), "LastModifiedTime": when((p.modified_ms or p.created_ms or 0) / 1000),
        "InferenceSpecification": {"Containers": [container],
                                   "SupportedContentTypes": list(p.content_types) or None,
                                   "SupportedResponseMIMETypes": list(p.response_types) or None},
        "ModelPackageStatusDetails": {"ValidationStatuses": [], "ImageScanStatuses": []},
        "CertifyForMarketplace": False, "ApprovalDescription": p.approval_description})


def _group_shape(g: registry.ModelPackageGroup) -> dict:
    return compact({"ModelPackageGroupName": g.name,
                    "ModelPackageGroupArn": arn("model-package-group", g.name),
                    "ModelPackageGroupDescription": g.description,
                    "CreationTime": when(g.created_ms / 1000),
                    "ModelPackageGroupStatus": "Completed"})


def _no_group(op: str, name: str):
    return client_error(op, f"ModelPackageGroup {name} does not exist.")


class PackageOperations:
    """Model package groups and versioned model packages."""

    @operation("CreateModelPackageGroup")
    def create_model_package_group(self, ModelPackageGroupName: str,
                                   ModelPackageGroupDescription: str | None = None) -> dict:
        try:
            g = registry.create_group(ModelPackageGroupName, ModelPackageGroupDescription)
        except RegistryError as e:
            if not e.fields.get("exists"):
                raise
            raise client_error("CreateModelPackageGroup", "Model Package Group already exists: "
                               f"{arn('model-package-group', ModelPackageGroupName)}") from None
        return {"ModelPackageGroupArn": arn("model-package-group", g.name)}

    @operation("DescribeModelPackageGroup")
    def describe_model_package_group(self, ModelPackageGroupName: str) -> dict:
        name = group_name(ModelPackageGroupName)
        try:
            group = registry.describe_group(name)
        except RegistryError:
            raise _no_group("DescribeModelPackageGroup", name) from None
        return {**_group_shape(group), "CreatedBy": {}}

    @operation("ListModelPackageGroups")
    def list_model_package_groups(self, NameContains: str | None = None, MaxResults: int = 100,
                                  SortBy: str = "CreationTime", SortOrder: str = "Ascending",
                                  NextToken: str | None = None) -> dict:
        groups = [registry.describe_group(g) for g in registry.list_groups()
                  if not NameContains or NameContains.lower() in g.lower()]
        key = (lambda g: g.name) if SortBy == "Name" else (lambda g: g.created_ms)
        return _page({"ModelPackageGroupSummaryList": [
            _group_shape(g) for g in sorted(groups, key=key, reverse=SortOrder == "Descending")]},
            "ModelPackageGroupSummaryList", MaxResults, NextToken)

    @operation("DeleteModelPackageGroup")
    def delete_model_package_group(self, ModelPackageGroupName: str) -> dict:
        name = group_name(ModelPackageGroupName)
        try:
            registry.describe_group(name)
        except RegistryError:
            raise _no_group("DeleteModelPackageGroup", name) from None
        registry.delete_group(name)  # a group with versions: ConflictException
        return {}

    @operation("CreateModelPackage")
    def create_model_package(self, ModelPackageGroupName: str | None = None,
                             ModelPackageName: str | None = None,
                             ModelPackageDescription: str | None = None,
                             InferenceSpecification: dict | None = None,
                             ModelApprovalStatus: str = "PendingManualApproval") -> dict:
        op = "CreateModelPackage"
        if not ModelPackageGroupName:
            raise client_error(op, "mlcore's registry keeps versioned model packages: give "
                               "ModelPackageGroupName (create it with "
                               "create_model_package_group)" + (
                                   f", not ModelPackageName {ModelPackageName!r}"
                                   if ModelPackageName else ""))
        if ModelPackageName:
            raise client_error(op, "give ModelPackageGroupName or ModelPackageName, not both "
                               "(ModelPackageName creates an unversioned package)")
        group = group_name(ModelPackageGroupName)
        try:
            registry.describe_group(group)
        except RegistryError:
            raise _no_group(op, group) from None
        containers = (InferenceSpecification or {}).get("Containers") or []
        if len(containers) != 1:
            raise client_error(op, "InferenceSpecification.Containers must hold exactly one "
                               f"container (the model to serve); got {len(containers)}")
        c = containers[0]
        url = check_artifact(model_data_url(c), "InferenceSpecification.Containers[0]")
        spec = InferenceSpecification
        p = registry.register_artifact(
            url, group, image=c.get("Image"), **_registry_fields(serving_fields(c)),
            content_types=tuple(spec.get("SupportedContentTypes") or ()),
            response_types=tuple(spec.get("SupportedResponseMIMETypes") or ()),
            approval_status=ModelApprovalStatus, description=ModelPackageDescription)
        return {"ModelPackageArn": package_arn(p.model_package_group_name, p.version)}

    @operation("ListModelPackages")
    def list_model_packages(self, ModelPackageGroupName: str | None = None,
                            ModelApprovalStatus: str | None = None, NameContains: str | None = None,
                            MaxResults: int = 100, SortBy: str = "CreationTime",
                            SortOrder: str = "Ascending", NextToken: str | None = None) -> dict:
        if ModelPackageGroupName:
            group = group_name(ModelPackageGroupName)
            try:
                versions = registry.list_versions(group)
            except RegistryError:
                raise _no_group("ListModelPackages", group) from None
        else:
            versions = [p for g in registry.list_groups() for p in registry.list_versions(g)]
        versions = [p for p in versions
                    if (not ModelApprovalStatus or p.approval_status == ModelApprovalStatus)
                    and (not NameContains or NameContains.lower()
                         in p.model_package_group_name.lower())]
        key = ((lambda p: (p.model_package_group_name, p.version)) if SortBy == "Name"
               else (lambda p: (p.created_ms or 0, p.version)))
        versions.sort(key=key, reverse=SortOrder == "Descending")
        return _page({"ModelPackageSummaryList": [_summary(p) for p in versions]},
                     "ModelPackageSummaryList", MaxResults, NextToken)

    @operation("DescribeModelPackage")
    def describe_model_package(self, ModelPackageName: str) -> dict:
        return _described(_existing("DescribeModelPackage", ModelPackageName))

    @operation("UpdateModelPackage")
    def update_model_package(self, ModelPackageArn: str, ModelApprovalStatus: str | None = None,
                             ApprovalDescription: str | None = None) -> dict:
        """Approve or reject a version (the ``approved`` alias follows)."""
        p = _existing("UpdateModelPackage", ModelPackageArn)
        group, version = p.model_package_group_name, p.version
        if ModelApprovalStatus or ApprovalDescription is not None:
            registry.set_approval(group, version, ModelApprovalStatus or p.approval_status,
                                  ApprovalDescription)
        return {"ModelPackageArn": package_arn(group, version)}

    @operation("DeleteModelPackage")
    def delete_model_package(self, ModelPackageName: str) -> dict:
        p = _existing("DeleteModelPackage", ModelPackageName)
        registry.delete_version(p.model_package_group_name, p.version)
        return {}


def _registry_fields(fields: dict) -> dict:
    return {("environment" if k == "env" else k): v for k, v in fields.items()}


def _existing(op: str, identifier: str) -> registry.ModelPackage:
    """The version ``identifier`` names (ARN, ``group/N``); SageMaker's ValidationException
    if there is none."""
    group, version = package(identifier)
    try:
        return registry.describe(group_name(group), version)
    except RegistryError:
        raise client_error(op, f"ModelPackage {package_arn(group, version)} does not exist.") \
            from None


def _page(response: dict, key: str, max_results: int, token: str | None) -> dict:
    """One page of ``response[key]``; NextToken is the offset of the next page."""
    start = int(token) if token and token.isdigit() else 0
    items = response[key]
    response[key] = items[start:start + max_results]
    if start + max_results < len(items):
        response["NextToken"] = str(start + max_results)
    return response
