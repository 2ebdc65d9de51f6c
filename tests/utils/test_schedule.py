"""Learning-rate schedules (skadv.utils._schedule): hand values, laws, errors."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from skadv.utils._schedule import LR_SCHEDULES, learning_rate_factor

# (step, total_steps, schedule, warmup_steps, factor) worked out by hand.
HAND = [
    (0, 1, "constant", 0, 1.0),
    (0, 1, "linear", 0, 1.0),
    (0, 1, "cosine", 0, 1.0),
    (9, 10, "constant", 0, 1.0),
    (0, 4, "linear", 0, 1.0),
    (1, 4, "linear", 0, 0.75),
    (3, 4, "linear", 0, 0.25),
    (2, 4, "cosine", 0, 0.5),  # half-way: 0.5 * (1 + cos(pi / 2))
    (1, 4, "cosine", 0, 0.5 * (1 + math.cos(math.pi / 4))),
    (3, 4, "cosine", 0, 0.5 * (1 + math.cos(3 * math.pi / 4))),
    # Warm-up over 3 steps: 1/4, 2/4, 3/4, then 1 at the first step after it.
    (0, 10, "cosine", 3, 0.25),
    (1, 10, "linear", 3, 0.5),
    (2, 10, "constant", 3, 0.75),
    (3, 10, "linear", 3, 1.0),
    (3, 10, "cosine", 3, 1.0),
    (9, 10, "linear", 3, 1 / 7),  # 7 decay steps: the last one keeps 1/7
    (5, 6, "constant", 5, 1.0),
]


@pytest.mark.parametrize(
    "step, total, schedule, warmup, expected", HAND, ids=[str(h[:4]) for h in HAND]
)
def test_hand_values(step, total, schedule, warmup, expected):
    got = learning_rate_factor(step, total, schedule=schedule, warmup_steps=warmup)
    assert got == pytest.approx(expected, rel=1e-12)
    assert type(got) is float


def test_numpy_integers_are_accepted():
    assert learning_rate_factor(np.int64(1), np.int32(4), schedule="linear") == 0.75


@st.composite
def runs(draw):
    total = draw(st.integers(1, 10**9))
    warmup = draw(st.integers(0, total - 1))
    schedule = draw(st.sampled_from(LR_SCHEDULES))
    return total, warmup, schedule


@given(run=runs(), data=st.data())
def test_factor_lies_in_zero_one(run, data):
    total, warmup, schedule = run
    step = data.draw(st.integers(0, total - 1))
    factor = learning_rate_factor(step, total, schedule=schedule, warmup_steps=warmup)
    assert 0.0 < factor <= 1.0


@given(run=runs())
def test_last_step_keeps_a_positive_rate(run):
    total, warmup, schedule = run
    assert learning_rate_factor(total - 1, total, schedule=schedule, warmup_steps=warmup) > 0


@given(run=runs(), data=st.data())
def test_monotone_around_warmup(run, data):
    # Non-decreasing up to the end of the warm-up, non-increasing after it.
    total, warmup, schedule = run
    a = data.draw(st.integers(0, total - 1))
    b = data.draw(st.integers(a, total - 1))

    def f(step):
        return learning_rate_factor(step, total, schedule=schedule, warmup_steps=warmup)

    if b <= warmup:
        assert f(a) <= f(b)
    if a >= warmup:
        assert f(a) >= f(b)
    assert f(warmup) == 1.0  # the first step after the warm-up


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(step=-1, total_steps=3), "step"),
        (dict(step=3, total_steps=3), "step"),
        (dict(step=0.0, total_steps=3), "step"),
        (dict(step=True, total_steps=3), "step"),
        (dict(step=0, total_steps=0), "total_steps"),
        (dict(step=0, total_steps=2.5), "total_steps"),
        (dict(step=0, total_steps=3, schedule="exponential"), "schedule"),
        (dict(step=0, total_steps=3, schedule=None), "schedule"),
        (dict(step=0, total_steps=3, warmup_steps=-1), "warmup_steps"),
        (dict(step=0, total_steps=3, warmup_steps=3), "warmup_steps"),
        (dict(step=0, total_steps=3, warmup_steps=1.0), "warmup_steps"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        learning_rate_factor(**kwargs)
