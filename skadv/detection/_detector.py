r"""``ShillingDetector`` (which users are fake) and ``FakeUserFilter`` (drop them).

Training and scoring
    ``fit(X, y)`` injects the profiles of ``attack`` (a shilling sampler of
    :mod:`skadv.attacks`) into ``X``, computes :class:`ProfileFeatures` on the result and
    trains ``classifier`` to tell the injected profiles (label 1) from the users of ``X``
    (label 0). The users of ``X`` are scored **out of fold**: their users are split into
    ``cv`` groups, and each group is scored by a classifier trained on the other groups
    plus the injected profiles, so a real attacker hidden in ``X`` is never scored by a
    classifier that saw it labelled genuine. ``X`` is taken to be mostly genuine: fake
    users already in it are label noise for training.
"""

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import KFold
from sklearn.utils.validation import check_is_fitted

from skadv.base import BaseInteractionSampler
from skadv.detection._features import ProfileFeatures
from skadv.utils._params import NONE, RANDOM_STATE, Interval, validate_params
from skadv.utils._random import check_random_state
from skadv.utils._validation import check_interactions, lookup_ids

__all__ = ["FakeUserFilter", "ShillingDetector"]


def _default_attack():
    from skadv.attacks import RandomAttack

    return RandomAttack(attack_size=0.1, filler_size=0.05)


class ShillingDetector(BaseEstimator):
    """Tell fake (shilling) users from genuine ones with a classifier over profile features.

    See the module docstring for how it is trained and how users are scored.

    Parameters
    ----------
    attack : skadv shilling attack, default=None
        Generator of the fake training profiles (supervised mode), e.g.
        ``AverageAttack(attack_size=0.1)``; None: ``RandomAttack(attack_size=0.1,
        filler_size=0.05)``. It is cloned; an unseeded one is seeded from ``random_state``.
    classifier : sklearn classifier with ``predict_proba``, default=None
        Trained on :class:`ProfileFeatures`; None: ``RandomForestClassifier(n_estimators=100)``
        seeded from ``random_state``.
    n_neighbors : int, default=25
        ``DegSim`` neighbours of :class:`ProfileFeatures`.
    cv : int, default=5
        User groups of the out-of-fold scores.
    threshold : float, default=0.5
        Probability of being fake above which a user is flagged.
    random_state : int, RandomState instance or None, default=None

    Attributes
    ----------
    user_ids_ : ndarray
        The users of ``X``, whom ``predict`` can score.
    scores_ : ndarray of shape (n_users,)
        ``decision_function`` of each user of ``user_ids_`` (> 0: flagged).
    proba_ : ndarray of shape (n_users,)
        Out-of-fold probability of being fake.
    features_ : ProfileFeatures
        Fitted on the data the features came from.
    attack_, classifier_ : estimators
        The fitted attack and a classifier trained on every user (for inspection).
    n_features_in_ : int
        Always 2.

    References
    ----------
    .. [1] R. Burke, B. Mobasher, C. Williams and R. Bhaumik, "Classification features for
       attack detection in collaborative recommender systems", KDD 2006.

    Examples
    --------
    >>> from skadv.attacks import RandomAttack
    >>> from skadv.datasets import make_interactions
    >>> X = make_interactions(n_users=100, n_items=60, random_state=0)
    >>> attack = RandomAttack(attack_size=0.1, filler_size=10, random_state=1)
    >>> X_poisoned, _ = attack.fit_resample(X)
    >>> detector = ShillingDetector(RandomAttack(attack_size=0.1, filler_size=10), random_state=0)
    >>> p_fake = detector.fit(X_poisoned).predict_proba(detector.user_ids_)[:, 1]
    >>> is_fake = np.isin(detector.user_ids_, attack.fake_user_ids_)
    >>> bool(p_fake[is_fake].mean() > p_fake[~is_fake].mean())
    True
    """

    _parameter_constraints = {
        "n_neighbors": [Interval("int", 1, None)],
        "cv": [Interval("int", 2, None)],
        "threshold": [Interval("real", 0, 1)],
        "random_state": [NONE, RANDOM_STATE],
    }

    def __init__(self, attack=None, classifier=None, *, n_neighbors=25, cv=5,
                 threshold=0.5, random_state=None):  # fmt: skip
        self.attack = attack
        self.classifier = classifier
        self.n_neighbors = n_neighbors
        self.cv = cv
        self.threshold = threshold
        self.random_state = random_state

    def _check_estimators(self):
        if self.attack is not None and not hasattr(self.attack, "fit_resample"):
            raise TypeError(
                "The 'attack' parameter of ShillingDetector must be a shilling attack (a "
                f"sampler with fit_resample) or None; got {type(self.attack).__name__}."
            )
        clf = self.classifier
        if clf is not None and not (hasattr(clf, "fit") and hasattr(clf, "predict_proba")):
            raise TypeError(
                "The 'classifier' parameter of ShillingDetector must be a classifier with "
                f"predict_proba or None; got {type(clf).__name__}."
            )

    def fit(self, X, y=None):
        """Score every user of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_interactions, 2) or DataFrame
        y : array-like of shape (n_interactions,), default=None
            Ratings; enables the rating-based features.

        Returns
        -------
        self
        """
        validate_params(self)
        self._check_estimators()
        check_interactions(X, y)  # errors name X or y before the attack runs
        self.n_features_in_ = 2
        self._fit_supervised(X, y, check_random_state(self.random_state))
        return self

    def _fit_supervised(self, X, y, rng):
        attack = clone(_default_attack() if self.attack is None else self.attack)
        if "random_state" in attack.get_params() and attack.random_state is None:
            attack.set_params(random_state=int(rng.randint(2**31 - 1)))
        X_p, y_p = attack.fit_resample(X, y)
        self.attack_ = attack
        self.features_ = ProfileFeatures(self.n_neighbors).fit(X_p, y_p)
        ids, F = self.features_.transform_users(X_p, y_p)
        fake = np.isin(ids, attack.fake_user_ids_)
        real_rows, fake_rows = np.flatnonzero(~fake), np.flatnonzero(fake)
        if real_rows.shape[0] < self.cv:
            raise ValueError(f"cv={self.cv} exceeds the {real_rows.shape[0]} users of X.")
        labels = fake.astype(np.int64)
        clf = (
            RandomForestClassifier(n_estimators=100, random_state=int(rng.randint(2**31 - 1)))
            if self.classifier is None
            else clone(self.classifier)
        )
        proba = np.empty(real_rows.shape[0])
        folds = KFold(self.cv, shuffle=True, random_state=int(rng.randint(2**31 - 1)))
        for train, test in folds.split(real_rows):
            rows = np.r_[real_rows[train], fake_rows]
            model = clone(clf).fit(F[rows], labels[rows])
            proba[test] = _fake_proba(model, F[real_rows[test]])
        self.classifier_ = clone(clf).fit(F, labels)
        self.user_ids_ = ids[real_rows]
        self.proba_ = proba
        self.scores_ = proba - self.threshold

    # ----------------------------------------------------------------- per-user outputs
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
        """Suspicion of each user: > 0 means flagged as fake.

        The out-of-fold probability of being fake minus ``threshold``.

        Parameters
        ----------
        user_ids : array-like of shape (n,)
            Users of the data given to ``fit``.

        Returns
        -------
        ndarray of shape (n,)
        """
        return self.scores_[self._codes(user_ids)]

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
        """``[P(genuine), P(fake)]`` of each user (out of fold).

        Parameters
        ----------
        user_ids : array-like of shape (n,)

        Returns
        -------
        ndarray of shape (n, 2)
        """
        p = self.proba_[self._codes(user_ids)]
        return np.column_stack([1.0 - p, p])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        tags.input_tags.two_d_array = True
        tags.input_tags.string = True
        return tags


def _fake_proba(model, F):
    proba = model.predict_proba(F)
    classes = list(model.classes_)
    return proba[:, classes.index(1)] if 1 in classes else np.zeros(F.shape[0])


class FakeUserFilter(BaseInteractionSampler):
    """A sampler that drops every interaction of the users a detector flags.

    ``fit_resample(X, y)`` fits a clone of ``detector`` on ``(X, y)`` and returns ``X``
    without the flagged users' rows (imbalanced-learn's contract: in
    ``imblearn.pipeline.Pipeline([("attack", ...), ("filter", FakeUserFilter()),
    ("model", ...)])`` it cleans the training folds only).

    Parameters
    ----------
    detector : ShillingDetector, default=None
        None: ``ShillingDetector()`` seeded from ``random_state``.
    random_state : int, RandomState instance or None, default=None
        Seeds an unseeded detector.

    Attributes
    ----------
    detector_ : ShillingDetector
        Fitted on the input.
    removed_user_ids_ : ndarray
        The flagged users.
    kept_mask_ : ndarray of bool, shape (n_interactions,)
        True for the input rows kept.
    sample_mask_ : ndarray of bool, shape (n_kept,)
        All False: the filter adds no row.

    Examples
    --------
    >>> from skadv.attacks import RandomAttack
    >>> from skadv.datasets import make_interactions
    >>> X = make_interactions(n_users=100, n_items=60, random_state=0)
    >>> attack = RandomAttack(attack_size=0.1, filler_size=10, random_state=1)
    >>> X_poisoned, _ = attack.fit_resample(X)
    >>> detector = ShillingDetector(RandomAttack(attack_size=0.1, filler_size=10))
    >>> X_clean, _ = FakeUserFilter(detector, random_state=0).fit_resample(X_poisoned)
    >>> len(X_clean) < len(X_poisoned)
    True
    """

    _parameter_constraints = {"random_state": [NONE, RANDOM_STATE]}

    def __init__(self, detector=None, *, random_state=None):
        self.detector = detector
        self.random_state = random_state

    def _fit_resample(self, user_codes, item_codes, weights):
        if self.detector is not None and not isinstance(self.detector, ShillingDetector):
            raise TypeError(
                "The 'detector' parameter of FakeUserFilter must be a ShillingDetector or "
                f"None; got {type(self.detector).__name__}."
            )
        detector = clone(ShillingDetector() if self.detector is None else self.detector)
        if detector.random_state is None and self.random_state is not None:
            rng = check_random_state(self.random_state)
            detector.set_params(random_state=int(rng.randint(2**31 - 1)))
        X_ids = np.empty((user_codes.shape[0], 2), dtype=object)
        X_ids[:, 0], X_ids[:, 1] = self.user_ids_[user_codes], self.item_ids_[item_codes]
        self.detector_ = detector.fit(X_ids, weights if self.has_y_ else None)
        flagged = self.detector_.predict(self.user_ids_).astype(bool)
        self.removed_user_ids_ = self.user_ids_[flagged]
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, np.empty(0), ~flagged[user_codes]
