"""ItemKNN, EASE and iALS against dense NumPy references, and their shared contract."""

import pickle
import warnings

import numpy as np
import pytest
from _baseline_reference import dense_matrix, ease_weights, ials_factors, itemknn_scores
from scipy import sparse

from skadv import (
    EASERecommender,
    ImplicitALSRecommender,
    ItemKNNRecommender,
    PopularityRecommender,
)
from skadv.datasets import make_interactions
from skadv.model_selection import train_test_split_interactions

# 5 users x 7 items; items 0..6 all used, users 0..4 all active; a few repeated pairs.
SMALL = np.array(
    [[0, 0], [0, 1], [0, 2], [1, 1], [1, 2], [1, 3], [2, 0], [2, 3], [2, 4], [2, 5],
     [3, 4], [3, 5], [3, 6], [4, 0], [4, 6], [4, 2], [0, 1], [3, 6]]
)  # fmt: skip
WEIGHTS = np.array([1, 2, 1, 3, 1, 1, 2, 1, 1, 4, 1, 1, 2, 1, 1, 3, 1, 1.0])


def _all_scores(model):
    return model.score_users(np.arange(model.n_users_))


# --------------------------------------------------------------------------- references
@pytest.mark.parametrize("n_neighbors", [1, 2, 3, 6, 100])
@pytest.mark.parametrize("shrink", [0.0, 2.5])
def test_itemknn_matches_reference(n_neighbors, shrink):
    model = ItemKNNRecommender(n_neighbors, shrink=shrink).fit(SMALL)
    expected = itemknn_scores(dense_matrix(SMALL), n_neighbors, shrink)
    np.testing.assert_allclose(_all_scores(model), expected, rtol=1e-12, atol=1e-15)


def test_itemknn_blocks_equal_one_block():
    import sklearn

    X = make_interactions(60, 50, density=0.2, random_state=0)
    whole = ItemKNNRecommender(5).fit(X).similarity_
    with sklearn.config_context(working_memory=0.01):  # a block of a few items at a time
        blocked = ItemKNNRecommender(5).fit(X).similarity_
    assert (whole != blocked).nnz == 0
    assert np.all(np.diff(whole.indptr) >= 0) and whole.diagonal().max() == 0
    # at most n_neighbors entries per column (neighbourhood)
    assert np.bincount(whole.indices, minlength=whole.shape[1]).max() <= 5


@pytest.mark.parametrize("l2_reg", [0.5, 10.0])
def test_ease_matches_closed_form(l2_reg):
    model = EASERecommender(l2_reg).fit(SMALL)
    expected = ease_weights(dense_matrix(SMALL), l2_reg)
    np.testing.assert_allclose(model.item_weights_, expected, rtol=1e-9, atol=1e-12)
    assert np.all(np.diag(model.item_weights_) == 0)
    R = (dense_matrix(SMALL) > 0).astype(float)
    np.testing.assert_allclose(_all_scores(model), R @ expected, rtol=1e-9, atol=1e-12)


def test_ease_refuses_large_catalogues():
    X = make_interactions(30, 20, density=0.3, random_state=0)
    with pytest.raises(ValueError, match="max_items=10"):
        EASERecommender(max_items=10).fit(X)


@pytest.mark.parametrize("y", [None, WEIGHTS])
@pytest.mark.parametrize("reg_scaling,reg", [("none", 0.3), ("frequency", 0.02)])
def test_ials_cholesky_matches_reference(y, reg_scaling, reg):
    params = dict(n_factors=3, n_iter=4, alpha=1.5, reg=reg, init_std=0.1)
    model = ImplicitALSRecommender(
        **params, reg_scaling=reg_scaling, solver="cholesky", dtype=np.float64, random_state=0
    ).fit(SMALL, y)
    U, V = ials_factors(dense_matrix(SMALL, y), seed=0, reg_scaling=reg_scaling, **params)
    np.testing.assert_allclose(model.user_factors_, U, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(model.item_factors_, V, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(_all_scores(model), U @ V.T, rtol=1e-8, atol=1e-10)
    assert model.factors().item is model.item_factors_


def test_ials_cg_converges_to_exact_solve():
    X = make_interactions(80, 60, density=0.1, random_state=0)
    params = dict(n_factors=6, n_iter=3, dtype=np.float64, random_state=0)
    exact = ImplicitALSRecommender(solver="cholesky", **params).fit(X)
    cg = ImplicitALSRecommender(solver="cg", cg_steps=30, **params).fit(X)
    np.testing.assert_allclose(cg.user_factors_, exact.user_factors_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(cg.item_factors_, exact.item_factors_, rtol=1e-6, atol=1e-8)


def test_ials_cg_blocks_equal_one_block():
    import sklearn

    X = make_interactions(80, 60, density=0.1, random_state=0)
    whole = ImplicitALSRecommender(8, n_iter=2, dtype=np.float64, random_state=0).fit(X)
    with sklearn.config_context(working_memory=0.001):
        blocked = ImplicitALSRecommender(8, n_iter=2, dtype=np.float64, random_state=0).fit(X)
    np.testing.assert_allclose(blocked.user_factors_, whole.user_factors_, rtol=1e-9, atol=1e-15)


# --------------------------------------------------------------------------- contract
ESTIMATORS = {
    "itemknn": lambda: ItemKNNRecommender(),
    "ease": lambda: EASERecommender(),
    "ials": lambda: ImplicitALSRecommender(random_state=0),
    "ials-cholesky": lambda: ImplicitALSRecommender(solver="cholesky", random_state=0),
}


@pytest.fixture(scope="module")
def split():
    X = make_interactions(300, 200, density=0.05, random_state=0)
    return train_test_split_interactions(X, random_state=0)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_deterministic(name, split):
    X_train, _ = split
    a, b = ESTIMATORS[name]().fit(X_train), ESTIMATORS[name]().fit(X_train)
    np.testing.assert_array_equal(_all_scores(a), _all_scores(b))


@pytest.mark.parametrize("shape", [(300, 200, 0.05), (300, 150, 0.08)])
@pytest.mark.parametrize("name", ESTIMATORS)
def test_default_beats_popularity(name, shape):
    # The project rule (tests/test_defaults.py): a default clears popularity by 10 %; the
    # second shape is that test's planted split. Measured: 1.22-1.76x.
    n_users, n_items, density = shape
    X = make_interactions(n_users, n_items, density=density, random_state=0)
    X_train, X_test = train_test_split_interactions(X, random_state=0)
    popularity = PopularityRecommender().fit(X_train).score(X_test)
    assert ESTIMATORS[name]().fit(X_train).score(X_test) >= 1.1 * popularity


@pytest.mark.parametrize("name", ESTIMATORS)
def test_pickle_keeps_recommendations(name, split):
    X_train, _ = split
    model = ESTIMATORS[name]().fit(X_train)
    loaded = pickle.loads(pickle.dumps(model))
    users = [0, 5, 10_000]  # an unknown user too
    for got, want in zip(loaded.recommend(users), model.recommend(users), strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_predict_equals_score_rows(name, split):
    X_train, X_test = split
    model = ESTIMATORS[name]().fit(X_train)
    pairs = np.asarray(X_test)
    pairs = pairs[np.isin(pairs[:, 1], model.item_ids_)][:50]  # known items (ids sorted)
    u = np.searchsorted(model.user_ids_, pairs[:, 0])
    i = np.searchsorted(model.item_ids_, pairs[:, 1])
    rows = model.score_users(u)
    np.testing.assert_allclose(
        model.predict(pairs), rows[np.arange(len(pairs)), i], rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("name", ESTIMATORS)
def test_string_ids_and_unknown_items(name):
    X = np.array([[f"u{u}", f"i{i}"] for u, i in SMALL], dtype=object)
    model = ESTIMATORS[name]().fit(X)
    scores = model.predict([["u0", "i3"], ["u0", "nope"]])
    assert np.isfinite(scores[0]) and scores[1] == np.finfo(np.float64).min
    items, _ = model.recommend(["u0"], n=2)
    assert set(items[0]).isdisjoint({"i0", "i1", "i2"})


@pytest.mark.parametrize(
    "estimator,match",
    [
        (ItemKNNRecommender(n_neighbors=0), "n_neighbors"),
        (ItemKNNRecommender(shrink=-1), "shrink"),
        (EASERecommender(l2_reg=0), "l2_reg"),
        (EASERecommender(max_items=1.5), "max_items"),
        (ImplicitALSRecommender(alpha=-1), "alpha"),
        (ImplicitALSRecommender(reg=0), "reg"),
        (ImplicitALSRecommender(solver="lu"), "solver"),
        (ImplicitALSRecommender(reg_scaling="count"), "reg_scaling"),
        (ImplicitALSRecommender(dtype=np.int32), "dtype"),
        (ImplicitALSRecommender(n_jobs=0), "n_jobs"),
    ],
)
def test_invalid_params(estimator, match):
    with pytest.raises(ValueError, match=match):
        estimator.fit(SMALL)


def test_positive_threshold_drops_low_weights():
    model = ItemKNNRecommender(positive_threshold=2.0).fit(SMALL, WEIGHTS)
    assert model.interactions_.nnz == int((WEIGHTS >= 2).sum())


def test_ials_weights_raise_confidence():
    # A heavier interaction pulls the pair's score towards 1.
    y = np.ones(len(SMALL))
    heavy = y.copy()
    heavy[0] = 50.0  # pair (0, 0)
    base = ImplicitALSRecommender(4, alpha=1.0, reg=0.1, random_state=0).fit(SMALL, y)
    more = ImplicitALSRecommender(4, alpha=1.0, reg=0.1, random_state=0).fit(SMALL, heavy)
    assert more.predict([[0, 0]])[0] > base.predict([[0, 0]])[0]


def test_ials_default_keeps_factors_on_tiny_data():
    # With a penalty that does not scale with the data, a small data set shrinks every factor
    # towards 0 (norms of 1e-10 with reg=50 on 60 x 40): the default scales it per row.
    X = make_interactions(n_users=60, n_items=40, random_state=0)
    scaled = ImplicitALSRecommender(8, random_state=0).fit(X)
    plain = ImplicitALSRecommender(8, reg=50.0, reg_scaling="none", random_state=0).fit(X)
    assert np.linalg.norm(scaled.user_factors_, axis=1).mean() > 0.05
    assert np.linalg.norm(plain.user_factors_, axis=1).mean() < 1e-6


def test_ials_n_jobs_gives_close_factors():
    X = make_interactions(100, 80, density=0.1, random_state=0)
    one = ImplicitALSRecommender(8, n_iter=3, dtype=np.float64, random_state=0).fit(X)
    two = ImplicitALSRecommender(8, n_iter=3, dtype=np.float64, random_state=0, n_jobs=2)
    np.testing.assert_allclose(two.fit(X).user_factors_, one.user_factors_, rtol=1e-8)


def test_no_dense_similarity_for_itemknn():
    X = make_interactions(40, 30, density=0.2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = ItemKNNRecommender(3).fit(X)
    assert sparse.issparse(model.similarity_) and model.factors() is None
