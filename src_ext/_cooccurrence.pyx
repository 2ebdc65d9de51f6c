# src_ext/_cooccurrence.pyx: the pairs of items rated together far beyond chance.
#
# Used by skadv.mf._trim.co_rated_groups (the fit-time suspect rule), which validates and
# converts the inputs first. Counting co-raters with a per-thread dense counter costs a few
# nanoseconds per (user, item, item) step: a sparse matrix product spends ten times that,
# single-threaded, and builds the whole co-occurrence block.
import numpy as np

from cython.parallel cimport prange, threadid
from libc.stdint cimport int32_t, int64_t, uint8_t
from libc.stdlib cimport free, malloc
from libc.string cimport memset


cdef Py_ssize_t _linked(Py_ssize_t item, const int64_t* user_ptr, const int32_t* user_items,
                        const int64_t* item_ptr, const int32_t* item_users,
                        const double* popularity, const uint8_t* candidate, double n_users,
                        int min_common, double min_lift, double min_share,
                        int32_t* count, int32_t* touched, int32_t* out) noexcept nogil:
    """The linked partners ``j > item`` of ``item``, written to ``out`` when it is not NULL;
    returns how many. The count is reset for the next item."""
    cdef Py_ssize_t p, q, u, j, n_touched = 0, n_out = 0
    cdef double c, larger
    for p in range(item_ptr[item], item_ptr[item + 1]):
        u = item_users[p]
        for q in range(user_ptr[u], user_ptr[u + 1]):
            # Branch-free: the test "first time j is seen" is a coin flip for mid-popular
            # items, and mispredicting it cost more than the counting.
            j = user_items[q]
            touched[n_touched] = <int32_t>j
            n_touched = n_touched + (count[j] == 0)
            count[j] = count[j] + 1
    for p in range(n_touched):
        j = touched[p]
        c = count[j]
        count[j] = 0
        if j <= item or not candidate[j] or c < min_common:
            continue
        larger = popularity[j] if popularity[j] > popularity[item] else popularity[item]
        if c * n_users < min_lift * popularity[item] * popularity[j] or c < min_share * larger:
            continue
        if out != NULL:
            out[n_out] = <int32_t>j
        n_out = n_out + 1
    return n_out


def co_rated_pairs(const int64_t[::1] user_ptr, const int32_t[::1] user_items,
                   const int64_t[::1] item_ptr, const int32_t[::1] item_users,
                   const double[::1] popularity, const uint8_t[::1] candidate,
                   int min_common, double min_lift, double min_share, int n_threads):
    """``(pair_ptr, partners)``: item ``a``'s linked partners are
    ``partners[pair_ptr[a]:pair_ptr[a + 1]]``, the items ``b > a`` (both candidates) with
    ``c >= min_common`` co-raters, ``c * n_users >= min_lift * n_a * n_b`` and
    ``c >= min_share * max(n_a, n_b)``, in the order the counter met them.

    Parameters
    ----------
    user_ptr, user_items : memoryviews, int64 and int32
        CSR of the binary users x items matrix (no duplicates within a row).
    item_ptr, item_users : memoryviews, int64 and int32
        The same matrix as CSR of items x users.
    popularity : memoryview of shape (n_items,), float64
        Raters per item.
    candidate : memoryview of shape (n_items,), uint8
        1 for the items that may be linked (the others are skipped, and cost nothing as
        the first item of a pair).
    min_common, min_lift, min_share : thresholds, as above.
    n_threads : int
        OpenMP threads; items are split dynamically (popular items cost more).

    Notes
    -----
    Two passes over the candidate items, each holding one int32 counter per item and a list
    of the items it touched per thread: the first counts each item's links, the second
    writes them at their offsets. The work is twice the sum, over the raters of candidate
    items, of their profile lengths, without holding any part of the product ``R.T @ R``.
    The output does not depend on ``n_threads``.
    """
    cdef Py_ssize_t n_items = popularity.shape[0], n_users = user_ptr.shape[0] - 1, item
    cdef int t, failed = 0
    pair_ptr = np.zeros(n_items + 1, dtype=np.int64)
    cdef int64_t[::1] links = pair_ptr
    cdef int32_t[::1] out
    cdef int32_t** counts = <int32_t**>malloc(n_threads * sizeof(int32_t*))
    cdef int32_t** touched = <int32_t**>malloc(n_threads * sizeof(int32_t*))
    if counts == NULL or touched == NULL:
        free(counts)
        free(touched)
        raise MemoryError()
    for t in range(n_threads):
        counts[t] = <int32_t*>malloc(max(n_items, 1) * sizeof(int32_t))
        # One slot more than items: the branch-free loop writes one past the last new item.
        touched[t] = <int32_t*>malloc((n_items + 1) * sizeof(int32_t))
        if counts[t] == NULL or touched[t] == NULL:
            failed = 1
        else:
            memset(counts[t], 0, max(n_items, 1) * sizeof(int32_t))
    try:
        if failed:
            raise MemoryError()
        with nogil:
            for item in prange(n_items, num_threads=n_threads, schedule="dynamic",
                               chunksize=16):
                t = threadid()
                if candidate[item]:
                    links[item + 1] = _linked(
                        item, &user_ptr[0], &user_items[0], &item_ptr[0], &item_users[0],
                        &popularity[0], &candidate[0], <double>n_users, min_common,
                        min_lift, min_share, counts[t], touched[t], NULL)
        for item in range(n_items):
            links[item + 1] = links[item + 1] + links[item]
        partners = np.zeros(max(links[n_items], 1), dtype=np.int32)
        out = partners
        with nogil:
            for item in prange(n_items, num_threads=n_threads, schedule="dynamic",
                               chunksize=16):
                t = threadid()
                if links[item + 1] > links[item]:
                    _linked(item, &user_ptr[0], &user_items[0], &item_ptr[0],
                            &item_users[0], &popularity[0], &candidate[0],
                            <double>n_users, min_common, min_lift, min_share, counts[t],
                            touched[t], &out[links[item]])
    finally:
        for t in range(n_threads):
            free(counts[t])
            free(touched[t])
        free(counts)
        free(touched)
    return pair_ptr, partners[:links[n_items]]
