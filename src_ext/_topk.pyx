# src_ext/_topk.pyx: top-k items per row of a dense score matrix, skipping excluded items.
#
# Used by BaseRecommender.recommend through skadv.utils._ranking.top_k, which validates the
# input (no NaN, 1 <= k <= n_items, canonical CSR) before calling in here.
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport INFINITY
from libc.stdint cimport int32_t, int64_t

cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    #define SKADV_PREFETCH(p) __builtin_prefetch((const void*)(p), 0, 0)
    #else
    #define SKADV_PREFETCH(p) ((void)0)
    #endif
    """
    void SKADV_PREFETCH(const void* p) noexcept nogil

# Candidates ahead whose factor rows are requested before they are needed: random rows of a
# large item matrix are memory-latency bound, and a handful of requests in flight hide it.
cdef enum:
    PREFETCH_AHEAD = 16


include "_heap.pxi"


cdef inline Py_ssize_t _select_row(const floating* s, Py_ssize_t n, const int32_t* excl,
                                   Py_ssize_t n_excl, Py_ssize_t k, int64_t* idx,
                                   floating* val) noexcept nogil:
    """Best ``k`` of ``s[0:n]`` minus the sorted indices ``excl``, written best first.

    Returns the number of NaN scores met in the row (the wrapper raises when any): checked
    during the one scan, so the caller needs no separate pass over the score matrix.
    """
    cdef Py_ssize_t size = 0, p, j, start = 0, stop, n_nan = 0
    cdef int64_t prev
    # Candidates are the gaps between consecutive excluded indices: no per-item membership
    # test and no scratch mask. Items arrive in increasing index order, so a new item that ties
    # the heap's worst has the higher index and loses: a strict ">" is the exact test.
    for p in range(n_excl + 1):
        stop = excl[p] if p < n_excl else n
        for j in range(start, stop):
            if s[j] != s[j]:  # NaN: counted, never selected
                n_nan = n_nan + 1
                continue
            if size < k:
                val[size] = s[j]
                idx[size] = j
                _sift_up(val, idx, size)
                size = size + 1
            elif s[j] > val[0]:
                val[0] = s[j]
                idx[0] = j
                _sift_down(val, idx, k, 0)
        if p < n_excl and s[stop] != s[stop]:  # excluded, but still not a valid score
            n_nan = n_nan + 1
        if stop + 1 > start:  # a duplicated excluded index gives stop < start: keep start
            start = stop + 1
    _heap_sort(val, idx, size)
    # Fewer than k candidates: fill with excluded items (lowest index first) at -inf.
    prev = -1
    for p in range(n_excl):
        if size >= k:
            break
        if excl[p] != prev:
            idx[size] = excl[p]
            val[size] = -INFINITY
            size = size + 1
        prev = excl[p]
    return n_nan


def topk_exclude(const floating[:, ::1] scores, const int64_t[::1] indptr,
                 const int32_t[::1] indices, int k, int n_threads,
                 int64_t[:, ::1] out_idx, floating[:, ::1] out_val):
    """Top-``k`` column indices of each row of ``scores``, skipping excluded columns.

    Parameters
    ----------
    scores : memoryview of shape (n_rows, n_items), float32 or float64
        Must not contain NaN (not checked here).
    indptr : memoryview of shape (n_rows + 1,), int64
    indices : memoryview of shape (>= max(nnz, 1),), int32
        CSR rows aligned with ``scores``: the columns to exclude from each row, sorted
        increasingly within each row (duplicates allowed), all in ``[0, n_items)``.
    k : int
        ``1 <= k <= n_items``.
    n_threads : int
        OpenMP threads; rows are split statically.
    out_idx : memoryview of shape (n_rows, k), int64
    out_val : memoryview of shape (n_rows, k), same dtype as ``scores``
        Filled in place: score descending, ties by lower column index. When a row has fewer
        than ``k`` non-excluded columns, the trailing slots hold excluded columns (lowest
        index first) with value ``-inf``.

    Returns
    -------
    n_nan : int
        Number of NaN scores met (the outputs are then meaningless: the wrapper raises).

    Notes
    -----
    Each row keeps a bounded min-heap of size ``k`` inside its own output row:
    O(n_items log k) per row and no scratch memory.
    """
    cdef Py_ssize_t r, n_rows = scores.shape[0], n = scores.shape[1], n_nan = 0
    with nogil:
        for r in prange(n_rows, num_threads=n_threads, schedule="static"):
            n_nan += _select_row(&scores[r, 0], n, &indices[0] + indptr[r],
                                 indptr[r + 1] - indptr[r], k, &out_idx[r, 0], &out_val[r, 0])
    return n_nan


def gather_dot(const floating[:, ::1] item, const floating[:, ::1] vectors,
               const int64_t[:, ::1] cols, int n_threads, floating[:, ::1] out):
    """``out[r, j] = vectors[r] . item[cols[r, j]]``: scores of per-row candidate columns.

    Parameters
    ----------
    item : memoryview of shape (n_items, k)
    vectors : memoryview of shape (n_rows, k), same dtype
    cols : memoryview of shape (n_rows, width), int64
        Item codes in ``[0, n_items)`` (not checked here).
    n_threads : int
        OpenMP threads; rows are split statically.
    out : memoryview of shape (n_rows, width), same dtype as ``item``

    Notes
    -----
    Reads each candidate's factor row in place: no (n_rows, width, k) gathered copy, which
    is what makes a few hundred candidates per user cheap next to a full ranking.
    """
    cdef Py_ssize_t r, j, f, c, n_rows = cols.shape[0], width = cols.shape[1]
    cdef Py_ssize_t k = item.shape[1], line = 64 // sizeof(floating)
    cdef double acc
    cdef const floating* q
    with nogil:
        for r in prange(n_rows, num_threads=n_threads, schedule="static"):
            for j in range(width):
                if j + PREFETCH_AHEAD < width:  # every cache line of a row ahead
                    q = &item[cols[r, j + PREFETCH_AHEAD], 0]
                    c = 0
                    while c < k:
                        SKADV_PREFETCH(q + c)
                        c = c + line
                q = &item[cols[r, j], 0]
                acc = 0.0
                for f in range(k):
                    acc = acc + vectors[r, f] * q[f]  # not +=: would make acc a reduction
                out[r, j] = <floating>acc
