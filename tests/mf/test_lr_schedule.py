"""Learning-rate schedules of AdversarialMFRecommender, in both backends."""

import importlib.util

import numpy as np
import pytest

from skadv.datasets import make_interactions
from skadv.mf import AdversarialMFRecommender, _cython_backend
from skadv.utils._schedule import learning_rate_factor

FAST = dict(n_factors=8, n_epochs=5, adv_start=2, random_state=0, n_jobs=1)
_NO_TORCH = importlib.util.find_spec("torch") is None
BACKENDS = [
    "cython",
    pytest.param(
        "torch", marks=[pytest.mark.torch, pytest.mark.skipif(_NO_TORCH, reason="needs torch")]
    ),
]
# (lr_schedule, warmup_epochs) other than the default ("constant", 0).
SCHEDULES = [("linear", 0), ("cosine", 0), ("constant", 2), ("cosine", 1), ("linear", 4)]


@pytest.fixture(scope="module")
def X():
    return make_interactions(n_users=60, n_items=40, density=0.1, random_state=0)


def _fit(X, backend, **params):
    model = AdversarialMFRecommender(**{**FAST, "backend": backend, **params})
    return model.fit(X)


def _record_kernel_rates(monkeypatch, backend):
    """Record the learning rate of every kernel call (cython: one per epoch; torch: one per
    batch) and return the list."""
    rates = []
    if backend == "cython":
        real = _cython_backend._mf_sgd.sgd_epoch

        def spy(*args, **kwargs):
            rates.append(args[8]["lr"])  # sgd_epoch(P, Q, b, 3 accumulators, pairs, seeds, step)
            return real(*args, **kwargs)

        monkeypatch.setattr(_cython_backend._mf_sgd, "sgd_epoch", spy)
    else:
        from skadv.mf import _torch_backend as tb

        real = tb.batch_step

        def spy(*args, **kwargs):
            rates.append(kwargs["lr"])
            return real(*args, **kwargs)

        monkeypatch.setattr(tb, "batch_step", spy)
    return rates


def _per_epoch(rates, n_epochs):
    """Kernel rates grouped by epoch (every epoch makes the same number of calls)."""
    assert len(rates) % n_epochs == 0
    per_epoch = np.array(rates).reshape(n_epochs, -1)
    assert (per_epoch == per_epoch[:, :1]).all()  # one rate for a whole epoch
    return per_epoch[:, 0].tolist()


@pytest.mark.parametrize("backend", BACKENDS)
def test_constant_schedule_passes_the_learning_rate_unchanged(X, backend, monkeypatch):
    # The default reproduces the factors of the code before schedules existed: the kernels
    # receive exactly (bitwise) ``learning_rate`` in every epoch, and nothing else changed.
    rates = _record_kernel_rates(monkeypatch, backend)
    _fit(X, backend, learning_rate=0.037, lr_schedule="constant", warmup_epochs=0)
    assert _per_epoch(rates, 5) == [0.037] * 5


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("schedule, warmup", SCHEDULES)
def test_each_epoch_trains_at_its_scheduled_rate(X, backend, schedule, warmup, monkeypatch):
    rates = _record_kernel_rates(monkeypatch, backend)
    _fit(X, backend, learning_rate=0.05, lr_schedule=schedule, warmup_epochs=warmup)
    expected = [
        0.05 * learning_rate_factor(e, 5, schedule=schedule, warmup_steps=warmup) for e in range(5)
    ]
    assert _per_epoch(rates, 5) == expected


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("schedule, warmup", SCHEDULES)
def test_schedules_change_the_factors(X, backend, schedule, warmup):
    constant = _fit(X, backend).user_factors_
    scheduled = _fit(X, backend, lr_schedule=schedule, warmup_epochs=warmup).user_factors_
    assert not np.allclose(scheduled, constant)


@pytest.mark.parametrize("backend", BACKENDS)
def test_schedule_starts_over_in_partial_fit(X, backend, monkeypatch):
    model = _fit(X, backend, lr_schedule="cosine", warmup_epochs=1)
    rates = _record_kernel_rates(monkeypatch, backend)
    model.partial_fit(np.array([[-7, X[0, 1]], [-7, 999], [X[0, 0], 999]]))
    expected = [0.05 * learning_rate_factor(e, 5, schedule="cosine", warmup_steps=1)
                for e in range(5)]  # fmt: skip
    assert _per_epoch(rates, 5) == expected


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_warmup_must_leave_an_epoch(X, backend, method):
    model = _fit(X, backend)
    before = model.user_factors_.copy()
    model.set_params(warmup_epochs=5)
    with pytest.raises(ValueError, match="warmup_epochs=5 must be less than n_epochs=5"):
        getattr(model, method)(X)
    np.testing.assert_array_equal(model.user_factors_, before)  # raised before training


def test_verbose_prints_the_rate_of_a_schedule(X, capsys):
    _fit(X, "cython", verbose=1, n_epochs=3, adv_start=1, lr_schedule="linear")
    out = capsys.readouterr()
    text = out.out + out.err
    assert "epoch 1/3 [clean]: loss" in text and "lr 0.05" in text and "lr 0.0167" in text
    _fit(X, "cython", verbose=1, n_epochs=3)
    out = capsys.readouterr()
    assert ", lr " not in out.out + out.err
