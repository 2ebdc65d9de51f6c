"""The serving surface every recommender inherits from ``BaseRecommender`` (issue 21).

``recommend`` with candidates and filters (exact n, never a filtered item, blocked equals
unblocked, against a NumPy reference on the full score rows), ``similar_items`` /
``similar_users`` (cosine against NumPy), ``recommend_new_users`` (read-only fold-in equal to
the closed form), ids that round-trip unchanged, unknown users on the model's scale.
"""

import numpy as np
import pandas as pd
import pytest
import sklearn
from numpy.testing import assert_allclose, assert_array_equal
from scipy import sparse

from skadv import AdversarialMFRecommender, PopularityRecommender
from skadv.datasets import make_interactions

X = make_interactions(n_users=60, n_items=40, density=0.15, random_state=0)


def _popularity():
    return PopularityRecommender().fit(X)


def _mf(backend="cython"):
    def make():
        if backend == "torch":
            pytest.importorskip("torch")
        return AdversarialMFRecommender(
            8, n_epochs=3, item_bias=True, backend=backend, random_state=0
        ).fit(X)

    return make


def _neural(architecture):
    def make():
        pytest.importorskip("torch")
        from skadv.neural import AdversarialNeuralRecommender

        return AdversarialNeuralRecommender(
            architecture=architecture, n_epochs=1, random_state=0
        ).fit(X)

    return make


def _cfgan():
    pytest.importorskip("torch")
    from skadv.augmentation import CFGANRecommender

    return CFGANRecommender(n_epochs=2, random_state=0).fit(X)


FAMILIES = {
    "popularity": _popularity,
    "mf-cython": _mf("cython"),
    "mf-torch": _mf("torch"),
    "two-tower": _neural("two-tower"),
    "neumf": _neural("neumf"),
    "cfgan": _cfgan,
}
EMBEDDED = ["mf-cython", "mf-torch", "two-tower"]

_CACHE = {}


def _fitted(name):
    if name not in _CACHE:
        _CACHE[name] = FAMILIES[name]()
    return _CACHE[name]


@pytest.fixture(params=list(FAMILIES))
def model(request):
    return _fitted(request.param)


@pytest.fixture(params=EMBEDDED)
def embedded(request):
    return _fitted(request.param)


def reference_top(model, users, n, *, candidates=None, filtered=(), exclude_seen=True):
    """Expected (items, scores) of each user: full score rows, masks, stable sort."""
    codes = np.searchsorted(model.user_ids_, users)
    rows = model.score_users(codes).astype(np.float64)
    out = []
    for r, code in enumerate(codes):
        allowed = np.ones(model.n_items_, dtype=bool)
        if candidates is not None:
            cand = candidates[r] if isinstance(candidates, list) else candidates
            allowed &= np.isin(model.item_ids_, cand)
        allowed &= ~np.isin(model.item_ids_, filtered)
        if exclude_seen:
            allowed[model.interactions_[code].indices] = False
        cols = np.flatnonzero(allowed)
        order = cols[np.lexsort((cols, -rows[r, cols]))][:n]
        out.append((model.item_ids_[order], rows[r, order]))
    return out


def check_against_reference(model, users, items, scores, **kwargs):
    for r, (ref_items, ref_scores) in enumerate(reference_top(model, users, items.shape[1],
                                                              **kwargs)):  # fmt: skip
        assert_array_equal(items[r, : len(ref_items)], ref_items)
        assert_allclose(scores[r, : len(ref_items)], ref_scores, rtol=1e-5, atol=1e-6)
        assert np.all(scores[r, len(ref_items) :] == -np.inf)


USERS = np.unique(X[:, 0])[:7]
CANDIDATES = np.unique(X[:, 1])[::2]  # 20 of the 40 items
FILTERED = np.unique(X[:, 1])[[0, 2, 5, 9]]


# ----------------------------------------------------------------- recommend: candidates
def test_shared_candidates_match_the_reference(model):
    items, scores = model.recommend(USERS, n=5, items=CANDIDATES, filter_items=FILTERED)
    assert items.shape == (len(USERS), 5)
    assert np.isin(items, CANDIDATES).all() and not np.isin(items, FILTERED).any()
    check_against_reference(model, USERS, items, scores, candidates=CANDIDATES,
                            filtered=FILTERED)  # fmt: skip


def test_filter_alone_gives_exactly_n_and_never_a_filtered_item(model):
    n = 10
    items, scores = model.recommend(USERS, n=n, filter_items=FILTERED)
    assert items.shape == (len(USERS), n)
    assert not np.isin(items, FILTERED).any()
    assert np.isfinite(scores).all()  # enough items left: no padding (implicit's N+len bug)
    check_against_reference(model, USERS, items, scores, filtered=FILTERED)


def test_per_user_candidate_lists(model):
    rng = np.random.default_rng(0)
    lists = [rng.choice(model.item_ids_, size=s, replace=False) for s in (3, 12, 8, 1, 15, 6, 9)]
    items, scores = model.recommend(USERS, n=6, items=lists, filter_items=FILTERED)
    assert items.shape == (len(USERS), 6)
    check_against_reference(model, USERS, items, scores, candidates=lists, filtered=FILTERED)
    for r in range(len(USERS)):
        real = scores[r] > -np.inf
        assert np.isin(items[r, real], lists[r]).all()
        assert not np.isin(items[r], FILTERED).any()  # not even as padding
        assert len(set(items[r].tolist())) == items.shape[1]  # padding never repeats


def test_candidates_as_a_sparse_matrix_equal_the_lists(model):
    rng = np.random.default_rng(1)
    mask = rng.random((len(USERS), model.n_items_)) < 0.3
    lists = [model.item_ids_[row] for row in mask]
    by_matrix = model.recommend(USERS, n=4, items=sparse.csr_matrix(mask))
    by_lists = model.recommend(USERS, n=4, items=lists)
    assert_array_equal(by_matrix[0], by_lists[0])
    assert_array_equal(by_matrix[1], by_lists[1])


@pytest.mark.parametrize("kind", ["shared", "per-user", "filter", "none"])
def test_blocked_equals_unblocked(model, kind):
    users = np.unique(X[:, 0])
    rng = np.random.default_rng(2)
    kwargs = {
        "shared": {"items": CANDIDATES},
        "per-user": {"items": [rng.choice(model.item_ids_, 7, replace=False) for _ in users]},
        "filter": {"filter_items": FILTERED},
        "none": {},
    }[kind]
    items, scores = model.recommend(users, n=5, **kwargs)
    with sklearn.config_context(working_memory=0.0005):  # a few users per block
        blocked_items, blocked_scores = model.recommend(users, n=5, **kwargs)
    # Same items; scores to float rounding (BLAS sums in another order for another shape).
    assert_array_equal(items, blocked_items)
    assert_allclose(scores, blocked_scores, rtol=1e-6, atol=1e-7)


def test_not_enough_candidates_narrows_the_result():
    model = _fitted("mf-cython")
    items, scores = model.recommend(USERS, n=10, items=CANDIDATES[:3], exclude_seen=False)
    assert items.shape == (len(USERS), 3)
    assert np.isfinite(scores).all()


def test_unknown_candidate_ids_are_ignored_or_refused():
    model = _fitted("popularity")
    items, _ = model.recommend(USERS[:2], n=2, items=[10**6, CANDIDATES[0], CANDIDATES[1]],
                               exclude_seen=False)  # fmt: skip
    assert set(items.ravel().tolist()) <= set(CANDIDATES[:2].tolist())
    strict = PopularityRecommender(handle_unknown="error").fit(X)
    with pytest.raises(ValueError, match="items holds 1 items not seen in fit"):
        strict.recommend(USERS[:2], n=2, items=[10**6, CANDIDATES[0]])


def test_wrong_number_of_candidate_lists_is_refused():
    model = _fitted("popularity")
    with pytest.raises(ValueError, match="2 candidate lists for 3 users"):
        model.recommend(USERS[:3], items=[[1], [2]])


# ----------------------------------------------------------------- recommend: frames
def test_as_frame_is_tidy_and_joins_metadata():
    model = _fitted("mf-cython")
    meta = pd.DataFrame({"title": [f"movie {i}" for i in model.item_ids_]},
                        index=model.item_ids_)  # fmt: skip
    frame = model.recommend(USERS[:3], n=4, as_frame=True, item_metadata=meta)
    assert frame.columns.tolist() == ["user", "rank", "item", "score", "title"]
    assert len(frame) == 12 and frame["rank"].tolist() == [1, 2, 3, 4] * 3
    items, scores = model.recommend(USERS[:3], n=4)
    assert_array_equal(frame["item"].to_numpy(), items.ravel())
    assert_allclose(frame["score"].to_numpy(), scores.ravel())
    assert (frame["title"] == "movie " + frame["item"].astype(str)).all()


def test_as_frame_leaves_padding_out():
    model = _fitted("popularity")
    frame = model.recommend(USERS[:2], n=5, items=[[CANDIDATES[0]], list(CANDIDATES[:5])],
                            exclude_seen=False, as_frame=True)  # fmt: skip
    assert frame.groupby("user").size().tolist() == [1, 5]


def test_item_metadata_needs_a_frame():
    model = _fitted("popularity")
    with pytest.raises(ValueError, match="as_frame=True"):
        model.recommend(USERS, item_metadata=pd.DataFrame(index=model.item_ids_))
    with pytest.raises(TypeError, match="item_metadata must be a pandas DataFrame"):
        model.recommend(USERS, as_frame=True, item_metadata={"a": 1})


# ----------------------------------------------------------------- ids round-trip
def test_uint64_ids_above_2_63_come_back_unchanged():
    big = np.array([2**63 + 5, 2**64 - 1, 7, 2**63], dtype=np.uint64)
    frame = pd.DataFrame({"user": big[[0, 1, 2, 3, 0]], "item": big[[3, 2, 1, 0, 1]]})
    model = PopularityRecommender().fit(frame)
    assert sorted(model.user_ids_.tolist()) == sorted(int(v) for v in big)
    items, _ = model.recommend(frame["user"], n=3, exclude_seen=False)
    assert set(items.ravel().tolist()) <= {int(v) for v in big}
    assert min(items.ravel().tolist()) >= 0
    recs = model.recommend(big, n=2, exclude_seen=False, as_frame=True)
    assert set(recs["user"].tolist()) == {int(v) for v in big}
    assert model.predict(frame).shape == (5,)


def test_int_ids_keep_their_dtype_in_frames():
    model = _fitted("popularity")
    frame = model.recommend(USERS[:2], n=2, as_frame=True)
    assert frame["user"].dtype == np.int64 and frame["item"].dtype == np.int64


# ----------------------------------------------------------------- unknown users
def test_unknown_users_rank_by_popularity_on_the_model_scale(model):
    row = model.unknown_user_scores()
    order = np.lexsort((np.arange(model.n_items_), -model.item_popularity_))
    assert np.all(np.diff(row[order].astype(np.float64)) <= 0)  # popularity order
    known = model.score_users(np.arange(model.n_users_))
    mean_row = known.astype(np.float64).mean(axis=0)
    assert_allclose(np.sort(row), np.sort(mean_row), rtol=1e-4, atol=1e-5)
    pairs = np.array([[10**9, model.item_ids_[3]]])
    assert model.predict(pairs)[0] == pytest.approx(row[3])
    assert known.min() <= model.predict(pairs)[0] <= known.max()


# ----------------------------------------------------------------- similar items and users
def test_similar_items_match_numpy_cosine(embedded):
    Q = embedded.factors().item.astype(np.float64)
    unit = Q / np.linalg.norm(Q, axis=1, keepdims=True)
    queries = embedded.item_ids_[[0, 5, 9]]
    neighbours, scores = embedded.similar_items(queries, n=6)
    for r, q in enumerate([0, 5, 9]):
        sims = unit @ unit[q]
        sims[q] = -np.inf
        order = np.lexsort((np.arange(len(sims)), -sims))[:6]
        assert_array_equal(neighbours[r], embedded.item_ids_[order])
        assert_allclose(scores[r], sims[order], rtol=1e-5, atol=1e-6)
    assert not (neighbours == queries[:, None]).any()


def test_similar_items_subset_and_blocks(embedded):
    subset = embedded.item_ids_[:10]
    queries = embedded.item_ids_[[0, 3, 20]]  # two in the subset, one outside
    neighbours, _ = embedded.similar_items(queries, n=20, items_subset=subset)
    assert neighbours.shape == (3, 9)  # 10 in the subset minus the query itself
    assert np.isin(neighbours, subset).all()
    assert not (neighbours == queries[:, None]).any()
    full = embedded.similar_items(embedded.item_ids_, n=5)
    with sklearn.config_context(working_memory=0.0002):
        blocked = embedded.similar_items(embedded.item_ids_, n=5)
    assert_array_equal(full[0], blocked[0])
    assert_allclose(full[1], blocked[1], rtol=1e-6, atol=1e-7)


def test_similar_users(embedded):
    P = embedded.factors().user.astype(np.float64)
    unit = P / np.linalg.norm(P, axis=1, keepdims=True)
    neighbours, scores = embedded.similar_users(embedded.user_ids_[:2], n=3)
    sims = unit[0] @ unit.T
    sims[0] = -np.inf
    order = np.lexsort((np.arange(len(sims)), -sims))[:3]
    assert_array_equal(neighbours[0], embedded.user_ids_[order])
    frame = embedded.similar_users(embedded.user_ids_[:2], n=3, as_frame=True)
    assert frame.columns.tolist() == ["user", "rank", "similar_user", "score"]
    assert_allclose(frame["score"].to_numpy(), scores.ravel())


@pytest.mark.parametrize("name", ["popularity", "neumf", "cfgan"])
def test_similar_items_without_embeddings_is_a_clear_error(name):
    model = _fitted(name)
    with pytest.raises(TypeError, match="has no item embeddings"):
        model.similar_items(model.item_ids_[:1])


def test_similar_items_of_an_unknown_item_is_refused():
    model = _fitted("mf-cython")
    with pytest.raises(ValueError, match="not seen in fit"):
        model.similar_items([10**6])


# ----------------------------------------------------------------- fold-in of new users
def _arrays(model):
    return {k: v.copy() for k, v in vars(model).items() if isinstance(v, np.ndarray)}


@pytest.mark.parametrize("name", EMBEDDED)
def test_fold_in_leaves_the_model_unchanged_and_equals_the_closed_form(name):
    model = _fitted(name)
    before = _arrays(model)
    new = np.array([["ann", model.item_ids_[0]], ["ann", model.item_ids_[3]],
                    ["bob", model.item_ids_[7]]], dtype=object)  # fmt: skip
    ids, P = model.new_user_factors(new, reg=0.5)
    users, items, scores = model.recommend_new_users(new, n=5, reg=0.5)
    after = _arrays(model)
    assert before.keys() == after.keys()
    for key in before:
        assert before[key].tobytes() == after[key].tobytes(), key
    # The closed form, written out.
    user, item, bias = model.factors()
    Q = item.astype(np.float64)
    lam = 0.5 * np.mean(np.sum(Q**2, axis=1))
    coo = model.interactions_.tocoo()
    target = np.mean(np.sum(user[coo.row].astype(np.float64) * Q[coo.col], axis=1))
    Qa = Q[[0, 3]]
    expected = target * np.linalg.solve(Qa.T @ Qa + lam * np.eye(Q.shape[1]), Qa.sum(axis=0))
    assert ids.tolist() == ["ann", "bob"] and users.tolist() == ["ann", "bob"]
    assert_allclose(P[0], expected, rtol=1e-6, atol=1e-9)
    # Recommendations are the folded-in vector's ranking, without the user's own items.
    full = P[0].astype(item.dtype) @ item.T + (0 if bias is None else bias)
    full[[0, 3]] = -np.inf
    assert_array_equal(items[0], model.item_ids_[np.lexsort((np.arange(len(full)), -full))[:5]])
    assert not np.isin(items[0], model.item_ids_[[0, 3]]).any()


def test_fold_in_weights_and_options():
    model = _fitted("mf-cython")
    new = [["a", model.item_ids_[1]], ["a", model.item_ids_[2]]]
    _, light = model.new_user_factors(new, y=[1.0, 1.0])
    _, heavy = model.new_user_factors(new, y=[5.0, 1.0])
    assert not np.allclose(light, heavy)
    frame = model.recommend_new_users(new, n=3, filter_items=FILTERED, as_frame=True)
    assert frame["user"].tolist() == ["a"] * 3 and not frame["item"].isin(FILTERED).any()
    _, items, _ = model.recommend_new_users(new, n=3, items=CANDIDATES)
    assert np.isin(items, CANDIDATES).all()
    with pytest.raises(ValueError, match="reg"):
        model.recommend_new_users(new, reg=0)


def test_popularity_folds_in_as_popularity():
    model = _fitted("popularity")
    users, items, _ = model.recommend_new_users([["z", model.item_ids_[0]]], n=4)
    top = model.item_ids_[np.lexsort((np.arange(model.n_items_), -model.item_scores_))]
    assert_array_equal(items[0], top[top != model.item_ids_[0]][:4])


def test_cfgan_folds_in_through_its_generator():
    model = _fitted("cfgan")
    user = model.user_ids_[4]
    profile = model.item_ids_[model.interactions_[4].indices]
    users, items, scores = model.recommend_new_users([["copy", i] for i in profile], n=5)
    expected_items, expected_scores = model.recommend([user], n=5)
    assert_array_equal(items, expected_items)
    assert_allclose(scores, expected_scores, rtol=1e-6)


@pytest.mark.parametrize("name", ["neumf"])
def test_fold_in_without_factors_is_a_clear_error(name):
    model = _fitted(name)
    with pytest.raises(NotImplementedError, match="factors\\(\\) is None"):
        model.recommend_new_users([["z", model.item_ids_[0]]])


# ----------------------------------------------------------------- meta-estimator
def test_gan_augmenter_serves_through_its_estimator():
    pytest.importorskip("torch")
    from skadv import GANAugmenter
    from skadv.augmentation import CFGANRecommender

    aug = GANAugmenter(CFGANRecommender(n_epochs=1, random_state=0),
                       AdversarialMFRecommender(4, n_epochs=2, random_state=0),
                       random_state=0).fit(X)  # fmt: skip
    items, _ = aug.recommend(USERS[:2], n=3, items=CANDIDATES)
    assert np.isin(items, CANDIDATES).all()
    assert aug.similar_items(aug.estimator_.item_ids_[:1], n=2)[0].shape == (1, 2)
    assert aug.recommend_new_users([["n", CANDIDATES[0]]], n=2)[1].shape == (1, 2)


def test_padding_is_never_a_filtered_item():
    tiny = np.array([[0, 0], [0, 1], [0, 2], [1, 3], [1, 4]])
    model = PopularityRecommender().fit(tiny)
    items, scores = model.recommend([0], n=5, filter_items=[3])
    assert items.shape == (1, 4) and 3 not in items[0].tolist()
    assert scores[0, :1].tolist() == [1.0] and np.all(scores[0, 1:] == -np.inf)
    items, scores = model.recommend([0], n=3, items=[[3, 4, 4, 99]], filter_items=[3])
    assert items[0, 0] == 4 and 3 not in items[0].tolist() and len(set(items[0])) == 3


def test_gather_scores_matches_numpy():
    from skadv.utils._ranking import gather_scores

    rng = np.random.default_rng(0)
    item = rng.standard_normal((50, 7)).astype(np.float32)
    vectors = rng.standard_normal((6, 7)).astype(np.float32)
    cols = rng.integers(0, 50, (6, 9))
    expected = np.einsum("bk,blk->bl", vectors.astype(np.float64), item[cols].astype(np.float64))
    assert_allclose(gather_scores(item, vectors, cols, n_jobs=2), expected, rtol=1e-5)


def test_average_user_row_follows_a_refit():
    pytest.importorskip("torch")
    from skadv.augmentation import CFGANRecommender

    model = CFGANRecommender(n_epochs=1, random_state=0).fit(X)
    first = model.unknown_user_scores()
    assert model.unknown_user_scores() is not None  # served from the cache the second time
    model.fit(X[: len(X) // 2])
    mean_row = model.score_users(np.arange(model.n_users_)).astype(np.float64).mean(axis=0)
    assert_allclose(np.sort(model.unknown_user_scores()), np.sort(mean_row), rtol=1e-5)
    assert first.shape[0] == 40 and model.unknown_user_scores().shape[0] == model.n_items_


def test_top_k_finds_nan_in_its_scan_even_at_excluded_items():
    from skadv.utils._ranking import top_k

    scores = np.array([[0.5, np.nan, 0.1], [0.2, 0.3, 0.4]])
    with pytest.raises(ValueError, match="NaN"):
        top_k(scores, 1)
    with pytest.raises(ValueError, match="NaN"):
        top_k(scores, 1, exclude=sparse.csr_matrix([[0, 1, 0], [0, 0, 0]]))
    idx, _ = top_k(np.array([[0.5, -np.inf, np.inf]]), 3)
    assert idx.tolist() == [[2, 0, 1]]
