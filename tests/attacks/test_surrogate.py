"""SurrogateAttack and GANAttack: fake rows marked, targets and budgets, seeds, inputs,
containers, ratings, errors; the surrogate beats bandwagon on its own model family."""

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

pytest.importorskip("torch")

from skadv.attacks import BandwagonAttack, GANAttack, SurrogateAttack
from skadv.attacks._surrogate import _als_sweep
from skadv.augmentation import CFGANRecommender
from skadv.datasets import make_interactions

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _tiny_gan(**params):
    return CFGANRecommender((8,), (8,), noise_dim=4, n_epochs=2, random_state=0, **params)


FAST = {
    "surrogate": lambda **kw: SurrogateAttack(n_factors=4, n_epochs=3, n_iter=3, **kw),
    "gan": lambda **kw: GANAttack(gan=_tiny_gan(), **kw),
}


@pytest.fixture
def X(synthetic_interactions):
    return synthetic_interactions


@pytest.mark.parametrize("name", FAST)
def test_fake_rows_are_marked_and_appended(name, X):
    attack = FAST[name](attack_size=0.05, filler_size=6, random_state=0)
    X_res, y_res = attack.fit_resample(X)
    assert y_res is None and X_res.dtype == np.int64
    np.testing.assert_array_equal(X_res[: len(X)], X)
    assert not attack.sample_mask_[: len(X)].any() and attack.sample_mask_[len(X) :].all()
    fake = X_res[attack.sample_mask_]
    assert attack.n_fake_users_ == round(0.05 * len(np.unique(X[:, 0])))
    np.testing.assert_array_equal(np.unique(fake[:, 0]), attack.fake_user_ids_)
    assert attack.fake_user_ids_.min() > X[:, 0].max()
    assert set(fake[:, 1]) <= set(X[:, 1])
    assert not pd.DataFrame(fake).duplicated().any()


@pytest.mark.parametrize("name", FAST)
def test_every_profile_holds_the_targets_within_the_budget(name, X, ratings):
    attack = FAST[name](target_items=[3, 17], filler_size=5, random_state=0)
    X_res, y_res = attack.fit_resample(X, ratings)
    np.testing.assert_array_equal(attack.target_items_, [3, 17])
    fake, r = X_res[attack.sample_mask_], y_res[attack.sample_mask_]
    lengths = []
    for user in attack.fake_user_ids_:
        items = fake[fake[:, 0] == user, 1]
        assert {3, 17} <= set(items.tolist())
        lengths.append(len(items) - 2)
    if name == "surrogate":  # exactly the budget; a generated profile may be shorter
        assert lengths == [5] * attack.n_fake_users_
    assert max(lengths) <= 5 and min(lengths) >= 1
    assert (r[np.isin(fake[:, 1], [3, 17])] == 5.0).all()
    assert r.min() >= 1.0 and r.max() <= 5.0 and np.all(r == np.round(r))
    np.testing.assert_array_equal(y_res[: len(X)], ratings)


@pytest.mark.parametrize("name", FAST)
def test_same_seed_same_profiles_and_inputs_untouched(name, X, ratings):
    X_copy, y_copy = X.copy(), ratings.copy()
    a = FAST[name](filler_size=4, random_state=3).fit_resample(X, ratings)
    b = FAST[name](filler_size=4, random_state=3).fit_resample(X, ratings)
    c = FAST[name](filler_size=4, random_state=4).fit_resample(X, ratings)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0]) or not np.array_equal(a[1], c[1])
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(ratings, y_copy)


@pytest.mark.parametrize("name", FAST)
def test_string_ids_and_dataframe_container(name, X):
    frame = pd.DataFrame({"user": [f"u{u}" for u in X[:, 0]], "item": X[:, 1]})
    attack = FAST[name](filler_size=3, random_state=0)
    X_res, _ = attack.fit_resample(frame)
    assert isinstance(X_res, pd.DataFrame)
    pd.testing.assert_frame_equal(X_res.iloc[: len(frame)], frame)
    assert attack.fake_user_ids_[0] == "synthetic-0"
    assert set(X_res["user"][attack.sample_mask_]) == set(attack.fake_user_ids_)


@pytest.mark.parametrize("name", FAST)
def test_nuke_rates_targets_lowest_and_needs_ratings(name, X, ratings):
    attack = FAST[name](target_items=[5], goal="nuke", filler_size=4, random_state=0)
    X_res, y_res = attack.fit_resample(X, ratings)
    fake = attack.sample_mask_
    assert (y_res[fake][X_res[fake, 1] == 5] == 1.0).all()
    assert (X_res[fake, 1] == 5).sum() == attack.n_fake_users_
    with pytest.raises(ValueError, match="y"):
        FAST[name](goal="nuke").fit_resample(X)


def _wmf_mean_target_rank(X, n_real, targets, seed, n_factors=8):
    """Mean rank of the targets among the real users' unseen items under WMF fitted by ALS
    (the surrogate's model family, refitted from another initialization)."""
    R = sparse.csr_matrix((np.ones(len(X)), (X[:, 0], X[:, 1])))
    Q = 0.1 * np.random.RandomState(seed).standard_normal((R.shape[1], n_factors))
    for _ in range(15):
        P, Q = _als_sweep(R, R.T.tocsr(), np.zeros((0, R.shape[1])), Q, 5.0, 1.0)
    scores = P[:n_real] @ Q.T
    seen = R[:n_real].toarray() > 0
    scores[seen] = -np.inf
    ranks = [(scores >= scores[:, [t]]).sum(axis=1)[~seen[:, t]] for t in targets]
    return float(np.mean(np.concatenate(ranks)))


def test_surrogate_attack_beats_bandwagon_on_its_model_family():
    X = make_interactions(n_users=200, n_items=150, density=0.08, random_state=0)
    items, counts = np.unique(X[:, 1], return_counts=True)
    targets = np.sort(items[np.argsort(counts, kind="stable")[:3]])
    n_real = X[:, 0].max() + 1
    clean = _wmf_mean_target_rank(X, n_real, targets, seed=1)
    common = dict(target_items=targets, attack_size=0.05, filler_size=8, random_state=0)
    shifts = {}
    for name, attack in [
        ("bandwagon", BandwagonAttack(**common)),
        ("surrogate", SurrogateAttack(n_factors=8, n_iter=10, learning_rate=3.0, **common)),
    ]:
        X_poisoned, _ = attack.fit_resample(X)
        shifts[name] = clean - _wmf_mean_target_rank(X_poisoned, n_real, targets, seed=1)
    assert shifts["bandwagon"] > 0
    assert shifts["surrogate"] > 1.5 * shifts["bandwagon"]


def test_surrogate_optimization_records_its_loss_and_keeps_the_best(X):
    attack = SurrogateAttack(n_factors=4, n_iter=4, objective="rank", random_state=0)
    attack.fit(X)
    assert len(attack.loss_curve_) == 4 and np.all(np.isfinite(attack.loss_curve_))
    assert 0 <= attack.best_iteration_ <= 4
    if attack.best_iteration_ > 0:
        assert attack.loss_curve_[attack.best_iteration_ - 1] == min(attack.loss_curve_)


def test_gan_attack_uses_a_fitted_gan_as_is_and_clones_an_unfitted_one(X):
    fitted = _tiny_gan().fit(X)
    attack = GANAttack(gan=fitted, filler_size=4, random_state=0).fit(X)
    assert attack.gan_ is fitted
    unfitted = _tiny_gan()
    attack = GANAttack(gan=unfitted, filler_size=4, random_state=0).fit(X)
    assert attack.gan_ is not unfitted and not hasattr(unfitted, "generator_state_")
    assert hasattr(attack.gan_, "generator_state_")


def test_gan_attack_keeps_generated_lengths_without_a_budget(X):
    gan = _tiny_gan().fit(X)
    free = GANAttack(gan=gan, target_items=[0], random_state=0)
    budget = GANAttack(gan=gan, target_items=[0], filler_size=3, random_state=0)
    free_rows, _ = free.fit_resample(X)
    budget_rows, _ = budget.fit_resample(X)
    assert free.n_filler_ is None and budget.n_filler_ == 3
    free_len = pd.Series(free_rows[free.sample_mask_, 0]).value_counts()
    budget_len = pd.Series(budget_rows[budget.sample_mask_, 0]).value_counts()
    assert budget_len.max() <= 4 and free_len.max() > 4  # the target plus the fillers


@pytest.mark.parametrize(
    "attack, error, match",
    [
        (SurrogateAttack(n_factors=0), ValueError, "n_factors"),
        (SurrogateAttack(confidence=0.5), ValueError, "confidence"),
        (SurrogateAttack(learning_rate=0.0), ValueError, "learning_rate"),
        (SurrogateAttack(objective="hinge"), ValueError, "objective"),
        (SurrogateAttack(unroll_steps=0), ValueError, "unroll_steps"),
        (SurrogateAttack(filler_size=10_000), ValueError, "filler_size"),
        (SurrogateAttack(target_items=[999_999]), ValueError, "target_items"),
        (GANAttack(gan="cfgan"), TypeError, "gan"),
        (GANAttack(filler_size=-1), ValueError, "filler_size"),
        (GANAttack(attack_size=0.0), ValueError, "attack_size"),
    ],
)
def test_bad_parameters_name_the_argument(X, attack, error, match):
    with pytest.raises(error, match=match):
        attack.fit_resample(X)


def test_bad_input_is_rejected(X):
    with pytest.raises(ValueError, match="shape"):
        SurrogateAttack().fit_resample(np.column_stack([X, X[:, :1]]))
    with pytest.raises(ValueError, match="inconsistent"):
        GANAttack(gan=_tiny_gan()).fit_resample(X, np.ones(3))
