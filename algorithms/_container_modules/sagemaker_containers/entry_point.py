"""sagemaker_containers/entry_point.py: the host-resolution wait that distributed scripts call
before ``rabit_run``.

On SageMaker the instances' names (algo-1, algo-2, ...) resolve only some time after the
cluster boots, hence the wait. mlcore's hosts are Ray Train workers that are all up once
the script runs, and their names are not DNS names (``distributed`` maps them to the
workers' addresses itself), so there is nothing to wait for.
"""

import logging

log = logging.getLogger(__name__)


def _wait_hostname_resolution():
    """A no-op on Ray: every worker of the job is running when the script starts."""
    log.debug("hosts are Ray Train workers, already up: no hostname resolution to wait for")
