r"""The per-user interface every shilling detector shares, and its decision rule.

A detector is **transductive**: ``fit(X, y=None)`` scores every user of ``X`` and the
per-user methods look those scores up by id. Each detector computes ``proba_``, a
probability-like suspicion in [0, 1] (higher: more likely fake), then one rule turns it
into decisions:

``contamination`` (a fraction), when set
    flag that fraction of the users of ``X``, the most suspicious ones; ties at the cut
    are flagged together when above the lowest score (and 0), users at the lowest score
    never (see :func:`contamination_threshold`): never everyone, and when most scores tie
    at 0, possibly fewer than the fraction;
``threshold`` (a probability)
    flag ``proba_ > threshold``;
``threshold="auto"``
    each detector's own rule (see its docstring: cross-validated F1 for the supervised
    detector, a fixed cut for PCA, the robust outlier rule :func:`outlier_threshold`
    for the co-rating detector, "any component flags" for the combined one).

``decision_function`` is ``proba_ - threshold_`` (> 0: flagged), ``predict`` its sign as
0/1 and ``predict_proba`` is ``[1 - proba_, proba_]``.
"""

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from skadv.utils._params import NONE, Interval, Options
from skadv.utils._validation import check_interactions, lookup_ids

__all__ = ["BaseShillingDetector"]

DECISION_CONSTRAINTS = {
    "threshold": [Options("auto"), Interval("real", 0, 1)],
    "contamination": [NONE, Interval("real", 0, 0.5, closed="right")],
}

_DOC_DECISION = """
    threshold : "auto" or float in [0, 1], default="auto"
        Users with ``proba_`` above it are flagged; ``"auto"``: see the rule above.
        Ignored when ``contamination`` is set.
    contamination : float in (0, 0.5], default=None
        Flag this fraction of the users of ``X`` (the highest ``proba_``), for when the
        share of fake users is known; None uses ``threshold``."""

_DOC_ATTRIBUTES = """
    user_ids_ : ndarray
        The users of ``X``, whom the per-user methods score.
    proba_ : ndarray of shape (n_users,)
        Suspicion of each user of ``user_ids_`` in [0, 1].
    threshold_ : float
        The cut on ``proba_`` the decision rule chose.
    scores_ : ndarray of shape (n_users,)
        ``proba_ - threshold_``: the ``decision_function`` of each user (> 0: flagged).
    n_features_in_ : int
        Always 2."""


class BaseShillingDetector(BaseEstimator):
    """Base class of the detectors: ``fit`` scores users, the per-user methods read scores.

    Subclasses implement ``_score_users(X, y, rng) -> (user_ids, proba, auto_threshold)``
    and list :data:`DECISION_CONSTRAINTS` among their ``_parameter_constraints``.
    """

    def _decide(self, user_ids, proba, auto_threshold):
        self.user_ids_ = user_ids
        self.proba_ = proba
        self.threshold_ = float(_decision_threshold(proba, self.threshold, self.contamination,
                                                    auto_threshold))  # fmt: skip
        self.scores_ = proba - self.threshold_
        self.n_features_in_ = 2
        return self

    def _codes(self, user_ids):
        check_is_fitted(self)
        if isinstance(user_ids, (str, bytes)) or np.ndim(user_ids) == 0:
            raise TypeError("user_ids must be a 1-d array-like of user ids, not a scalar.")
        values = np.asarray(user_ids, dtype=object).ravel()
        if values.size == 0:
            return np.empty(0, dtype=np.int64)
        ids, _, _ = check_interactions(np.column_stack([values, values]))
        codes = lookup_ids(self.user_ids_, ids).astype(np.int64)
        if np.any(codes < 0):
            raise ValueError(
                f"user_ids holds users the detector was not fitted on: "
                f"{ids[codes < 0][:5].tolist()}; fit it on data containing them."
            )
        return codes

    def decision_function(self, user_ids):
        """Suspicion of each user relative to the cut: > 0 means flagged as fake.

        Parameters
        ----------
        user_ids : array-like of shape (n,)
            Users of the data given to ``fit``.

        Returns
        -------
        ndarray of shape (n,)
            ``proba_ - threshold_`` of each user.
        """
        codes = self._codes(user_ids)  # first: NotFittedError before any attribute
        return self.scores_[codes]

    def predict(self, user_ids):
        """1 for users flagged as fake, 0 for the others.

        Parameters
        ----------
        user_ids : array-like of shape (n,)

        Returns
        -------
        ndarray of int64, shape (n,)
        """
        return (self.decision_function(user_ids) > 0).astype(np.int64)

    def predict_proba(self, user_ids):
        """``[1 - proba_, proba_]`` of each user: columns genuine, fake.

        Parameters
        ----------
        user_ids : array-like of shape (n,)

        Returns
        -------
        ndarray of shape (n, 2)
        """
        codes = self._codes(user_ids)
        p = self.proba_[codes]
        return np.column_stack([1.0 - p, p])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        tags.input_tags.two_d_array = True
        tags.input_tags.string = True
        return tags


def _decision_threshold(proba, threshold, contamination, auto_threshold):
    if contamination is None:
        return auto_threshold if threshold == "auto" else threshold
    return contamination_threshold(proba, contamination)


def contamination_threshold(proba, contamination):
    """The cut on ``proba`` that flags the ``contamination`` share of the most suspicious.

    Tie rule: users tied at the cut are flagged together when their score is above the
    floor (the lowest score, or 0 when that is lower), so at most the share asked plus
    those ties; users at the floor are never flagged, so neither is everyone, and when
    most scores tie at 0, fewer than the share asked may be flagged.

    Examples
    --------
    >>> proba = np.r_[np.zeros(18), 0.4, 0.9]
    >>> int((proba > contamination_threshold(proba, 0.25)).sum())  # 5 asked, 2 above 0
    2
    """
    n_flag = int(round(contamination * proba.shape[0]))
    if n_flag == 0 or proba.shape[0] == 0:
        return 1.0
    ordered = np.sort(proba)[::-1]
    floor = max(float(ordered[-1]), 0.0)  # no suspicion at all: never flagged
    last = ordered[n_flag - 1]  # the least suspicious flagged user
    if last <= floor:
        return floor
    nxt = ordered[n_flag] if n_flag < ordered.shape[0] else floor
    # Midway to the next score; on a tie, just below it: the tied users are all flagged.
    return (last + nxt) / 2.0 if nxt < last else float(np.nextafter(last, -1.0))


#: z of the robust outlier rule (:func:`outlier_threshold`): a score this many robust
#: standard deviations above the median is a clear outlier (2.5 flagged a few genuine users
#: of planted data, 3 misses 1 of 20 1 % attacks on ml-100k, ``benchmarks/README.md``).
OUTLIER_Z = 3.0


def outlier_threshold(proba, z=OUTLIER_Z):
    r"""The robust outlier cut :math:`\mathrm{median} + z \cdot 1.4826 \cdot \mathrm{MAD}`.

    The median and the median absolute deviation (MAD; times 1.4826, the standard
    deviation of normal data) of ``proba`` barely move when a few percent of the users are
    fakes, so the cut flags a 1 % attack as well as a 5 % one, where a cut chosen for a
    training prior does not. When more than half of the scores tie (MAD 0), the mean
    absolute deviation from the median (times 1.2533) stands in; when every score ties,
    the cut is that score: nobody is flagged. Capped at 1.

    Examples
    --------
    >>> proba = np.r_[np.linspace(0.40, 0.50, 99), 0.9]
    >>> int((proba > outlier_threshold(proba)).sum())
    1
    """
    if proba.shape[0] == 0:
        return 1.0
    median = float(np.median(proba))
    deviation = np.abs(proba - median)
    spread = 1.4826 * float(np.median(deviation))
    if spread <= 0.0:
        spread = 1.2533 * float(deviation.mean())
    return min(median + z * spread, 1.0)


def f1_threshold(scores, labels):
    """The cut on ``scores`` that maximizes F1 of ``scores > cut`` against 0/1 ``labels``.

    Among the cuts with the highest F1 (a plateau when the classes are separated), the
    midpoint of the widest gap between consecutive scores of that plateau, so the cut is
    not pressed against either class.

    Examples
    --------
    >>> round(f1_threshold(np.array([0.1, 0.2, 0.7, 0.9]), np.array([0, 0, 1, 1])), 3)
    0.45
    """
    order = np.argsort(-scores, kind="stable")
    s, lab = scores[order], labels[order].astype(np.float64)
    distinct = np.r_[s[1:] < s[:-1], True]  # flagging the top j+1 is possible only here
    tp = np.cumsum(lab)[distinct]
    k = np.flatnonzero(distinct) + 1
    f1 = 2 * tp / (k + lab.sum())
    best = np.flatnonzero(f1 >= f1.max() - 1e-12)
    upper = s[k[best] - 1]  # lowest flagged score of each best cut
    lower = np.r_[s, s[-1] - 1.0][k[best]]  # highest kept score (or below everything)
    j = int(np.argmax(upper - lower))
    return float(max((upper[j] + lower[j]) / 2.0, 0.0))
