# src_ext/_cooccurrence.pyx: each item's mean Jaccard similarity to its closest items.
#
# Used by skadv.mf._trim.item_clique_scores (the fit-time suspect rule), which validates and
# converts the inputs first. Counting co-raters with a per-thread dense counter costs a few
# nanoseconds per (user, item, item) step: the sparse matrix product it replaces spent
# ten times that, single-threaded, and built the whole co-occurrence block.
from cython.parallel cimport prange, threadid
from libc.stdint cimport int32_t, int64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memset


cdef void _item_score(Py_ssize_t item, const int64_t* user_ptr, const int32_t* user_items,
                      const int64_t* item_ptr, const int32_t* item_users,
                      const double* popularity, int min_common, int n_partners,
                      int32_t* count, int32_t* touched, double* best,
                      double* out) noexcept nogil:
    cdef Py_ssize_t p, q, u, j, n_touched = 0, n_best = 0, b
    cdef double jaccard, total = 0.0
    cdef int32_t c
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
        if j == item or c < min_common:
            continue
        jaccard = c / (popularity[item] + popularity[j] - c)
        # Keep the n_partners largest, sorted decreasingly (n_partners is a handful).
        if n_best < n_partners:
            b = n_best
            n_best = n_best + 1
        elif jaccard > best[n_best - 1]:
            b = n_best - 1
        else:
            continue
        while b > 0 and best[b - 1] < jaccard:
            best[b] = best[b - 1]
            b = b - 1
        best[b] = jaccard
    for b in range(n_best):
        total = total + best[b]
    out[item] = total / n_partners


def clique_scores(const int64_t[::1] user_ptr, const int32_t[::1] user_items,
                  const int64_t[::1] item_ptr, const int32_t[::1] item_users,
                  const double[::1] popularity, int min_common, int n_partners,
                  int n_threads, double[::1] out):
    """``out[i]`` = the sum of item ``i``'s ``n_partners`` largest Jaccard similarities of
    rater sets (other items with at least ``min_common`` co-raters) over ``n_partners``.

    Parameters
    ----------
    user_ptr, user_items : memoryviews, int64 and int32
        CSR of the binary users x items matrix (no duplicates within a row).
    item_ptr, item_users : memoryviews, int64 and int32
        The same matrix as CSR of items x users.
    popularity : memoryview of shape (n_items,), float64
        Raters per item.
    min_common, n_partners : int
        ``n_partners >= 1``.
    n_threads : int
        OpenMP threads; items are split dynamically (popular items cost more).
    out : memoryview of shape (n_items,), float64
        Written in place.

    Notes
    -----
    Each thread holds one int32 counter per item and a list of the items it touched; the
    work is the sum over users of their profile length squared, as for the product
    ``R.T @ R``, without holding any part of that product.
    """
    cdef Py_ssize_t n_items = popularity.shape[0], item
    cdef int t, failed = 0
    cdef int32_t** counts = <int32_t**>malloc(n_threads * sizeof(int32_t*))
    cdef int32_t** touched = <int32_t**>malloc(n_threads * sizeof(int32_t*))
    cdef double** best = <double**>malloc(n_threads * sizeof(double*))
    if counts == NULL or touched == NULL or best == NULL:
        free(counts)
        free(touched)
        free(best)
        raise MemoryError()
    for t in range(n_threads):
        counts[t] = <int32_t*>malloc(max(n_items, 1) * sizeof(int32_t))
        # One slot more than items: the branch-free loop writes one past the last new item.
        touched[t] = <int32_t*>malloc((n_items + 1) * sizeof(int32_t))
        best[t] = <double*>malloc(n_partners * sizeof(double))
        if counts[t] == NULL or touched[t] == NULL or best[t] == NULL:
            failed = 1
        else:
            memset(counts[t], 0, max(n_items, 1) * sizeof(int32_t))
    try:
        if failed:
            raise MemoryError()
        if n_items:
            with nogil:
                for item in prange(n_items, num_threads=n_threads, schedule="dynamic",
                                   chunksize=16):
                    t = threadid()
                    _item_score(item, &user_ptr[0], &user_items[0], &item_ptr[0],
                                &item_users[0], &popularity[0], min_common, n_partners,
                                counts[t], touched[t], best[t], &out[0])
    finally:
        for t in range(n_threads):
            free(counts[t])
            free(touched[t])
            free(best[t])
        free(counts)
        free(touched)
        free(best)
