"""Dense NumPy references of the baselines, written from the math of their docstrings.

Each takes the dense binary (or weighted) user x item matrix of a small data set in code
order (users and items sorted, as ``encode_ids`` sorts integer ids) and returns what the
estimator should compute, with loops where they make the definition plain.
"""

import numpy as np


def dense_matrix(X, y=None):
    """Dense (n_users, n_items) matrix of summed weights of integer id pairs ``X``."""
    users, u = np.unique(X[:, 0], return_inverse=True)
    items, i = np.unique(X[:, 1], return_inverse=True)
    R = np.zeros((users.shape[0], items.shape[0]))
    np.add.at(R, (u, i), 1.0 if y is None else y)
    return R


def itemknn_similarity(R, n_neighbors, shrink):
    """Top-k shrunk cosine: column j keeps its n_neighbors largest positive s_ij (i != j),
    ties to the lower i."""
    B = (R > 0).astype(np.float64)
    n_items = B.shape[1]
    S = np.zeros((n_items, n_items))
    for i in range(n_items):
        for j in range(n_items):
            if i != j:
                c = B[:, i] @ B[:, j]
                S[i, j] = c / (np.sqrt(B[:, i].sum()) * np.sqrt(B[:, j].sum()) + shrink)
    kept = np.zeros_like(S)
    for j in range(n_items):
        order = sorted((i for i in range(n_items) if i != j and S[i, j] > 0),
                       key=lambda i: (-S[i, j], i))  # fmt: skip
        for i in order[:n_neighbors]:
            kept[i, j] = S[i, j]
    return kept


def itemknn_scores(R, n_neighbors, shrink):
    return (R > 0).astype(np.float64) @ itemknn_similarity(R, n_neighbors, shrink)


def ease_weights(R, l2_reg):
    """B = I - P diag(1 / diag(P)), P = (X^T X + lambda I)^-1."""
    B = (R > 0).astype(np.float64)
    P = np.linalg.inv(B.T @ B + l2_reg * np.eye(B.shape[1]))
    W = np.eye(B.shape[1]) - P @ np.diag(1.0 / np.diag(P))
    np.fill_diagonal(W, 0.0)  # zero up to rounding already
    return W


def ials_factors(R, n_factors, n_iter, alpha, reg, init_std, seed, reg_scaling="none"):
    """Alternating exact solves of the iALS normal equations with dense C_u and p_u.

    Same initial factors as the estimator: users then items, normal(0, init_std), from
    ``np.random.RandomState(seed)``. ``reg_scaling="frequency"`` penalizes a row by ``reg``
    times the sum of its confidences (over every cell of the row, observed or not).
    """
    rng = np.random.RandomState(seed)
    Xf = rng.normal(0.0, init_std, (R.shape[0], n_factors))
    Yf = rng.normal(0.0, init_std, (R.shape[1], n_factors))
    P = (R > 0).astype(np.float64)
    C = 1.0 + alpha * R
    for _ in range(n_iter):
        for u in range(R.shape[0]):
            Cu = np.diag(C[u])
            lam = reg * C[u].sum() if reg_scaling == "frequency" else reg
            Xf[u] = np.linalg.solve(Yf.T @ Cu @ Yf + lam * np.eye(n_factors), Yf.T @ Cu @ P[u])
        for i in range(R.shape[1]):
            Ci = np.diag(C[:, i])
            lam = reg * C[:, i].sum() if reg_scaling == "frequency" else reg
            Yf[i] = np.linalg.solve(Xf.T @ Ci @ Xf + lam * np.eye(n_factors), Xf.T @ Ci @ P[:, i])
    return Xf, Yf
