"""The NumPy top-k reference shared by the ranking kernels' tests."""

import numpy as np


def reference_top_k(scores, k, excluded):
    """NumPy reference: full stable sort, excluded items appended (lowest index first)."""
    n_rows, n_items = scores.shape
    idx = np.empty((n_rows, k), dtype=np.int64)
    val = np.empty((n_rows, k), dtype=scores.dtype)
    for r in range(n_rows):
        cand = np.flatnonzero(~excluded[r])
        # lexsort: last key is primary -> score descending, then lower index
        cand = cand[np.lexsort((cand, -scores[r, cand].astype(np.float64)))]
        order = np.concatenate([cand, np.flatnonzero(excluded[r])])[:k]
        idx[r] = order
        val[r] = np.where(excluded[r, order], -np.inf, scores[r, order])
    return idx, val
