"""``recommend_new_users`` of the item-based baselines (ItemKNN, EASE): a read-only fold-in
whose scores are the new user's binary row times the fitted item-item matrix, against NumPy."""

import pickle

import numpy as np
import pytest
import sklearn
from _baseline_reference import dense_matrix, ease_weights, itemknn_similarity
from numpy.testing import assert_allclose, assert_array_equal

from skadv import EASERecommender, ItemKNNRecommender
from skadv.datasets import make_interactions

X = make_interactions(n_users=50, n_items=30, density=0.2, random_state=0)
# New users: a few (user, item) pairs each; "c" repeats an item with a weight, "d" has an
# item unknown to the model (ignored).
NEW = np.array([["a", 3], ["a", 7], ["a", 11], ["b", 0], ["c", 5], ["c", 5], ["c", 29],
                ["d", 2], ["d", 10**6]], dtype=object)  # fmt: skip
WEIGHTS = np.array([1.0, 2.0, 1.0, 5.0, 1.0, 3.0, 0.5, 1.0, 1.0])


def _models():
    return {
        "itemknn": ItemKNNRecommender(n_neighbors=8, shrink=2.0).fit(X),
        "ease": EASERecommender(l2_reg=5.0).fit(X),
    }


def _item_matrix(name):
    """The fitted item-item matrix, from the NumPy references."""
    R = dense_matrix(X)
    if name == "itemknn":
        return itemknn_similarity(R, 8, 2.0)
    return ease_weights(R, 5.0)


def reference(model, name, new, n, *, items=None, filtered=(), exclude_seen=True):
    """(user ids, item ids, scores) from dense NumPy: binary rows times the item matrix."""
    users = np.unique(new[:, 0].astype(str))
    rows = np.zeros((len(users), model.n_items_))
    for user, item in new:
        if item in model.item_ids_:
            rows[np.searchsorted(users, user), np.searchsorted(model.item_ids_, item)] = 1.0
    scores = rows @ _item_matrix(name)
    out_items, out_scores = [], []
    for r in range(len(users)):
        allowed = ~np.isin(model.item_ids_, filtered)
        if items is not None:
            allowed &= np.isin(model.item_ids_, items)
        if exclude_seen:
            allowed &= rows[r] == 0
        cols = np.flatnonzero(allowed)
        order = cols[np.lexsort((cols, -scores[r, cols]))][:n]
        out_items.append(model.item_ids_[order])
        out_scores.append(scores[r, order])
    return users, np.array(out_items), np.array(out_scores)


@pytest.fixture(scope="module")
def models():
    return _models()


@pytest.mark.parametrize("name", ["itemknn", "ease"])
@pytest.mark.parametrize("exclude_seen", [True, False])
def test_fold_in_matches_numpy(models, name, exclude_seen):
    model = models[name]
    users, items, scores = model.recommend_new_users(NEW, n=6, y=WEIGHTS,
                                                     exclude_seen=exclude_seen)  # fmt: skip
    ref_users, ref_items, ref_scores = reference(model, name, NEW, 6, exclude_seen=exclude_seen)
    assert users.tolist() == ref_users.tolist()
    assert_array_equal(items, ref_items)
    assert_allclose(scores, ref_scores, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", ["itemknn", "ease"])
def test_fold_in_with_candidates_and_filters(models, name):
    model = models[name]
    candidates = model.item_ids_[::2]
    filtered = model.item_ids_[[0, 4, 9]]
    _, items, scores = model.recommend_new_users(NEW, n=4, items=candidates,
                                                 filter_items=filtered)  # fmt: skip
    _, ref_items, ref_scores = reference(model, name, NEW, 4, items=candidates,
                                         filtered=filtered)  # fmt: skip
    assert_array_equal(items, ref_items)
    assert_allclose(scores, ref_scores, rtol=1e-9, atol=1e-12)
    # Per-user candidate lists (in the order of the returned user ids): the same here.
    per_user = [candidates] * 4
    _, items, _ = model.recommend_new_users(NEW, n=4, items=per_user, filter_items=filtered)
    assert_array_equal(items, ref_items)


@pytest.mark.parametrize("name", ["itemknn", "ease"])
def test_fold_in_leaves_the_model_unchanged(models, name):
    model = models[name]
    before = pickle.dumps(model)
    known = model.recommend(model.user_ids_[:5], n=5)
    model.recommend_new_users(NEW, n=5, y=WEIGHTS)
    assert pickle.dumps(model) == before
    after = model.recommend(model.user_ids_[:5], n=5)
    assert_array_equal(known[0], after[0])


@pytest.mark.parametrize("name", ["itemknn", "ease"])
def test_a_training_users_profile_folds_in_to_their_recommendations(models, name):
    # A "new" user with exactly a training user's items is scored exactly like that user.
    model = models[name]
    user = model.user_ids_[3]
    profile = X[X[:, 0] == user]
    _, items, scores = model.recommend_new_users(profile, n=5)
    known_items, known_scores = model.recommend([user], n=5)
    assert_array_equal(items, known_items)
    assert_allclose(scores, known_scores, rtol=1e-12)


@pytest.mark.parametrize("name", ["itemknn", "ease"])
def test_fold_in_blocks_equal_one_block(models, name):
    model = models[name]
    rng = np.random.default_rng(0)
    new = np.column_stack([np.repeat(np.arange(40), 3), rng.choice(model.item_ids_, 120)])
    whole = model.recommend_new_users(new, n=5)
    with sklearn.config_context(working_memory=0.0005):  # a few users per block
        blocked = model.recommend_new_users(new, n=5)
    assert_array_equal(whole[1], blocked[1])
    assert_allclose(whole[2], blocked[2], rtol=1e-12)


def test_fold_in_as_frame(models):
    frame = models["itemknn"].recommend_new_users(NEW, n=3, as_frame=True)
    assert frame.columns.tolist() == ["user", "rank", "item", "score"]
    assert set(frame["user"]) == {"a", "b", "c", "d"}


@pytest.mark.parametrize("name", ["itemknn", "ease"])
def test_no_user_vectors_to_fold_in(models, name):
    with pytest.raises(NotImplementedError, match="factors"):
        models[name].new_user_factors(NEW)
