"""``candidate_top_k`` (src_ext/_candidates.pyx): per-row candidates scored and selected in one
pass, against a NumPy reference written from the contract (eligible candidates by score, ties
by lower code; then excluded candidates by increasing code at -inf; then holes)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from scipy import sparse

from skadv.utils._ranking import CandidateLists, candidate_top_k


def reference(lists, k, scores, exclude, banned):
    """Expected (idx, values) from the full score rows ``scores`` (n_rows, n_items)."""
    n_rows = len(lists)
    idx = np.full((n_rows, k), -1, dtype=np.int64)
    val = np.full((n_rows, k), -np.inf)
    for r, cand in enumerate(lists):
        cand = np.unique([c for c in cand if c >= 0 and not banned[c]]).astype(np.int64)
        seen = np.zeros(scores.shape[1], dtype=bool)
        seen[exclude[r].indices] = True
        eligible = cand[~seen[cand]]
        order = eligible[np.lexsort((eligible, -scores[r, eligible]))]
        padding = cand[seen[cand]]  # np.unique: increasing codes
        chosen = np.r_[order, padding][:k]
        idx[r, : len(chosen)] = chosen
        val[r, : min(len(order), k)] = scores[r, order[:k]]
    return idx, val


def random_case(rng, n_rows, n_items, n_factors, max_len, dtype):
    lengths = rng.integers(0, max_len + 1, n_rows)
    lists = [rng.integers(-1, n_items, size) for size in lengths]  # -1 and repeats included
    item = rng.standard_normal((n_items, n_factors)).astype(dtype)
    vectors = rng.standard_normal((n_rows, n_factors)).astype(dtype)
    bias = rng.standard_normal(n_items).astype(dtype)
    exclude = sparse.random(n_rows, n_items, density=0.2, format="csr", random_state=rng)
    banned = rng.random(n_items) < 0.1
    codes = np.concatenate(lists) if n_rows else np.empty(0, dtype=np.int64)
    return lists, CandidateLists(codes, np.r_[0, np.cumsum(lengths)]), item, vectors, bias, \
        exclude, banned  # fmt: skip


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_factor_scores_match_the_reference(dtype, n_jobs):
    rng = np.random.default_rng(0)
    lists, cands, item, vectors, bias, exclude, banned = random_case(rng, 40, 60, 9, 30, dtype)
    idx, val = candidate_top_k(cands, slice(0, 40), 8, item=item, bias=bias, vectors=vectors,
                               exclude=exclude, banned=banned, n_jobs=n_jobs)  # fmt: skip
    full = vectors.astype(np.float64) @ item.T.astype(np.float64) + bias.astype(np.float64)
    ref_idx, ref_val = reference(lists, 8, full, exclude, banned)
    assert val.dtype == dtype
    assert_array_equal(idx, ref_idx)
    assert_allclose(val, ref_val, rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_dense_rows_and_mixed_rows_match_the_reference():
    rng = np.random.default_rng(1)
    lists, cands, item, vectors, _, exclude, banned = random_case(rng, 12, 30, 4, 20, np.float64)
    dense = rng.standard_normal((2, 30))
    dense_row = np.array([-1, 0, 1, -1] * 3)  # factor rows, and rows reading dense rows
    idx, val = candidate_top_k(cands, slice(0, 12), 5, item=item, vectors=vectors, dense=dense,
                               dense_row=dense_row, exclude=exclude, banned=banned)  # fmt: skip
    full = vectors @ item.T
    full[dense_row >= 0] = dense[dense_row[dense_row >= 0]]
    ref_idx, ref_val = reference(lists, 5, full, exclude, banned)
    assert_array_equal(idx, ref_idx)
    assert_allclose(val, ref_val, rtol=1e-12)
    # Every row from dense rows alone (a model without factors): no item matrix at all.
    only, _ = candidate_top_k(cands, slice(0, 12), 5, dense=full, dense_row=np.arange(12),
                              exclude=exclude, banned=banned)  # fmt: skip
    assert_array_equal(only, ref_idx)


def test_a_block_of_rows_equals_the_same_rows_of_the_whole():
    rng = np.random.default_rng(2)
    _, cands, item, vectors, bias, exclude, banned = random_case(rng, 30, 50, 6, 25, np.float32)
    whole = candidate_top_k(cands, slice(0, 30), 6, item=item, bias=bias, vectors=vectors,
                            exclude=exclude, banned=banned)  # fmt: skip
    part = candidate_top_k(cands, slice(10, 17), 6, item=item, bias=bias,
                           vectors=vectors[10:17], exclude=exclude[10:17],
                           banned=banned)  # fmt: skip
    assert_array_equal(part[0], whole[0][10:17])
    assert_array_equal(part[1], whole[1][10:17])


def test_ties_go_to_the_lower_code_whatever_the_candidate_order():
    item = np.ones((6, 2))
    lists = CandidateLists(np.array([5, 3, 4, 1, 3, 0]), np.array([0, 6]))
    idx, val = candidate_top_k(lists, slice(0, 1), 4, item=item, vectors=np.ones((1, 2)))
    assert idx.tolist() == [[0, 1, 3, 4]] and val.tolist() == [[2.0] * 4]


def test_excluded_candidates_pad_before_holes():
    item = np.arange(5.0)[:, None]
    lists = CandidateLists(np.array([4, 2, 2, 1, -1]), np.array([0, 5]))
    exclude = sparse.csr_matrix(np.array([[0, 1, 0, 0, 1]]))
    idx, val = candidate_top_k(lists, slice(0, 1), 4, item=item, vectors=np.ones((1, 1)),
                               exclude=exclude)  # fmt: skip
    assert idx.tolist() == [[2, 1, 4, -1]]
    assert val.tolist() == [[2.0, -np.inf, -np.inf, -np.inf]]


def test_explicit_zeros_and_unsorted_exclusions_are_read_as_a_mask():
    item = np.arange(4.0)[:, None]
    lists = CandidateLists(np.array([0, 1, 2, 3]), np.array([0, 4]))
    # Row 0 stores column 3 (excluded) and an explicit zero at column 2 (not excluded).
    exclude = sparse.csr_matrix((np.array([1.0, 0.0]), np.array([3, 2]), np.array([0, 2])),
                                shape=(1, 4))  # fmt: skip
    idx, _ = candidate_top_k(lists, slice(0, 1), 2, item=item, vectors=np.ones((1, 1)),
                             exclude=exclude)  # fmt: skip
    assert idx.tolist() == [[2, 1]]


def test_nan_among_eligible_candidates_is_refused():
    item = np.array([[1.0], [np.nan], [3.0]])
    lists = CandidateLists(np.array([0, 1, 2]), np.array([0, 3]))
    with pytest.raises(ValueError, match="NaN"):
        candidate_top_k(lists, slice(0, 1), 2, item=item, vectors=np.ones((1, 1)))
    # A NaN item that is not a candidate is never scored.
    idx, _ = candidate_top_k(CandidateLists(np.array([0, 2]), np.array([0, 2])), slice(0, 1),
                             2, item=item, vectors=np.ones((1, 1)))  # fmt: skip
    assert idx.tolist() == [[2, 0]]


def test_empty_lists_and_no_rows():
    item = np.ones((3, 2))
    lists = CandidateLists(np.zeros(0, dtype=np.int64), np.array([0, 0, 0]))
    idx, val = candidate_top_k(lists, slice(0, 2), 2, item=item, vectors=np.ones((2, 2)))
    assert idx.tolist() == [[-1, -1], [-1, -1]] and np.all(val == -np.inf)
    idx, _ = candidate_top_k(lists, slice(1, 1), 2, item=item, vectors=np.ones((0, 2)))
    assert idx.shape == (0, 2)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_rows=st.integers(1, 8), n_items=st.integers(1, 25),
       k=st.integers(1, 12), ties=st.booleans())  # fmt: skip
def test_matches_the_reference_on_random_cases(seed, n_rows, n_items, k, ties):
    rng = np.random.default_rng(seed)
    lists, cands, item, vectors, bias, exclude, banned = random_case(
        rng, n_rows, n_items, 3, 20, np.float64
    )
    if ties:  # integer scores: many ties, broken by the lower code
        item = rng.integers(-2, 3, item.shape).astype(np.float64)
        vectors = rng.integers(-1, 2, vectors.shape).astype(np.float64)
        bias = None
    idx, val = candidate_top_k(cands, slice(0, n_rows), k, item=item, bias=bias,
                               vectors=vectors, exclude=exclude, banned=banned,
                               n_jobs=2)  # fmt: skip
    full = vectors @ item.T + (0 if bias is None else bias)
    ref_idx, ref_val = reference(lists, k, full, exclude, banned)
    assert_array_equal(idx, ref_idx)
    assert_allclose(val, ref_val, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("low", [0, -50, 2**62])
def test_dense_id_lookup_equals_the_hash_lookup(low):
    from skadv.utils._validation import dense_lookup, lookup_ids

    rng = np.random.default_rng(3)
    uniques = np.unique(rng.integers(0, 300, 120)) + np.int64(low)
    values = np.r_[rng.integers(-20, 320, 500) + np.int64(low), -(2**63), 2**63 - 1]
    codes = dense_lookup(uniques, values)
    assert_array_equal(codes, lookup_ids(uniques, values))
    # Ids spread over too wide a range, or not int64: None (the caller hashes).
    assert dense_lookup(np.array([0, 10**9]), values) is None
    assert dense_lookup(uniques.astype(object), values) is None
