"""When to take a periodic checkpoint: a small pure decision, tested without Ray."""

from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger("mlcore")


@dataclass
class CheckpointPolicy:
    """Checkpoint every ``every_steps`` steps, but no sooner than ``min_interval_s`` seconds
    after the previous one (0: every ``every_steps`` steps), and never at the last step (the
    final model is reported anyway).

    The interval bounds the cost: a checkpoint serialises the model and crosses a barrier of
    all ranks, which on fast rounds (~0.1 s) would otherwise dominate the loop. It also bounds
    the loss: at most ``max(every_steps rounds, min_interval_s)`` of work is redone after a
    failure.
    """

    every_steps: int
    min_interval_s: float = 0.0
    last_time: float | None = None

    def candidate(self, step: int, total_steps: int | None) -> bool:
        """Whether ``step`` may checkpoint at all; the same answer on every rank. ``None``:
        the total is unknown (a user's script), so no step is known to be the last."""
        return step % self.every_steps == 0 and (total_steps is None or step < total_steps)

    def due(self, step: int, total_steps: int | None, now: float) -> bool:
        """Whether to checkpoint now. Depends on this process's clock: with several ranks,
        decide on one rank and share the answer (every rank must report together)."""
        if not self.candidate(step, total_steps):
            return False
        if self.last_time is not None and now - self.last_time < self.min_interval_s:
            return False
        log.debug("checkpoint at step %d (every %d steps, %.1fs since the last, min %.1fs)",
                  step, self.every_steps, now - (self.last_time or now), self.min_interval_s)
        self.last_time = now
        return True

    def started(self, now: float) -> None:
        """Count the interval from the start of training (or of a resumed attempt)."""
        self.last_time = now
