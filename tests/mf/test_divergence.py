"""Absurd epsilon and learning rates: a fit never ends with NaN/inf or runaway factors silently."""

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from skadv.datasets import make_interactions
from skadv.mf import AdversarialMFRecommender
from skadv.mf._divergence import DIVERGED_LOSS, check_loss_curves

FAST = dict(n_factors=8, n_epochs=4, adv_start=1, random_state=0)
BACKENDS = [
    pytest.param("cython", id="cython"),
    pytest.param("torch", id="torch", marks=pytest.mark.torch),
]


@pytest.fixture(scope="module")
def X():
    return make_interactions(n_users=50, n_items=40, random_state=0)


# The settings the trajectories below were measured with (the defaults before dynamic
# negative sampling).
OLD_DEFAULTS = dict(reg=0.0, adv_reg=1.0, n_negative_candidates=1)


def _backend(name):
    if name == "torch":
        pytest.importorskip("torch")
    return dict(backend=name, device="cpu") if name == "torch" else dict(backend=name)


@pytest.mark.parametrize("epsilon", [np.inf, -np.inf, np.nan])
def test_non_finite_epsilon_is_refused(X, epsilon):
    with pytest.raises(ValueError, match="'epsilon' parameter"):
        AdversarialMFRecommender(**FAST, epsilon=epsilon).fit(X)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("optimizer", ["adagrad", "sgd"])
@pytest.mark.parametrize("learning_rate", [1e6, 1e30])
def test_huge_learning_rate_raises(X, backend, optimizer, learning_rate):
    # AdaGrad at 1e6 stays finite (mean loss ~1e11): caught by the loss check, not by the
    # finiteness check; the other cases overflow to inf/NaN.
    model = AdversarialMFRecommender(
        **FAST, optimizer=optimizer, learning_rate=learning_rate, **_backend(backend)
    )
    with pytest.raises(ValueError, match="diverged.*learning_rate"):
        model.fit(X)


def test_finite_blow_up_raises():
    # Plain SGD at 0.5 on this data: every epoch finite, the mean BPR loss ~1e7 in epoch 7
    # and ~1e19 by epoch 10 (NaN and inf never appear).
    X = make_interactions(n_users=300, n_items=200, density=0.05, random_state=0)
    # (measured with the defaults of that time: no L2, adv_reg 1, uniform negatives)
    model = AdversarialMFRecommender(16, n_epochs=10, optimizer="sgd", learning_rate=0.5,
                                     random_state=0, **OLD_DEFAULTS)  # fmt: skip
    with pytest.raises(ValueError, match="epoch 7: the mean BPR loss per sample is 7.8"):
        model.fit(X)


def test_a_fit_that_ends_worse_than_it_began_warns(X):
    # Plain SGD at 0.5 on this data: finite, but the loss ends 45 times above the first
    # epoch's.
    model = AdversarialMFRecommender(
        **{**FAST, "n_epochs": 10, **OLD_DEFAULTS}, optimizer="sgd", learning_rate=0.5,
        dtype=np.float64,
    )  # fmt: skip
    with pytest.warns(ConvergenceWarning, match="ranking worse.*learning_rate"):
        model.fit(X)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("epsilon_mode", ["absolute", "relative", "per-user"])
def test_huge_epsilon_warns_and_scores_stay_finite(X, backend, epsilon_mode):
    model = AdversarialMFRecommender(
        **FAST, epsilon=1e6, epsilon_mode=epsilon_mode, **_backend(backend)
    )
    with pytest.warns(ConvergenceWarning, match="perturbation dominates.*lower epsilon"):
        model.fit(X)
    assert np.isfinite(model.score_users(np.arange(model.n_users_))).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_overflowing_epsilon_raises(X, backend):
    model = AdversarialMFRecommender(**FAST, epsilon=1e300, **_backend(backend))
    with pytest.raises(ValueError, match="diverged.*epsilon"):
        model.fit(X)


def test_loss_curve_rules():
    hint = "Lower learning_rate."
    common = dict(epsilon=0.1, epsilon_mode="relative", hint=hint)
    nan = float("nan")
    check_loss_curves([0.69, 0.5], [nan, 0.7], **common)  # an ordinary fit: silent
    with pytest.raises(ValueError, match="epoch 2.*learning_rate"):
        check_loss_curves([0.69, 2 * DIVERGED_LOSS], [nan, nan], **common)
    with pytest.raises(ValueError, match="epoch 2: the loss under the perturbation.*epsilon"):
        check_loss_curves([0.69, 0.6], [nan, np.inf], **common)
    with pytest.warns(ConvergenceWarning, match="worse.*0.69.*27"):
        check_loss_curves([0.69, 202.0, 27.0], [nan, nan, nan], **common)
