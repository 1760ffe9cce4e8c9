"""``sagemaker.image_uris``: built-in algorithms have no container images here.

``retrieve("xgboost", region, version)`` returns ``mlcore/builtin/xgboost:<version>``, which an
``Estimator`` reads as "run the built-in xgboost". Real ECR URIs of SageMaker's built-ins
(``.../sagemaker-xgboost:1.7-1``) are recognised the same way, so ported scripts keep working.
"""

from __future__ import annotations

import re

from mlcore.errors import SpecError
from mlcore.sagemaker import _args
from mlcore.specs import BUILTIN_ALGORITHMS

PREFIX = "mlcore/builtin/"
_ECR_NAMES = {"sagemaker-xgboost": "xgboost", "xgboost": "xgboost", "linear-learner": "linear-learner",
              "kmeans": "kmeans", "pca": "pca", "knn": "knn", "randomcutforest": "randomcutforest",
              "factorization-machines": "factorization-machines", "forecasting-deepar": "deepar",
              "blazingtext": "blazingtext", "image-classification": "image-classification",
              "object-detection": "object-detection"}


def retrieve(framework: str, region: str | None = None, version: str | None = None,
             py_version: str | None = None, instance_type: str | None = None, **kwargs) -> str:
    _args.accept("image_uris.retrieve", kwargs, retrieve)
    """The image URI that stands for built-in ``framework``."""
    if framework not in BUILTIN_ALGORITHMS:
        raise SpecError(f"image_uris.retrieve: {framework!r} is not a built-in algorithm; choose one "
                        f"of {', '.join(BUILTIN_ALGORITHMS)}", [("framework", "unknown")])
    return f"{PREFIX}{framework}:{version or 'latest'}"


def algorithm_of(image_uri: str) -> str | None:
    """The built-in algorithm an image URI names, or ``None``."""
    if image_uri.startswith(PREFIX):
        return image_uri[len(PREFIX):].split(":")[0]
    m = re.search(r"/([a-z0-9-]+)(:[^/]*)?$", image_uri)
    return _ECR_NAMES.get(m.group(1)) if m else None


__all__ = ["retrieve"]
