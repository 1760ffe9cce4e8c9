"""SageMaker's one rule for resource names, each resource's longest name, and how an error
quotes a value it received.

Names become folders (``<output>/<job>/model``, ``<capture>/<endpoint>/<variant>``), record
keys, URLs (``/endpoints/<name>``) and MLflow names, so every entry point (spec fields, CLI
flags, the facade's keyword arguments, a record's claim) checks them here, before anything
is written. Specs, records and storage all sit on this module, which needs only the errors.
"""

from __future__ import annotations

import re
import reprlib

from mlcore.errors import SpecError

# SageMaker's pattern for TrainingJobName, HyperParameterTuningJobName, EndpointName,
# ModelPackageGroupName and VariantName: alphanumerics and hyphens, no leading or trailing
# hyphen. Only the length differs between them.
NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"
NAME_RULE = "1-{n} characters: letters, digits and hyphens, starting and ending with a letter or digit"
_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9])*")

# The longest name of each resource, from SageMaker's API reference. A tuning job's is 32 so
# that its trials' names (<tuning job>-<NNN>-<8 hex>) still fit a training job's 63.
TRAINING_JOB_MAX = 63
TUNING_JOB_MAX = 32
ENDPOINT_MAX = 63
MODEL_PACKAGE_GROUP_MAX = 63
VARIANT_MAX = 63
TRANSFORM_JOB_MAX = 63

# A channel name is SageMaker's ChannelName ([A-Za-z0-9.-_]{1,64}); it becomes the folder
# <input>/data/<channel> and SM_CHANNEL_<NAME>, so "." and ".." (all dots) are refused too.
CHANNEL_RULE = "1-64 characters: letters, digits, '.', '-' and '_', not only dots"
_CHANNEL = re.compile(r"[A-Za-z0-9._-]{1,64}")

# How much of a received value an error quotes: a hostile or mistaken value (a 300-character
# name, a YAML file's expanded aliases) must not become a megabyte-long message.
QUOTE_LIMIT = 200
NAME_QUOTE_LIMIT = 80
_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxdict, _REPR.maxlist, _REPR.maxtuple, _REPR.maxset = 3, 6, 8, 8, 8
_REPR.maxstring = _REPR.maxother = _REPR.maxlong = 80


def shown(value, limit: int = QUOTE_LIMIT) -> str:
    """``repr(value)`` for an error message, cut to about ``limit`` characters (a long string
    says how long it was); never walks more of a big value than it shows."""
    if isinstance(value, str):
        if len(value) <= limit:
            return repr(value)
        return f"{value[:limit]!r}... ({len(value)} characters)"
    text = _REPR.repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _why(name: str, max_len: int) -> str:
    if not name:
        return "it is empty"
    if len(name) > max_len:
        return f"{len(name)} characters, more than {max_len}"
    bad = next((c for c in name if not (c.isascii() and (c.isalnum() or c == "-"))), None)
    if bad is not None:
        return f"{bad!r} is not allowed"
    return "it starts or ends with a hyphen"


def name_problem(name, max_len: int = 63) -> str | None:
    """What is wrong with ``name`` under SageMaker's rule (the rule, the value, the fault),
    or None when it follows it. The length is checked before the pattern is tried."""
    if not isinstance(name, str):
        return f"must be a string: {NAME_RULE.format(n=max_len)}; got {shown(name, NAME_QUOTE_LIMIT)}"
    if 0 < len(name) <= max_len and _NAME.fullmatch(name):
        return None
    cut = len(name) > NAME_QUOTE_LIMIT  # the fault below says how long it was
    quoted = repr(name[:NAME_QUOTE_LIMIT]) + ("..." if cut else "")
    return f"must be {NAME_RULE.format(n=max_len)}; got {quoted} ({_why(name, max_len)})"


def check_name(name, field: str = "name", max_len: int = 63) -> str:
    """``name`` if it follows SageMaker's naming rule, else a SpecError naming ``field``,
    the rule and the value received."""
    problem = name_problem(name, max_len)
    if problem:
        raise SpecError(f"{field}: {problem}", [(field, problem)])
    return name


def channel_problem(name) -> str | None:
    """What is wrong with a channel name (SageMaker's ChannelName rule), or None."""
    if isinstance(name, str) and _CHANNEL.fullmatch(name) and name.strip("."):
        return None
    return f"channel names are {CHANNEL_RULE}; got {shown(name, NAME_QUOTE_LIMIT)}"
