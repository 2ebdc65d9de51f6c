# src_ext/_candidates.pyx: top-n among per-row candidate items, scored and selected in one pass.
#
# Used by BaseRecommender.recommend(items=...) through skadv.utils._ranking.candidate_top_k,
# which fixes dtypes and contiguity and builds the CSR inputs, so that nothing is validated
# here. One pass per row: gather-dot of each candidate (or a read of a dense score row),
# exclusion, de-duplication and a bounded heap, with no padding to the widest row and no sort
# of the candidates.
from cython cimport floating
from cython.parallel cimport prange, threadid
from libc.math cimport INFINITY
from libc.stdint cimport int32_t, int64_t, uint64_t

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
# large item matrix are memory-latency bound, and a few requests in flight hide it.
cdef enum:
    PREFETCH_AHEAD = 16

# Row r stamps the items that entered its heap with 2 * r + 1 in the thread's scratch array
# (``marks``), and its excluded candidates with 2 * r + 2 while padding: no stamp of an
# earlier row can be mistaken for one of this row, so the array is never cleared.


include "_heap.pxi"


cdef inline floating _dot(const floating* p, const floating* q, Py_ssize_t k) noexcept nogil:
    # Eight independent lanes in the factors' dtype, as BLAS sums: no single serial chain of
    # additions, and the lanes are packed into SIMD registers by the compiler (no
    # -ffast-math needed, each lane is its own sum).
    cdef floating acc[8]
    cdef Py_ssize_t f = 0, j
    for j in range(8):
        acc[j] = 0
    while f + 8 <= k:
        for j in range(8):
            acc[j] = acc[j] + p[f + j] * q[f + j]
        f = f + 8
    while f < k:
        acc[0] = acc[0] + p[f] * q[f]
        f = f + 1
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))


cdef Py_ssize_t _candidate_row(
    const floating* item, Py_ssize_t n_factors, const floating* bias, bint has_bias,
    const floating* vector, const floating* dense, const int64_t* cand, Py_ssize_t n_cand,
    Py_ssize_t n_after, const int32_t* excl, Py_ssize_t n_excl, const uint64_t* banned,
    bint has_banned, uint64_t* bits, int32_t* marks, int32_t base, Py_ssize_t k,
    int64_t* idx, floating* val,
) noexcept nogil:
    """Best ``k`` eligible candidates of one row, best first, then padding; returns the
    number of NaN scores met (the wrapper raises when any)."""
    cdef Py_ssize_t p, f, size = 0, n_nan = 0, line = 64 // sizeof(floating)
    cdef int64_t c, ahead
    cdef floating s
    cdef const floating* q
    # The row's excluded items as bits of the thread's bitset (n_items / 8 bytes: stays in
    # L1/L2, one load per candidate), cleared again before returning.
    for p in range(n_excl):
        bits[excl[p] >> 6] |= (<uint64_t>1) << (excl[p] & 63)
    for p in range(n_cand):
        # Every cache line of the factor row PREFETCH_AHEAD candidates ahead, reading on
        # into the next row's candidates (``n_after``: codes stored from ``cand`` on), so
        # that a row does not start with cold misses.
        if dense == NULL and p + PREFETCH_AHEAD < n_after:
            ahead = cand[p + PREFETCH_AHEAD]
            if ahead >= 0:
                q = item + ahead * n_factors
                f = 0
                while f < n_factors:
                    SKADV_PREFETCH(q + f)
                    f = f + line
                if has_bias:
                    SKADV_PREFETCH(bias + ahead)
        c = cand[p]
        if c < 0 or (has_banned and (banned[c >> 6] >> (c & 63)) & 1):  # unknown, filtered
            continue
        if (bits[c >> 6] >> (c & 63)) & 1:  # excluded (seen)
            continue
        if dense != NULL:
            s = dense[c]
        else:
            s = _dot(vector, item + c * n_factors, n_factors)
            if has_bias:
                s = s + bias[c]  # in the factors' dtype, as factor_scores adds it
        if s != s:  # NaN: counted, never selected
            n_nan = n_nan + 1
            continue
        if size < k or _worse(val[0], idx[0], s, c):
            # A repeated candidate can only get here while its first copy is in the heap
            # (an evicted copy ranks below the root): the stamp of heap entrants finds it.
            if marks[c] == base + 1:
                continue
            marks[c] = base + 1
            if size < k:
                val[size] = s
                idx[size] = c
                _sift_up(val, idx, size)
                size = size + 1
            else:
                val[0] = s
                idx[0] = c
                _sift_down(val, idx, k, 0)
    _heap_sort(val, idx, size)
    if size < k and n_excl:
        # Fewer than k eligible (rare): the excluded candidates pad the row by increasing
        # code at -inf; a second pass stamps them (base + 2), the sorted exclusion list
        # gives the order.
        for p in range(n_cand):
            c = cand[p]
            if (c >= 0 and not (has_banned and (banned[c >> 6] >> (c & 63)) & 1)
                    and (bits[c >> 6] >> (c & 63)) & 1):
                marks[c] = base + 2
        for p in range(n_excl):
            if size >= k:
                break
            c = excl[p]
            if marks[c] == base + 2:
                marks[c] = base + 1  # once, even when the exclusion list repeats it
                idx[size] = c
                val[size] = -INFINITY
                size = size + 1
    for p in range(n_excl):
        bits[excl[p] >> 6] = 0
    for p in range(size, k):  # holes, filled with other items by the wrapper
        idx[p] = -1
        val[p] = -INFINITY
    return n_nan


def candidates_topk(const floating[:, ::1] item, const floating[::1] bias, bint has_bias,
                    const floating[:, ::1] vectors, const floating[:, ::1] dense,
                    const int64_t[::1] dense_row, const int64_t[::1] cand_indptr,
                    const int64_t[::1] cand_codes, const int64_t[::1] excl_indptr,
                    const int32_t[::1] excl_indices, const uint64_t[::1] banned,
                    bint has_banned, uint64_t[:, ::1] bits, int32_t[:, ::1] marks, int k,
                    int n_threads, int64_t[:, ::1] out_idx, floating[:, ::1] out_val):
    """Top-``k`` of each row's candidate items, scored in place; holes are -1.

    Parameters
    ----------
    item : memoryview of shape (n_items, n_factors)
        Item factors (a (1, 1) dummy when every row reads ``dense``).
    bias : memoryview of shape (n_items,) or (1,)
        Item biases, added when ``has_bias``.
    vectors : memoryview of shape (n_rows, n_factors)
        User vectors: row ``r`` scores candidate ``c`` as ``vectors[r] . item[c] + bias[c]``.
    dense : memoryview of shape (m, n_items)
        Dense score rows; row ``r`` reads ``dense[dense_row[r]]`` instead when
        ``dense_row[r] >= 0`` (models without factors, unknown users).
    dense_row : memoryview of shape (n_rows,), int64
    cand_indptr : memoryview of shape (n_rows + 1,), int64
        Row ``r``'s candidates are ``cand_codes[cand_indptr[r]:cand_indptr[r + 1]]``: item
        codes in ``[-1, n_items)`` in any order, duplicates allowed; -1 is ignored.
    excl_indptr : memoryview of shape (n_rows + 1,), int64
    excl_indices : memoryview of shape (>= max(nnz, 1),), int32
        CSR rows of items never selected (seen items), sorted increasingly within a row.
    banned : memoryview of shape (ceil(n_items / 64),) or (1,), uint64
        Bitset of the items never returned for any row (filtered; bit ``c % 64`` of word
        ``c // 64``), read when ``has_banned``.
    bits : memoryview of shape (n_threads, ceil(n_items / 64)), uint64
        Zeroed scratch bitsets, one row per thread (left zeroed).
    marks : memoryview of shape (n_threads, n_items), int32
        Zeroed scratch, one row per thread (stamps ``2 * row + 1`` and ``+ 2``: fewer than
        2**30 rows per call).
    k : int
    n_threads : int
        OpenMP threads; rows are split statically.
    out_idx : memoryview of shape (n_rows, k), int64
    out_val : memoryview of shape (n_rows, k), same dtype as ``item``
        Filled in place: the eligible candidates (not excluded, not banned, counted once),
        score descending, ties by lower code; then, when fewer than ``k``, the excluded
        candidates by increasing code at ``-inf``; then -1 at ``-inf``.

    Returns
    -------
    n_nan : int
        NaN scores met among eligible candidates (the wrapper raises when any).
    """
    cdef Py_ssize_t r, n_rows = out_idx.shape[0], n_factors = item.shape[1]
    cdef Py_ssize_t n_nan = 0
    cdef int tid
    cdef const floating* dense_ptr
    with nogil:
        for r in prange(n_rows, num_threads=n_threads, schedule="static"):
            tid = threadid()
            dense_ptr = NULL
            if dense_row[r] >= 0:
                dense_ptr = &dense[dense_row[r], 0]
            n_nan += _candidate_row(
                &item[0, 0], n_factors, &bias[0], has_bias, &vectors[r, 0], dense_ptr,
                &cand_codes[0] + cand_indptr[r], cand_indptr[r + 1] - cand_indptr[r],
                cand_codes.shape[0] - cand_indptr[r],
                &excl_indices[0] + excl_indptr[r], excl_indptr[r + 1] - excl_indptr[r],
                &banned[0], has_banned, &bits[tid, 0], &marks[tid, 0], <int32_t>(2 * r), k,
                &out_idx[r, 0],
                &out_val[r, 0],
            )
    return n_nan


def dense_codes(const int64_t[::1] ids, int64_t low, const int32_t[::1] table,
                int64_t[::1] out):
    """``out[j] = table[ids[j] - low]``, or -1 outside the table; returns how many are -1.

    Parameters
    ----------
    ids : memoryview of shape (n,), int64
        Raw item ids.
    low : int
        The smallest known id: ``table[0]`` is its code.
    table : memoryview of shape (span,), int32
        Code of id ``low + j``, or -1 when that id is unknown.
    out : memoryview of shape (n,), int64

    Notes
    -----
    One pass over a million candidate ids, where a hash lookup (pandas' ``get_indexer``) or
    a chain of NumPy masks makes several.
    """
    cdef Py_ssize_t j, n = ids.shape[0], n_unknown = 0
    cdef uint64_t off, span = <uint64_t>table.shape[0]
    cdef int64_t code
    with nogil:
        for j in range(n):
            # As unsigned, an id below ``low`` wraps above ``span``: one compare, no overflow.
            off = <uint64_t>ids[j] - <uint64_t>low
            code = table[off] if off < span else -1
            out[j] = code
            if code < 0:
                n_unknown = n_unknown + 1
    return n_unknown
