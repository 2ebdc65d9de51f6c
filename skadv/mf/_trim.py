"""Fit-time damping of suspected fake users: a group of users who rate the same items.

A push attack gives every fake user the same target items. Whatever the fillers, the
targets then share most of their raters, far more than chance gives items of their
popularity. :func:`co_rated_groups` finds :data:`GROUP_SIZE` items rated together so, and
:func:`suspect_weights` gives the users who rated all of them the weight ``weight`` for
their gradients on item rows and biases (the kernel's ``item_weight``): they still get
personalized factors, but they no longer move the items everybody is ranked by. Only the
training data is read (no detector, no labels).

A group needs, for each pair of its items ``a, b`` with ``c`` co-raters and ``n_a, n_b``
raters: ``c >= GROUP_RATERS``, a lift ``c n_users / (n_a n_b) >= MIN_LIFT`` (popular items
share raters by chance), ``c >= MIN_SHARE * max(n_a, n_b)``; and at least ``GROUP_RATERS``
users who rated all of its items, at least ``MIN_SHARE`` of the raters of each.

Pushes of 3 items or fewer, of popular items, or by fake users that each push one target
are not caught. What the thresholds were chosen on, and what the rule flags on clean and
poisoned data: benchmarks/README.md, "One rule for small and large push groups".
"""

import itertools
import warnings

import numpy as np

from skadv.utils._threads import effective_n_threads
from skadv.utils._validation import binary_csr

__all__ = [
    "GROUP_RATERS",
    "GROUP_SIZE",
    "MIN_LIFT",
    "MIN_SHARE",
    "co_rated_groups",
    "damping_weights",
    "suspect_weights",
]

#: Items in a group: a push attack has several targets, and three items that share their
#: raters are common in genuine data (groups of three at 6 raters, lift 6, share 0.35
#: flagged 8-119 genuine users on 7 of 9 clean ml-100k sets; groups of four, none).
GROUP_SIZE = 4
#: Co-raters of each pair, and raters of every item of the group, at least: 9 fake users
#: are 1 % of ml-100k; 6 flagged one genuine group of a small synthetic catalogue.
GROUP_RATERS = 7
#: Co-raters of each pair over the count chance gives their popularities: popular items
#: share raters without any attack (at 4, 375 genuine users flagged on 23 clean sets).
MIN_LIFT = 6.0
#: Share of each item's raters that the pair's co-raters, and the group's raters, make up:
#: 9 fake users are 0.39-0.64 of a pushed unpopular item's raters on ml-100k (0.3 flagged
#: 77 genuine users on 23 clean sets; 0.4 missed 1 % pushes on synthetic-dense).
MIN_SHARE = 0.35
#: Candidate groups checked before the rule gives up with a warning (a catalogue whose
#: items are that tightly knit is not one where co-rating tells fakes apart).
MAX_GROUP_CHECKS = 1_000_000


def co_rated_groups(interactions, *, min_raters=GROUP_RATERS, min_lift=MIN_LIFT,
                    min_share=MIN_SHARE, n_jobs=None):  # fmt: skip
    """Groups of :data:`GROUP_SIZE` items rated together far beyond chance.

    Parameters
    ----------
    interactions : sparse matrix of shape (n_users, n_items)
        Nonzero entries are interactions.
    min_raters : int, default=GROUP_RATERS
        Co-raters of each pair of a group, and raters of all its items, at least.
    min_lift : float, default=MIN_LIFT
        Each pair's co-raters over ``n_a n_b / n_users``, at least.
    min_share : float, default=MIN_SHARE
        Each pair's co-raters, and the group's raters, over the raters of the more popular
        item, at least.
    n_jobs : int, default=None
        Threads counting co-raters (``None``: all cores); the result does not depend on it.

    Returns
    -------
    groups : list of tuple of int
        The item columns of each group, increasing; groups sorted.

    Notes
    -----
    Pairs are counted per item in the compiled kernel ``src_ext/_cooccurrence.pyx``, only
    among the items with ``min_raters`` to ``n_users / min_lift`` raters (a pair's lift is at
    most ``n_users / max(n_a, n_b)``): no items x items matrix. The work is about twice the
    sum, over the raters of those items, of their profile lengths.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import sparse
    >>> rng = np.random.RandomState(0)
    >>> genuine = (rng.rand(1000, 80) < 0.005).astype(float)  # 5 raters per item
    >>> fake = np.zeros((7, 80)); fake[:, 70:75] = 1  # 7 users push items 70-74
    >>> co_rated_groups(sparse.csr_matrix(np.vstack([genuine, fake])))
    [(70, 71, 72, 73), (70, 71, 72, 74), (70, 71, 73, 74), (70, 72, 73, 74), (71, 72, 73, 74)]
    """
    groups, _ = _co_rated_groups(binary_csr(interactions), int(min_raters), float(min_lift),
                                 float(min_share), n_jobs)  # fmt: skip
    return groups


def _co_rated_groups(R, min_raters, min_lift, min_share, n_jobs):
    """``(groups, members)`` of an already binary CSR matrix ``R``: :func:`co_rated_groups`
    and the mask of the users who rated every item of at least one group."""
    from skadv._ext._cooccurrence import co_rated_pairs

    n_users = R.shape[0]
    RT = R.T.tocsr()
    popularity = np.diff(RT.indptr).astype(np.float64)
    candidate = (popularity >= min_raters) & (popularity * min_lift <= n_users)
    members = np.zeros(n_users, dtype=bool)
    if candidate.sum() < GROUP_SIZE:
        return [], members

    def csr(M):
        return M.indptr.astype(np.int64), np.asarray(M.indices, dtype=np.int32)

    pair_ptr, partners = co_rated_pairs(
        *csr(R), *csr(RT), popularity, candidate.astype(np.uint8), min_raters, min_lift,
        min_share, effective_n_threads(n_jobs),
    )  # fmt: skip
    linked = {}  # item -> its linked partners above it, increasing
    for item in np.flatnonzero(np.diff(pair_ptr)).tolist():
        linked[item] = sorted(partners[pair_ptr[item] : pair_ptr[item + 1]].tolist())
    lookup = {item: set(above) for item, above in linked.items()}
    groups, checks = [], 0
    for first, above in linked.items():
        for rest in itertools.combinations(above, GROUP_SIZE - 1):
            checks += 1
            if checks > MAX_GROUP_CHECKS:
                warnings.warn(
                    f"co_rated_groups: more than {MAX_GROUP_CHECKS} candidate groups; the "
                    "rest are not checked (the items are too tightly knit for co-rating to "
                    "tell push groups apart)",
                    RuntimeWarning,
                    stacklevel=3,
                )
                return sorted(groups), members
            if not all(b in lookup.get(a, ()) for a, b in itertools.combinations(rest, 2)):
                continue
            group = (first, *rest)
            raters = RT.indices[RT.indptr[first] : RT.indptr[first + 1]]
            for item in rest:
                raters = np.intersect1d(
                    raters, RT.indices[RT.indptr[item] : RT.indptr[item + 1]], assume_unique=True
                )
            if raters.size >= max(min_raters, min_share * popularity[list(group)].max()):
                groups.append(group)
                members[raters] = True
    return sorted(groups), members


def suspect_weights(interactions, weight=0.0, *, min_raters=GROUP_RATERS, min_lift=MIN_LIFT,
                    min_share=MIN_SHARE, n_jobs=None):  # fmt: skip
    """Per-user item-side weights: ``weight`` for the users who rated every item of a
    :func:`co_rated_groups` group, 1 for the others.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import sparse
    >>> rng = np.random.RandomState(0)
    >>> genuine = (rng.rand(1000, 80) < 0.01).astype(float)
    >>> fake = np.zeros((10, 80)); fake[:, :5] = 1  # 10 users push items 0-4
    >>> w = suspect_weights(sparse.csr_matrix(np.vstack([genuine, fake])))

    Every fake user is damped, and no genuine one (their own factors still train; the
    pushed items lose their votes):

    >>> bool((w[1000:] == 0).all()), int((w[:1000] == 0).sum())
    (True, 0)
    """
    R = binary_csr(interactions)
    _, members = _co_rated_groups(R, int(min_raters), float(min_lift), float(min_share), n_jobs)
    return np.where(members, float(weight), 1.0)


def damping_weights(interactions, weight, n_jobs=None):
    """``(weights, flagged)``: :func:`suspect_weights` and the codes of the users it damps;
    ``weights`` is None (no weighting, the kernel's unweighted path) when nobody is damped."""
    if weight == 1:
        return None, np.zeros(0, dtype=np.intp)
    weights = suspect_weights(interactions, weight, n_jobs=n_jobs)
    flagged = np.flatnonzero(weights != 1)
    return (weights if flagged.size else None), flagged
