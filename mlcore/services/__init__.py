"""The engines: one service per resource kind (``training``, ``tuning``, ``endpoints``,
``benchmarks``), the only layer of mlcore that wires ``algorithms``, ``parallel`` and
``serving`` together. The SageMaker facade and the CLI call services, never each other.

Every service module offers the same verbs, which the CLI drives from
:data:`mlcore.specs.KINDS`: ``check(spec)`` (validate deeply: models resolve, files exist),
``run(spec, name, logs, say)`` (to the end; returns the record), ``succeeded(record)``, and
where the kind has records ``describe(name)``, ``rows()`` (the list) and ``stop(name)`` or
``delete(name)``.
"""

from mlcore.services._lifecycle import Handle, claim_name, finish, generate_name

__all__ = ["Handle", "claim_name", "finish", "generate_name"]
