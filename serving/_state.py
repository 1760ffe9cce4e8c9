"""An endpoint's shared state: traffic weights and per-variant counts in one small detached
actor, which every ingress replica reads and updates about once a second."""

from __future__ import annotations

from serving._errors import ServingError


class EndpointState:
    """Weights and per-variant counts of one endpoint, shared by its ingress replicas."""

    def __init__(self):
        self._weights: dict[str, float] = {}
        self._counts: dict[str, list] = {}

    def weights(self) -> dict[str, float]:
        return dict(self._weights)

    def set_weights(self, weights: dict[str, float]) -> dict[str, float]:
        self._weights = dict(weights)
        return dict(self._weights)

    def exchange(self, counts: dict[str, list]) -> dict[str, float]:
        for v, delta in counts.items():
            c = self._counts.setdefault(v, [0, 0, 0.0, 0])
            self._counts[v] = [a + b for a, b in zip(c, delta, strict=True)]
        return dict(self._weights)

    def snapshot(self) -> dict:
        return {"weights": dict(self._weights),
                "variants": {v: {"Invocations": n, "Errors": err,
                                 "MeanLatencyMs": round(ms / n, 3) if n else None,
                                 "ModelLoads": loads}
                             for v, (n, err, ms, loads) in self._counts.items()}}


def _state(name: str, create: bool = False):
    """The endpoint's state actor (traffic weights and per-variant counts), shared by every
    ingress replica; detached, so it lives as long as the endpoint."""
    import ray

    actor = f"endpoint:{name}"
    if create:
        return ray.remote(num_cpus=0)(EndpointState).options(
            name=actor, namespace="mlcore", lifetime="detached", get_if_exists=True).remote()
    try:
        return ray.get_actor(actor, namespace="mlcore")
    except ValueError:
        return None


def set_weights(name: str, weights: dict[str, float]) -> dict[str, float]:
    """Change traffic weights; every ingress replica picks them up within a second, without
    a restart (requests keep flowing). Returns the weights now in force."""
    import ray

    state = _state(name)
    if state is None:
        raise ServingError(f"no endpoint {name!r}; `mlcore endpoints list` shows those running")
    current = ray.get(state.weights.remote())
    unknown = sorted(set(weights) - set(current))
    if unknown:
        raise ServingError(f"endpoint {name!r} has no variant {', '.join(unknown)}; variants: "
                            f"{', '.join(current)}")
    if any(not w >= 0 for w in weights.values()):
        raise ServingError(f"variant weights must be numbers >= 0; got {weights}")
    merged = {**current, **{k: float(w) for k, w in weights.items()}}
    if not any(merged.values()):
        raise ServingError("at least one variant needs a weight above 0")
    return ray.get(state.set_weights.remote(merged))


def variant_stats(name: str) -> dict:
    """Per-variant ``Invocations``, ``Errors`` and mean ``LatencyMs`` across ingress replicas,
    and the current weights."""
    import ray

    state = _state(name)
    return ray.get(state.snapshot.remote()) if state else {}
