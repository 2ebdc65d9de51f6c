"""Tests of the ranking metrics in ``skadv.metrics._ranking``."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import sparse
from sklearn.metrics import ndcg_score

from skadv.metrics import (
    auc,
    hit_rate_at_k,
    map_at_k,
    mrr,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
)

WITH_K = [ndcg_at_k, recall_at_k, precision_at_k, hit_rate_at_k, map_at_k]
WITHOUT_K = [mrr, auc]
ALL = WITH_K + WITHOUT_K


def call(metric, y_true, y_score, k=10, **kwargs):
    if metric in WITH_K:
        kwargs["k"] = k
    return metric(y_true, y_score, **kwargs)


# ----------------------------------------------------------------------------- naive reference
def naive_per_user(metric, y_true, y_score, k, exclude):
    """Metric definitions applied literally to an explicitly built pessimistic ranking."""
    out = []
    for u in range(y_true.shape[0]):
        cand = [j for j in range(y_true.shape[1]) if not exclude[u, j]]
        gain = {j: float(y_true[u, j]) for j in cand}
        # pessimistic order: score descending, then gain ascending (irrelevant = 0 first)
        ranking = sorted(cand, key=lambda j: (-y_score[u, j], gain[j], j))
        relevant = [j for j in ranking if gain[j] > 0]
        irrelevant = [j for j in ranking if gain[j] == 0]
        rank = {j: p + 1 for p, j in enumerate(ranking)}
        if not relevant or (metric is auc and not irrelevant):
            out.append(np.nan)
            continue
        hits = [j for j in relevant if rank[j] <= k]
        if metric is precision_at_k:
            out.append(len(hits) / k)
        elif metric is recall_at_k:
            out.append(len(hits) / len(relevant))
        elif metric is hit_rate_at_k:
            out.append(float(bool(hits)))
        elif metric is ndcg_at_k:
            dcg = sum(gain[j] / math.log2(rank[j] + 1) for j in hits)
            ideal = sorted((gain[j] for j in relevant), reverse=True)[:k]
            out.append(dcg / sum(g / math.log2(p + 2) for p, g in enumerate(ideal)))
        elif metric is map_at_k:
            ap = sum(sum(rank[i] <= rank[j] for i in relevant) / rank[j] for j in hits) / min(
                k, len(relevant)
            )
            out.append(ap)
        elif metric is mrr:
            out.append(1 / min(rank[j] for j in relevant))
        elif metric is auc:
            right = sum(y_score[u, i] > y_score[u, j] for i in relevant for j in irrelevant)
            out.append(right / (len(relevant) * len(irrelevant)))
    return np.array(out)


# ----------------------------------------------------------------------------- hand-computed
# User 0: item 0 excluded; candidates 1 (0.5, gain 3), 2 (0.5, irrelevant), 3 (0.7, gain 1),
#   4 (-inf, irrelevant), 5 (0.1, gain 2). Pessimistic ranking: 3, 2, 1, 5, 4, so the
#   relevant items have ranks 1 (item 3), 3 (item 1, after the tied item 2) and 4 (item 5).
# User 1: item 5 excluded; all candidates tie at 0.2, so the relevant item 0 ranks 5th.
# User 2: no relevant item, undefined (NaN).
Y_TRUE = np.array([[0, 3, 0, 1, 0, 2], [1, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]])
Y_SCORE = np.array([[0.9, 0.5, 0.5, 0.7, -np.inf, 0.1], [0.2] * 6, [0.3, 0.1, 0.2, 0.0, 0.5, 0.4]])
EXCLUDE = np.zeros((3, 6), dtype=bool)
EXCLUDE[0, 0] = EXCLUDE[1, 5] = True
IDCG_3 = 3 + 2 / math.log2(3) + 1 / 2  # user 0's gains 3, 2, 1 at ranks 1, 2, 3

HAND_COMPUTED_K3 = [
    (precision_at_k, [2 / 3, 0.0]),
    (recall_at_k, [2 / 3, 0.0]),
    (hit_rate_at_k, [1.0, 0.0]),
    (ndcg_at_k, [(1 / 1 + 3 / 2) / IDCG_3, 0.0]),  # item 3 at rank 1, item 1 at rank 3
    (map_at_k, [(1 / 1 + 2 / 3) / 3, 0.0]),
    (mrr, [1.0, 1 / 5]),
    # user 0: item 3 beats items 2 and 4, item 1 only item 4 (tie), item 5 only item 4
    (auc, [4 / 6, 0.0]),
]


@pytest.mark.parametrize(("metric", "expected"), HAND_COMPUTED_K3)
def test_hand_computed_values(metric, expected):
    values = call(metric, Y_TRUE, Y_SCORE, k=3, exclude=EXCLUDE, average=False)
    np.testing.assert_allclose(values, expected + [np.nan], rtol=1e-12)
    mean = call(metric, Y_TRUE, Y_SCORE, k=3, exclude=EXCLUDE)
    assert isinstance(mean, float)
    assert mean == pytest.approx(np.mean(expected), rel=1e-12)


@pytest.mark.parametrize("metric", ALL)
def test_sparse_inputs_give_the_same_values(metric):
    dense = call(metric, Y_TRUE, Y_SCORE, k=3, exclude=EXCLUDE, average=False)
    from_sparse = call(
        metric,
        sparse.csr_matrix(Y_TRUE),
        Y_SCORE,
        k=3,
        exclude=sparse.coo_matrix(EXCLUDE),
        average=False,
    )
    np.testing.assert_array_equal(dense, from_sparse)


@pytest.mark.parametrize("metric", ALL)
def test_float32_scores_give_the_same_values(metric):
    expected = call(metric, Y_TRUE, Y_SCORE, k=3, exclude=EXCLUDE, average=False)
    values = call(metric, Y_TRUE, Y_SCORE.astype(np.float32), k=3, exclude=EXCLUDE, average=False)
    np.testing.assert_allclose(values, expected, rtol=1e-12)


@pytest.mark.parametrize("metric", WITH_K + [mrr])
def test_constant_scores_are_worst_case(metric):
    # one relevant item among 4 tied candidates: ranked 4th, so a miss at k=3
    y_true = np.array([[0, 1, 0, 0]])
    value = call(metric, y_true, np.ones((1, 4)), k=3)
    assert value == (0.25 if metric is mrr else 0.0)


def test_ties_between_relevant_items_put_lower_gains_first():
    # items 0 and 1 tie; pessimistic order puts gain 1 before gain 2
    value = ndcg_at_k([[2, 1, 0]], [[1.0, 1.0, 0.0]], k=2)
    assert value == pytest.approx((1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3)))


def test_excluded_relevant_items_are_dropped():
    # item 0 is relevant but excluded: only item 2 counts, ranked 1st among candidates 1, 2
    y_true = [[1, 0, 1]]
    y_score = [[5.0, 0.0, 1.0]]
    assert recall_at_k(y_true, y_score, k=1, exclude=[[1, 0, 0]]) == 1.0
    assert recall_at_k(y_true, y_score, k=1) == 0.5


def test_user_whose_relevant_items_are_all_excluded_is_skipped():
    values = recall_at_k(
        [[1, 0], [1, 0]], [[1.0, 0.0]] * 2, k=1, exclude=[[1, 0], [0, 0]], average=False
    )
    np.testing.assert_array_equal(values, [np.nan, 1.0])


def test_auc_undefined_without_irrelevant_candidate():
    values = auc(
        [[1, 1, 0], [1, 0, 1]],
        [[1.0, 1.5, 2.0]] * 2,
        exclude=[[0, 0, 1], [0, 0, 0]],
        average=False,
    )
    np.testing.assert_allclose(values, [np.nan, 0.5])


def test_k_larger_than_n_items():
    # precision keeps k as denominator; recall is complete
    assert precision_at_k([[1, 0, 1]], [[3.0, 2.0, 1.0]], k=6) == pytest.approx(2 / 6)
    assert recall_at_k([[1, 0, 1]], [[3.0, 2.0, 1.0]], k=6) == 1.0


def test_ndcg_uses_graded_gains_and_others_binarize():
    y_score = [[3.0, 2.0, 1.0]]
    assert ndcg_at_k([[0, 5, 1]], y_score, k=3) != ndcg_at_k([[0, 1, 1]], y_score, k=3)
    assert map_at_k([[0, 5, 1]], y_score, k=3) == map_at_k([[0, 1, 1]], y_score, k=3)


@pytest.mark.parametrize("k", [1, 3, 10, 40])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ndcg_matches_sklearn_without_ties(k, seed):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 4, size=(30, 40)) * (rng.random((30, 40)) < 0.3)
    y_true[np.arange(30), rng.integers(0, 40, 30)] = 2  # every user has a relevant item
    y_score = rng.random((30, 40))  # continuous: no ties
    assert ndcg_at_k(y_true, y_score, k=k) == pytest.approx(
        ndcg_score(y_true, y_score, k=k), rel=1e-12
    )


@pytest.mark.parametrize(
    ("y_true", "y_score", "kwargs", "error", "match"),
    [
        ([[1, 0]], [[1.0, 0.0, 2.0]], {}, ValueError, "different shapes"),
        ([[1, 0]], [[1.0, np.nan]], {}, ValueError, "NaN"),
        ([[1, -1]], [[1.0, 0.0]], {}, ValueError, "non-negative"),
        ([[1, np.inf]], [[1.0, 0.0]], {}, ValueError, "y_true contains NaN or infinite"),
        ([1, 0], [1.0, 0.0], {}, ValueError, "2-dimensional"),
        ([["a", "b"]], [[1.0, 0.0]], {}, TypeError, "y_true"),
        ([[1, 0]], sparse.csr_matrix([[1.0, 0.0]]), {}, TypeError, "sparse"),
        ([[1, 0]], [[1.0, 0.0]], {"k": 0}, ValueError, r"'k' parameter of ndcg_at_k .* got 0"),
        ([[1, 0]], [[1.0, 0.0]], {"k": 2.5}, TypeError, "'k' .* an int .* got 2.5"),
        ([[1, 0]], [[1.0, 0.0]], {"exclude": [[0, 0, 0]]}, ValueError, "exclude"),
        ([[1, 0]], [[1.0, 0.0]], {"average": "yes"}, TypeError, "'average' .* a bool"),
        ([[0, 0]], [[1.0, 0.0]], {}, ValueError, "undefined for every user"),
    ],
)
def test_bad_input_raises(y_true, y_score, kwargs, error, match):
    with pytest.raises(error, match=match):
        ndcg_at_k(y_true, y_score, **kwargs)


def test_no_relevant_user_gives_nan_without_average():
    np.testing.assert_array_equal(
        mrr([[0, 0], [0, 0]], [[1.0, 0.0]] * 2, average=False), [np.nan, np.nan]
    )


def test_auc_without_any_irrelevant_candidate_raises():
    with pytest.raises(ValueError, match="irrelevant"):
        auc([[1, 1]], [[1.0, 0.0]])


# ----------------------------------------------------------------------------- properties
@st.composite
def ranking_cases(draw):
    n_users = draw(st.integers(1, 4))
    n_items = draw(st.integers(1, 8))
    shape = (n_users, n_items)
    y_true = draw(arrays(np.int64, shape, elements=st.sampled_from([0, 0, 1, 2, 3])))
    # few distinct values: frequent ties, also with -inf and +inf
    scores = st.sampled_from([-np.inf, -1.0, 0.0, 0.5, 1.0, np.inf])
    y_score = draw(arrays(np.float64, shape, elements=scores))
    exclude = draw(arrays(np.bool_, shape))
    k = draw(st.integers(1, n_items + 2))
    return y_true, y_score, exclude, k


@pytest.mark.parametrize("metric", ALL)
@settings(max_examples=60, deadline=None)
@given(case=ranking_cases())
def test_matches_naive_definition(metric, case):
    y_true, y_score, exclude, k = case
    values = call(metric, y_true, y_score, k=k, exclude=exclude, average=False)
    expected = naive_per_user(metric, y_true, y_score, k, exclude)
    np.testing.assert_allclose(values, expected, rtol=1e-12)


@pytest.mark.parametrize("metric", ALL)
@settings(max_examples=40, deadline=None)
@given(case=ranking_cases())
def test_values_lie_in_unit_interval(metric, case):
    y_true, y_score, exclude, k = case
    values = call(metric, y_true, y_score, k=k, exclude=exclude, average=False)
    defined = values[~np.isnan(values)]
    assert np.all((defined >= 0) & (defined <= 1))


@pytest.mark.parametrize("metric", ALL)
@settings(max_examples=40, deadline=None)
@given(case=ranking_cases(), data=st.data())
def test_item_permutation_invariance(metric, case, data):
    y_true, y_score, exclude, k = case
    perm = data.draw(st.permutations(range(y_true.shape[1])))
    values = call(metric, y_true, y_score, k=k, exclude=exclude, average=False)
    permuted = call(
        metric, y_true[:, perm], y_score[:, perm], k=k, exclude=exclude[:, perm], average=False
    )
    np.testing.assert_allclose(permuted, values, rtol=1e-12)


@pytest.mark.parametrize("metric", [ndcg_at_k, hit_rate_at_k, map_at_k, mrr, auc])
@settings(max_examples=40, deadline=None)
@given(case=ranking_cases())
def test_perfect_ranking_scores_one(metric, case):
    y_true, _, _, k = case
    y_true[:, 0] = np.maximum(y_true[:, 0], 1)  # every user has a relevant item
    # scores ordered like the gains: the ideal ranking, whatever the ties among equal gains
    values = call(metric, y_true, y_true.astype(float), k=k, average=False)
    has_irrelevant = (y_true == 0).any(axis=1)
    expected = np.where(has_irrelevant | (metric is not auc), 1.0, np.nan)
    np.testing.assert_allclose(values, expected, rtol=1e-12)


@settings(max_examples=40, deadline=None)
@given(case=ranking_cases())
def test_perfect_ranking_precision_and_recall(case):
    y_true, _, _, k = case
    y_true[:, 0] = np.maximum(y_true[:, 0], 1)
    n_rel = (y_true > 0).sum(axis=1)
    y_score = (y_true > 0).astype(float)
    precision = precision_at_k(y_true, y_score, k=k, average=False)
    recall = recall_at_k(y_true, y_score, k=k, average=False)
    np.testing.assert_allclose(precision, np.minimum(n_rel, k) / k, rtol=1e-12)
    np.testing.assert_allclose(recall, np.minimum(n_rel, k) / n_rel, rtol=1e-12)


@given(
    arrays(np.float64, (6, 9), elements=st.sampled_from([-np.inf, -1.0, 0.0, 0.5, 2.0, np.nan])),
    st.lists(
        st.tuples(st.integers(0, 5), st.sampled_from([-np.inf, -1.0, 0.0, 0.5, 3.0])),
        min_size=1,
        max_size=20,
    ),
)
def test_both_rank_counts_agree(rows_values, queries):
    # Counting by comparison (few relevant items per row) and by binary search over sorted
    # rows (many) must give the same pessimistic counts, ties and -inf included.
    from skadv.metrics._ranking import _count_at_least, _count_by_comparison

    rows = np.array([q[0] for q in queries])
    values = np.array([q[1] for q in queries])
    n_valid = (~np.isnan(rows_values)).sum(axis=1)[rows]
    expected = _count_at_least(np.sort(rows_values, axis=1), rows, values, n_valid)
    got = _count_by_comparison(rows_values, rows, values, chunk_bytes=40)
    np.testing.assert_array_equal(got, expected)
