"""Learning-rate schedules: the one place skadv defines them (MF epochs, neural steps).

:func:`learning_rate_factor` returns the multiplier of the base learning rate at a step (an
epoch for matrix factorization, an optimizer step for the neural models). It works on plain
numbers and never imports torch, so a ``torch.optim.lr_scheduler.LambdaLR`` can call it.

Convention, for ``total_steps`` steps numbered ``0 .. total_steps - 1`` of which the first
``warmup_steps`` warm up:

- warm-up, ``step < warmup_steps``: ``(step + 1) / (warmup_steps + 1)``, rising linearly from
  ``1 / (warmup_steps + 1)`` (never 0: a step with a zero rate would be wasted) to reach 1 at
  ``step == warmup_steps``, the first step after the warm-up;
- after it, with ``progress = (step - warmup_steps) / (total_steps - warmup_steps)`` in
  ``[0, 1)``: ``"constant"`` gives 1, ``"linear"`` ``1 - progress`` and ``"cosine"``
  ``0.5 * (1 + cos(pi * progress))``. Both decays would reach 0 at ``step == total_steps``,
  one step past the end, so the last step still has a positive rate.
"""

import math

from skadv.utils._params import Interval, Options, check_params

__all__ = ["LR_SCHEDULES", "learning_rate_factor"]

#: Names accepted by ``learning_rate_factor(schedule=...)``.
LR_SCHEDULES = ("constant", "linear", "cosine")


def learning_rate_factor(step, total_steps, *, schedule="constant", warmup_steps=0):
    """Multiplier of the base learning rate at ``step`` of ``total_steps``.

    Parameters
    ----------
    step : int
        0-based index of the step (or epoch), in ``[0, total_steps)``.
    total_steps : int
        Number of steps of the run, at least 1.
    schedule : {"constant", "linear", "cosine"}, default="constant"
        Shape after the warm-up: stay at 1, decay linearly, or follow a half cosine, both
        decays towards 0 at ``total_steps``.
    warmup_steps : int, default=0
        Steps of linear warm-up at the start, in ``[0, total_steps)``: at least one step
        runs after the warm-up.

    Returns
    -------
    factor : float
        In ``(0, 1]``: 1 at the first step after the warm-up; non-decreasing during the
        warm-up, non-increasing after it.

    Raises
    ------
    InvalidParameterError
        A ``ValueError`` naming the argument: ``step`` outside ``[0, total_steps)``,
        ``total_steps < 1``, ``warmup_steps`` outside ``[0, total_steps)``, an unknown
        ``schedule``, or a non-integer count.

    Examples
    --------
    >>> from skadv.utils._schedule import learning_rate_factor
    >>> [learning_rate_factor(s, 4, schedule="linear") for s in range(4)]
    [1.0, 0.75, 0.5, 0.25]
    >>> [round(learning_rate_factor(s, 4, schedule="cosine"), 3) for s in range(4)]
    [1.0, 0.854, 0.5, 0.146]
    >>> [round(learning_rate_factor(s, 5, warmup_steps=2), 3) for s in range(5)]
    [0.333, 0.667, 1.0, 1.0, 1.0]
    """
    # total_steps first: the bounds of step and warmup_steps depend on it.
    caller = "learning_rate_factor"
    check_params(
        {
            "schedule": (schedule, [Options(*LR_SCHEDULES)]),
            "total_steps": (total_steps, [Interval("int", 1, None)]),
        },
        caller=caller,
    )
    upper = Interval("int", 0, total_steps, closed="left")
    check_params({"step": (step, [upper]), "warmup_steps": (warmup_steps, [upper])}, caller=caller)
    step, total_steps, warmup_steps = int(step), int(total_steps), int(warmup_steps)
    if step < warmup_steps:
        return (step + 1) / (warmup_steps + 1)
    if schedule == "constant":
        return 1.0
    # 1 - progress, from integers: exact, and > 0 at the last step for any total_steps.
    remaining = (total_steps - step) / (total_steps - warmup_steps)
    if schedule == "linear":
        return remaining
    # 0.5 * (1 + cos(pi * progress)) written as sin^2: the cosine form cancels to 0.0 at
    # the last step once total_steps exceeds ~1e8 (1 + cos(pi - tiny) rounds to 0).
    return math.sin(0.5 * math.pi * remaining) ** 2
