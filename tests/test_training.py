"""skadv.training, the core every trainer runs on: epoch loop, early stopping, helpers."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.exceptions import ConvergenceWarning

from skadv.training import (
    EPSILON_MODES,
    MEAN_NORM_EPSILON_MODES,
    EarlyStopping,
    TrainingSchedule,
    check_finite,
    check_warmup,
    extend_ids,
    normalize_rows,
    perturbation_radii,
    run_epochs,
    usable_samples,
)


def _schedule(**params):
    base = dict(n_epochs=4, learning_rate=0.1, adversary="fgsm", adv_reg=0.5, epsilon=0.2,
                epsilon_mode="absolute", adv_start=2)  # fmt: skip
    return TrainingSchedule(**{**base, **params})


def _run(schedule, sums=(2.0, 1.0), **kwargs):
    plans = []

    def run_epoch(plan):
        plans.append(plan)
        return sums

    kwargs.setdefault("check", lambda loss, epoch: None)
    log = run_epochs(schedule, run_epoch, n_draws=2, **kwargs)
    return log, plans


def test_clean_epochs_then_adversarial_ones():
    log, plans = _run(_schedule())
    assert [p.adversary for p in plans] == ["none", "none", "fgsm", "fgsm"]
    assert [p.eps_user for p in plans] == [0.0, 0.0, 0.2, 0.2]
    assert log.loss_curve == [1.0] * 4
    assert (
        all(math.isnan(v) for v in log.adv_loss_curve[:2]) and log.adv_loss_curve[2:] == [0.5] * 2
    )
    assert log.n_epochs == 4 and log.validation_scores is None


@pytest.mark.parametrize("params", [{"adv_reg": 0.0}, {"epsilon": 0.0}, {"adversary": "none"}])
def test_no_adversarial_epoch_without_weight_radius_or_adversary(params):
    _, plans = _run(_schedule(**params))
    assert {p.adversary for p in plans} == {"none"}


def test_relative_radii_follow_the_norms_at_the_end_of_the_previous_epoch():
    norms = iter([(1.0, 2.0), (1.0, 2.0), (3.0, 4.0), (5.0, 6.0), (7.0, 8.0)])
    _, plans = _run(_schedule(epsilon_mode="relative", adv_start=1), row_norms=lambda: next(norms))
    radii = np.array([(p.eps_user, p.eps_item) for p in plans[1:]])
    np.testing.assert_allclose(radii, [(0.2, 0.4), (0.6, 0.8), (1.0, 1.2)])


def test_learning_rate_follows_the_schedule():
    _, plans = _run(_schedule(lr_schedule="linear", warmup_epochs=1))
    rates = [p.learning_rate for p in plans]
    assert rates[0] < rates[1] and rates[1] > rates[2] > rates[3] > 0


def test_divergence_check_sees_the_objective():
    seen = []
    _run(_schedule(adv_start=0), sums=(2.0, 4.0), check=lambda loss, epoch: seen.append(loss))
    assert seen == [1.0 + 0.5 * 2.0] * 4
    with pytest.raises(ValueError, match="diverged in epoch 3.*Lower learning_rate"):
        check_finite(np.nan, (), 2, "Lower learning_rate.")
    with pytest.raises(ValueError, match="diverged"):
        check_finite(1.0, (np.array([np.inf]),), 0, "")


def test_collapse_is_measured_against_the_largest_norms_reached():
    # Norms that first grow (0.8 -> 2.3) and then shrink to 0.03 have collapsed even though
    # they never fell far below their starting value.
    norms = iter([(0.8, 0.8), (2.3, 1.7), (1.0, 1.0), (0.03, 0.05)])
    with pytest.warns(ConvergenceWarning, match="collapsed in epoch 3.*down from 2.3"):
        _run(_schedule(n_epochs=3, adv_start=1), row_norms=lambda: next(norms))


def test_verbose_log_names_the_phase_and_the_losses(capsys):
    _run(_schedule(n_epochs=2, adv_start=1), verbose=1)
    out = capsys.readouterr()
    text = out.out + out.err
    assert "epoch 1/2 [clean]: loss 1.00000" in text
    assert "epoch 2/2 [adversarial: fgsm]: loss 1.00000, adversarial loss 0.50000" in text


# ------------------------------------------------------------------------------ early stopping
def _stopper(scores, **params):
    scores = iter(scores)
    states = iter(range(100))
    base = dict(n_iter_no_change=2, tol=0.01, patience_start=0)
    return EarlyStopping(lambda: next(scores), lambda: next(states), **{**base, **params})


def test_early_stopping_keeps_the_best_state():
    stopper = _stopper([0.1, 0.5, 0.4, 0.45, 0.9])
    log, _ = _run(_schedule(n_epochs=5), early_stopping=stopper)
    assert log.n_epochs == 4  # epochs 3 and 4 did not improve on 0.5
    assert log.validation_scores == [0.1, 0.5, 0.4, 0.45]
    assert (log.best_epoch, log.best_validation_score, stopper.best_state) == (1, 0.5, 1)


def test_patience_restarts_when_adversarial_training_starts():
    # Clean epochs 0-2 never stop the run, and epoch 3 (the first adversarial one) starts a
    # new count: the run stops after two adversarial epochs without improvement.
    stopper = _stopper([0.5, 0.4, 0.3, 0.3, 0.3, 0.3, 0.3], patience_start=3)
    log, _ = _run(_schedule(n_epochs=7, adv_start=3), early_stopping=stopper)
    assert log.n_epochs == 5 and log.best_epoch == 0


def test_improvement_needs_tol():
    stopper = _stopper([0.5, 0.505, 0.509, 0.6], n_iter_no_change=2, tol=0.01)
    assert [stopper.after_epoch(e)[0] for e in range(3)] == [False, False, True]
    assert stopper.best_score == 0.509  # the best is kept even when it is not an improvement


# ------------------------------------------------------------------------------ helpers
def test_usable_samples_drop_users_without_negatives_and_group_by_user():
    indptr = np.array([0, 1, 3, 4])  # user 1 has both items
    users, items = usable_samples(indptr, np.array([2, 1, 0, 1]), np.array([0, 0, 1, 1]), 2)
    assert users.tolist() == [0, 2] and items.tolist() == [1, 0]
    assert users.dtype == items.dtype == np.int32
    with pytest.raises(ValueError, match="every item"):
        usable_samples(np.array([0, 2]), np.array([0, 0]), np.array([0, 1]), 2)


def test_extend_ids_keeps_codes_and_refuses_ids_of_another_type():
    ids, codes = extend_ids(np.array(["a", "c"], dtype=object), np.array(["c", "b"], dtype=object))
    assert ids.tolist() == ["a", "c", "b"] and codes.tolist() == [1, 2]
    with pytest.raises(TypeError, match="users holds str ids"):
        extend_ids(np.array([196, 186]), np.array(["196"], dtype=object), "users")


@given(arrays(np.float32, (6, 4), elements=st.floats(-1e3, 1e3, width=32)), st.floats(0.01, 10))
def test_normalized_rows_have_the_radius_or_stay_zero(matrix, radius):
    out = normalize_rows(matrix, radius)
    norms = np.linalg.norm(out.astype(np.float64), axis=1)
    nonzero = np.abs(matrix).max(axis=1) > 0
    np.testing.assert_allclose(norms[nonzero], radius, rtol=1e-5)
    assert np.all(norms[~nonzero] == 0)


def test_normalize_rows_keeps_the_direction_of_tiny_rows():
    tiny = np.array([[3e-30, 4e-30]], dtype=np.float32)
    np.testing.assert_allclose(normalize_rows(tiny), [[0.6, 0.8]], rtol=1e-6)


def test_radii():
    P, Q = np.array([[3.0, 4.0], [0.0, 0.0]]), np.array([[1.0, 0.0]])
    assert perturbation_radii(0.1, "relative", P, Q) == pytest.approx((0.25, 0.1))
    assert perturbation_radii(0.1, "absolute", P, Q) == (0.1, 0.1)
    assert perturbation_radii(0.5, "relative", norms=(2.0, 4.0)) == (1.0, 2.0)
    with pytest.raises(ValueError, match="epsilon_mode"):
        perturbation_radii(0.1, "scaled", P, Q)


def test_check_warmup():
    check_warmup(4, 5)
    with pytest.raises(ValueError, match="warmup_epochs=5 must be less than n_epochs=5"):
        check_warmup(5, 5)


def test_verbose_levels(monkeypatch):
    from skadv import training

    epochs, log = training.progress(3, 0)
    assert list(epochs) == [0, 1, 2] and log is None

    class FakeBar:  # a tqdm bar on a terminal
        disable = False

        def __init__(self, iterable, **kwargs):
            self.iterable, self.postfix, self.written = iterable, None, []

        def set_postfix_str(self, text, refresh=True):
            self.postfix = text

        def write(self, text):
            self.written.append(text)

    monkeypatch.setattr("tqdm.auto.tqdm", FakeBar)
    bar, log = training.progress(3, 1)
    log("epoch 1/3 [clean]: loss 0.5")
    assert bar.postfix == "loss 0.5" and bar.written == []  # the bar only
    bar, log = training.progress(3, 2)
    log("epoch 1/3 [clean]: loss 0.5")
    assert bar.written == ["epoch 1/3 [clean]: loss 0.5"]  # every line, above the bar
    FakeBar.disable = True  # off a terminal the lines are the progress
    bar, log = training.progress(3, 1)
    assert log is print


def test_two_player_runs_log_both_losses_every_epoch(capsys):
    schedule = TrainingSchedule(n_epochs=2, learning_rate=0.1, two_player=True,
                                loss_names=("generator loss", "discriminator loss"))  # fmt: skip
    seen = []
    log, _ = _run(schedule, sums=(2.0, 4.0), check=lambda loss, epoch: seen.append(loss),
                  verbose=1)  # fmt: skip
    assert log.adv_loss_curve == [2.0, 2.0] and seen == [3.0, 3.0]
    out = capsys.readouterr()
    assert "[two-player]: generator loss 1.00000, discriminator loss 2.00000" in out.out + out.err


def test_per_user_plans_carry_the_relative_radii_and_the_mean_user_norm():
    norms = iter([(1.0, 2.0), (1.0, 2.0), (3.0, 4.0), (5.0, 6.0), (7.0, 8.0)])
    _, plans = _run(_schedule(epsilon_mode="per-user", adv_start=1), row_norms=lambda: next(norms))
    assert plans[0].mean_user_norm == 0.0  # clean epoch
    radii = np.array([(p.eps_user, p.eps_item, p.mean_user_norm) for p in plans[1:]])
    np.testing.assert_allclose(radii, [(0.2, 0.4, 1.0), (0.6, 0.8, 3.0), (1.0, 1.2, 5.0)])
    assert perturbation_radii(0.5, "per-user", norms=(2.0, 4.0)) == (1.0, 2.0)


def test_relative_plans_carry_no_mean_user_norm():
    _, plans = _run(_schedule(epsilon_mode="relative"), row_norms=lambda: (1.0, 2.0))
    assert {p.mean_user_norm for p in plans} == {0.0}


def test_per_user_is_in_the_vocabulary_but_the_torch_models_refuse_it():
    assert "per-user" in EPSILON_MODES and "per-user" not in MEAN_NORM_EPSILON_MODES
    pytest.importorskip("torch")
    from skadv.datasets import make_interactions
    from skadv.neural import AdversarialNeuralRecommender

    X = make_interactions(n_users=20, n_items=10, random_state=0)
    model = AdversarialNeuralRecommender(epsilon_mode="per-user", n_epochs=1)
    with pytest.raises(ValueError, match="per-user.*AdversarialMFRecommender only"):
        model.fit(X)
