"""Top-k selection over a dense score matrix, skipping excluded items (``top_k``), and the
user blocks every ranking path works in (``row_blocks``).

``top_k`` is the thin Python side of ``src_ext/_topk.pyx``: it fixes dtype and contiguity,
turns the exclusion mask into canonical CSR rows, maps ``n_jobs`` to OpenMP threads and
rejects NaN scores, so that the compiled kernel never has to validate anything.

``dot_top_k`` is the same selection fused with the scoring of dot-product models
(``src_ext/_score_select.pyx``): tiles of items are scored and selected while in cache, so
no score row is ever held; it gives ``top_k``'s result on the full score rows.

``row_blocks`` sizes blocks of rows (users, or pairs) by scikit-learn's ``working_memory``
setting (``sklearn.set_config(working_memory=MiB)``, default 1024), as
``sklearn.metrics.pairwise_distances_chunked`` does: ranking a million users never holds more
than about that much of score rows at once.
"""

import numpy as np
import sklearn
from scipy import sparse

from skadv.utils._params import Interval, check_params
from skadv.utils._threads import effective_n_threads

__all__ = [
    "BYTES_PER_SCORE",
    "CandidateLists",
    "candidate_top_k",
    "check_exclude",
    "check_scores",
    "cosine_normalize",
    "dot_top_k",
    "fill_holes",
    "gather_scores",
    "padded_rows",
    "row_blocks",
    "take_columns",
    "top_k",
]

#: Bytes of working memory per item and user when ranking a block of users: a float64 score
#: and the copy ``top_k`` may make of it. Blocks of users are sized so that this times
#: ``n_items_`` times the block's users fits scikit-learn's ``working_memory``.
BYTES_PER_SCORE = 16


def row_blocks(n_rows, row_bytes, working_memory=None):
    """Slices of ``range(n_rows)`` whose working arrays (``row_bytes`` per row) fit
    ``working_memory`` MiB (default: scikit-learn's ``working_memory`` setting); at least one
    row per block.

    Examples
    --------
    >>> [(b.start, b.stop) for b in row_blocks(5, row_bytes=2**19, working_memory=1)]
    [(0, 2), (2, 4), (4, 5)]
    >>> with sklearn.config_context(working_memory=1):
    ...     len(list(row_blocks(10, row_bytes=2**20)))
    10
    """
    if working_memory is None:
        working_memory = sklearn.get_config()["working_memory"]
    rows = max(1, int(working_memory * 2**20 // max(int(row_bytes), 1)))
    return [slice(start, min(start + rows, n_rows)) for start in range(0, n_rows, rows)]


def check_scores(scores, name="scores", *, check_nan=True):
    """Return ``scores`` as a C-contiguous 2-d float32/float64 array without NaN.

    Other numeric dtypes (integers, bool, float16) are converted to float64; ``-inf`` and
    ``+inf`` are valid scores. ``check_nan=False`` leaves the NaN check to the caller
    (``top_k``'s kernel counts NaN during its scan: no separate pass).
    """
    if sparse.issparse(scores):
        raise TypeError(f"{name} must be a dense array, not a sparse matrix.")
    scores = np.asarray(scores)
    if scores.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {scores.dtype}.")
    if scores.dtype not in (np.float32, np.float64):
        scores = scores.astype(np.float64)
    if scores.ndim != 2:
        raise ValueError(
            f"{name} must be 2-dimensional (n_users, n_items), got shape {scores.shape}."
        )
    scores = np.ascontiguousarray(scores)
    if check_nan and np.isnan(scores).any():
        raise ValueError(f"{name} contains NaN; NaN cannot be ranked.")
    return scores


def check_exclude(exclude, shape, *, allow_fewer_columns=False, name="exclude"):
    """Canonical CSR form of an exclusion mask: nonzero entries are excluded.

    Parameters
    ----------
    exclude : scipy sparse matrix/array, array-like or None
        Mask with one row per score row. Any stored value other than zero (and any nonzero
        entry of a dense mask) marks an excluded item.
    shape : tuple of int
        ``(n_rows, n_items)`` of the score matrix.
    allow_fewer_columns : bool, default=False
        Accept a mask with fewer than ``n_items`` columns (the missing ones are not excluded).

    Returns
    -------
    exclude : scipy.sparse.csr_matrix of shape ``shape``
        Boolean, without explicit zeros, with sorted indices (a new object: the input is
        never modified).
    """
    n_rows, n_items = shape
    if exclude is None:
        return sparse.csr_matrix((n_rows, n_items), dtype=bool)
    if sparse.issparse(exclude):
        mask = sparse.csr_matrix(exclude, copy=True)
        mask.data = mask.data != 0
    else:
        arr = np.asarray(exclude)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be a boolean mask, got dtype {arr.dtype}.")
        if arr.ndim != 2:
            raise ValueError(f"{name} must be 2-dimensional, got shape {arr.shape}.")
        mask = sparse.csr_matrix(arr != 0)
    rows, cols = mask.shape
    if rows != n_rows or cols > n_items or (cols < n_items and not allow_fewer_columns):
        expected = f"({n_rows}, {'<= ' if allow_fewer_columns else ''}{n_items})"
        raise ValueError(f"{name} has shape {mask.shape}; expected {expected}.")
    mask.eliminate_zeros()
    mask.sum_duplicates()  # also sorts the indices
    if cols < n_items:
        mask.resize((n_rows, n_items))
    return mask


def top_k(scores, k, *, exclude=None, n_jobs=None):
    """Indices and values of the ``k`` highest scores of each row, skipping excluded items.

    Parameters
    ----------
    scores : array-like of shape (n_users, n_items)
        Real scores; higher is better. ``-inf`` and ``+inf`` are valid, NaN is not.
    k : int
        Number of items per row, ``1 <= k <= n_items``.
    exclude : scipy sparse matrix or bool array-like of shape (n_users, m), default=None
        Items that must not be selected (e.g. each user's training items), ``m <= n_items``:
        column ``j`` of ``exclude`` is item ``j``; missing columns are not excluded.
    n_jobs : int, default=None
        Threads, as in scikit-learn: ``None`` means 1, ``-1`` all cores.

    Returns
    -------
    idx : ndarray of shape (n_users, k), int64
        Item indices, best first.
    values : ndarray of shape (n_users, k)
        Their scores, float32 when ``scores`` is float32, float64 otherwise.

    Raises
    ------
    ValueError
        NaN in ``scores``, or an ``exclude`` of the wrong shape; an
        ``InvalidParameterError`` (also a ``ValueError``) names ``k`` when it is not an int
        in ``[1, n_items]``.

    Notes
    -----
    Order: score descending, ties broken by the lower item index, so the result is
    deterministic and independent of ``n_jobs``. Excluded items are never selected, except
    when a row has fewer than ``k`` non-excluded items: the trailing slots then hold excluded
    items (lowest index first) with value ``-inf``.

    Each row is a bounded min-heap selection (O(n_items log k)), rows run in parallel.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import sparse
    >>> scores = np.array([[0.1, 0.9, 0.5, 0.9], [3.0, 2.0, 1.0, 0.0]])
    >>> idx, values = top_k(scores, 2, exclude=sparse.csr_matrix([[0, 1, 0, 0], [1, 0, 0, 0]]))
    >>> idx.tolist(), values.tolist()
    ([[3, 2], [1, 2]], [[0.9, 0.5], [2.0, 1.0]])
    """
    from skadv._ext._topk import topk_exclude

    scores = check_scores(scores, check_nan=False)  # the kernel counts NaN as it scans
    n_rows, n_items = scores.shape
    check_params({"k": (k, [Interval("int", 1, n_items)])}, caller="top_k")
    k = int(k)
    n_threads = effective_n_threads(n_jobs)
    mask = check_exclude(exclude, scores.shape, allow_fewer_columns=True)
    indptr = mask.indptr.astype(np.int64)
    # The kernel takes the address of indices[0]: give it one element even with no exclusion.
    indices = mask.indices.astype(np.int32) if mask.nnz else np.zeros(1, dtype=np.int32)
    out_idx = np.empty((n_rows, k), dtype=np.int64)
    out_val = np.empty((n_rows, k), dtype=scores.dtype)
    if n_rows and topk_exclude(scores, indptr, indices, k, n_threads, out_idx, out_val):
        raise ValueError("scores contains NaN; NaN cannot be ranked.")
    return out_idx, out_val


#: Rows per chunk and items per tile of ``dot_top_k``'s kernel: a thread's scratch holds a
#: chunk's scores of one tile (512 x 256 float32: 512 KiB, half an L2 cache of 1 MiB), and
#: the item factors are streamed once per chunk, so larger chunks read them less often
#: (measured at 64 factors, 400 k items: 512 or 1024 rows 5-10 % faster than 256, 64 rows
#: 25 % slower; see NOTES-fused.md).
DOT_CHUNK_ROWS = 512
DOT_TILE_ITEMS = 256

_blas_controller = None


def _single_threaded_blas():
    """Context manager keeping the BLAS libraries single-threaded: the kernel of
    ``dot_top_k`` calls GEMM from every OpenMP thread, and a BLAS that spawned threads of
    its own there would oversubscribe the cores. The controller (a scan of the loaded
    libraries) is made once."""
    return _controller().limit(limits=1, user_api="blas")


def _controller():
    global _blas_controller
    if _blas_controller is None:
        from threadpoolctl import ThreadpoolController

        import skadv._ext._score_select  # noqa: F401  (loads the BLAS the kernel calls)

        _blas_controller = ThreadpoolController()
    return _blas_controller


def _default_n_threads():
    """Threads for ``n_jobs=None``: as many as the BLAS would use for ``vectors @ item.T``.

    Ranking used to be one multi-threaded GEMM per block, so ``n_jobs=None`` (scikit-learn's
    "1") must not make it slower than it was: like scikit-learn's own GEMM-based routines,
    it keeps the BLAS's thread count (``threadpoolctl``'s limit), capped by OpenMP's.
    """
    from skadv._ext._openmp_helpers import max_threads

    blas = [lib.num_threads for lib in _controller().select(user_api="blas").lib_controllers]
    return max(1, min(max(blas, default=1), max_threads()))


def dot_top_k(
    vectors,
    item,
    k,
    *,
    item_bias=None,
    exclude=None,
    filtered=None,
    n_jobs=None,
    chunk_rows=None,
    tile_items=None,
):
    """``top_k(vectors @ item.T + item_bias, k, ...)`` without materializing the scores.

    The fused score-and-select kernel (``src_ext/_score_select.pyx``): each thread scores a
    chunk of rows against one tile of items at a time (a single-threaded GEMM into a
    buffer that stays in cache) and feeds the tile into each row's running top-``k``; its
    memory is a few hundred KiB of scratch per thread plus the outputs, whatever the number
    of items.

    Parameters
    ----------
    vectors : array-like of shape (n_rows, n_factors)
        One vector per row (user, or query item); converted to ``item``'s dtype.
    item : array-like of shape (n_items, n_factors)
        Item vectors, float32 or float64 (other dtypes are converted to float64).
    k : int
        Number of items per row, ``1 <= k <= n_items``.
    item_bias : array-like of shape (n_items,), default=None
        Added to every row's scores (converted to ``item``'s dtype first, as
        ``dot_product_scores`` does).
    exclude : scipy sparse matrix or bool array-like of shape (n_rows, m), default=None
        Per-row items never selected, as in :func:`top_k` (``m <= n_items``).
    filtered : array-like of int, default=None
        Item codes never selected for any row (the same as excluding them in every row of
        ``exclude``, without building that matrix).
    n_jobs : int, default=None
        Threads, as in scikit-learn (``-1`` all cores), except that ``None`` means the
        BLAS's own thread count (``threadpoolctl.threadpool_limits`` sets it), as the
        matrix product this replaces would use. The BLAS is kept single-threaded during the
        call.
    chunk_rows, tile_items : int, default=None
        Rows per chunk and items per tile (``DOT_CHUNK_ROWS``, ``DOT_TILE_ITEMS``): tuning
        only, the result does not depend on them.

    Returns
    -------
    idx : ndarray of shape (n_rows, k), int64
    values : ndarray of shape (n_rows, k), ``item``'s dtype

    Raises
    ------
    ValueError
        NaN among the scores (``scores contains NaN``), or inputs of mismatched shapes; an
        ``InvalidParameterError`` (a ``ValueError``) names ``k`` outside ``[1, n_items]``.

    Notes
    -----
    The result is :func:`top_k`'s on the full score matrix with ``exclude`` and ``filtered``
    merged into one mask: score descending, ties by the lower item index, excluded items
    (lowest first) at ``-inf`` in the slots a row cannot fill otherwise. Each score is the
    same GEMM dot product NumPy's ``vectors @ item.T`` computes (one BLAS call per tile);
    which library performs it (SciPy's BLAS here, NumPy's there) can change the last bit.

    Examples
    --------
    >>> item = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 0.0]])
    >>> idx, values = dot_top_k(np.array([[2.0, 1.0], [0.0, 1.0]]), item, 2, filtered=[2])
    >>> idx.tolist(), values.tolist()
    ([[0, 1], [1, 0]], [[2.0, 1.0], [1.0, 0.0]])
    """
    from skadv._ext._score_select import score_select

    item = np.asarray(item)
    if item.dtype not in (np.float32, np.float64):
        item = item.astype(np.float64)
    if item.ndim != 2:
        raise ValueError(f"item must be 2-dimensional (n_items, n_factors), got {item.shape}.")
    vectors = np.asarray(vectors)
    if vectors.ndim != 2 or vectors.shape[1] != item.shape[1]:
        raise ValueError(
            f"vectors must have shape (n_rows, {item.shape[1]}) to match item, got "
            f"{vectors.shape}."
        )
    n_rows, n_items = vectors.shape[0], item.shape[0]
    check_params({"k": (k, [Interval("int", 1, n_items)])}, caller="dot_top_k")
    k = int(k)
    if item.shape[1] == 0:  # scores are 0 (+ bias): one zero factor gives exactly that
        item = np.zeros((n_items, 1), dtype=item.dtype)
        vectors = np.zeros((n_rows, 1), dtype=item.dtype)
    item = np.ascontiguousarray(item)
    vectors = np.ascontiguousarray(vectors, dtype=item.dtype)
    if item_bias is None:
        bias = np.zeros(1, dtype=item.dtype)
    else:
        bias = np.ascontiguousarray(np.asarray(item_bias).astype(item.dtype, copy=False))
        if bias.shape != (n_items,):
            raise ValueError(f"item_bias must have shape ({n_items},), got {bias.shape}.")
    mask = check_exclude(exclude, (n_rows, n_items), allow_fewer_columns=True)
    indptr = mask.indptr.astype(np.int64)
    indices = mask.indices.astype(np.int32) if mask.nnz else np.zeros(1, dtype=np.int32)
    shared = np.zeros(0, dtype=np.int64)
    if filtered is not None:
        shared = np.unique(np.asarray(filtered, dtype=np.int64))
        if shared.size and (shared[0] < 0 or shared[-1] >= n_items):
            raise ValueError(f"filtered holds item codes outside [0, {n_items}).")
    n_shared = shared.shape[0]
    shared = shared.astype(np.int32) if n_shared else np.zeros(1, dtype=np.int32)
    n_threads = _default_n_threads() if n_jobs is None else effective_n_threads(n_jobs)
    # Chunks small enough that every thread gets rows (the result does not depend on it).
    chunk = int(chunk_rows or min(DOT_CHUNK_ROWS, -(-n_rows // n_threads)))
    tile = int(tile_items or DOT_TILE_ITEMS)
    chunk = max(1, min(chunk, n_rows))
    tile = max(1, min(tile, n_items))
    out_idx = np.empty((n_rows, k), dtype=np.int64)
    out_val = np.empty((n_rows, k), dtype=item.dtype)
    if not n_rows:
        return out_idx, out_val
    scratch = np.empty((n_threads, chunk * tile), dtype=item.dtype)
    state = np.empty((n_threads, 3 * chunk), dtype=np.intp)
    with _single_threaded_blas():
        n_nan = score_select(item, bias, item_bias is not None, vectors, indptr, indices,
                             shared, n_shared, k, n_threads, chunk, tile, scratch, state,
                             out_idx, out_val)  # fmt: skip
    if n_nan:
        raise ValueError("scores contains NaN; NaN cannot be ranked.")
    return out_idx, out_val


# ------------------------------------------------------------------ serving helpers
class CandidateLists:
    """Per-row candidate item codes, stored flat (CSR-like), as ``candidate_top_k`` reads them.

    Parameters
    ----------
    codes : ndarray of int of shape (n_total,)
        Candidate codes of every row, concatenated; -1 marks an unknown id (ignored).
    indptr : ndarray of int of shape (n_rows + 1,)
        Row ``r`` holds ``codes[indptr[r]:indptr[r + 1]]`` (in any order, duplicates allowed).

    Examples
    --------
    >>> lists = CandidateLists(np.array([3, 1, 3, -1, 0]), np.array([0, 3, 5]))
    >>> lists.max_length
    3
    """

    def __init__(self, codes, indptr):
        self.codes = np.asarray(codes, dtype=np.int64)
        self.indptr = np.asarray(indptr, dtype=np.int64)

    @classmethod
    def from_sparse(cls, matrix):
        """The nonzero columns of each row of a sparse matrix."""
        mask = sparse.csr_matrix(matrix, copy=True)
        mask.eliminate_zeros()
        return cls(mask.indices, mask.indptr)

    @property
    def max_length(self):
        """Length of the longest list (before duplicates and unknown ids are dropped)."""
        lengths = np.diff(self.indptr)
        return int(lengths.max()) if lengths.size else 0


def candidate_top_k(
    candidates,
    block,
    k,
    *,
    item=None,
    bias=None,
    vectors=None,
    dense=None,
    dense_row=None,
    exclude=None,
    banned=None,
    n_jobs=None,
):
    """Top-``k`` of each row's candidates, scored and selected in one pass per row.

    The thin side of ``candidates_topk`` in ``src_ext/_candidates.pyx``: no padding of the
    lists to the widest row and no sort of the candidates. Row ``r`` scores candidate ``c``
    as ``vectors[r] @ item[c] + bias[c]``, or reads ``dense[dense_row[r], c]`` when
    ``dense_row[r] >= 0`` (models without factors, unknown users).

    Parameters
    ----------
    candidates : CandidateLists
        Candidate codes per row (any order, duplicates and -1 allowed).
    block : slice
        The rows of ``candidates`` to rank.
    k : int
        Slots per row, ``k >= 1``.
    item : ndarray of shape (n_items, n_factors), default=None
    bias : ndarray of shape (n_items,), default=None
    vectors : ndarray of shape (n_block, n_factors), default=None
        Factors of the block's users and the items; None when every row reads ``dense``.
    dense : ndarray of shape (m, n_items), default=None
    dense_row : ndarray of shape (n_block,), default=None
        Which row of ``dense`` each row reads (-1: score by factors).
    exclude : scipy sparse matrix of shape (n_block, n_items), default=None
        Items never selected (nonzero entries), e.g. the users' seen items.
    banned : ndarray of bool of shape (n_items,), default=None
        Items never returned for any row (filtered items).
    n_jobs : int, default=None
        Threads (OpenMP), as in scikit-learn.

    Returns
    -------
    idx : ndarray of shape (n_block, k), int64
        Eligible candidates (not excluded, not banned, each once) best first, ties by lower
        code; then excluded candidates by increasing code; then -1.
    values : ndarray of shape (n_block, k)
        Their scores (``-inf`` for the padding), in the dtype of ``item`` (else ``dense``).

    Raises
    ------
    ValueError
        When an eligible candidate scores NaN.

    Examples
    --------
    >>> lists = CandidateLists(np.array([2, 0, 2, 1, 3]), np.array([0, 3, 5]))
    >>> item = np.array([[1.0], [2.0], [3.0], [4.0]])
    >>> idx, values = candidate_top_k(lists, slice(0, 2), 3, item=item,
    ...                               vectors=np.array([[1.0], [-1.0]]))
    >>> idx.tolist(), values[:, :2].tolist()
    ([[2, 0, -1], [1, 3, -1]], [[3.0, 1.0], [-2.0, -4.0]])
    """
    from skadv._ext._candidates import candidates_topk

    n_rows = block.stop - block.start
    dtype = None
    for arr in (item, dense):
        if arr is not None:
            dtype = arr.dtype if arr.dtype in (np.float32, np.float64) else np.float64
            break
    if dtype is None:
        raise ValueError("candidate_top_k needs item factors or dense score rows.")
    n_items = (item if item is not None else dense).shape[-1 if item is None else 0]
    if item is None:  # every row reads dense: 1-column dummies keep the pointers valid
        item = np.zeros((1, 1), dtype=dtype)
        vectors = np.zeros((n_rows, 1), dtype=dtype)
    item = np.ascontiguousarray(item, dtype=dtype)
    vectors = np.ascontiguousarray(vectors, dtype=dtype)
    has_bias = bias is not None
    bias = (np.ascontiguousarray(bias, dtype=dtype) if has_bias
            else np.zeros(1, dtype=dtype))  # fmt: skip
    if dense is None:
        dense = np.zeros((1, 1), dtype=dtype)
        dense_row = np.full(n_rows, -1, dtype=np.int64)
    dense = np.ascontiguousarray(dense, dtype=dtype)
    dense_row = np.ascontiguousarray(dense_row, dtype=np.int64)
    indptr = np.ascontiguousarray(candidates.indptr[block.start : block.stop + 1])
    codes = candidates.codes if candidates.codes.size else np.full(1, -1, dtype=np.int64)
    if exclude is None:
        excl_indptr = np.zeros(n_rows + 1, dtype=np.int64)
        excl_indices = np.zeros(1, dtype=np.int32)
    else:
        mask = sparse.csr_matrix(exclude)
        if not mask.has_sorted_indices:
            mask = mask.sorted_indices()
        excl_indptr = mask.indptr.astype(np.int64)
        # Explicit zeros are not exclusions: drop them (rare; a copy only then).
        if mask.nnz and not np.all(mask.data):
            mask = mask.copy()
            mask.eliminate_zeros()
            excl_indptr = mask.indptr.astype(np.int64)
        excl_indices = (mask.indices.astype(np.int32, copy=False) if mask.nnz
                        else np.zeros(1, dtype=np.int32))  # fmt: skip
    n_words = (n_items + 63) // 64
    has_banned = banned is not None
    if has_banned:  # a bitset (bit c % 64 of word c // 64): small enough to stay in cache
        packed = np.zeros(n_words * 8, dtype=np.uint8)
        packed[: (n_items + 7) // 8] = np.packbits(np.asarray(banned, dtype=bool),
                                                   bitorder="little")  # fmt: skip
        banned = packed.view("<u8").astype(np.uint64, copy=False)
    else:
        banned = np.zeros(1, dtype=np.uint64)
    n_threads = max(1, min(effective_n_threads(n_jobs), n_rows))
    # Scratch per thread: a bitset of the row's excluded items, and stamps of the items that
    # entered the row's heap (zeroed pages are mapped lazily: only touched items cost).
    bits = np.zeros((n_threads, n_words), dtype=np.uint64)
    marks = np.zeros((n_threads, n_items), dtype=np.int32)
    out_idx = np.empty((n_rows, k), dtype=np.int64)
    out_val = np.empty((n_rows, k), dtype=dtype)
    if n_rows and candidates_topk(item, bias, has_bias, vectors, dense, dense_row, indptr,
                                  codes, excl_indptr, excl_indices, banned, has_banned, bits,
                                  marks, int(k), n_threads, out_idx, out_val):  # fmt: skip
        raise ValueError("scores contains NaN; NaN cannot be ranked.")
    return out_idx, out_val


def padded_rows(matrix):
    """The column indices of each CSR row, left-aligned in a dense array padded with -1.

    Returns
    -------
    codes : ndarray of shape (n_rows, max_row_length), int64
    lengths : ndarray of shape (n_rows,), int64

    Examples
    --------
    >>> codes, lengths = padded_rows(sparse.csr_matrix([[0, 1, 1], [1, 0, 0]]))
    >>> codes.tolist(), lengths.tolist()
    ([[1, 2], [0, -1]], [2, 1])
    """
    lengths = np.diff(matrix.indptr).astype(np.int64)
    width = int(lengths.max()) if lengths.size else 0
    codes = np.full((matrix.shape[0], width), -1, dtype=np.int64)
    pos = np.arange(matrix.nnz) - np.repeat(matrix.indptr[:-1], lengths)
    codes[np.repeat(np.arange(matrix.shape[0]), lengths), pos] = matrix.indices
    return codes, lengths


def fill_holes(codes, n_items, forbidden=None):
    """Replace the -1 slots of each row of ``codes`` by the lowest item codes that are neither
    in the row nor ``forbidden`` (in place; returns ``codes``).

    What pads a row of ``recommend`` that has fewer eligible items than requested: the
    padding (score ``-inf``) is never a filtered item nor a duplicate.

    Examples
    --------
    >>> fill_holes(np.array([[2, -1, -1]]), 5, forbidden=np.array([0])).tolist()
    [[2, 1, 3]]
    """
    rows = np.flatnonzero((codes < 0).any(axis=1))
    if not rows.size:
        return codes
    forbidden = np.zeros(0, dtype=np.int64) if forbidden is None else np.asarray(forbidden)
    # Enough low codes to fill any row: at most width are in the row and len(forbidden) banned.
    pool = np.arange(min(n_items, 2 * codes.shape[1] + forbidden.shape[0]), dtype=np.int64)
    pool = pool[~np.isin(pool, forbidden)]
    for r in rows:
        holes = np.flatnonzero(codes[r] < 0)
        free = pool[~np.isin(pool, codes[r])]
        codes[r, holes] = free[: holes.shape[0]]
    return codes


def gather_scores(item, vectors, cols, *, n_jobs=None):
    """``out[r, j] = vectors[r] @ item[cols[r, j]]``, reading the rows of ``item`` in place.

    The thin side of ``gather_dot`` in ``src_ext/_topk.pyx``: dtypes made equal (float32
    or float64, the item factors'), C-contiguity, ``n_jobs`` mapped to threads.

    Examples
    --------
    >>> item = np.arange(8.0).reshape(4, 2)
    >>> gather_scores(item, np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[3, 0], [1, 1]]))
    array([[6., 0.],
           [3., 3.]])
    """
    from skadv._ext._topk import gather_dot

    item = np.ascontiguousarray(item)
    if item.dtype not in (np.float32, np.float64):
        item = item.astype(np.float64)
    vectors = np.ascontiguousarray(vectors, dtype=item.dtype)
    cols = np.ascontiguousarray(cols, dtype=np.int64)
    out = np.empty(cols.shape, dtype=item.dtype)
    if cols.size:
        gather_dot(item, vectors, cols, effective_n_threads(n_jobs), out)
    return out


def take_columns(scores, cols):
    """``scores`` restricted to ``cols``: None (every column), a 1-d array of columns shared
    by every row, or a 2-d array of columns per row (what a serving ``score(block, cols)``
    callable of :class:`~skadv.base.BaseRecommender` receives).

    Examples
    --------
    >>> scores = np.arange(6).reshape(2, 3)
    >>> take_columns(scores, np.array([2, 0])).tolist()
    [[2, 0], [5, 3]]
    >>> take_columns(scores, np.array([[1], [2]])).tolist()
    [[1], [5]]
    """
    if cols is None:
        return scores
    if np.ndim(cols) == 1:
        return scores[:, cols]
    return np.take_along_axis(scores, cols, axis=1)


def cosine_normalize(vectors):
    """Rows scaled to unit L2 norm (all-zero rows stay zero: cosine 0 with everything).

    Examples
    --------
    >>> cosine_normalize(np.array([[3.0, 4.0], [0.0, 0.0]])).tolist()
    [[0.6, 0.8], [0.0, 0.0]]
    """
    vectors = np.asarray(vectors)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1).astype(vectors.dtype, copy=False)
