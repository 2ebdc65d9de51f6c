r"""``CoRatingDetector``: unsupervised detection of groups of users who share rare item sets.

A shilling attack injects a *batch* of profiles that all hold the same target (and
selected) items. Whatever the fillers, those items then co-occur far more than their
popularity explains: the fakes make up most of each target's users, so every two targets
have nearly the same users. The detector scores this from the item × item co-occurrence
counts :math:`c_{ij} = |U_i \cap U_j|` of the binary profile matrix (:math:`U_i` the users
of item :math:`i`; :math:`A^T A` of the sparse user × item matrix, never a dense
user × item one):

1. the excess Jaccard similarity of each item pair co-rated by at least ``min_support``
   users, :math:`J_{ij} = (c_{ij} - e_{ij}) / (|U_i| + |U_j| - c_{ij})` with
   :math:`e_{ij} = |U_i| |U_j| / n_{users}` the co-count of independent items: popular
   items co-occur by chance (on ml-100k, the plain Jaccard similarity of genuine pairs of
   popular items reached that of a 1 % attack's targets, which then went unflagged in 2 of
   10 seeds);
2. the suspicion of item :math:`i`, :math:`s_i`, its **second** highest :math:`J_{ij}`
   over :math:`j`: an attack item has a near-copy of its user set in every other target,
   a genuine item at most one (a sequel, a twin);
3. the suspicion of user :math:`u`, ``proba_``, the ``n_shared``-th highest :math:`s_i`
   over the items of its profile (0 with fewer items): a fake holds ``n_targets`` (+
   selected) suspicious items, a genuine user who rated one target holds one.

Cost: the sparse product :math:`A^T A` takes time :math:`\sum_u n_u^2` and memory up to
the number of co-rated item pairs (at most :math:`n_{items}^2`; on the full ml-100k, under
a second and 80 MB at peak).

``threshold="auto"`` is the robust outlier rule :func:`outlier_threshold` (median + 3
robust standard deviations of ``proba_``), which does not depend on the share of fakes.

What it cannot see (by construction; ``benchmarks/README.md`` has the figures): attacks
with fewer than ``n_shared`` shared items (one target, no selected items), and popular
targets, whose user sets the fakes do not dominate. Ratings are not used: two users
co-rate an item whatever they gave it.
"""

import numpy as np
from scipy import sparse

from skadv.detection._base import (
    _DOC_ATTRIBUTES,
    _DOC_DECISION,
    DECISION_CONSTRAINTS,
    BaseShillingDetector,
    outlier_threshold,
)
from skadv.utils._params import Interval, validate_params
from skadv.utils._validation import check_interactions, encode_ids

__all__ = ["CoRatingDetector"]


class CoRatingDetector(BaseShillingDetector):
    __doc__ = f"""Unsupervised shilling detection from item co-occurrence (a co-rating graph).

    Flags users whose profile holds several items that co-occur with each other far more
    than their popularity explains, the trace of an attack batch's shared targets. See the
    module docstring for the score.

    Parameters
    ----------
    min_support : int, default=4
        Item pairs co-rated by fewer users are ignored (chance co-occurrences of rare
        items).
    n_shared : int, default=3
        A user's score is its ``n_shared``-th most suspicious item.{_DOC_DECISION}

    Attributes
    ----------{_DOC_ATTRIBUTES}
    item_ids_ : ndarray
        Items of ``X``.
    item_suspicion_ : ndarray of shape (n_items,)
        :math:`s_i` of each item of ``item_ids_``.

    See Also
    --------
    PCADetector : Unsupervised, principal components.
    CombinedDetector : This detector, PCA and the supervised one together.

    Examples
    --------
    >>> from skadv.attacks import RandomAttack
    >>> from skadv.datasets import make_interactions
    >>> X = make_interactions(n_users=200, n_items=100, random_state=0)
    >>> attack = RandomAttack(attack_size=0.05, filler_size=5, random_state=1)
    >>> X_poisoned, _ = attack.fit_resample(X)
    >>> detector = CoRatingDetector().fit(X_poisoned)
    >>> flagged = detector.predict(detector.user_ids_).astype(bool)
    >>> is_fake = np.isin(detector.user_ids_, attack.fake_user_ids_)
    >>> int(flagged[is_fake].sum()), int(flagged[~is_fake].sum())  # of 10 fakes, 200 genuine
    (10, 0)
    """

    _parameter_constraints = {
        "min_support": [Interval("int", 1, None)],
        "n_shared": [Interval("int", 1, None)],
        **DECISION_CONSTRAINTS,
    }

    def __init__(self, min_support=4, n_shared=3, *, threshold="auto", contamination=None):
        self.min_support = min_support
        self.n_shared = n_shared
        self.threshold = threshold
        self.contamination = contamination

    def fit(self, X, y=None):
        """Score every user of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_interactions, 2) or DataFrame
        y : array-like of shape (n_interactions,), default=None
            Ignored (checked only): co-occurrence does not depend on the ratings.

        Returns
        -------
        self
        """
        validate_params(self)
        users, items, _ = check_interactions(X, y)
        user_ids, u = encode_ids(users)
        self.item_ids_, i = encode_ids(items)
        A = sparse.csr_matrix((np.ones(u.shape[0]), (u, i)),
                              shape=(user_ids.shape[0], self.item_ids_.shape[0]))  # fmt: skip
        A.sum_duplicates()
        A.data[:] = 1.0
        self.item_suspicion_ = _item_suspicion(A, self.min_support)
        proba = _kth_largest_per_row(A, self.item_suspicion_, self.n_shared)
        return self._decide(user_ids, proba, outlier_threshold(proba))


def _item_suspicion(A, min_support):
    """Second highest excess Jaccard similarity of each item's user set to another item's."""
    popularity = np.asarray(A.sum(axis=0)).ravel()
    C = (A.T @ A).tocoo()
    keep = (C.row != C.col) & (C.data >= min_support)
    rows, cols, counts = C.row[keep], C.col[keep], C.data[keep]
    expected = popularity[rows] * popularity[cols] / A.shape[0]  # independent items
    jaccard = (counts - expected) / (popularity[rows] + popularity[cols] - counts)
    return _kth_largest_per_group(rows, jaccard, A.shape[1], 2)


def _kth_largest_per_row(A, values, k):
    """The k-th largest ``values`` of the columns of each row of ``A`` (0 if fewer)."""
    rows = np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))
    return _kth_largest_per_group(rows, values[A.indices], A.shape[0], k)


def _kth_largest_per_group(groups, values, n_groups, k):
    out = np.zeros(n_groups)
    if groups.shape[0] == 0:
        return out
    order = np.lexsort((-values, groups))
    groups, values = groups[order], values[order]
    starts = np.r_[0, np.flatnonzero(groups[1:] != groups[:-1]) + 1]
    sizes = np.diff(np.r_[starts, groups.shape[0]])
    has = sizes >= k
    out[groups[starts[has]]] = values[starts[has] + k - 1]
    return out
