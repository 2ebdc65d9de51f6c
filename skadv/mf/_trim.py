"""Fit-time damping of suspected fake users: coordinated item groups in the training data."""

import numpy as np
from scipy import sparse


def item_clique_scores(interactions, n_partners=4):
    """Each item's mean Jaccard similarity (of rater sets) to its ``n_partners`` most similar
    items: high for items that one group of users rates together and few others rate."""
    R = sparse.csr_matrix(interactions, dtype=np.float64, copy=True)
    R.data[:] = 1.0
    pop = np.asarray(R.sum(axis=0)).ravel()
    C = (R.T @ R).tocsr()
    C.setdiag(0)
    C.eliminate_zeros()
    C = C.tocoo()
    jac = C.data / (pop[C.row] + pop[C.col] - C.data)
    J = sparse.csr_matrix((jac, (C.row, C.col)), shape=C.shape)
    scores = np.zeros(R.shape[1])
    for i in range(J.shape[0]):
        row = J.data[J.indptr[i] : J.indptr[i + 1]]
        if row.size:
            top = -np.sort(-row)[:n_partners]
            scores[i] = top.sum() / n_partners
    return scores


def robust_z(values):
    median = np.median(values)
    mad = np.median(np.abs(values - median)) * 1.4826
    return (values - median) / (mad if mad > 0 else 1.0)


def clique_user_weights(interactions, z_threshold=5.0, min_items=2, n_partners=4, weight=0.0):
    """``weight`` for users who rated at least ``min_items`` suspicious items (robust z of
    :func:`item_clique_scores` above ``z_threshold``), 1 for the others."""
    R = sparse.csr_matrix(interactions)
    suspicious = robust_z(item_clique_scores(R, n_partners)) > z_threshold
    hits = np.asarray(R[:, suspicious].getnnz(axis=1)).ravel()
    return np.where(hits >= min_items, weight, 1.0).astype(np.float64)
