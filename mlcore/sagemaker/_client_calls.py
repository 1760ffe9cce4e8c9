"""How ``sagemaker_client``'s operations are called and how they refuse, as boto3 and the
SageMaker service do: keyword arguments only, checked against botocore's input shape (a
``ParamValidationError`` before anything runs, as boto3 raises it); then the service's own
checks on names, enumerations and ranges (``ValidationException`` worded as SageMaker words
it); any refusal of mlcore's as the ``ClientError`` boto3 would raise, so ``except
ClientError`` and ``e.response["Error"]["Code"]`` work unchanged.

A parameter SageMaker has and mlcore does not use (Tags, KmsKeyId, VpcConfig...) is accepted
and named once in the log.
"""

from __future__ import annotations

import functools
import inspect
import logging
import re

from botocore.exceptions import ClientError, ParamValidationError
from pydantic import ValidationError as PydanticError

from mlcore.errors import JobNotFound, MLCoreError, RegistryError
from mlcore.services import _shapes

log = logging.getLogger("mlcore")
_noted: set[tuple[str, str]] = set()


@functools.cache
def service_model():
    import botocore.session

    return botocore.session.get_session().get_service_model("sagemaker")


def client_error(operation: str, message: str, code: str = "ValidationException",
                 status: int = 400) -> ClientError:
    """The ClientError boto3 raises for SageMaker's answer ``code``."""
    return ClientError({"Error": {"Code": code, "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, operation)


def operation(name: str):
    """Make a method SageMaker's operation ``name`` (e.g. ``"CreateModel"``), called as boto3
    calls it; the method takes the parameters it uses, by SageMaker's names."""
    def wrap(fn):
        accepted = set(inspect.signature(fn).parameters) - {"self"}

        @functools.wraps(fn)
        def call(self, *args, **params):
            if args:
                raise TypeError(f"{fn.__name__}() only accepts keyword arguments.")
            op = service_model().operation_model(name)
            _check_params(op, params)
            for k in sorted(set(params) - accepted):
                if (name, k) not in _noted:
                    _noted.add((name, k))
                    log.info("mlcore: %s accepts %s, which means nothing on Ray; ignored",
                             fn.__name__, k)
            try:
                return fn(self, **{k: v for k, v in params.items() if k in accepted})
            except ClientError:
                raise
            except MLCoreError as e:
                declared = {x.name for x in op.error_shapes}
                code = ("ConflictException" if e.fields.get("conflict") else
                        "ResourceNotFound" if isinstance(e, JobNotFound)
                        and "ResourceNotFound" in declared else "ValidationException")
                raise client_error(name, str(e), code) from None
            except PydanticError as e:  # a spec built from the request refused it
                raise client_error(name, _one_line(e)) from None

        call.operation_name = name
        return call
    return wrap


def _one_line(e: PydanticError) -> str:
    return "; ".join(f"{'.'.join(map(str, x['loc'])) or 'request'}: {x['msg']}"
                     for x in e.errors())


def _check_params(op, params: dict) -> None:
    from botocore.validate import ParamValidator

    report = ParamValidator().validate(params, op.input_shape)
    if report.has_errors():
        raise ParamValidationError(report=report.generate_report())
    problems = _constraints(params, op.input_shape, "")
    if problems:
        n = len(problems)
        raise client_error(op.name, f"{n} validation error{'s' if n > 1 else ''} detected: "
                           + "; ".join(problems))


def _constraints(value, shape, path: str) -> list[str]:
    """What SageMaker's own request validation refuses in ``value``: an enumeration, a
    length, a range or a name pattern. Two kinds of pattern are mlcore's to widen, as its
    instance types are: an ARN-only parameter's (this installation's region, ``local``, is
    shorter than an AWS region's) and a URI's (mlcore reads local paths and any fsspec
    scheme, not only s3:// and https://)."""
    kind, meta = shape.type_name, shape.metadata
    if kind == "structure":
        return [p for k, v in value.items() if k in shape.members
                for p in _constraints(v, shape.members[k], _at(path, k))]
    out = []
    if kind == "list":
        for i, item in enumerate(value, 1):
            out += _constraints(item, shape.member, f"{path}.{i}.member")
    if kind == "map":
        for k, v in value.items():
            out += _constraints(v, shape.value, f"{path}.{k}")
    said = f"Value {_shown(value)} at '{path}' failed to satisfy constraint: Member must"
    if kind in ("string", "list", "map"):
        if "min" in meta and len(value) < meta["min"]:
            out.append(f"{said} have length greater than or equal to {meta['min']}")
        if "max" in meta and len(value) > meta["max"]:
            out.append(f"{said} have length less than or equal to {meta['max']}")
    elif kind in ("integer", "long", "float", "double"):
        if "min" in meta and value < meta["min"]:
            out.append(f"{said} have value greater than or equal to {meta['min']}")
        if "max" in meta and value > meta["max"]:
            out.append(f"{said} have value less than or equal to {meta['max']}")
    enum = getattr(shape, "enum", None) if kind == "string" else None
    if shape.name in _shapes._OPEN_ENUMS:  # instance types: mlcore's own list checks them
        enum = None
    if enum and value not in enum:
        out.append(f"{said} satisfy enum value set: [{', '.join(enum)}]")
    pattern = meta.get("pattern") if kind == "string" else None
    if pattern and not pattern.startswith("arn:") and "://" not in pattern \
            and not _matches(pattern, value):
        out.append(f"{said} satisfy regular expression pattern: {pattern}")
    return out


@functools.cache
def _compiled(pattern: str):
    try:
        return re.compile(pattern)
    except re.error:  # a Java-only construct (\p{...}): the service checks it, mlcore cannot
        return None


def _matches(pattern: str, value: str) -> bool:
    rx = _compiled(pattern)
    return rx is None or rx.fullmatch(value) is not None


def _at(path: str, key: str) -> str:
    key = key[:1].lower() + key[1:]  # SageMaker names members lowerCamel in its messages
    return f"{path}.{key}" if path else key


def _shown(value) -> str:
    text = str(value)
    return f"'{text[:200]}'" if isinstance(value, str) else text[:200]


# --- identifiers -----------------------------------------------------------------------
def arn(resource: str, name: str) -> str:
    return _shapes.arn(resource, name)


def package_arn(group: str, version: int) -> str:
    return _shapes.arn("model-package", f"{group}/{version}")


_PACKAGE = re.compile(r"(?:model-package/|models:/|^)([^/:]+)/(\d+)$")


def package(identifier: str) -> tuple[str, int]:
    """``(group, version)`` of ``group/3``, SageMaker's ARN ``arn:...:model-package/group/3``
    (its lowercased name matched back to the group's spelling) or ``models:/group/3``."""
    from mlcore import _registry

    parsed = _registry.parse_arn(identifier) if identifier else None
    if parsed:
        return parsed
    m = _PACKAGE.search(identifier or "")
    if not m:
        raise RegistryError(f"ModelPackageArn {str(identifier)[:200]!r} is not "
                            "'<group>/<version>' or a model package ARN ending in "
                            "model-package/<group>/<version>")
    return m.group(1), int(m.group(2))


def group_name(identifier: str) -> str:
    """The group a ModelPackageGroupName names: its name or its ARN, in either case."""
    from mlcore import _registry

    name = identifier.rsplit("model-package-group/", 1)[-1] if identifier.startswith("arn:") \
        else identifier
    return _registry.canonical_group(name) or name
