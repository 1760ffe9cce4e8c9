"""The ``mlcore`` command line: run, validate, schema, jobs, models, instances."""

from mlcore.cli._main import main

__all__ = ["main"]
