"""AdversarialMFRecommender: fitting, parameters, fold-in, early stopping, sklearn tooling."""

import pickle
import subprocess
import sys

import joblib
import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

import skadv.metrics
from skadv.base import UNKNOWN_ITEM_SCORE
from skadv.datasets import make_interactions
from skadv.metrics import get_ranking_scorer
from skadv.mf import AdversarialMFRecommender, _cython_backend
from skadv.model_selection import UserHoldoutSplit, train_test_split_interactions
from skadv.utils._backend import resolve_backend

FAST = dict(n_factors=8, n_epochs=4, random_state=0)


@pytest.fixture(scope="module")
def X():
    return make_interactions(n_users=60, n_items=40, density=0.1, random_state=0)


def _fit(X, y=None, **params):
    return AdversarialMFRecommender(**{**FAST, **params}).fit(X, y)


# ------------------------------------------------------------------------------ basics
def test_fitted_state_is_numpy(X):
    model = _fit(X, item_bias=True)
    n_users, n_items = len(np.unique(X[:, 0])), len(np.unique(X[:, 1]))
    assert model.user_factors_.shape == (n_users, 8) and model.user_factors_.dtype == np.float32
    assert model.item_factors_.shape == (n_items, 8)
    assert model.item_bias_.shape == (n_items,)
    assert model.user_factors_.flags.c_contiguous
    assert len(model.loss_curve_) == model.n_iter_ == 4
    assert model.validation_scores_ is None and model.best_validation_score_ is None
    assert (model.backend_, model.device_) == ("cython", "cpu")
    assert not hasattr(_fit(X, item_bias=False), "item_bias_")


def test_factor_rows_start_on_cache_lines(X):
    # The kernel moves whole rows: rows that start mid-line span one line more each.
    from skadv.utils._memory import CACHE_LINE_BYTES

    def rows(model):  # the factor matrices and their AdaGrad accumulators
        acc = model._optimizer_state["acc"]
        return model.user_factors_, model.item_factors_, acc[0], acc[1]

    model = _fit(X, n_factors=16)
    assert all(a.ctypes.data % CACHE_LINE_BYTES == 0 for a in rows(model))
    new_user = np.array([[10**6, X[0, 1]], [10**6, X[1, 1]]])
    model.partial_fit(new_user)  # fold-in grows the matrices: still aligned
    assert model.user_factors_.shape[0] == len(np.unique(X[:, 0])) + 1
    assert all(a.ctypes.data % CACHE_LINE_BYTES == 0 for a in rows(model))


def test_learns_block_structure(tiny_interactions):
    # Each user's held-out in-block item is ranked first: popularity would rank the other
    # block's items first (see the fixture).
    data = tiny_interactions
    model = AdversarialMFRecommender(n_factors=4, n_epochs=30, random_state=0).fit(data.X)
    items, _ = model.recommend(np.arange(data.n_users), n=1)
    np.testing.assert_array_equal(items[:, 0], data.held_out)


def test_bpr_loss_decreases(X):
    # Uniform negatives: hard ones (the default) keep the loss up by design.
    losses = _fit(X, adv_reg=0.0, n_negative_candidates=1, n_epochs=10).loss_curve_
    assert losses[-1] < 0.7 * losses[0]


def test_predict_matches_factors(X):
    model = _fit(X, item_bias=True)
    pairs = X[:5]
    u = np.searchsorted(model.user_ids_, pairs[:, 0])
    i = np.searchsorted(model.item_ids_, pairs[:, 1])
    expected = np.sum(model.user_factors_[u] * model.item_factors_[i], axis=1)
    expected = expected + model.item_bias_[i]
    np.testing.assert_allclose(model.predict(pairs), expected, rtol=1e-5)


def test_string_ids_and_dataframe():
    df = pd.DataFrame({"user": ["ann", "bob", "bob", "cy", "cy"], "item": list("abcac")})
    model = AdversarialMFRecommender(n_factors=2, n_epochs=2, random_state=0).fit(df)
    items, _ = model.recommend(["ann"], n=2)
    assert set(items[0]) <= {"b", "c"}


def test_duplicate_interactions_count_once(X):
    doubled = np.vstack([X, X])
    np.testing.assert_array_equal(_fit(doubled).user_factors_, _fit(X).user_factors_)


# ------------------------------------------------------------------------------ seeds
@pytest.mark.parametrize("optimizer", ["adagrad", "sgd"])
@pytest.mark.parametrize("adversary", ["fgsm", "random"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_same_seed_same_factors(X, optimizer, adversary, dtype):
    params = dict(optimizer=optimizer, adversary=adversary, dtype=dtype, n_jobs=1, adv_start=1)
    a, b = _fit(X, **params), _fit(X, **params)
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)
    np.testing.assert_array_equal(a.item_factors_, b.item_factors_)
    assert a.user_factors_.dtype == dtype


def test_refit_is_reproducible(X):
    model = AdversarialMFRecommender(**FAST)
    first = model.fit(X).user_factors_.copy()
    np.testing.assert_array_equal(model.fit(X).user_factors_, first)


def test_different_seeds_differ(X):
    assert not np.allclose(_fit(X).user_factors_, _fit(X, random_state=1).user_factors_)


def test_generator_random_state(X):
    model = _fit(X, random_state=np.random.default_rng(0))
    assert np.isfinite(model.user_factors_).all()


def test_plain_bpr_when_adv_reg_or_epsilon_is_zero(X):
    # adv_reg=0 and epsilon=0 both run the BPR kernel: same triples, same factors.
    bpr = _fit(X, adv_reg=0.0).user_factors_
    np.testing.assert_array_equal(_fit(X, epsilon=0.0).user_factors_, bpr)
    np.testing.assert_array_equal(_fit(X, adv_start=4).user_factors_, bpr)
    assert not np.array_equal(_fit(X, adv_start=0).user_factors_, bpr)


def test_n_jobs_two_threads(X):
    # Hogwild: not bitwise reproducible, but trains as well.
    model = _fit(X, n_jobs=2, adv_reg=0.0, n_negative_candidates=1, n_epochs=10)
    assert np.isfinite(model.user_factors_).all()
    assert model.loss_curve_[-1] < 0.7 * model.loss_curve_[0]


# ------------------------------------------------------------------------------ parameters
# (parameter, value, base overrides): each value changes what fit learns.
EFFECTS = [
    ("n_factors", 4, {}),
    ("n_epochs", 2, {}),
    ("learning_rate", 0.01, {}),
    ("optimizer", "sgd", {}),
    ("lr_schedule", "cosine", {}),
    ("warmup_epochs", 2, {}),
    ("reg", 0.1, {}),
    ("adv_reg", 0.5, {}),
    ("epsilon", 0.2, {}),
    ("epsilon_mode", "absolute", {}),
    ("adversary", "random", {}),
    ("adv_start", 0, {}),
    ("item_bias", False, {}),
    ("init_std", 0.05, {}),
    ("early_stopping", True, {}),
    ("validation_fraction", 0.3, {"early_stopping": True}),
    ("dtype", np.float64, {}),
    ("random_state", 1, {}),
]


@pytest.mark.parametrize("name, value, base", EFFECTS, ids=[e[0] for e in EFFECTS])
def test_every_parameter_has_an_effect(X, name, value, base):
    reference = _fit(X, **base).user_factors_
    changed = _fit(X, **{**base, name: value}).user_factors_
    if (changed.shape, changed.dtype) == (reference.shape, reference.dtype):
        assert not np.allclose(reference, changed)


@pytest.mark.parametrize("name, value", [("n_iter_no_change", 1), ("tol", 1.0)])
def test_early_stopping_parameters_have_an_effect(X, name, value):
    # Without item biases the validation score keeps improving for a few epochs (with them
    # it can peak at once on this tiny data, and both runs stop at the same epoch).
    base = dict(early_stopping=True, n_epochs=12, adv_start=0, n_iter_no_change=4, tol=0.0,
                item_bias=False)  # fmt: skip
    assert _fit(X, **{**base, name: value}).n_iter_ < _fit(X, **base).n_iter_


def test_positive_threshold_drops_interactions(X):
    y = np.tile([1.0, 5.0], len(X) // 2 + 1)[: len(X)]
    model = _fit(X, y, positive_threshold=3.0)
    assert model.interactions_.nnz == int((y >= 3).sum())
    assert not np.allclose(model.user_factors_[:5], _fit(X, y).user_factors_[:5])


def test_warm_start_continues_from_the_factors(X):
    model = _fit(X, n_epochs=6)
    before = model.user_factors_.copy()
    # A near-zero step: a warm fit stays where it was, a cold one restarts from scratch.
    model.set_params(warm_start=True, learning_rate=1e-9).fit(X)
    np.testing.assert_allclose(model.user_factors_, before, atol=1e-5)
    cold = _fit(X, n_epochs=6, learning_rate=1e-9)
    assert not np.allclose(cold.user_factors_, before, atol=1e-3)


def test_warm_start_maps_rows_by_id(X):
    model = _fit(X)
    subset = X[X[:, 0] != X[0, 0]]  # drop one user: rows shift
    row = {u: r for r, u in enumerate(model.user_ids_)}
    P = model.user_factors_.copy()
    model.set_params(warm_start=True, learning_rate=1e-9).fit(subset)
    for r, u in enumerate(model.user_ids_[:5]):
        np.testing.assert_allclose(model.user_factors_[r], P[row[u]], atol=1e-5)


def test_warm_start_rejects_other_n_factors(X):
    model = _fit(X)
    with pytest.raises(ValueError, match="n_factors"):
        model.set_params(warm_start=True, n_factors=3).fit(X)


def test_verbose_prints_each_epoch(X, capsys):
    _fit(X, verbose=1, n_epochs=3, adv_start=1)
    out = capsys.readouterr()
    text = out.out + out.err
    assert "epoch 1/3 [clean]: loss" in text
    assert "epoch 3/3 [adversarial: fgsm]: loss" in text and "adversarial loss" in text
    _fit(X)
    out = capsys.readouterr()
    assert "epoch" not in out.out + out.err


# ------------------------------------------------------------------------------ errors
BAD_PARAMS = [
    ("n_factors", 0), ("n_epochs", 0), ("learning_rate", 0.0), ("learning_rate", -1.0),
    ("optimizer", "adamw"), ("reg", -0.1), ("adv_reg", -1.0), ("epsilon", -0.5),
    ("epsilon", float("nan")), ("epsilon_mode", "scaled"), ("adversary", "pgd"),
    ("adv_start", -1), ("adv_start", "later"), ("item_bias", 1), ("init_std", 0.0),
    ("early_stopping", "yes"), ("validation_fraction", 1.0), ("n_iter_no_change", 0),
    ("tol", -1.0), ("warm_start", None), ("dtype", np.int32), ("backend", "jax"),
    ("device", 0), ("n_jobs", 0), ("n_jobs", 1.5), ("random_state", "seed"), ("verbose", -1),
    ("handle_unknown", "ignore"), ("positive_threshold", "4"), ("lr_schedule", "step"),
    ("lr_schedule", None), ("warmup_epochs", -1), ("warmup_epochs", 1.5),
    ("warmup_epochs", 400),  # not less than n_epochs (400 by default)
]  # fmt: skip


@pytest.mark.parametrize("name, value", BAD_PARAMS, ids=[f"{n}={v!r}" for n, v in BAD_PARAMS])
def test_invalid_parameter_is_named(X, name, value):
    with pytest.raises(ValueError, match=name):
        AdversarialMFRecommender(**{name: value}).fit(X)


@pytest.mark.parametrize(
    "backend, match",
    [("cython", r"optimizer='adam' needs backend='torch': the compiled 'cython' kernel "
                "implements"),
     ("auto", r"optimizer='adam' needs backend='torch'.*\(backend='auto' chose it\)")],
)  # fmt: skip
def test_adam_needs_the_torch_backend(X, backend, match):
    model = _fit(X)
    before = model.user_factors_.copy()
    model.set_params(optimizer="adam", backend=backend, warm_start=True)
    with pytest.raises(ValueError, match=match):
        model.fit(X)
    # Raised before anything changed: no training, no new state.
    np.testing.assert_array_equal(model.user_factors_, before)
    assert model._optimizer_state["optimizer"] == "adagrad"


def test_compiled_training_loop_rejects_adam():
    # The estimator raises first; this guards direct callers of the backend.
    from skadv.mf._cython_backend import train
    from skadv.training import FactorState, TrainingSchedule

    schedule = TrainingSchedule(
        n_epochs=1, learning_rate=0.05, optimizer="adam", reg=0.0, adv_reg=0.0, epsilon=0.0,
        epsilon_mode="absolute", adversary="fgsm", adv_start=0, use_bias=False,
    )  # fmt: skip
    state = FactorState(np.zeros((2, 2)), np.zeros((3, 2)), np.zeros(3))
    pairs = np.array([0, 1], dtype=np.int32)
    interactions = sparse.csr_matrix(([1.0, 1.0], (pairs, pairs)), shape=(2, 3))
    with pytest.raises(ValueError, match="optimizer='adam' needs backend='torch'"):
        train(state, interactions, pairs, pairs, schedule, rng=np.random.RandomState(0),
              n_threads=1)  # fmt: skip


def test_cython_backend_on_cpu(X):
    assert _fit(X, backend="cython", device="cpu").device_ == "cpu"


@pytest.mark.parametrize(
    "backend, device, expected",
    [("auto", None, ("cython", "cpu")), ("cython", "CPU", ("cython", "cpu")),
     ("auto", "cpu:0", ("cython", "cpu:0"))],
)  # fmt: skip
def test_resolve_backend(backend, device, expected):
    assert resolve_backend(backend, device) == expected


def test_divergence_names_learning_rate(X):
    with pytest.raises(ValueError, match="learning_rate"):
        _fit(X, optimizer="sgd", learning_rate=1e20, init_std=1.0)


def test_no_negative_item_raises():
    everything = np.array([[u, i] for u in range(3) for i in range(2)])
    with pytest.raises(ValueError, match="did not interact"):
        AdversarialMFRecommender(**FAST).fit(everything)


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="shape"):
        AdversarialMFRecommender().fit(np.zeros((4, 3)))


def test_collapse_warning(X, monkeypatch):
    # Simulate a kernel whose adversarial epochs shrink every row 1000-fold.
    real_epoch = _cython_backend._mf_sgd.sgd_epoch

    def shrinking_epoch(P, Q, *args, **kwargs):
        loss = real_epoch(P, Q, *args, **kwargs)
        P *= 1e-3
        Q *= 1e-3
        return loss

    monkeypatch.setattr(_cython_backend._mf_sgd, "sgd_epoch", shrinking_epoch)
    with pytest.warns(ConvergenceWarning, match="collapsed in epoch 1"):
        _fit(X)


@pytest.mark.movielens
def test_collapse_warning_on_movielens(movielens_path):
    # APR with an absolute ε as large as the initial rows, from the first epoch, collapses.
    data = np.loadtxt(movielens_path / "u.data", dtype=np.int64)[:, :2]
    model = AdversarialMFRecommender(
        n_epochs=20, adv_start=0, epsilon=0.5, epsilon_mode="absolute", random_state=0
    )
    with pytest.warns(ConvergenceWarning, match="collapsed"):
        model.fit(data)


# ------------------------------------------------------------------------------ unknown ids
def test_unknown_user_gets_popular_items(X):
    model = _fit(X)
    items, _ = model.recommend([10**9], n=3)
    top = model.item_ids_[np.argsort(-model.item_popularity_, kind="stable")[:3]]
    assert set(items[0]) == set(top)
    scores = model.predict([[10**9, X[0, 1]], [X[0, 0], 10**9]])
    # On the model's scale (issue 21): the average user's scores, handed out by popularity.
    assert scores[0] == model.unknown_user_scores()[np.searchsorted(model.item_ids_, X[0, 1])]
    assert scores[1] == UNKNOWN_ITEM_SCORE  # finite, below every known score


def test_handle_unknown_error(X):
    model = _fit(X, handle_unknown="error")
    with pytest.raises(ValueError, match="users not seen in fit"):
        model.recommend([10**9])
    with pytest.raises(ValueError, match="items not seen in fit"):
        model.predict([[X[0, 0], 10**9]])


# ------------------------------------------------------------------------------ partial_fit
def test_partial_fit_on_unfitted_model_is_fit(X):
    np.testing.assert_array_equal(
        AdversarialMFRecommender(**FAST).partial_fit(X).user_factors_, _fit(X).user_factors_
    )


@pytest.mark.parametrize("optimizer", ["adagrad", "sgd"])
def test_partial_fit_folds_in_new_user_and_item(X, optimizer):
    model = _fit(X, optimizer=optimizer, item_bias=True)
    P, Q, b = model.user_factors_.copy(), model.item_factors_.copy(), model.item_bias_.copy()
    n_users, n_items, nnz = model.n_users_, model.n_items_, model.interactions_.nnz
    known_user = model.user_ids_[0]
    new = np.array([[-7, X[0, 1]], [-7, X[1, 1]], [-7, 999], [known_user, 999]])
    model.partial_fit(new)

    assert model.n_users_ == n_users + 1 and model.n_items_ == n_items + 1
    assert model.user_ids_[-1] == -7 and model.item_ids_[-1] == 999
    assert model.user_factors_.shape == (n_users + 1, 8)
    assert model.interactions_.shape == (n_users + 1, n_items + 1)
    assert model.interactions_.nnz == nnz + 4
    assert model.item_popularity_[-1] == 2
    # Known items stay fixed, X's users move, users absent from X stay fixed.
    np.testing.assert_array_equal(model.item_factors_[:n_items], Q)
    np.testing.assert_array_equal(model.item_bias_[:n_items], b)
    assert not np.allclose(model.user_factors_[0], P[0])
    np.testing.assert_array_equal(model.user_factors_[1:n_users], P[1:])
    items, _ = model.recommend([-7], n=3)
    assert not set(items[0]) & {X[0, 1], X[1, 1], 999}
    assert model.n_iter_ == 4 and len(model.loss_curve_) == 8


def test_partial_fit_rejects_other_n_factors(X):
    model = _fit(X)
    with pytest.raises(ValueError, match="n_factors"):
        model.set_params(n_factors=3).partial_fit(X[:3])


# ------------------------------------------------------------------------------ early stopping
def test_early_stopping_fields(X):
    model = _fit(X, early_stopping=True, n_epochs=8, adv_start=0)
    assert len(model.validation_scores_) == model.n_iter_ == len(model.loss_curve_)
    assert model.best_validation_score_ == max(model.validation_scores_)
    assert all(0.0 <= s <= 1.0 for s in model.validation_scores_)
    assert model.interactions_.nnz == len({tuple(r) for r in X})  # all of X is "seen"


def _scripted_scorer(monkeypatch, scores):
    """Make the validation scorer return ``scores`` in turn."""
    sequence = iter(scores)
    fake = lambda name: lambda *args: next(sequence)  # noqa: E731
    monkeypatch.setattr(skadv.metrics, "get_ranking_scorer", fake)


def test_early_stopping_stops_and_restores_best_epoch(X, monkeypatch):
    params = dict(early_stopping=True, n_epochs=10, adv_start=0, n_iter_no_change=3, tol=0.0)
    # After the 5th epoch the next value is the popularity baseline's (below: no warning).
    _scripted_scorer(monkeypatch, [0.1, 0.5, 0.2, 0.3, 0.25, 0.0])
    model = _fit(X, **params)
    # Epoch 2 is the best; epochs 3-5 do not improve: stop after 5 epochs.
    assert model.n_iter_ == 5 and model.best_validation_score_ == 0.5
    # The same run cut after 2 epochs ends on the kept factors.
    _scripted_scorer(monkeypatch, [0.1, 0.5, 0.0])
    two_epochs = _fit(X, **{**params, "n_epochs": 2})
    np.testing.assert_array_equal(model.user_factors_, two_epochs.user_factors_)
    np.testing.assert_array_equal(model.item_factors_, two_epochs.item_factors_)


def test_early_stopping_waits_for_adversarial_training(X, monkeypatch):
    # No improvement ever, but BPR pre-training (3 epochs) never stops early.
    _scripted_scorer(monkeypatch, [0.5] * 20)
    model = _fit(X, early_stopping=True, n_epochs=10, adv_start=3, n_iter_no_change=2)
    assert model.n_iter_ == 5


def test_early_stopping_needs_validation_interactions():
    one_each = np.array([[u, u % 5] for u in range(10)])
    with pytest.raises(ValueError, match="validation_fraction"):
        AdversarialMFRecommender(early_stopping=True, **FAST).fit(one_each)


# ------------------------------------------------------------------------------ sklearn tools
@pytest.mark.parametrize("dump", ["pickle", "joblib"])
def test_persistence_keeps_recommendations(X, dump, tmp_path):
    model = _fit(X, item_bias=True, optimizer="adagrad")
    if dump == "pickle":
        loaded = pickle.loads(pickle.dumps(model))
    else:
        joblib.dump(model, tmp_path / "model.joblib")
        loaded = joblib.load(tmp_path / "model.joblib")
    users = np.unique(X[:, 0])[:10]
    items, scores = model.recommend(users, n=5)
    loaded_items, loaded_scores = loaded.recommend(users, n=5)
    np.testing.assert_array_equal(loaded_items, items)
    np.testing.assert_array_equal(loaded_scores, scores)
    # The AdaGrad state travels too: a warm refit continues identically.
    model.set_params(warm_start=True).fit(X)
    loaded.set_params(warm_start=True).fit(X)
    np.testing.assert_array_equal(model.user_factors_, loaded.user_factors_)


def test_clone_is_unfitted_with_same_params(X):
    model = _fit(X, epsilon=0.3, adversary="random")
    copy = clone(model)
    assert copy.get_params() == model.get_params()
    assert not hasattr(copy, "user_factors_")


def test_grid_search_over_adv_reg_and_epsilon(X):
    search = GridSearchCV(
        AdversarialMFRecommender(**FAST),
        {"adv_reg": [0.0, 1.0], "epsilon": [0.1, 0.5]},
        cv=UserHoldoutSplit(n_splits=2, random_state=0),
    )
    search.fit(X)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_params_["adv_reg"] in (0.0, 1.0)
    assert search.best_estimator_.user_factors_.shape[1] == 8


def test_cross_validate_with_ranking_scorers(X):
    scoring = {name: get_ranking_scorer(name) for name in ("ndcg@10", "recall@5", "mrr")}
    result = cross_validate(
        AdversarialMFRecommender(**FAST), X, scoring=scoring,
        cv=UserHoldoutSplit(n_splits=2, random_state=0),
    )  # fmt: skip
    for name in scoring:
        assert ((result[f"test_{name}"] >= 0) & (result[f"test_{name}"] <= 1)).all()


def test_in_a_pipeline(X):
    X_train, X_test = train_test_split_interactions(X, random_state=0)
    pipe = Pipeline([("ids", FunctionTransformer()), ("mf", AdversarialMFRecommender(**FAST))])
    pipe.fit(X_train)
    assert pipe.score(X_test) == pytest.approx(pipe[-1].score(X_test))
    assert 0.0 <= get_ranking_scorer("recall@10")(pipe, X_test) <= 1.0


def test_apr_beats_popularity_on_structured_data(synthetic_interactions):
    X_train, X_test = train_test_split_interactions(synthetic_interactions, random_state=0)
    from skadv import PopularityRecommender

    # Mean over three model seeds: one fit's NDCG@10 varies by about 0.01 on this data.
    apr = np.mean([
        AdversarialMFRecommender(n_factors=16, n_epochs=60, random_state=seed)
        .fit(X_train).score(X_test)
        for seed in range(3)
    ])  # fmt: skip
    assert apr > PopularityRecommender().fit(X_train).score(X_test) + 0.01


def test_import_does_not_load_torch():
    code = "import sys, skadv.mf; skadv.mf.AdversarialMFRecommender; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_partial_fit_refuses_ids_of_another_type(X):
    # "196" is not user 196: folding it in as a new user would silently split the history.
    model = _fit(X)
    with pytest.raises(TypeError, match="cast"):
        model.partial_fit(np.array([["196", "5"]], dtype=object))
    assert model.user_ids_.dtype.kind == "i"
