# src_ext/_heap.pxi: the bounded top-k heap shared by _topk.pyx, _score_select.pyx and
# _candidates.pyx (included textually: each needs ``floating`` and ``int64_t`` cimported).
#
# A row keeps its best k items in a min-heap on "goodness" held in its own output slots: the
# root is the worst item kept so far, so a new item enters with one comparison against it.


cdef inline bint _worse(floating va, int64_t ia, floating vb, int64_t ib) noexcept nogil:
    """Whether item ``ia`` (score ``va``) ranks after item ``ib`` (score ``vb``).

    Lower score ranks later; equal scores rank by item index, so the order is total and the
    result does not depend on the scan order or on the number of threads.
    """
    return va < vb or (va == vb and ia > ib)


cdef inline void _sift_down(floating* val, int64_t* idx, Py_ssize_t size,
                            Py_ssize_t pos) noexcept nogil:
    cdef floating v = val[pos]
    cdef int64_t i = idx[pos]
    cdef Py_ssize_t child
    while True:
        child = 2 * pos + 1
        if child >= size:
            break
        if child + 1 < size and _worse(val[child + 1], idx[child + 1], val[child], idx[child]):
            child = child + 1
        if not _worse(val[child], idx[child], v, i):
            break
        val[pos] = val[child]
        idx[pos] = idx[child]
        pos = child
    val[pos] = v
    idx[pos] = i


cdef inline void _sift_up(floating* val, int64_t* idx, Py_ssize_t pos) noexcept nogil:
    cdef floating v = val[pos]
    cdef int64_t i = idx[pos]
    cdef Py_ssize_t parent
    while pos > 0:
        parent = (pos - 1) // 2
        if not _worse(v, i, val[parent], idx[parent]):
            break
        val[pos] = val[parent]
        idx[pos] = idx[parent]
        pos = parent
    val[pos] = v
    idx[pos] = i


cdef inline void _heap_sort(floating* val, int64_t* idx, Py_ssize_t size) noexcept nogil:
    """Sort a heap of ``size`` items in place, best first: moving the worst to the end each
    time leaves the best at the front."""
    cdef Py_ssize_t p
    cdef floating tv
    cdef int64_t ti
    for p in range(size - 1, 0, -1):
        tv = val[0]
        ti = idx[0]
        val[0] = val[p]
        idx[0] = idx[p]
        val[p] = tv
        idx[p] = ti
        _sift_down(val, idx, p, 0)
