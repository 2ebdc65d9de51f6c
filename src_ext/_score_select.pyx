# src_ext/_score_select.pyx: fused score-and-select for dot-product models.
#
# Top-k items of ``vectors @ item.T + item_bias`` per row without ever holding a row of
# scores: each thread scores a chunk of rows against one tile of items at a time (a small
# single-threaded GEMM into a scratch buffer that stays in cache), then feeds every row of
# the tile into that row's running top-k heap, which persists across tiles in the output
# arrays. Used by skadv.utils._ranking.dot_top_k, which validates everything and keeps the
# BLAS library single-threaded around the call.
from cpython.pycapsule cimport PyCapsule_GetName, PyCapsule_GetPointer
from cython cimport floating
from cython.parallel cimport prange, threadid
from libc.math cimport INFINITY, NAN
from libc.stdint cimport int32_t, int64_t
from libc.string cimport memcpy

# GEMM of the BLAS that SciPy links (scipy.linalg.cython_blas), looked up at import through
# its C-API capsules: no SciPy headers at build time, and the same library SciPy uses.
ctypedef void (*sgemm_ptr)(char*, char*, int*, int*, int*, float*, float*, int*, float*,
                           int*, float*, float*, int*) noexcept nogil
ctypedef void (*dgemm_ptr)(char*, char*, int*, int*, int*, double*, double*, int*, double*,
                           int*, double*, double*, int*) noexcept nogil

cdef sgemm_ptr _sgemm = NULL
cdef dgemm_ptr _dgemm = NULL


def _load_blas():
    global _sgemm, _dgemm
    from scipy.linalg import cython_blas

    capi = cython_blas.__pyx_capi__
    _sgemm = <sgemm_ptr>PyCapsule_GetPointer(capi["sgemm"], PyCapsule_GetName(capi["sgemm"]))
    _dgemm = <dgemm_ptr>PyCapsule_GetPointer(capi["dgemm"], PyCapsule_GetName(capi["dgemm"]))


_load_blas()


include "_heap.pxi"


cdef inline Py_ssize_t _scan(const floating* s, Py_ssize_t off, Py_ssize_t lo, Py_ssize_t hi,
                             Py_ssize_t k, Py_ssize_t size, int64_t* idx, floating* val,
                             Py_ssize_t* n_nan) noexcept nogil:
    """Feed items ``lo <= j < hi`` (score ``s[j - off]``) into a heap holding ``size`` of
    ``k``.

    Items arrive in increasing index order, so a score equal to the heap's worst loses the
    tie: one ``<=`` test per item rejects almost everything once the heap is full. The
    threshold is NaN while the heap fills (every test fails: each item is taken), and a NaN
    score also fails the test, so it is counted there and never selected.
    """
    cdef floating v, thr = val[0] if size == k else NAN
    cdef Py_ssize_t j
    for j in range(lo, hi):
        v = s[j - off]
        if v <= thr:
            continue
        if v != v:
            n_nan[0] = n_nan[0] + 1
            continue
        if size < k:
            val[size] = v
            idx[size] = j
            _sift_up(val, idx, size)
            size = size + 1
            if size == k:
                thr = val[0]
        else:
            val[0] = v
            idx[0] = j
            _sift_down(val, idx, k, 0)
            thr = val[0]
    return size


cdef inline void _gemm(const floating* a, const floating* b, floating* c, int m, int n,
                       int nf, floating beta) noexcept nogil:
    """Row-major ``c[r, j] = b[r] . a[j] (+ c[r, j] when beta is 1)`` for ``m`` rows ``a``
    and ``n`` rows ``b`` of ``nf`` values: the column-major GEMM ``c^T = a^T' b^T + beta
    c^T`` (what NumPy's ``b @ a.T`` calls)."""
    cdef char transa = b"T", transb = b"N"
    cdef int ld = nf if nf > 0 else 1
    cdef floating one = 1.0
    if floating is float:
        _sgemm(&transa, &transb, &m, &n, &nf, &one, <float*>a, &ld, <float*>b, &ld, &beta, c,
               &m)
    else:
        _dgemm(&transa, &transb, &m, &n, &nf, &one, <double*>a, &ld, <double*>b, &ld, &beta,
               c, &m)


cdef Py_ssize_t _chunk(const floating* item, const floating* bias, const floating* vectors,
                       Py_ssize_t n_items, int nf, Py_ssize_t r0, Py_ssize_t r1,
                       const int64_t* indptr, const int32_t* indices, const int32_t* shared,
                       Py_ssize_t n_shared, Py_ssize_t k, Py_ssize_t tile, floating* buf,
                       Py_ssize_t* state, int64_t* out_idx, floating* out_val) noexcept nogil:
    """Top-``k`` of rows ``r0 <= r < r1``; returns the number of NaN scores met."""
    cdef Py_ssize_t n_rows = r1 - r0, r, t0, t1, lo, stop, p, q, pe, size, n_nan = 0
    cdef Py_ssize_t* sizes = state
    cdef Py_ssize_t* pos_row = state + n_rows  # next exclusion of the row (in indices)
    cdef Py_ssize_t* pos_shared = state + 2 * n_rows  # next item of ``shared``
    cdef floating* s
    cdef floating* val
    cdef int64_t* idx
    cdef int64_t nxt, prev
    for r in range(n_rows):
        sizes[r] = 0
        pos_row[r] = indptr[r0 + r]
        pos_shared[r] = 0
    t0 = 0
    while t0 < n_items:
        t1 = min(t0 + tile, n_items)
        if bias != NULL:
            # GEMM adds the dot product to the bias already in the buffer, rounding once as
            # NumPy's ``scores += bias`` does (and skipping the zeroing pass of beta = 0).
            for r in range(n_rows):
                memcpy(buf + r * (t1 - t0), bias + t0, (t1 - t0) * sizeof(floating))
            _gemm(item + t0 * nf, vectors + r0 * nf, buf, <int>(t1 - t0), <int>n_rows, nf, 1)
        else:
            _gemm(item + t0 * nf, vectors + r0 * nf, buf, <int>(t1 - t0), <int>n_rows, nf, 0)
        for r in range(n_rows):
            s = buf + r * (t1 - t0)  # s[j - t0] is item j's score
            val = out_val + (r0 + r) * k
            idx = out_idx + (r0 + r) * k
            size = sizes[r]
            p = pos_row[r]
            pe = indptr[r0 + r + 1]
            q = pos_shared[r]
            lo = t0
            # Candidates are the gaps between excluded items (the row's, then the shared
            # ones): no per-item membership test.
            while True:
                stop = t1
                if p < pe and indices[p] < stop:
                    stop = indices[p]
                if q < n_shared and shared[q] < stop:
                    stop = shared[q]
                size = _scan(s, t0, lo, stop, k, size, idx, val, &n_nan)
                if stop >= t1:
                    break
                if s[stop - t0] != s[stop - t0]:  # excluded, but still not a valid score
                    n_nan = n_nan + 1
                while p < pe and indices[p] <= stop:
                    p = p + 1
                while q < n_shared and shared[q] <= stop:
                    q = q + 1
                lo = stop + 1
            sizes[r] = size
            pos_row[r] = p
            pos_shared[r] = q
        t0 = t1
    for r in range(n_rows):
        val = out_val + (r0 + r) * k
        idx = out_idx + (r0 + r) * k
        size = sizes[r]
        _heap_sort(val, idx, size)
        # Fewer than k candidates: fill with excluded items (the row's and the shared ones
        # merged, lowest index first) at -inf, as top_k does with one merged mask.
        p = indptr[r0 + r]
        pe = indptr[r0 + r + 1]
        q = 0
        prev = -1
        while size < k and (p < pe or q < n_shared):
            if q >= n_shared or (p < pe and indices[p] <= shared[q]):
                nxt = indices[p]
                p = p + 1
            else:
                nxt = shared[q]
                q = q + 1
            if nxt != prev:
                idx[size] = nxt
                val[size] = -INFINITY
                size = size + 1
            prev = nxt
    return n_nan


def score_select(const floating[:, ::1] item, const floating[::1] bias, bint has_bias,
                 const floating[:, ::1] vectors, const int64_t[::1] indptr,
                 const int32_t[::1] indices, const int32_t[::1] shared, Py_ssize_t n_shared,
                 int k, int n_threads, Py_ssize_t chunk, Py_ssize_t tile,
                 floating[:, ::1] scratch, Py_ssize_t[:, ::1] state,
                 int64_t[:, ::1] out_idx, floating[:, ::1] out_val):
    """Top-``k`` items of each row of ``vectors @ item.T (+ bias)``, skipping exclusions.

    Parameters
    ----------
    item : memoryview of shape (n_items, n_factors), float32 or float64
    bias : memoryview of shape (>= n_items,) if ``has_bias`` else (>= 1,), same dtype
    has_bias : bool
    vectors : memoryview of shape (n_rows, n_factors), same dtype
    indptr : memoryview of shape (n_rows + 1,), int64
    indices : memoryview of shape (>= max(nnz, 1),), int32
        Canonical CSR rows of the items each row must skip (sorted, in range).
    shared : memoryview of shape (>= max(n_shared, 1),), int32
        Sorted unique items every row must skip; the first ``n_shared`` are read.
    k : int
        ``1 <= k <= n_items``.
    n_threads : int
        OpenMP threads; chunks of rows are handed out dynamically (the result does not
        depend on it). The BLAS must be single-threaded during the call.
    chunk, tile : int
        Rows per chunk and items per tile: the scratch buffer of a thread holds a chunk's
        scores of one tile.
    scratch : memoryview of shape (n_threads, chunk * tile), same dtype
    state : memoryview of shape (n_threads, 3 * chunk), intp
    out_idx : memoryview of shape (n_rows, k), int64
    out_val : memoryview of shape (n_rows, k), same dtype
        Filled in place as by ``_topk.topk_exclude`` on the full score rows with the row's
        and the shared exclusions merged: score descending, ties by lower item index, and
        excluded items (lowest first) at ``-inf`` when a row has fewer than ``k`` others.

    Returns
    -------
    n_nan : int
        Number of NaN scores met, excluded items included (then the outputs are
        meaningless: the wrapper raises).
    """
    cdef Py_ssize_t n_rows = vectors.shape[0], n_items = item.shape[0]
    cdef Py_ssize_t n_chunks = (n_rows + chunk - 1) // chunk, c, t, n_nan = 0
    cdef int nf = <int>item.shape[1]
    cdef const floating* bias_ptr = &bias[0] if has_bias else NULL
    if n_rows == 0:
        return 0
    with nogil:
        for c in prange(n_chunks, num_threads=n_threads, schedule="dynamic"):
            t = threadid()
            n_nan += _chunk(&item[0, 0], bias_ptr, &vectors[0, 0], n_items, nf, c * chunk,
                            min(c * chunk + chunk, n_rows), &indptr[0], &indices[0],
                            &shared[0], n_shared, k, tile, &scratch[t, 0], &state[t, 0],
                            &out_idx[0, 0], &out_val[0, 0])
    return n_nan
