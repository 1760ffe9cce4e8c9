"""``sagemaker.serializers``."""

from serving import CSVSerializer, IdentitySerializer, JSONSerializer

__all__ = ["CSVSerializer", "IdentitySerializer", "JSONSerializer"]
