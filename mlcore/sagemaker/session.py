"""``sagemaker.Session`` and ``get_execution_role``: AWS notions mapped onto mlcore's defaults."""

from __future__ import annotations

import logging

from mlcore import _session, constants
from mlcore.sagemaker import _args, _endpoints
from mlcore.services import endpoints

log = logging.getLogger("mlcore")
LOCAL_ROLE = "arn:mlcore:iam::local:role/ray-cluster"


class Session:
    """Stands in for ``sagemaker.Session``: storage and tracking come from mlcore's defaults."""

    def __init__(self, boto_session=None, default_bucket: str | None = None, **kwargs):
        _args.accept("Session", kwargs, Session.__init__)
        self._bucket = default_bucket

    @property
    def boto_region_name(self) -> str:
        return "local"

    def default_bucket(self) -> str:
        """The storage root: ``$MLCORE_HOME`` (or the bucket given to the constructor)."""
        return self._bucket or str(constants.home())

    @property
    def tracking_uri(self) -> str:
        return _session.tracking_uri()

    def endpoint_from_production_variants(self, name: str, production_variants: list, wait: bool = True,
                                          **endpoint_fields):
        """Deploy an endpoint of several variants (see :func:`production_variant`)."""
        _args.name(name, "name", _args.ENDPOINT)
        return _endpoints.deploy_variants(name, list(production_variants), wait=wait, **endpoint_fields)

    def update_endpoint_weights_and_capacities(self, endpoint_name: str,
                                               desired_weights_and_capacities: list[dict]) -> str:
        """Set ``DesiredWeight`` per ``VariantName`` in place: no restart, no dropped request."""
        _args.name(endpoint_name, "endpoint_name", _args.ENDPOINT)
        for d in desired_weights_and_capacities:
            _args.name(d.get("VariantName"), "VariantName", _args.VARIANT)
        weights = {d["VariantName"]: d["DesiredWeight"] for d in desired_weights_and_capacities
                   if "DesiredWeight" in d}
        endpoints.update_weights(endpoint_name, weights)
        return endpoint_name

    def describe_endpoint(self, endpoint_name: str) -> dict:
        return endpoints.describe(_args.name(endpoint_name, "endpoint_name", _args.ENDPOINT))

    def delete_endpoint(self, endpoint_name: str) -> None:
        endpoints.delete(_args.name(endpoint_name, "endpoint_name", _args.ENDPOINT))


def production_variant(model_name: str, instance_type: str = "local", initial_instance_count: int = 1,
                       variant_name: str = "AllTraffic", initial_weight: float = 1.0,
                       serverless_inference_config=None, **kwargs):
    _args.accept("production_variant", kwargs, production_variant)
    """One variant for :meth:`Session.endpoint_from_production_variants`. ``model_name``:
    ``<group>/<version>`` or ``<group>@<alias>`` (registered) or a training job name."""
    return _endpoints.variant_spec(_endpoints.model_ref(model_name), instance_type, initial_instance_count,
                                variant_name, initial_weight, serverless_inference_config)


def get_execution_role(sagemaker_session=None) -> str:
    log.info("get_execution_role: no IAM here; jobs run with the Ray cluster's own identity")
    return LOCAL_ROLE


__all__ = ["Session", "get_execution_role", "production_variant"]
