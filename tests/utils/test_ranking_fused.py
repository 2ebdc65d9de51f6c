"""The fused score-and-select kernel: ``skadv.utils._ranking.dot_top_k``
(``src_ext/_score_select.pyx``) against a NumPy reference and against the unfused path
(dense score rows, then ``top_k``), and ``recommend`` / ``similar_items`` that use it."""

import numpy as np
import pytest
import sklearn
from _ranking_reference import reference_top_k
from numpy.testing import assert_allclose, assert_array_equal
from scipy import sparse

from skadv import AdversarialMFRecommender
from skadv.datasets import make_interactions
from skadv.utils._ranking import cosine_normalize, dot_top_k, top_k


def reference(vectors, item, bias, k, excluded):
    """NumPy: dense scores, then :func:`reference_top_k`."""
    scores = vectors @ item.T
    if bias is not None:
        scores = scores + bias
    return reference_top_k(scores, k, excluded)


def integer_case(dtype, n_rows=70, n_items=300, n_factors=5, seed=0):
    """Small-integer factors: every score is exact in any summation order, and ties abound
    (the tie rule decides most of the ranking)."""
    rng = np.random.default_rng(seed)
    vectors = rng.integers(-2, 3, (n_rows, n_factors)).astype(dtype)
    item = rng.integers(-2, 3, (n_items, n_factors)).astype(dtype)
    bias = rng.integers(-1, 2, n_items).astype(dtype)
    excluded = rng.random((n_rows, n_items)) < 0.2
    excluded[0] = True  # a row with no candidate at all
    excluded[1, 4:] = True  # a row with 4 candidates
    filtered = rng.choice(n_items, 25, replace=False)
    return vectors, item, bias, excluded, filtered


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [1, 10, 290])
@pytest.mark.parametrize("chunk_tile", [(None, None), (1, 1), (7, 33), (64, 1000)])
def test_matches_reference_with_ties_exclusions_filters(dtype, k, chunk_tile):
    vectors, item, bias, excluded, filtered = integer_case(dtype)
    merged = excluded.copy()
    merged[:, filtered] = True
    want_idx, want_val = reference(vectors, item, bias, k, merged)
    chunk, tile = chunk_tile
    for n_jobs in (1, 2):
        idx, val = dot_top_k(vectors, item, k, item_bias=bias, exclude=sparse.csr_matrix(excluded),
                             filtered=filtered, n_jobs=n_jobs, chunk_rows=chunk,
                             tile_items=tile)  # fmt: skip
        assert val.dtype == dtype
        assert_array_equal(idx, want_idx)
        assert_array_equal(val, want_val)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_equals_unfused_top_k(dtype):
    """The dense path of recommend (``vectors @ item.T``, ``+= bias``, ``top_k``) on random
    real factors: same values, same items."""
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((200, 16)).astype(dtype)
    item = rng.standard_normal((3001, 16)).astype(dtype)
    bias = rng.standard_normal(3001).astype(dtype)
    exclude = sparse.random(200, 3001, density=0.05, random_state=1, format="csr")
    scores = vectors @ item.T
    scores += bias
    want_idx, want_val = top_k(scores, 20, exclude=exclude)
    idx, val = dot_top_k(vectors, item, 20, item_bias=bias, exclude=exclude, n_jobs=2)
    # Each score is the same GEMM dot product; which BLAS library computes it may change
    # the last bit, so items are compared where that cannot reorder them.
    assert_allclose(val, want_val, rtol=1e-5 if dtype == np.float32 else 1e-12)
    gaps = np.diff(want_val.astype(np.float64), axis=1)
    clear = (np.abs(gaps) > 1e-4).all(axis=1)
    assert clear.sum() > 150
    assert_array_equal(idx[clear], want_idx[clear])


def test_without_bias_and_dense_mask():
    vectors, item, _, excluded, _ = integer_case(np.float64, seed=3)
    want = reference(vectors, item, None, 8, excluded)
    got = dot_top_k(vectors, item, 8, exclude=excluded)
    assert_array_equal(got[0], want[0])
    assert_array_equal(got[1], want[1])


def test_narrow_exclusion_mask_and_zero_factors():
    rng = np.random.default_rng(2)
    vectors = rng.integers(-2, 3, (5, 3)).astype(np.float32)
    item = rng.integers(-2, 3, (40, 3)).astype(np.float32)
    narrow = np.zeros((5, 10), dtype=bool)
    narrow[:, 2] = True
    wide = np.zeros((5, 40), dtype=bool)
    wide[:, 2] = True
    assert_array_equal(dot_top_k(vectors, item, 6, exclude=narrow)[0],
                       reference(vectors, item, None, 6, wide)[0])  # fmt: skip
    # No factors: every score is the bias (ties by index).
    idx, val = dot_top_k(np.zeros((3, 0)), np.zeros((6, 0)), 4, item_bias=[0, 2, 1, 2, 0, 0])
    assert_array_equal(idx, [[1, 3, 2, 0]] * 3)
    assert_array_equal(val, [[2, 2, 1, 0]] * 3)


def test_infinite_scores_rank_and_nan_raises():
    item = np.eye(4)
    bias = np.array([np.inf, 0.0, -np.inf, 1.0])
    idx, val = dot_top_k(np.zeros((2, 4)), item, 4, item_bias=bias)
    assert_array_equal(idx, [[0, 3, 1, 2]] * 2)
    assert_array_equal(val, [[np.inf, 1.0, 0.0, -np.inf]] * 2)
    item_inf = np.eye(4)
    item_inf[1, 0] = np.inf  # 0 * inf = NaN for a user with factor 0 there
    with pytest.raises(ValueError, match="NaN"):
        dot_top_k(np.array([[0.0, 1.0, 0.0, 0.0]]), item_inf, 2)
    # NaN in an excluded column still raises, as in top_k.
    with pytest.raises(ValueError, match="NaN"):
        dot_top_k(np.array([[0.0, 1.0, 0.0, 0.0]]), item_inf, 2, exclude=[[0, 1, 0, 0]])
    with pytest.raises(ValueError, match="NaN"):
        dot_top_k(np.array([[0.0, 1.0, 0.0, 0.0]]), item_inf, 2, filtered=[1])


def test_validation():
    item = np.ones((5, 2))
    with pytest.raises(ValueError, match="k"):
        dot_top_k(np.ones((1, 2)), item, 6)
    with pytest.raises(ValueError, match="k"):
        dot_top_k(np.ones((1, 2)), item, 0)
    with pytest.raises(ValueError, match="vectors"):
        dot_top_k(np.ones((1, 3)), item, 2)
    with pytest.raises(ValueError, match="item_bias"):
        dot_top_k(np.ones((1, 2)), item, 2, item_bias=np.ones(4))
    with pytest.raises(ValueError, match="filtered"):
        dot_top_k(np.ones((1, 2)), item, 2, filtered=[5])
    with pytest.raises(ValueError, match="exclude"):
        dot_top_k(np.ones((1, 2)), item, 2, exclude=np.zeros((2, 5)))
    idx, val = dot_top_k(np.ones((0, 2)), item, 2)
    assert idx.shape == val.shape == (0, 2)
    # Inputs are never modified.
    vectors, bias = np.ones((2, 2)), np.arange(5.0)
    dot_top_k(vectors, item, 2, item_bias=bias, filtered=[1])
    assert_array_equal(vectors, np.ones((2, 2)))
    assert_array_equal(bias, np.arange(5.0))


# --------------------------------------------------------------- recommend, similar_items
X = make_interactions(n_users=80, n_items=60, density=0.15, random_state=0)


def _model(dtype=np.float32):
    return AdversarialMFRecommender(8, n_epochs=3, item_bias=True, dtype=dtype,
                                    random_state=0).fit(X)  # fmt: skip


def _unfused(model, users, n, items=None, filter_items=None, exclude_seen=True):
    """``recommend`` through the dense path: the same scorer without its fused hook."""
    codes = model._encode_users(np.asarray(users), name="users")
    candidates, filtered = model._serving_items(items, filter_items, codes.shape[0])
    fused = model._known_user_scorer(codes)

    def dense(block, cols):
        return fused(block, cols)

    dense.item_dim = fused.item_dim

    def seen(block):
        return model.seen_items(codes[block]) if exclude_seen else None

    idx, vals = model._rank_blocks(codes.shape[0], n, dense, seen, candidates, filtered)
    return model.item_ids_[idx], vals


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"filter_items": "some"},
        {"items": "shared"},
        {"exclude_seen": False, "filter_items": "some"},
        {"n": 59, "filter_items": "some"},  # fewer eligible items than n: padding
    ],
)
def test_recommend_equals_unfused_path(dtype, kwargs):
    model = _model(dtype)
    kwargs = dict(kwargs)
    n = kwargs.pop("n", 7)
    if kwargs.get("filter_items") == "some":
        kwargs["filter_items"] = model.item_ids_[[3, 10, 11, 40]]
    if kwargs.get("items") == "shared":
        kwargs["items"] = model.item_ids_[::3]
    users = np.r_[model.user_ids_, [10_000, 10_001]]  # two unknown users (popularity rows)
    want_items, want_scores = _unfused(model, users, n, **kwargs)
    for wm, n_jobs in ((None, 1), (0.001, 2)):  # one block, then blocks of a few users
        model.set_params(n_jobs=n_jobs)
        with sklearn.config_context(working_memory=wm or 1024):
            items, scores = model.recommend(users, n, **kwargs)
        assert scores.dtype == dtype
        assert_allclose(scores, want_scores, rtol=1e-6)
        with np.errstate(invalid="ignore"):  # -inf - -inf in padded rows
            gaps = np.diff(want_scores.astype(np.float64), axis=1)
        ordered = (np.abs(gaps) > 1e-5).all(axis=1)
        assert_array_equal(items[ordered], want_items[ordered])
        assert_array_equal(np.sort(items, axis=1), np.sort(want_items, axis=1))
        if kwargs.get("filter_items") is not None:
            assert not np.isin(items, kwargs["filter_items"]).any()
        assert all(len(set(row)) == row.shape[0] for row in items)


def test_recommend_exact_n_and_padding():
    model = _model()
    seen = model.seen_items(np.arange(model.n_users_)).toarray() != 0
    n_unseen = model.n_items_ - seen.sum(axis=1)
    assert n_unseen.min() == 0  # this data has a user who has seen every item
    for n in (5, model.n_items_):
        items, scores = model.recommend(model.user_ids_, n)
        assert items.shape == (model.n_users_, n)
        codes = np.searchsorted(model.item_ids_, items)
        for r in range(model.n_users_):
            fill = min(n, n_unseen[r])  # unseen items first (finite), then seen ones at -inf
            assert np.isfinite(scores[r, :fill]).all()
            assert not seen[r, codes[r, :fill]].any()
            assert (scores[r, fill:] == -np.inf).all()
            assert seen[r, codes[r, fill:]].all()
            assert len(set(codes[r])) == n


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_similar_items_matches_numpy(dtype):
    model = _model(dtype)
    queries = model.item_ids_[[0, 5, 17, 30]]
    subset = model.item_ids_[::2]
    for items_subset in (None, subset):
        neighbours, scores = model.similar_items(queries, 6, items_subset=items_subset)
        step = 1 if items_subset is None else 2
        cols = np.arange(0, model.n_items_, step)
        unit = cosine_normalize(model.item_factors_)
        sims = unit[[0, 5, 17, 30]] @ unit[cols].T
        own = cols[None, :] == np.array([0, 5, 17, 30])[:, None]
        want_idx, want_val = top_k(sims, 6, exclude=own)
        assert scores.dtype == dtype
        assert_allclose(scores, want_val, rtol=1e-5, atol=1e-6)
        assert_array_equal(np.sort(neighbours, axis=1),
                           np.sort(model.item_ids_[cols[want_idx]], axis=1))  # fmt: skip
        assert not (neighbours == queries[:, None]).any()
        with sklearn.config_context(working_memory=0.0001):  # one query per block
            blocked = model.similar_items(queries, 6, items_subset=items_subset)
        assert_array_equal(blocked[0], neighbours)
        assert_array_equal(blocked[1], scores)
