"""Tests of EmbeddingAttack: norms, projection, gradient, sampling, copies, errors."""

import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import sparse
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from skadv.attacks import EmbeddingAttack
from skadv.attacks._embedding import (
    _bpr_loss_grad,
    _sample_triples,
    _triple_margins,
)
from skadv.base import BaseRecommender
from skadv.baseline import PopularityRecommender


class FactorModel(BaseRecommender):
    """A dot-product recommender fitted in closed form, so tests need no trainer.

    ``init="svd"``: rank-``n_factors`` truncated SVD of the interaction matrix (a sensible
    model whose scores rank training positives high); ``"random"``: Gaussian factors;
    ``"zero-users"``: SVD items, all-zero users. ``bias=True`` adds log-popularity biases.
    """

    def __init__(
        self,
        n_factors=4,
        *,
        init="svd",
        bias=False,
        dtype=np.float64,
        handle_unknown="popularity",
        positive_threshold=None,
        random_state=None,
    ):
        self.n_factors = n_factors
        self.init = init
        self.bias = bias
        self.dtype = dtype
        self.handle_unknown = handle_unknown
        self.positive_threshold = positive_threshold
        self.random_state = random_state

    def fit(self, X, y=None):
        self._fit_interactions(X, y)
        rng = np.random.RandomState(self.random_state)
        k = self.n_factors
        if self.init == "random":
            P = rng.normal(0.0, 0.5, (self.n_users_, k))
            Q = rng.normal(0.0, 0.5, (self.n_items_, k))
        else:
            U, S, Vt = np.linalg.svd(self.interactions_.toarray(), full_matrices=False)
            P, Q = U[:, :k] * np.sqrt(S[:k]), Vt[:k].T * np.sqrt(S[:k])
            if self.init == "zero-users":
                P = np.zeros_like(P)
        self.user_factors_ = P.astype(self.dtype)
        self.item_factors_ = Q.astype(self.dtype)
        self.item_bias_ = np.log1p(self.item_popularity_) if self.bias else None
        return self

    def _user_item_scores(self, user_codes):
        scores = self.user_factors_[user_codes] @ self.item_factors_.T
        return scores if self.item_bias_ is None else scores + self.item_bias_


def _interactions(n_users=30, n_items=20, seed=0):
    """Random pairs in which every item has a positive and every user has a negative."""
    rng = np.random.RandomState(seed)
    pairs = [(u, i) for u in range(n_users) for i in rng.choice(n_items, rng.randint(2, 8), False)]
    pairs += [(i % n_users, i) for i in range(n_items)]
    return np.unique(np.array(pairs, dtype=np.int64), axis=0)


@pytest.fixture(scope="module")
def X():
    return _interactions()


@pytest.fixture(scope="module")
def model(X):
    return FactorModel(n_factors=4).fit(X)


def _row_norms(delta):
    return np.linalg.norm(delta, axis=1)


# --------------------------------------------------------------------- norms and projection
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    epsilon=st.floats(1e-3, 10.0),
    method=st.sampled_from(["fgsm", "random"]),
    init=st.sampled_from(["svd", "random"]),
    seed=st.integers(0, 2**31 - 1),
)
def test_perturbed_rows_have_norm_epsilon(X, epsilon, method, init, seed):
    model = FactorModel(n_factors=3, init=init, bias=True, random_state=seed % 100).fit(X)
    d_users, d_items = EmbeddingAttack(method, epsilon, random_state=seed).perturbation(model)
    np.testing.assert_allclose(_row_norms(d_users), epsilon, rtol=1e-10)
    np.testing.assert_allclose(_row_norms(d_items), epsilon, rtol=1e-10)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    epsilon=st.floats(1e-3, 10.0),
    n_steps=st.integers(1, 6),
    step_factor=st.floats(0.01, 5.0),
    seed=st.integers(0, 2**31 - 1),
)
def test_pgd_stays_in_the_ball(model, epsilon, n_steps, step_factor, seed):
    attack = EmbeddingAttack(
        "pgd", epsilon, n_steps=n_steps, step_size=step_factor * epsilon, random_state=seed
    )
    d_users, d_items = attack.perturbation(model)
    assert _row_norms(d_users).max() <= epsilon * (1 + 1e-12)
    assert _row_norms(d_items).max() <= epsilon * (1 + 1e-12)


def test_pgd_default_step_reaches_the_boundary(model):
    # 10 steps of 0.25 epsilon along a consistent ascent direction end on the sphere.
    d_users, d_items = EmbeddingAttack("pgd", 0.3, random_state=0).perturbation(model)
    np.testing.assert_allclose(np.median(_row_norms(d_users)), 0.3, rtol=1e-9)
    np.testing.assert_allclose(np.median(_row_norms(d_items)), 0.3, rtol=1e-9)


def test_pgd_with_one_full_step_is_fgsm(model):
    fgsm = EmbeddingAttack("fgsm", 0.4, random_state=3).perturbation(model)
    pgd = EmbeddingAttack("pgd", 0.4, n_steps=1, step_size=0.4, random_state=3).perturbation(model)
    np.testing.assert_allclose(pgd[0], fgsm[0], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(pgd[1], fgsm[1], rtol=1e-12, atol=1e-15)


def test_relative_epsilon_scales_with_mean_row_norm(model):
    attack = EmbeddingAttack("fgsm", 0.1, epsilon_mode="relative", random_state=0)
    eps_u, eps_i = attack.effective_epsilon(model)
    assert eps_u == pytest.approx(0.1 * _row_norms(model.user_factors_).mean(), rel=1e-12)
    assert eps_i == pytest.approx(0.1 * _row_norms(model.item_factors_).mean(), rel=1e-12)
    d_users, d_items = attack.perturbation(model)
    np.testing.assert_allclose(_row_norms(d_users), eps_u, rtol=1e-10)
    np.testing.assert_allclose(_row_norms(d_items), eps_i, rtol=1e-10)


def test_relative_pgd_stays_in_its_ball(model):
    attack = EmbeddingAttack("pgd", 0.2, epsilon_mode="relative", n_steps=4, random_state=0)
    eps_u, eps_i = attack.effective_epsilon(model)
    d_users, d_items = attack.perturbation(model)
    assert _row_norms(d_users).max() <= eps_u * (1 + 1e-12)
    assert _row_norms(d_items).max() <= eps_i * (1 + 1e-12)
    assert _row_norms(d_users).max() == pytest.approx(eps_u, rel=1e-9)


def test_absolute_effective_epsilon_is_epsilon(model):
    assert EmbeddingAttack(epsilon=0.7).effective_epsilon(model) == (0.7, 0.7)


@pytest.mark.parametrize("method", ["fgsm", "pgd", "random"])
def test_epsilon_zero_changes_nothing(model, method):
    d_users, d_items = EmbeddingAttack(method, 0.0, random_state=0).perturbation(model)
    assert not d_users.any() and not d_items.any()


@pytest.mark.parametrize("method", ["fgsm", "pgd", "random"])
@pytest.mark.parametrize(
    "target, users_moved, items_moved",
    [("both", True, True), ("users", True, False), ("items", False, True)],
)
def test_target_selects_the_matrices(model, method, target, users_moved, items_moved):
    attack = EmbeddingAttack(method, 0.5, target=target, random_state=0)
    d_users, d_items = attack.perturbation(model)
    assert d_users.shape == model.user_factors_.shape
    assert d_items.shape == model.item_factors_.shape
    assert bool(d_users.any()) is users_moved
    assert bool(d_items.any()) is items_moved


# --------------------------------------------------------------------- zero-gradient rows
def test_user_who_saw_every_item_gets_no_perturbation():
    X = np.vstack([_interactions(), [[99, i] for i in range(20)]])
    model = FactorModel(n_factors=3).fit(X)
    full = int(np.flatnonzero(model.user_ids_ == 99)[0])
    d_users, _ = EmbeddingAttack("fgsm", 0.5, random_state=0).perturbation(model)
    assert not d_users[full].any()
    others = np.delete(_row_norms(d_users), full)
    np.testing.assert_allclose(others, 0.5, rtol=1e-10)


def test_zero_user_factors_leave_items_unperturbed_by_fgsm(X):
    # All p_u = 0 makes the item gradient C^T P exactly zero: no direction, no perturbation.
    model = FactorModel(n_factors=3, init="zero-users").fit(X)
    d_users, d_items = EmbeddingAttack("fgsm", 0.5, random_state=0).perturbation(model)
    assert not d_items.any()
    np.testing.assert_allclose(_row_norms(d_users), 0.5, rtol=1e-10)


# --------------------------------------------------------------------- the loss and its gradient
def _reference_loss(P, Q, b, triples):
    loss = 0.0
    for u, i, j in triples:
        x = P[u] @ (Q[i] - Q[j]) + (0.0 if b is None else b[i] - b[j])
        loss += np.log1p(np.exp(-x))
    return loss


@pytest.fixture
def tiny():
    rng = np.random.RandomState(0)
    P, Q, b = rng.normal(size=(5, 3)), rng.normal(size=(7, 3)), rng.normal(size=7)
    dense = rng.rand(5, 7) < 0.4
    dense[np.arange(5), np.arange(5)] = True  # every user has a positive
    M = sparse.csr_matrix(dense, dtype=np.float64)
    u, i, j = _sample_triples(M, 2, np.random.RandomState(1))
    return P, Q, b, u, i, j


@pytest.mark.parametrize("with_bias", [True, False])
def test_loss_matches_a_loop_over_triples(tiny, with_bias):
    P, Q, b, u, i, j = tiny
    b = b if with_bias else None
    loss, _, _ = _bpr_loss_grad(P, Q, b, u, i, j)
    assert loss == pytest.approx(_reference_loss(P, Q, b, zip(u, i, j, strict=True)), rel=1e-12)


@pytest.mark.parametrize("matrix", ["P", "Q"])
def test_gradient_matches_finite_differences(tiny, matrix):
    P, Q, b, u, i, j = tiny
    _, g_P, g_Q = _bpr_loss_grad(P, Q, b, u, i, j)
    analytic = g_P if matrix == "P" else g_Q
    base = P if matrix == "P" else Q
    h = 1e-6
    numeric = np.zeros_like(base)
    for idx in np.ndindex(base.shape):
        plus, minus = base.copy(), base.copy()
        plus[idx] += h
        minus[idx] -= h
        args_p = (plus, Q) if matrix == "P" else (P, plus)
        args_m = (minus, Q) if matrix == "P" else (P, minus)
        numeric[idx] = (
            _bpr_loss_grad(*args_p, b, u, i, j, grad=False)[0]
            - _bpr_loss_grad(*args_m, b, u, i, j, grad=False)[0]
        ) / (2 * h)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


def test_dense_and_gathered_margins_agree(monkeypatch, tiny):
    P, Q, _, u, i, j = tiny
    dense = _triple_margins(P, Q, u, i, j)
    monkeypatch.setattr("skadv.attacks._embedding._DENSE_RATIO", 0)
    gathered = _triple_margins(P, Q, u, i, j)
    np.testing.assert_allclose(dense, gathered, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dense, np.einsum("ij,ij->i", P[u], Q[i] - Q[j]), rtol=1e-12)


def test_fgsm_is_first_order_optimal(model):
    # For small epsilon, FGSM raises the loss by epsilon times the summed row-gradient norms.
    eps = 1e-5
    attack = EmbeddingAttack("fgsm", eps, random_state=0)
    u, i, j = _sample_triples(model.interactions_, 1, np.random.RandomState(0))
    _, g_P, g_Q = _bpr_loss_grad(model.user_factors_, model.item_factors_, None, u, i, j)
    predicted = eps * (_row_norms(g_P).sum() + _row_norms(g_Q).sum())
    gain = attack.bpr_loss(attack.perturb(model)) - attack.bpr_loss(model)
    assert gain == pytest.approx(predicted, rel=1e-3)


@pytest.mark.parametrize("target", ["both", "users", "items"])
@pytest.mark.parametrize("epsilon", [0.05, 0.5])
def test_fgsm_increases_the_loss_more_than_random_noise(model, target, epsilon):
    fgsm = EmbeddingAttack("fgsm", epsilon, target=target, random_state=0)
    noise = EmbeddingAttack("random", epsilon, target=target, random_state=0)
    clean = fgsm.bpr_loss(model)
    # Same seed, same negatives: bpr_loss compares the three models on identical triples.
    assert fgsm.bpr_loss(fgsm.perturb(model)) - clean > 2 * (
        fgsm.bpr_loss(noise.perturb(model)) - clean
    )


def test_pgd_increases_the_loss_at_least_as_much_as_fgsm(model):
    fgsm = EmbeddingAttack("fgsm", 0.5, random_state=0)
    pgd = EmbeddingAttack("pgd", 0.5, random_state=0)
    assert pgd.bpr_loss(pgd.perturb(model)) >= fgsm.bpr_loss(fgsm.perturb(model))


# --------------------------------------------------------------------- negative sampling
def test_negatives_are_never_positives_and_cover_the_complement():
    rng = np.random.RandomState(0)
    dense = rng.rand(6, 9) < 0.5
    dense[np.arange(6), np.arange(6)] = True
    M = sparse.csr_matrix(dense, dtype=np.float64)
    u, i, j = _sample_triples(M, 500, np.random.RandomState(0))
    assert dense[u, i].all()
    assert not dense[u, j].any()
    sampled = np.zeros_like(dense)
    sampled[u, j] = True
    np.testing.assert_array_equal(sampled, ~dense)


def test_negatives_are_uniform():
    M = sparse.csr_matrix(([1.0, 1.0, 1.0], ([0, 0, 0], [1, 4, 6])), shape=(1, 8))
    n_neg = 20_000
    _, _, j = _sample_triples(M, n_neg, np.random.RandomState(0))
    counts = np.bincount(j, minlength=8)
    assert counts[[1, 4, 6]].sum() == 0
    expected = 3 * n_neg / 5
    # 5 standard deviations of a binomial count: fails with probability ~1e-6 per cell.
    sd = np.sqrt(3 * n_neg * 0.2 * 0.8)
    assert np.abs(counts[[0, 2, 3, 5, 7]] - expected).max() < 5 * sd


def test_each_positive_gets_n_negatives_and_zero_weights_are_not_positives():
    M = sparse.csr_matrix(([1.0, 0.0, 2.0], ([0, 0, 1], [0, 1, 2])), shape=(2, 4))
    u, i, _ = _sample_triples(M, 3, np.random.RandomState(0))
    assert u.tolist() == [0, 0, 0, 1, 1, 1]
    assert i.tolist() == [0, 0, 0, 2, 2, 2]


# --------------------------------------------------------------------- copies and determinism
@pytest.mark.parametrize("method", ["fgsm", "pgd", "random"])
def test_perturb_never_mutates_the_original(model, method):
    before_users = model.user_factors_.copy()
    before_items = model.item_factors_.copy()
    before_interactions = model.interactions_.copy()
    attacked = EmbeddingAttack(method, 0.5, random_state=0).perturb(model)
    assert attacked is not model
    np.testing.assert_array_equal(model.user_factors_, before_users)
    np.testing.assert_array_equal(model.item_factors_, before_items)
    assert (model.interactions_ != before_interactions).nnz == 0
    assert not np.array_equal(attacked.user_factors_, before_users)


@pytest.mark.parametrize("method", ["fgsm", "pgd", "random"])
def test_perturb_adds_the_perturbation(model, method):
    attack = EmbeddingAttack(method, 0.5, random_state=0)
    d_users, d_items = attack.perturbation(model)
    attacked = attack.perturb(model)
    np.testing.assert_allclose(attacked.user_factors_, model.user_factors_ + d_users)
    np.testing.assert_allclose(attacked.item_factors_, model.item_factors_ + d_items)
    np.testing.assert_array_equal(attacked.item_ids_, model.item_ids_)


def test_perturb_keeps_the_factor_dtype(X):
    model = FactorModel(n_factors=3, dtype=np.float32).fit(X)
    attacked = EmbeddingAttack("fgsm", 0.5, random_state=0).perturb(model)
    assert attacked.user_factors_.dtype == np.float32
    assert attacked.item_factors_.dtype == np.float32
    np.testing.assert_allclose(
        _row_norms(attacked.user_factors_ - model.user_factors_), 0.5, rtol=1e-5
    )


def test_perturbed_model_recommends_differently(model):
    users = model.user_ids_[:10]
    clean, _ = model.recommend(users, n=5)
    attacked, _ = EmbeddingAttack("fgsm", 2.0, random_state=0).perturb(model).recommend(users, n=5)
    assert not np.array_equal(clean, attacked)


@pytest.mark.parametrize("method", ["fgsm", "pgd", "random"])
def test_same_seed_same_perturbation(model, method):
    first = EmbeddingAttack(method, 0.5, random_state=7).perturbation(model)
    second = EmbeddingAttack(method, 0.5, random_state=7).perturbation(model)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


@pytest.mark.parametrize("method", ["fgsm", "random"])
def test_other_seed_other_perturbation(model, method):
    first = EmbeddingAttack(method, 0.5, random_state=7).perturbation(model)
    second = EmbeddingAttack(method, 0.5, random_state=8).perturbation(model)
    assert not np.array_equal(first[1], second[1])


def test_n_negatives_changes_the_objective(model):
    one = EmbeddingAttack(n_negatives=1, random_state=0)
    five = EmbeddingAttack(n_negatives=5, random_state=0)
    assert five.bpr_loss(model) == pytest.approx(5 * one.bpr_loss(model), rel=0.2)
    assert five.bpr_loss(model) != pytest.approx(5 * one.bpr_loss(model), rel=1e-9)


def test_item_bias_enters_the_loss(X):
    plain = FactorModel(n_factors=3).fit(X)
    biased = FactorModel(n_factors=3, bias=True).fit(X)
    attack = EmbeddingAttack(random_state=0)
    assert attack.bpr_loss(plain) != pytest.approx(attack.bpr_loss(biased))


def test_pipeline_last_step_is_attacked_and_left_untouched(X):
    pipe = Pipeline([("identity", FunctionTransformer()), ("model", FactorModel(3))]).fit(X)
    before = pipe[-1].item_factors_.copy()
    attack = EmbeddingAttack("fgsm", 0.5, random_state=0)
    attacked = attack.perturb(pipe)
    assert isinstance(attacked, Pipeline)
    np.testing.assert_array_equal(pipe[-1].item_factors_, before)
    _, d_items = attack.perturbation(pipe[-1])
    np.testing.assert_allclose(attacked[-1].item_factors_, before + d_items)


def test_attack_is_a_clonable_picklable_estimator():
    attack = EmbeddingAttack("pgd", 0.3, n_steps=3, target="items", random_state=1)
    assert clone(attack).get_params() == attack.get_params()
    assert pickle.loads(pickle.dumps(attack)).get_params() == attack.get_params()
    # __init__ stores, validation waits for use (scikit-learn convention).
    assert EmbeddingAttack(epsilon=-1.0).epsilon == -1.0


# --------------------------------------------------------------------- errors
@pytest.mark.parametrize("epsilon", [-0.1, float("nan"), float("inf"), "0.5", None, True])
def test_bad_epsilon_raises(model, epsilon):
    with pytest.raises(ValueError, match="epsilon"):
        EmbeddingAttack(epsilon=epsilon).perturbation(model)


@pytest.mark.parametrize(
    "params, name",
    [
        ({"adversary": "cw"}, "adversary"),
        ({"n_steps": 0}, "n_steps"),
        ({"n_steps": 2.5}, "n_steps"),
        ({"step_size": 0.0}, "step_size"),
        ({"epsilon_mode": "percent"}, "epsilon_mode"),
        ({"target": "bias"}, "target"),
        ({"n_negatives": 0}, "n_negatives"),
        ({"random_state": "seed"}, "random_state"),
    ],
)
def test_bad_parameters_raise_naming_them(model, params, name):
    with pytest.raises(ValueError, match=name):
        EmbeddingAttack(**params).perturb(model)


def test_non_mf_estimator_raises_type_error_naming_it(X):
    popularity = PopularityRecommender().fit(X)
    with pytest.raises(TypeError, match="PopularityRecommender"):
        EmbeddingAttack().perturbation(popularity)


def test_non_estimator_raises_type_error():
    with pytest.raises(TypeError, match="ndarray"):
        EmbeddingAttack().perturbation(np.zeros((3, 2)))


@pytest.mark.parametrize(
    "method_name", ["perturb", "perturbation", "bpr_loss", "effective_epsilon"]
)
def test_unfitted_estimator_raises_not_fitted(method_name):
    with pytest.raises(NotFittedError):
        getattr(EmbeddingAttack(), method_name)(FactorModel())


def test_mismatched_factor_shapes_raise(X):
    model = FactorModel(n_factors=3).fit(X)
    model.item_factors_ = model.item_factors_[:, :2]
    with pytest.raises(ValueError, match="item_factors_"):
        EmbeddingAttack().perturbation(model)


def test_non_finite_factors_raise(X):
    model = FactorModel(n_factors=3).fit(X)
    model.user_factors_[0, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        EmbeddingAttack().perturbation(model)


def test_stored_zero_weights_are_not_positives_and_stay_stored(X):
    y = np.ones(X.shape[0])
    y[0] = 0.0
    model = FactorModel(n_factors=3).fit(X, y)
    nnz = model.interactions_.nnz
    attack = EmbeddingAttack("fgsm", 0.5, random_state=0)
    attack.perturb(model)
    assert model.interactions_.nnz == nnz
    u, i, _ = _sample_triples(model.interactions_, 1, np.random.RandomState(0))
    assert u.shape[0] == nnz - 1


# --------------------------------------------------------------------- the real MF estimator
@pytest.fixture(scope="module")
def trained_mf():
    # Imported here so that a broken MF module fails these tests only, not the whole file.
    from skadv.datasets import make_interactions
    from skadv.mf import AdversarialMFRecommender

    X = make_interactions(n_users=120, n_items=80, density=0.08, random_state=0)
    return AdversarialMFRecommender(
        n_factors=16, n_epochs=30, adv_reg=0.0, item_bias=True, random_state=0
    ).fit(X)


@pytest.mark.parametrize("method", ["fgsm", "pgd", "random"])
def test_mf_rows_are_in_the_ball_and_the_model_is_untouched(trained_mf, method):
    users, items = trained_mf.user_factors_.copy(), trained_mf.item_factors_.copy()
    attack = EmbeddingAttack(method, 0.3, random_state=0)
    attacked = attack.perturb(trained_mf)
    moved_users = np.linalg.norm(attacked.user_factors_ - users, axis=1)
    moved_items = np.linalg.norm(attacked.item_factors_ - items, axis=1)
    tol = 1e-5 if users.dtype == np.float32 else 1e-10
    assert moved_users.max() <= 0.3 * (1 + tol) and moved_items.max() <= 0.3 * (1 + tol)
    assert np.median(moved_users) == pytest.approx(0.3, rel=tol)
    np.testing.assert_array_equal(trained_mf.user_factors_, users)
    np.testing.assert_array_equal(trained_mf.item_factors_, items)


@pytest.mark.parametrize("epsilon_mode, epsilon", [("absolute", 0.1), ("relative", 0.2)])
def test_mf_fgsm_beats_random_noise_on_the_training_loss(trained_mf, epsilon_mode, epsilon):
    fgsm = EmbeddingAttack("fgsm", epsilon, epsilon_mode=epsilon_mode, random_state=0)
    noise = EmbeddingAttack("random", epsilon, epsilon_mode=epsilon_mode, random_state=0)
    clean = fgsm.bpr_loss(trained_mf)
    fgsm_gain = fgsm.bpr_loss(fgsm.perturb(trained_mf)) - clean
    noise_gain = fgsm.bpr_loss(noise.perturb(trained_mf)) - clean
    assert fgsm_gain > 0
    assert fgsm_gain > 2 * noise_gain


def test_mf_bpr_loss_is_that_of_the_model_scores(trained_mf):
    # Item biases included: the attack must see the scores the model ranks by.
    expected = _loss_from_predict(trained_mf)
    assert EmbeddingAttack(random_state=0).bpr_loss(trained_mf) == pytest.approx(
        expected, rel=1e-5
    )


def _loss_from_predict(model):
    u, i, j = _sample_triples(model.interactions_, 1, np.random.RandomState(0))
    x = model.predict(np.column_stack([model.user_ids_[u], model.item_ids_[i]]))
    x -= model.predict(np.column_stack([model.user_ids_[u], model.item_ids_[j]]))
    return np.logaddexp(0.0, -x).sum()


def test_bpr_loss_is_that_of_the_model_scores(X):
    model = FactorModel(n_factors=3, bias=True).fit(X)
    expected = _loss_from_predict(model)
    assert EmbeddingAttack(random_state=0).bpr_loss(model) == pytest.approx(expected, rel=1e-12)


# --------------------------------------------------------------------- norm and per-user radii
NORMS = ["row-l2", "global-l2", "linf"]


def _size(delta, norm):
    """The size of a perturbation in the attack's norm: per row, per matrix or per entry."""
    if norm == "row-l2":
        return _row_norms(delta)
    if norm == "global-l2":
        return np.array([np.linalg.norm(delta)])
    return np.abs(delta).ravel()


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("epsilon_mode", ["absolute", "relative"])
@pytest.mark.parametrize("method", ["fgsm", "random"])
def test_fgsm_and_random_land_on_the_boundary_of_each_set(model, norm, epsilon_mode, method):
    attack = EmbeddingAttack(method, 0.3, norm=norm, epsilon_mode=epsilon_mode, random_state=0)
    radii = attack.effective_epsilon(model)
    for delta, radius in zip(attack.perturbation(model), radii, strict=True):
        np.testing.assert_allclose(_size(delta, norm), radius, rtol=1e-10)


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("epsilon_mode", ["absolute", "relative"])
def test_pgd_stays_in_each_set_and_reaches_its_boundary(model, norm, epsilon_mode):
    attack = EmbeddingAttack("pgd", 0.3, norm=norm, epsilon_mode=epsilon_mode, random_state=0)
    radii = attack.effective_epsilon(model)
    for delta, radius in zip(attack.perturbation(model), radii, strict=True):
        size = _size(delta, norm)
        assert size.max() <= radius * (1 + 1e-12)
        assert size.max() == pytest.approx(radius, rel=1e-9)


def test_relative_radii_of_the_global_ball_and_the_box(model):
    # Global: the Frobenius norm of a perturbation moving every row by the relative row
    # radius; box: the half-width whose corners lie on that row sphere.
    P, Q = model.user_factors_, model.item_factors_
    k = P.shape[1]
    row = EmbeddingAttack(epsilon=0.2, epsilon_mode="relative").effective_epsilon(model)
    glob = EmbeddingAttack(epsilon=0.2, epsilon_mode="relative", norm="global-l2")
    box = EmbeddingAttack(epsilon=0.2, epsilon_mode="relative", norm="linf")
    np.testing.assert_allclose(
        glob.effective_epsilon(model), (row[0] * np.sqrt(len(P)), row[1] * np.sqrt(len(Q)))
    )
    np.testing.assert_allclose(box.effective_epsilon(model), np.array(row) / np.sqrt(k))
    # A linf-FGSM row then has exactly the L2 norm of a row-l2 FGSM row.
    d_users, _ = EmbeddingAttack("fgsm", 0.2, epsilon_mode="relative", norm="linf",
                                 random_state=0).perturbation(model)  # fmt: skip
    np.testing.assert_allclose(_row_norms(d_users), row[0], rtol=1e-10)


def test_linf_fgsm_is_epsilon_times_the_sign_of_the_gradient(model):
    u, i, j = _sample_triples(model.interactions_, 1, np.random.RandomState(4))
    _, g_P, g_Q = _bpr_loss_grad(model.user_factors_, model.item_factors_, None, u, i, j)
    d_users, d_items = EmbeddingAttack("fgsm", 0.25, norm="linf", random_state=4).perturbation(
        model
    )
    np.testing.assert_array_equal(d_users, 0.25 * np.sign(g_P))
    np.testing.assert_array_equal(d_items, 0.25 * np.sign(g_Q))


def test_global_fgsm_is_the_gradient_scaled_to_the_radius(model):
    u, i, j = _sample_triples(model.interactions_, 1, np.random.RandomState(4))
    _, g_P, g_Q = _bpr_loss_grad(model.user_factors_, model.item_factors_, None, u, i, j)
    attack = EmbeddingAttack("fgsm", 0.25, norm="global-l2", random_state=4)
    d_users, d_items = attack.perturbation(model)
    np.testing.assert_allclose(d_users, 0.25 * g_P / np.linalg.norm(g_P), rtol=1e-12)
    np.testing.assert_allclose(d_items, 0.25 * g_Q / np.linalg.norm(g_Q), rtol=1e-12)


@pytest.mark.parametrize("norm", NORMS)
def test_pgd_raises_the_loss_at_least_as_much_as_fgsm_in_every_norm(model, norm):
    fgsm = EmbeddingAttack("fgsm", 0.5, norm=norm, random_state=0)
    pgd = EmbeddingAttack("pgd", 0.5, norm=norm, random_state=0)
    clean = fgsm.bpr_loss(model)
    assert pgd.bpr_loss(pgd.perturb(model)) >= fgsm.bpr_loss(fgsm.perturb(model)) > clean


def test_global_ball_is_at_least_as_strong_as_the_row_balls(model):
    # With relative radii the global ball contains the row balls: its FGSM gains more.
    row = EmbeddingAttack("fgsm", 0.1, epsilon_mode="relative", random_state=0)
    glob = EmbeddingAttack("fgsm", 0.1, epsilon_mode="relative", norm="global-l2",
                           random_state=0)  # fmt: skip
    assert glob.bpr_loss(glob.perturb(model)) >= row.bpr_loss(row.perturb(model))


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("method", ["fgsm", "pgd", "random"])
def test_every_norm_is_deterministic_with_a_seed(model, norm, method):
    first = EmbeddingAttack(method, 0.3, norm=norm, n_steps=3, random_state=5).perturbation(model)
    again = EmbeddingAttack(method, 0.3, norm=norm, n_steps=3, random_state=5).perturbation(model)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])


@pytest.mark.parametrize("method", ["fgsm", "pgd", "random"])
def test_per_user_radius_is_epsilon_times_each_row_norm(X, method):
    # Random factors: rows of very different norms, and one all-zero user row.
    model = FactorModel(n_factors=3, init="random", random_state=2).fit(X)
    model.user_factors_[0] = 0.0
    attack = EmbeddingAttack(method, 0.2, epsilon_mode="per-user", random_state=0)
    for delta, M in zip(attack.perturbation(model), (model.user_factors_, model.item_factors_),
                        strict=True):  # fmt: skip
        radius = 0.2 * _row_norms(M)
        size = _row_norms(delta)
        if method == "pgd":
            assert (size <= radius * (1 + 1e-12)).all()
        else:
            np.testing.assert_allclose(size, radius, rtol=1e-10, atol=1e-300)
    assert attack.effective_epsilon(model)[1] == pytest.approx(
        0.2 * _row_norms(model.item_factors_).mean()
    )


@pytest.mark.parametrize("norm", ["global-l2", "linf"])
def test_per_user_needs_row_balls(model, norm):
    with pytest.raises(ValueError, match="norm='row-l2'"):
        EmbeddingAttack(epsilon_mode="per-user", norm=norm).perturbation(model)


@pytest.mark.parametrize("norm", ["l2", "Linf", None, 2])
def test_bad_norm_raises_naming_it(model, norm):
    with pytest.raises(ValueError, match="norm"):
        EmbeddingAttack(norm=norm).perturbation(model)
