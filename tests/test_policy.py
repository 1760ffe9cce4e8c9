"""The periodic-checkpoint decision, without Ray."""

from parallel import CheckpointPolicy


def test_every_n_steps_without_interval():
    p = CheckpointPolicy(every_steps=10)
    p.started(0.0)
    assert [s for s in range(1, 51) if p.due(s, 50, now=0.0)] == [10, 20, 30, 40]  # not 50: final


def test_min_interval_skips_fast_steps():
    p = CheckpointPolicy(every_steps=10, min_interval_s=30)
    p.started(0.0)
    # one step per second: due every 10 steps, allowed every 30 s
    assert [s for s in range(1, 101) if p.due(s, 100, now=float(s))] == [30, 60, 90]


def test_slow_steps_checkpoint_every_n():
    p = CheckpointPolicy(every_steps=5, min_interval_s=30)
    p.started(0.0)
    assert [s for s in range(1, 21) if p.due(s, 20, now=s * 10.0)] == [5, 10, 15]
