"""The sagemaker_containers modules this package uses, whichever way it was imported: as the
top-level ``sagemaker_xgboost_container`` (the container's spelling, its sibling
``sagemaker_containers`` on ``sys.path``) or inside mlcore's ``algorithms`` package."""

try:
    from ..sagemaker_containers import _content_types, _errors
except ImportError:  # top-level: no parent package to reach the sibling through
    from sagemaker_containers import _content_types, _errors

__all__ = ["_content_types", "_errors"]
