"""The logger of code that runs inside a Serve replica (the ingress, data capture).

Serve writes one logger to a replica's log file (``logs/serve/replica_<app>_<deployment>_
<id>.log``): its own, ``ray.serve``; it is what Serve's docs tell deployments to use. A record
on any other logger (``mlcore``) finds no handler in a replica, so Python's last-resort
handler writes it to ``sys.stderr``, and with ``RAY_SERVE_LOG_TO_STDERR=0`` (part of the
throughput-optimized mode mlcore runs HAProxy with) Serve has replaced ``sys.stderr`` with a
stream into ``ray.serve`` at INFO, below the WARNING level mlcore gives Serve's logs: the
record was dropped. That is why a 500 left the replica log empty.
"""

from __future__ import annotations

import logging

replica_log = logging.getLogger("ray.serve")
