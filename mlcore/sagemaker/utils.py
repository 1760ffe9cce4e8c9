"""``sagemaker.utils``: the name and time helpers examples call."""

from __future__ import annotations

import random
import time
import uuid


def sagemaker_timestamp() -> str:
    """``2026-12-01-15-04-05-123``: SageMaker's job-name timestamp (milliseconds)."""
    moment = time.time()
    ms = f"{moment:.3f}".split(".")[1]
    return time.strftime("%Y-%m-%d-%H-%M-%S-{}", time.gmtime(moment)).format(ms)


def sagemaker_short_timestamp() -> str:
    return time.strftime("%y%m%d-%H%M")


def name_from_base(base: str, max_length: int = 63, short: bool = False) -> str:
    """``<base>-<timestamp>``, ``base`` trimmed so the whole fits ``max_length``."""
    stamp = sagemaker_short_timestamp() if short else sagemaker_timestamp()
    return f"{base[:max_length - len(stamp) - 1]}-{stamp}"


def unique_name_from_base(base: str, max_length: int = 63) -> str:
    unique = f"{random.randrange(16**4):04x}"
    ts = str(int(time.time()))
    return f"{base[:max_length - 2 - len(ts) - len(unique)]}-{ts}-{unique}"


def unique_name_from_base_uuid4(base: str, max_length: int = 63) -> str:
    unique = str(uuid.uuid4())
    return f"{base[:max_length - len(unique) - 1]}-{unique}"


def base_name_from_image(image: str, default_base_name: str | None = None) -> str:
    """The repository part of an image URI (``.../sagemaker-xgboost:1.7-1`` ->
    ``sagemaker-xgboost``), or ``default_base_name``."""
    if not image:
        return default_base_name
    repo = image.split("/")[-1].split(":")[0].split("@")[0]
    return repo or default_base_name


__all__ = ["base_name_from_image", "name_from_base", "sagemaker_short_timestamp",
           "sagemaker_timestamp", "unique_name_from_base", "unique_name_from_base_uuid4"]
