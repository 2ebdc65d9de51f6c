"""The one place where interaction input is checked: ``check_interactions``.

Every estimator, splitter and scorer in skadv reads ``(X, y)`` through these functions, so the
input contract is stated once:

* ``X`` is an array-like of shape ``(n_interactions, 2)`` holding ``(user, item)`` id pairs, or a
  ``pandas.DataFrame`` with ``user`` and ``item`` columns (other columns are ignored). A frame
  without these two names is rejected, whatever its number of columns: its column order is not
  trusted to be (user, item). Ids may be any hashable value: integers (also huge sparse ones
  such as ``10**12``; nothing is allocated by maximum id), strings, tuples...
* ``y`` is optional: one non-negative finite weight or rating per row. With
  ``positive_threshold`` set, rows whose ``y`` is below the threshold are dropped (e.g. ratings
  below 4 are not positives); a threshold without ``y`` is an error, as nothing could be
  thresholded.

Ids given to a fitted model are looked up by value; :func:`check_id_types` turns the silent
miss of ``"196"`` against a model fitted on ``196`` into an error naming the cast to do.
"""

import numbers

import numpy as np
import pandas as pd
from scipy import sparse

__all__ = [
    "check_id_array",
    "check_id_types",
    "check_interactions",
    "binary_csr",
    "dense_lookup",
    "encode_ids",
    "lookup_ids",
]


def _column_as_ids(col, name):
    """Return one id column as an int64 array or an object array of hashables."""
    if isinstance(col, pd.Series):
        if pd.api.types.is_integer_dtype(col.dtype) and not col.hasnans:
            # uint64 ids >= 2**63 would wrap to negative int64 ids: keep them Python ints.
            if col.dtype.kind == "u" and len(col) and col.max() > np.iinfo(np.int64).max:
                return np.array([int(v) for v in col], dtype=object)
            return col.to_numpy(dtype=np.int64)
        col = col.to_numpy(dtype=object)
    col = np.asarray(col)
    kind = col.dtype.kind
    if kind in "iu":
        if kind == "u" and col.size and col.max() > np.iinfo(np.int64).max:
            return np.array([int(v) for v in col], dtype=object)  # Python ints, never wrapped
        return col.astype(np.int64, copy=False)
    if kind == "b":
        return col.astype(np.int64)
    if kind == "f":
        if not np.all(np.isfinite(col)):
            raise ValueError(f"{name} contains NaN or infinite ids.")
        if np.all(col == np.round(col)) and np.all(np.abs(col) < 2**53):
            return col.astype(np.int64)
        return col.astype(np.float64)  # non-integral floats are still hashable ids
    if kind in "US":
        return col.astype(object)
    if kind == "O":
        out = np.empty(col.shape[0], dtype=object)
        all_int = True
        for k, v in enumerate(col):
            if v is None or (isinstance(v, float) and not np.isfinite(v)) or v is pd.NA:
                raise ValueError(f"{name} contains missing ids (None/NaN) at row {k}.")
            try:
                hash(v)
            except TypeError:
                raise TypeError(
                    f"{name} ids must be hashable; row {k} holds a {type(v).__name__}."
                ) from None
            if isinstance(v, numbers.Integral) and not isinstance(v, bool):
                v = int(v)
            else:
                all_int = False
            out[k] = v
        if all_int and out.size:
            try:
                return out.astype(np.int64)
            except OverflowError:
                return out
        return out
    raise TypeError(f"{name} has unsupported id dtype {col.dtype}.")


def _as_pair_columns(X, user_col, item_col):
    if X is None:
        raise TypeError("X must be an array-like of (user, item) pairs, got None.")
    if sparse.issparse(X):
        raise TypeError(
            "X must hold (user, item) id pairs, not a sparse matrix; convert a user-item matrix "
            "with np.argwhere / scipy.sparse.find first."
        )
    if isinstance(X, pd.DataFrame):
        if user_col in X.columns and item_col in X.columns:
            return X[user_col], X[item_col]
        # Reading a frame by position would silently swap users and items for a frame
        # ordered (item, user), e.g. (movie_id, user_id).
        raise ValueError(
            f"X is a DataFrame without {user_col!r} and {item_col!r} columns (it has "
            f"{list(X.columns)[:5]}): rename the user and item columns to {user_col!r} and "
            f"{item_col!r} (e.g. X.rename(columns={{'user_id': {user_col!r}, 'movie_id': "
            f"{item_col!r}}})), or pass a NumPy array of (user, item) pairs."
        )
    if isinstance(X, np.ndarray):
        arr = X
    else:
        if isinstance(X, (str, bytes)) or not hasattr(X, "__len__"):
            raise TypeError(
                f"X must be an array-like of shape (n_interactions, 2), got {type(X).__name__}."
            )
        # object dtype first: np.asarray would turn [(1, "a")] into strings and lose the ints.
        try:
            arr = np.asarray(X, dtype=object)
        except ValueError:
            raise ValueError("X must be a rectangular array-like of (user, item) pairs.") from None
        if arr.ndim == 1 and arr.size == 0:
            arr = arr.reshape(0, 2)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(
            f"X must have shape (n_interactions, 2) holding (user, item) ids, got shape "
            f"{arr.shape}."
        )
    return arr[:, 0], arr[:, 1]


def check_interactions(
    X,
    y=None,
    *,
    positive_threshold=None,
    user_col="user",
    item_col="item",
    allow_empty=False,
):
    """Validate interaction data and return user ids, item ids and weights.

    Parameters
    ----------
    X : array-like of shape (n_interactions, 2) or DataFrame
        ``(user, item)`` id pairs, or a DataFrame with ``user_col`` and ``item_col`` columns
        (a frame without them raises ``ValueError``). Ids may be any hashable.
    y : array-like of shape (n_interactions,), default=None
        Non-negative finite weights or ratings; ``None`` means weight 1 for every row.
    positive_threshold : float, default=None
        When set, rows with ``y < positive_threshold`` are dropped: they are not positive
        interactions. Requires ``y``.
    user_col, item_col : str, default="user", "item"
        Column names read from a DataFrame ``X``.
    allow_empty : bool, default=False
        Whether zero rows (after thresholding) are acceptable.

    Returns
    -------
    users : ndarray of shape (n,)
        int64 when all ids are integers, otherwise object.
    items : ndarray of shape (n,)
    weights : ndarray of shape (n,), float64

    Raises
    ------
    ValueError
        Wrong shape, NaN/inf, missing ids, mismatched lengths, negative weights, empty input,
        a DataFrame without ``user_col``/``item_col`` columns, ``positive_threshold`` without
        ``y``.
    TypeError
        Non-hashable ids, a sparse matrix or a scalar as ``X``.

    Examples
    --------
    >>> users, items, w = check_interactions([[1, "a"], [2, "b"]], y=[5.0, 3.0])
    >>> users.tolist(), items.tolist(), w.tolist()
    ([1, 2], ['a', 'b'], [5.0, 3.0])
    >>> check_interactions([[1, 2]], y=[-1.0])
    Traceback (most recent call last):
    ...
    ValueError: y must be non-negative; found -1.0.
    """
    ucol, icol = _as_pair_columns(X, user_col, item_col)
    users = _column_as_ids(ucol, "X (user column)")
    items = _column_as_ids(icol, "X (item column)")
    n = users.shape[0]
    if y is None and positive_threshold is not None:
        raise ValueError(
            f"positive_threshold={positive_threshold!r} needs the ratings: pass them as y "
            "(fit(X, y)), or set positive_threshold=None to treat every row as a positive."
        )
    if y is None:
        weights = np.ones(n, dtype=np.float64)
    else:
        if isinstance(y, pd.DataFrame):
            raise ValueError("y must be 1-dimensional (one weight per interaction).")
        try:
            weights = np.asarray(y, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError("y must hold numeric weights or ratings.") from None
        if weights.ndim == 2 and weights.shape[1] == 1:
            weights = weights.ravel()
        if weights.ndim != 1:
            raise ValueError(f"y must be 1-dimensional, got shape {weights.shape}.")
        if weights.shape[0] != n:
            raise ValueError(
                f"X and y have inconsistent lengths: X has {n} interactions, y has "
                f"{weights.shape[0]}."
            )
        if not np.all(np.isfinite(weights)):
            raise ValueError("y contains NaN or infinite values.")
        if n and weights.min() < 0:
            raise ValueError(f"y must be non-negative; found {weights.min()}.")
        if positive_threshold is not None:
            keep = weights >= positive_threshold
            users, items, weights = users[keep], items[keep], weights[keep]
    if users.shape[0] == 0 and not allow_empty:
        raise ValueError(
            "X holds no interactions" + (" at or above positive_threshold." if n else ".")
        )
    return users, items, weights


def check_id_types(known, ids, name):
    """Raise when ``ids`` and the fitted ids ``known`` are of incompatible types.

    Integer ids never equal string ids (``196 != "196"``), so looking up ``"196"`` in a model
    fitted on ``196`` would silently treat the user as unknown. This raises instead when all
    of ``known`` are integers and all of ``ids`` strings, or the reverse. Ids of mixed types
    are left to the ``handle_unknown`` rule.

    Parameters
    ----------
    known : ndarray
        Ids seen in ``fit`` (``user_ids_`` or ``item_ids_``).
    ids : ndarray
        Ids to look up, as returned by :func:`check_interactions`.
    name : str
        How to call ``ids`` in the message (``"users"``, ``"X (item column)"``).

    Raises
    ------
    TypeError
        Naming the cast that makes ``ids`` match.

    Examples
    --------
    >>> check_id_types(np.array([196, 186]), np.array(["196"], dtype=object), "users")
    Traceback (most recent call last):
    ...
    TypeError: users holds str ids (e.g. ['196']) but the model was fitted on int ids: cast ...
    """
    if ids.shape[0] == 0 or known.shape[0] == 0:
        return
    fitted, given = _id_kind(known), _id_kind(ids)
    if {fitted, given} == {"int", "str"}:
        cast = "np.int64" if fitted == "int" else "str"
        raise TypeError(
            f"{name} holds {given} ids (e.g. {ids[:3].tolist()}) but the model was fitted on "
            f"{fitted} ids: cast them to {fitted} first, e.g. np.asarray(ids).astype({cast}) "
            f"or df.astype({{'user': {fitted}, 'item': {fitted}}})."
        )


def _id_kind(ids):
    """``"int"`` or ``"str"`` when every id is of that type, else None."""
    kind = pd.api.types.infer_dtype(ids, skipna=False)
    return {"integer": "int", "string": "str"}.get(kind)


def encode_ids(values):
    """Map ids to contiguous codes ``0..n_unique-1``.

    Unique ids are sorted when they are mutually comparable (ints, strings), otherwise kept in
    order of first appearance. Integer ids that span at most about twice their count are
    encoded through a table over their span; others are hashed (huge sparse integer ids cost
    nothing extra).

    Returns
    -------
    uniques : ndarray of shape (n_unique,)
    codes : ndarray of shape (n,), int32

    Examples
    --------
    >>> uniques, codes = encode_ids(np.array([10**12, 7, 10**12]))
    >>> uniques.tolist(), codes.tolist()
    ([7, 1000000000000], [1, 0, 1])
    """
    dense = _dense_encoding(values)
    if dense is not None:
        return dense
    try:
        codes, uniques = pd.factorize(values, sort=True)
    except TypeError:  # ids of mutually incomparable types
        codes, uniques = pd.factorize(values, sort=False)
    uniques = np.asarray(uniques, dtype=values.dtype)
    if uniques.shape[0] >= np.iinfo(np.int32).max:
        raise ValueError("more than 2**31 - 1 distinct ids are not supported.")
    return uniques, codes.astype(np.int32)


def _dense_encoding(values):
    """:func:`encode_ids` of integer ids spanning at most about twice their number, by a
    table over the span (one pass, no hashing or sorting: 4 ms instead of pandas' 17 ms for
    750 k ids); None for other ids."""
    if values.dtype.kind not in "iu" or values.shape[0] == 0:
        return None
    low, high = values.min(), values.max()
    span = int(high) - int(low) + 1
    if span > 2 * values.shape[0] + 1024:
        return None
    # In 64 bits, where no offset (all below span) and no id can overflow.
    wide = np.uint64 if values.dtype.kind == "u" else np.int64
    offsets = values.astype(wide, copy=False) - wide(low)
    present = np.zeros(span, dtype=bool)
    present[offsets] = True
    table = np.cumsum(present, dtype=np.int32) - 1
    uniques = (np.flatnonzero(present).astype(wide) + wide(low)).astype(values.dtype)
    return uniques, table[offsets]


def lookup_ids(uniques, values):
    """Codes of ``values`` in ``uniques`` (as returned by :func:`encode_ids`); -1 if unknown.

    Examples
    --------
    >>> lookup_ids(np.array(["a", "b"], dtype=object), np.array(["b", "z"], dtype=object))
    array([ 1, -1], dtype=int32)
    """
    index = pd.Index(uniques)
    return index.get_indexer(pd.Index(values)).astype(np.int32)


def check_id_array(ids, name):
    """Validate a 1-d array-like of ids (users or items to serve) the way ``X``'s columns are.

    Parameters
    ----------
    ids : array-like of shape (n,)
        Hashable ids; a scalar or a string is refused (``[id]`` is meant).
    name : str
        How to call ``ids`` in error messages (``"users"``, ``"items"``).

    Returns
    -------
    ids : ndarray of shape (n,)
        int64 when every id is an integer below ``2**63``, otherwise object (Python ints for
        larger integers: an id always comes back unchanged).

    Examples
    --------
    >>> check_id_array([3, 1], "users").tolist()
    [3, 1]
    >>> check_id_array(np.array([2**64 - 1], dtype=np.uint64), "users").tolist()
    [18446744073709551615]
    >>> check_id_array(5, "users")
    Traceback (most recent call last):
    ...
    TypeError: users must be a 1-d array-like of ids, not a scalar (pass [5]).
    """
    if isinstance(ids, (str, bytes)) or np.ndim(ids) == 0:
        raise TypeError(f"{name} must be a 1-d array-like of ids, not a scalar (pass [{ids!r}]).")
    if isinstance(ids, pd.Index):
        ids = ids.to_series()
    if not isinstance(ids, (pd.Series, np.ndarray)):
        try:
            ids = np.asarray(ids, dtype=object)
        except ValueError:
            raise ValueError(f"{name} must be a 1-d array-like of ids.") from None
    if np.ndim(ids) != 1:
        raise ValueError(f"{name} must be 1-dimensional, got shape {np.shape(ids)}.")
    if len(ids) == 0:
        return np.empty(0, dtype=np.int64)
    return _column_as_ids(ids, name)


#: A dense id -> code table is used when the ids span at most this many slots per id (plus a
#: constant): 4 bytes per slot, e.g. 2 MB for ids in [0, 500 000).
_DENSE_SPAN_PER_ID = 4


def dense_lookup(uniques, values):
    """``lookup_ids(uniques, values)`` through a dense table indexed by ``id - min(uniques)``,
    or None when the ids are not int64 or span too wide a range (then hash lookups).

    Catalogue ids are often integers in a compact range: one array index per value is much
    cheaper than hashing a million candidate ids.

    Examples
    --------
    >>> dense_lookup(np.array([3, 5, 9]), np.array([9, 4, 3, -(2**63), 2**63 - 1])).tolist()
    [2, -1, 0, -1, -1]
    >>> dense_lookup(np.array(["a"], dtype=object), np.array(["a"], dtype=object)) is None
    True
    """
    if uniques.dtype != np.int64 or values.dtype != np.int64 or not uniques.size:
        return None
    lo, hi = int(uniques.min()), int(uniques.max())
    span = hi - lo + 1
    if span > _DENSE_SPAN_PER_ID * uniques.shape[0] + 1024:
        return None
    from skadv._ext._candidates import dense_codes

    table = np.full(span, -1, dtype=np.int32)
    table[uniques - lo] = np.arange(uniques.shape[0], dtype=np.int32)
    codes = np.empty(values.shape[0], dtype=np.int64)
    dense_codes(np.ascontiguousarray(values), lo, table, codes)
    return codes


def binary_csr(matrix):
    """``matrix`` as a new float64 CSR matrix whose stored entries are all 1.0: duplicates
    summed first, explicit zeros dropped (they are not interactions).

    Examples
    --------
    >>> from scipy import sparse
    >>> m = sparse.csr_matrix((np.array([2.0, 0.0, 3.0]), ([0, 0, 1], [0, 1, 1])), shape=(2, 2))
    >>> binary_csr(m).toarray().tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    canonical = sparse.issparse(matrix) and matrix.format == "csr" and matrix.has_canonical_format
    if canonical and np.all(matrix.data != 0):  # a fitted model's interactions_: only a copy
        out = sparse.csr_matrix(
            (np.ones(matrix.nnz), matrix.indices.copy(), matrix.indptr.copy()), shape=matrix.shape
        )
        out.has_canonical_format = True
        return out
    out = sparse.csr_matrix(matrix, dtype=np.float64, copy=True)
    out.sum_duplicates()
    out.eliminate_zeros()
    out.data[:] = 1.0
    return out
