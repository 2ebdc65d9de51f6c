"""Tests of ``skadv.utils._ranking.top_k`` and its kernel ``src_ext/_topk.pyx``."""

import numpy as np
import pytest
from _ranking_reference import reference_top_k
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import sparse

from skadv.utils._ranking import top_k


@pytest.fixture
def random_case():
    rng = np.random.default_rng(0)
    # rounded scores: many ties, which the tie rule must resolve
    scores = np.round(rng.standard_normal((60, 45)), 1)
    scores[rng.random(scores.shape) < 0.05] = -np.inf
    excluded = rng.random(scores.shape) < 0.3
    excluded[0] = True  # a row with no candidate at all
    excluded[1, 3:] = True  # a row with 3 candidates < k
    return scores, excluded


def _as_format(excluded, fmt):
    if fmt == "csr":
        return sparse.csr_matrix(excluded)
    if fmt == "csr_array":
        return sparse.csr_array(excluded)
    if fmt == "coo":
        return sparse.coo_matrix(excluded)
    if fmt == "csc":
        return sparse.csc_matrix(excluded)
    if fmt == "dense_bool":
        return excluded
    if fmt == "dense_int":
        return excluded.astype(np.int8)
    if fmt == "csr_unsorted_duplicates":
        # every entry stored twice, each row's indices reversed: not canonical CSR
        rows, cols = np.nonzero(excluded)
        order = np.lexsort((-cols, rows))
        rows, cols = np.repeat(rows[order], 2), np.repeat(cols[order], 2)
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=len(excluded)))])
        mat = sparse.csr_matrix(
            (np.ones(cols.size, dtype=bool), cols, indptr), shape=excluded.shape
        )
        assert not mat.has_canonical_format
        return mat
    raise AssertionError(fmt)


@pytest.mark.parametrize(
    "fmt",
    ["csr", "csr_array", "coo", "csc", "dense_bool", "dense_int", "csr_unsorted_duplicates"],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.parametrize("k", [1, 5, 45])
def test_top_k_matches_reference(random_case, fmt, dtype, n_jobs, k):
    scores, excluded = random_case
    scores = scores.astype(dtype)
    idx, val = top_k(scores, k, exclude=_as_format(excluded, fmt), n_jobs=n_jobs)
    ref_idx, ref_val = reference_top_k(scores, k, excluded)
    assert idx.dtype == np.int64 and val.dtype == dtype
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_array_equal(val, ref_val)


def test_top_k_without_exclude_is_a_stable_descending_sort(random_case):
    scores, _ = random_case
    idx, val = top_k(scores, 10)
    expected = np.argsort(-scores, axis=1, kind="stable")[:, :10]
    np.testing.assert_array_equal(idx, expected)
    np.testing.assert_array_equal(val, np.take_along_axis(scores, expected, axis=1))


def test_top_k_threads_give_identical_results():
    rng = np.random.default_rng(1)
    scores = rng.integers(0, 20, size=(501, 300)).astype(np.float64)
    exclude = sparse.random(501, 300, density=0.1, random_state=1, format="csr")
    one = top_k(scores, 17, exclude=exclude, n_jobs=1)
    two = top_k(scores, 17, exclude=exclude, n_jobs=2)
    np.testing.assert_array_equal(one[0], two[0])
    np.testing.assert_array_equal(one[1], two[1])


def test_row_with_too_few_candidates_is_filled_with_excluded_items():
    scores = np.array([[5.0, -np.inf, 3.0, 4.0, 1.0]])
    exclude = np.array([[True, False, False, True, True]])
    idx, val = top_k(scores, 4, exclude=exclude)
    # candidates 2 (3.0) and 1 (-inf) first, then excluded 0 and 3 at -inf
    assert idx.tolist() == [[2, 1, 0, 3]]
    assert val.tolist() == [[3.0, -np.inf, -np.inf, -np.inf]]


def test_inf_scores_rank_at_the_ends():
    scores = np.array([[-np.inf, 0.0, np.inf, -np.inf, 1.0]])
    idx, val = top_k(scores, 5)
    assert idx.tolist() == [[2, 4, 1, 0, 3]]
    assert val.tolist() == [[np.inf, 1.0, 0.0, -np.inf, -np.inf]]


def test_exclude_with_fewer_columns_leaves_the_rest_as_candidates():
    scores = np.array([[1.0, 2.0, 3.0, 4.0]])
    idx, _ = top_k(scores, 2, exclude=sparse.csr_matrix([[0, 0, 1]]))
    assert idx.tolist() == [[3, 1]]


def test_explicit_zeros_in_sparse_exclude_are_not_excluded():
    mat = sparse.csr_matrix((np.array([0.0, 1.0]), np.array([0, 1]), np.array([0, 2])), (1, 3))
    idx, _ = top_k(np.array([[3.0, 2.0, 1.0]]), 2, exclude=mat)
    assert idx.tolist() == [[0, 2]]
    assert mat.nnz == 2  # the caller's matrix is not modified


def test_integer_scores_become_float64():
    idx, val = top_k([[1, 3, 2]], 2)
    assert idx.tolist() == [[1, 2]]
    assert val.dtype == np.float64


def test_no_rows():
    idx, val = top_k(np.empty((0, 4)), 3)
    assert idx.shape == (0, 3) and val.shape == (0, 3)


@pytest.mark.parametrize(
    ("scores", "k", "kwargs", "error", "match"),
    [
        ([[1.0, np.nan]], 1, {}, ValueError, "NaN"),
        ([[1.0, 2.0]], 0, {}, ValueError, r"'k' parameter of top_k .* range \[1, 2\]"),
        ([[1.0, 2.0]], 3, {}, ValueError, r"'k' .* range \[1, 2\]; got 3"),
        ([[1.0, 2.0]], 1.0, {}, TypeError, "'k' .* an int"),
        ([[1.0, 2.0]], True, {}, TypeError, "'k' .* an int"),
        ([1.0, 2.0], 1, {}, ValueError, "2-dimensional"),
        (sparse.csr_matrix([[1.0, 2.0]]), 1, {}, TypeError, "sparse"),
        ([["a", "b"]], 1, {}, TypeError, "real numbers"),
        ([[1.0, 2.0]], 1, {"exclude": np.zeros((2, 2), bool)}, ValueError, "exclude"),
        ([[1.0, 2.0]], 1, {"exclude": np.zeros((1, 3), bool)}, ValueError, "exclude"),
        ([[1.0, 2.0]], 1, {"exclude": np.zeros(2, bool)}, ValueError, "exclude"),
        ([[1.0, 2.0]], 1, {"n_jobs": 0}, ValueError, "n_jobs"),
    ],
)
def test_top_k_rejects_bad_input(scores, k, kwargs, error, match):
    with pytest.raises(error, match=match):
        top_k(scores, k, **kwargs)


@st.composite
def topk_cases(draw):
    n_rows = draw(st.integers(1, 6))
    n_items = draw(st.integers(1, 9))
    values = st.sampled_from([-np.inf, -1.0, 0.0, 0.5, 2.0, np.inf])
    scores = draw(arrays(np.float64, (n_rows, n_items), elements=values))
    excluded = draw(arrays(np.bool_, (n_rows, n_items)))
    k = draw(st.integers(1, n_items))
    return scores, excluded, k


@settings(max_examples=150, deadline=None)
@given(case=topk_cases(), n_jobs=st.sampled_from([1, 2]), dtype=st.sampled_from(["f4", "f8"]))
def test_top_k_property_matches_reference(case, n_jobs, dtype):
    scores, excluded, k = case
    scores = scores.astype(dtype)
    idx, val = top_k(scores, k, exclude=sparse.csr_matrix(excluded), n_jobs=n_jobs)
    ref_idx, ref_val = reference_top_k(scores, k, excluded)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_array_equal(val, ref_val)
