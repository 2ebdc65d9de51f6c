import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import sparse

from skadv.utils._validation import binary_csr, check_interactions, encode_ids, lookup_ids


def test_array_input_keeps_int_ids():
    users, items, w = check_interactions(np.array([[1, 2], [3, 4]]))
    assert users.dtype == np.int64 and items.tolist() == [2, 4]
    assert w.tolist() == [1.0, 1.0]


def test_mixed_ids_are_not_stringified():
    users, items, _ = check_interactions([(1, "a"), (2, "b")])
    assert users.tolist() == [1, 2] and users.dtype == np.int64
    assert items.tolist() == ["a", "b"]


def test_float_ids():
    users, items, _ = check_interactions(np.array([[1.0, 2.5], [3.0, 4.0]]))
    assert users.dtype == np.int64 and items.dtype == np.float64 and items.tolist() == [2.5, 4.0]


def test_huge_sparse_int_ids():
    users, items, _ = check_interactions([[10**12, 3], [5, 10**15]])
    uniques, codes = encode_ids(users)
    assert uniques.tolist() == [5, 10**12] and codes.tolist() == [1, 0]


@pytest.mark.parametrize("user_col,item_col", [("user", "item"), ("u", "i")])
def test_dataframe_input(user_col, item_col):
    df = pd.DataFrame({user_col: ["x", "y"], item_col: [1, 2], "rating": [4, 5]})
    if user_col == "user":
        users, items, _ = check_interactions(df)
    else:
        users, items, _ = check_interactions(df, user_col="u", item_col="i")
    assert users.tolist() == ["x", "y"] and items.tolist() == [1, 2]


def test_dataframe_string_dtype_maps_to_object():
    df = pd.DataFrame({"user": pd.array(["a", "b"], dtype="string"), "item": [1, 2]})
    users, _, _ = check_interactions(df)
    assert users.dtype == object and users.tolist() == ["a", "b"]


def test_positive_threshold_drops_rows():
    users, items, w = check_interactions([[1, 1], [1, 2], [2, 1]], [5, 2, 4], positive_threshold=4)
    assert users.tolist() == [1, 2] and items.tolist() == [1, 1] and w.tolist() == [5.0, 4.0]


@pytest.mark.parametrize(
    "X,y,exc,match",
    [
        (np.zeros((3, 3)), None, ValueError, r"shape \(n_interactions, 2\)"),
        (np.zeros(4), None, ValueError, "shape"),
        (np.empty((0, 2)), None, ValueError, "no interactions"),
        ([[1, 2], [2, 3]], [1.0], ValueError, "inconsistent lengths"),
        ([[1, 2]], [np.nan], ValueError, "y contains NaN"),
        ([[1, 2]], [-1.0], ValueError, "non-negative"),
        (np.array([[1.0, np.nan]]), None, ValueError, "NaN"),
        ([[None, 2]], None, ValueError, "missing ids"),
        ([[[1], 2]], None, TypeError, "hashable"),
        (sparse.eye(3, format="csr"), None, TypeError, "sparse"),
        (5, None, TypeError, "array-like"),
        (pd.DataFrame({"a": [1], "b": [2], "c": [3]}), None, ValueError, "columns"),
    ],
)
def test_bad_input_raises_clear_errors(X, y, exc, match):
    with pytest.raises(exc, match=match):
        check_interactions(X, y)


def test_threshold_leaving_nothing_raises():
    with pytest.raises(ValueError, match="positive_threshold"):
        check_interactions([[1, 2]], [1.0], positive_threshold=3)


@given(st.lists(st.one_of(st.integers(-(10**15), 10**15), st.text(max_size=3)), min_size=1))
def test_encode_lookup_round_trip(ids):
    values = np.empty(len(ids), dtype=object)
    values[:] = ids
    uniques, codes = encode_ids(values)
    assert len(set(uniques.tolist())) == len(uniques)
    assert [uniques[c] for c in codes] == ids
    np.testing.assert_array_equal(lookup_ids(uniques, values), codes)


def test_lookup_unknown_is_minus_one():
    uniques, _ = encode_ids(np.array([3, 1, 2]))
    assert lookup_ids(uniques, np.array([2, 99])).tolist() == [1, -1]


@pytest.mark.parametrize(
    "values",
    [
        np.array([5, 3, 5, 9, 3]),
        np.arange(-100, 100, 3).astype(np.int8),  # offsets past int8's range
        np.array([2**64 - 1, 2**64 - 3, 2**64 - 1], dtype=np.uint64),
        np.array([np.iinfo(np.int64).max - 1, np.iinfo(np.int64).max]),
        np.array([np.iinfo(np.int64).min, np.iinfo(np.int64).max]),  # too sparse: hashed
        np.random.RandomState(0).randint(0, 10**9, 50),  # too sparse: hashed
        np.array([7], dtype=np.uint16),
    ],
)
def test_encode_ids_of_integers_match_a_sorted_factorize(values):
    want_codes, want_uniques = pd.factorize(values, sort=True)
    uniques, codes = encode_ids(values)
    assert uniques.dtype == values.dtype and codes.dtype == np.int32
    np.testing.assert_array_equal(uniques, want_uniques)
    np.testing.assert_array_equal(codes, want_codes)


def test_binary_csr_of_a_canonical_matrix_is_a_new_matrix_of_ones():
    m = sparse.csr_matrix(np.array([[2.0, 0.0], [0.0, 3.0]]))
    out = binary_csr(m)
    assert out.toarray().tolist() == [[1.0, 0.0], [0.0, 1.0]] and out.has_canonical_format
    out.indices[:] = 0
    assert m.indices.tolist() == [0, 1] and m.data.tolist() == [2.0, 3.0]
    m.data[0] = 0.0  # an explicit zero is no interaction
    assert binary_csr(m).nnz == 1
