"""Fit-time damping of suspected fake users: items that one group of users rates together.

A push attack gives every fake user the same target items. Whatever the fillers, the targets'
rater sets then overlap far more than those of genuine items: each target's raters are mostly
the fake users, who also rate the other targets. :func:`item_clique_scores` measures this as
the mean Jaccard similarity of an item's rater set to those of its ``n_partners`` most similar
items; :func:`suspect_weights` flags the items whose score is an outlier (robust z-score above
:data:`Z_THRESHOLD`) and gives the users who rated at least :data:`MIN_ITEMS` of them the
weight ``weight`` for their gradients on item rows and biases (the kernel's ``item_weight``):
they still get personalized factors, but they no longer move the items everybody is ranked
by. Only the training data is read (no detector, no labels).

Measured on ml-100k (benchmarks/bench_defence.py): with 5 % fake users of
any of six attacks (random, average, bandwagon, segment, genuine-shaped, surrogate-optimized)
the 5 targets score z 5.1-6.9 and every other item at most 4.0; on the clean splits of
benchmarks/bench_defaults.py no item passes 3.3 (3.6 on the 10-core field split), so nobody is
flagged and the clean fit is unchanged. With 1 % fake users (9) the targets score z 1-4: the
rule flags nobody, and the fit is the plain one.
"""

import numpy as np

from skadv.utils._threads import effective_n_threads
from skadv.utils._validation import binary_csr

__all__ = [
    "MIN_ITEMS",
    "MIN_SCORE",
    "N_PARTNERS",
    "Z_THRESHOLD",
    "damping_weights",
    "item_clique_scores",
    "suspect_weights",
]

#: Robust z-score (median / 1.4826 MAD over the items) above which an item is suspicious.
Z_THRESHOLD = 4.5
#: Clique score an item needs as well: a robust z alone flags noise where no items overlap
#: (uniform random ratings, 30,000 users x 6,000 items: z 5.5 at a score of 0.02), while
#: pushed targets score 0.7-0.8 on ml-100k (median item 0.21).
MIN_SCORE = 0.25
#: Suspicious items a user must have rated to be damped.
MIN_ITEMS = 2
#: Co-raters a pair of items needs to count (the Jaccard of items with one or two raters
#: is noise: on full MovieLens 100k such items would look like cliques).
MIN_COMMON = 5
#: Partners averaged in an item's clique score (a push attack has several targets).
N_PARTNERS = 4


def item_clique_scores(interactions, n_partners=N_PARTNERS, min_common=MIN_COMMON, n_jobs=None):
    """Each item's mean Jaccard similarity of rater sets to its ``n_partners`` most similar
    other items (0 where it has fewer partners than that, counted as 0).

    Co-raters are counted per item in the compiled kernel ``src_ext/_cooccurrence.pyx``
    (``n_jobs`` threads): no items x items matrix, not even in blocks. The work is the sum
    over users of their profile length squared.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import sparse
    >>> R = sparse.csr_matrix(np.array([[1, 1, 0], [1, 1, 0], [0, 1, 1]]))
    >>> item_clique_scores(R, n_partners=1, min_common=1).round(3)
    array([0.667, 0.667, 0.333])
    """
    return _clique_scores(binary_csr(interactions), n_partners, min_common, n_jobs)


def _clique_scores(R, n_partners, min_common, n_jobs):
    """:func:`item_clique_scores` of an already binary CSR matrix ``R``."""
    from skadv._ext._cooccurrence import clique_scores

    n_items = R.shape[1]
    RT = R.T.tocsr()
    popularity = np.diff(RT.indptr).astype(np.float64)
    scores = np.zeros(n_items)
    if R.nnz == 0:
        return scores

    def csr(M):
        return M.indptr.astype(np.int64), np.asarray(M.indices, dtype=np.int32)

    clique_scores(*csr(R), *csr(RT), popularity, int(min_common), int(n_partners),
                  effective_n_threads(n_jobs), scores)  # fmt: skip
    return scores


def robust_z(values):
    """``(values - median) / (1.4826 MAD)``; a zero MAD counts as 1."""
    values = np.asarray(values, dtype=np.float64)
    median = np.median(values)
    mad = 1.4826 * np.median(np.abs(values - median))
    return (values - median) / (mad if mad > 0 else 1.0)


def suspect_weights(interactions, weight=0.0, *, z_threshold=Z_THRESHOLD, min_items=MIN_ITEMS,
                    n_partners=N_PARTNERS, n_jobs=None):  # fmt: skip
    """Per-user item-side weights: ``weight`` for the users who rated at least ``min_items``
    items whose clique score has a robust z above ``z_threshold`` (and is at least
    :data:`MIN_SCORE`), 1 for the others.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import sparse
    >>> rng = np.random.RandomState(0)
    >>> genuine = (rng.rand(200, 60) < 0.1).astype(float)
    >>> fake = np.zeros((20, 60)); fake[:, :5] = 1  # 20 users push items 0-4
    >>> w = suspect_weights(sparse.csr_matrix(np.vstack([genuine, fake])))

    Every fake user is damped, and so are the 6 genuine users who rated two of the pushed
    items (their own factors still train; the pushed items lose their votes):

    >>> bool((w[200:] == 0).all()), int((w[:200] == 0).sum())
    (True, 6)
    """
    R = binary_csr(interactions)
    if R.shape[1] <= n_partners:
        return np.ones(R.shape[0])
    scores = _clique_scores(R, n_partners, MIN_COMMON, n_jobs)
    suspicious = (robust_z(scores) > z_threshold) & (scores >= MIN_SCORE)
    hits = np.asarray(R[:, suspicious].getnnz(axis=1)).ravel()
    return np.where(hits >= min_items, float(weight), 1.0)


def damping_weights(interactions, weight, n_jobs=None):
    """``(weights, flagged)``: :func:`suspect_weights` and the codes of the users it damps;
    ``weights`` is None (no weighting, the kernel's unweighted path) when nobody is damped."""
    if weight == 1:
        return None, np.zeros(0, dtype=np.intp)
    weights = suspect_weights(interactions, weight, n_jobs=n_jobs)
    flagged = np.flatnonzero(weights != 1)
    return (weights if flagged.size else None), flagged
