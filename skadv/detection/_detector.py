r"""``ShillingDetector`` (supervised: which users are fake) and ``FakeUserFilter`` (drop them).

Training and scoring (two-step positive-unlabelled learning)
    ``fit(X, y)`` injects training batches of fake profiles into ``X``: by default the
    mixture of :func:`training_attacks` (random, average, bandwagon, segment and
    camouflaged profiles of several batch, filler and target sizes and target popularity:
    a detector trained on one attack learns that attack, not fakes); with one ``attack``
    (a shilling sampler of :mod:`skadv.attacks`), three batches of 0.5, 1 and 1.5 times
    its ``attack_size``; with a list, one batch per attack. Each batch has its own seed
    and so its own targets (a batch inflates its targets' popularity by its size, and from
    one batch a classifier learns that value rather than what fake profiles look like).
    It then computes :class:`ProfileFeatures` on the result and
    trains ``classifier`` to tell the injected profiles (label 1) from the users of ``X``
    (label 0). The users of ``X`` are scored **out of fold**: they are split into ``cv``
    groups of users (and the injected profiles into ``cv`` groups as well), and each group
    is scored by a classifier trained on the other groups only, so no user is scored by a
    classifier that saw it.

    ``X`` is unlabelled, not genuine: an attack already in it is labelled genuine in the
    training folds, and as the profiles of one attack batch resemble each other (same
    targets, same filler rule), a flexible classifier learns that batch *as genuine* and
    misses its members in the scored fold. So the users :class:`CoRatingDetector` flags
    are left out of the genuine training users from the start, a first pass finds the
    further suspects, the ``exclude_suspects`` most suspicious fraction of ``X``, and a
    second pass trains on the other users of ``X`` only (the "reliable negatives" of
    two-step PU learning, Liu et al. 2003); the suspects are scored, never trained on.

The decision rule, ``threshold="auto"``
    The cut on the out-of-fold probability that maximizes F1 of the injected profiles
    (label 1) against the users of ``X`` (label 0), all scored out of fold by the second
    pass: the threshold is chosen on the training mix by cross-validation, as
    :class:`sklearn.model_selection.TunedThresholdClassifierCV` does, but with the user
    groups, the exclusion and the folds above (that class refits with its own stratified
    splits of the rows, which would put one batch on both sides). An attack hidden in
    ``X`` counts as false positives here, which pushes the cut towards precision: in a
    trial on ml-100k with ratings (random attack, one training batch) this cut gave F1
    0.98 where counting the suspects out of the negatives gave 0.90. Where the F1
    optimum is a plateau (separated classes) the cut is the middle of its widest gap. The
    training mix has the prior of the training batches (about 13 % of the users for the
    default mixture, 3 × ``attack.attack_size`` for one attack), not the deployment's: when
    the classes overlap, the F1-optimal cut depends on the prior. On ml-100k this cut flags
    0.2-2.5 % of the genuine users and misses most of a hidden 5 % batch even when the
    evaluated family is in the mixture (``benchmarks/README.md``): for filtering, prefer
    :class:`CombinedDetector` (the default of :class:`FakeUserFilter`), or give
    ``contamination`` when the share of fakes is known.

Evaluation without label leaks
    Score a detector on an attack it was not trained on: poison ``X`` with one attack
    batch, fit the detector (it generates its own batches, with their own seeds and targets) and
    compare ``predict`` with the batch's ``fake_user_ids_``
    (:func:`skadv.metrics.detection_scores` does this). The scored fakes are never training
    positives, and the out-of-fold scores come from classifiers that never saw the scored
    users: splits are by user groups, never inside one attack batch. To cross-validate a
    plain classifier over :class:`ProfileFeatures` on several labelled attack batches, use
    :class:`sklearn.model_selection.GroupKFold` with the batch as the group of its fake
    users (genuine users spread over the groups), so a batch is never on both sides.
"""

import numpy as np
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import KFold

from skadv.base import BaseInteractionSampler
from skadv.detection._base import (
    _DOC_ATTRIBUTES,
    _DOC_DECISION,
    DECISION_CONSTRAINTS,
    BaseShillingDetector,
    f1_threshold,
)
from skadv.detection._combined import CombinedDetector
from skadv.detection._corating import CoRatingDetector
from skadv.detection._features import ProfileFeatures
from skadv.detection._mixture import training_attacks
from skadv.utils._params import (
    NONE,
    RANDOM_STATE,
    HasMethods,
    Interval,
    TypeOf,
    validate_params,
)
from skadv.utils._random import check_random_state
from skadv.utils._validation import check_interactions

__all__ = ["FakeUserFilter", "ShillingDetector"]

#: Multiples of ``attack.attack_size`` injected as separate batches (each with its own
#: targets and seed): batches of one size let the classifier learn that size's feature
#: values (the targets' popularity includes the batch), not what fakes look like.
BATCH_SHARES = (0.5, 1.0, 1.5)


class ShillingDetector(BaseShillingDetector):
    __doc__ = f"""Tell fake (shilling) users from genuine ones: a classifier over profile features.

    See the module docstring for how it is trained, how users are scored and how
    ``threshold="auto"`` chooses the cut.

    Parameters
    ----------
    attack : skadv shilling attack or list of them, default=None
        Generator(s) of the fake training profiles. None: the mixture of
        :func:`training_attacks` (ten batches of five families). One attack, e.g.
        ``AverageAttack(attack_size=0.1)``: cloned into three batches
        (:data:`BATCH_SHARES` times its ``attack_size``), seeded from its
        ``random_state``, or from ``random_state`` when it has none. A list (e.g.
        ``training_attacks(exclude=["bandwagon"])``): one batch per attack, as given,
        each seeded from ``random_state``.
    classifier : sklearn classifier with ``predict_proba``, default=None
        Trained on :class:`ProfileFeatures`; None: ``RandomForestClassifier(n_estimators=100)``
        seeded from ``random_state``.
    n_neighbors : int, default=25
        ``DegSim`` neighbours of :class:`ProfileFeatures`.
    cv : int, default=5
        User groups of the out-of-fold scores.
    exclude_suspects : float in [0, 0.5), default=0.2
        Fraction of the users of ``X``, the most suspicious after a first pass, left out of
        the genuine training users of the second pass, besides the users
        :class:`CoRatingDetector` flags (left out of both passes); 0: one pass, every user
        of ``X`` trained on as genuine.{_DOC_DECISION}
    random_state : int, RandomState instance or None, default=None

    Attributes
    ----------{_DOC_ATTRIBUTES}
    suspects_ : ndarray of bool, shape (n_users,)
        Users of ``user_ids_`` left out of the second pass's training (the co-rating
        detector's flags and the first pass's most suspicious).
    features_ : ProfileFeatures
        Fitted on ``X`` plus the injected profiles.
    attacks_ : list of estimators
        The fitted training batches.
    training_fake_ids_ : ndarray
        Ids of their fake users (never users of ``user_ids_``).
    classifier_ : estimator
        A classifier trained on every training row of the second pass (for inspection).

    See Also
    --------
    PCADetector : Unsupervised, needs no attack model.
    DiscriminatorDetector : Unsupervised, a GAN discriminator's realism score.

    References
    ----------
    .. [1] R. Burke, B. Mobasher, C. Williams and R. Bhaumik, "Classification features for
       attack detection in collaborative recommender systems", KDD 2006.
    .. [2] B. Liu, Y. Dai, X. Li, W. S. Lee and P. S. Yu, "Building text classifiers using
       positive and unlabeled examples", ICDM 2003.

    Examples
    --------
    >>> from skadv.attacks import RandomAttack
    >>> from skadv.datasets import make_interactions
    >>> X = make_interactions(n_users=100, n_items=60, random_state=0)
    >>> attack = RandomAttack(attack_size=0.1, filler_size=10, random_state=1)
    >>> X_poisoned, _ = attack.fit_resample(X)
    >>> detector = ShillingDetector(RandomAttack(attack_size=0.1, filler_size=10), random_state=0)
    >>> flagged = detector.fit(X_poisoned).predict(detector.user_ids_)
    >>> is_fake = np.isin(detector.user_ids_, attack.fake_user_ids_)
    >>> int(flagged[is_fake].sum()), int(flagged[~is_fake].sum())  # of 10 fakes, 100 genuine
    (10, 1)
    """

    _parameter_constraints = {
        "attack": [NONE, HasMethods("fit_resample", description="a shilling attack (a sampler "
                                    "with fit_resample)"),
                   TypeOf(list, tuple, description="a list of shilling attacks")],
        "classifier": [NONE, HasMethods("fit", "predict_proba", description="a classifier "
                                        "with predict_proba")],
        "n_neighbors": [Interval("int", 1, None)],
        "cv": [Interval("int", 2, None)],
        "exclude_suspects": [Interval("real", 0, 0.5, closed="left")],
        **DECISION_CONSTRAINTS,
        "random_state": [NONE, RANDOM_STATE],
    }  # fmt: skip

    def __init__(self, attack=None, classifier=None, *, n_neighbors=25, cv=5,
                 exclude_suspects=0.2, threshold="auto", contamination=None,
                 random_state=None):  # fmt: skip
        self.attack = attack
        self.classifier = classifier
        self.n_neighbors = n_neighbors
        self.cv = cv
        self.exclude_suspects = exclude_suspects
        self.threshold = threshold
        self.contamination = contamination
        self.random_state = random_state

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
        check_interactions(X, y)  # errors name X or y before the attack runs
        rng = check_random_state(self.random_state)
        X_p, y_p, self.attacks_ = self._inject(X, y, rng)
        self.training_fake_ids_ = np.concatenate([a.fake_user_ids_ for a in self.attacks_])
        self.features_ = ProfileFeatures(self.n_neighbors).fit(X_p, y_p)
        ids, F = self.features_.transform_users(X_p, y_p)
        fake = np.isin(ids, self.training_fake_ids_)
        real_rows, fake_rows = np.flatnonzero(~fake), np.flatnonzero(fake)
        if real_rows.shape[0] < self.cv:
            raise ValueError(f"cv={self.cv} exceeds the {real_rows.shape[0]} users of X.")
        clf = (
            RandomForestClassifier(n_estimators=100, random_state=int(rng.randint(2**31 - 1)))
            if self.classifier is None
            else clone(self.classifier)
        )
        folds = _Folds(real_rows.shape[0], fake_rows.shape[0], self.cv, rng)
        data = (F, fake.astype(np.int64), real_rows, fake_rows)
        genuine = np.ones(real_rows.shape[0], dtype=bool)
        n_suspects = int(round(self.exclude_suspects * real_rows.shape[0]))
        if n_suspects:
            # Reliable negatives from the start: a batch hidden in X and trained on as
            # genuine is learned as genuine (ROC-AUC 0.39 on a 5 % batch of planted data).
            co_rating = CoRatingDetector().fit(X, y)
            genuine &= co_rating.predict(ids[real_rows]) == 0
        proba, fake_proba = folds.out_of_fold(clf, *data, genuine)
        if n_suspects:
            order = np.argsort(-proba, kind="stable")
            genuine[order[:n_suspects]] = False
            proba, fake_proba = folds.out_of_fold(clf, *data, genuine)
        auto = 0.5
        if fake_proba is not None:
            labels = np.r_[np.ones(fake_rows.shape[0]), np.zeros(real_rows.shape[0])]
            auto = f1_threshold(np.r_[fake_proba, proba], labels)
        rows = np.r_[real_rows[genuine], fake_rows]
        self.classifier_ = clone(clf).fit(F[rows], data[1][rows])
        self.suspects_ = ~genuine
        return self._decide(ids[real_rows], proba, auto)

    def _inject(self, X, y, rng):
        """``X`` plus the training batches: the mixture, or ``attack`` at shares of its size."""
        if self.attack is None or isinstance(self.attack, (list, tuple)):
            batches = training_attacks() if self.attack is None else list(self.attack)
            for k, batch in enumerate(batches):
                if not hasattr(batch, "fit_resample"):
                    raise TypeError(
                        f"The 'attack' parameter of ShillingDetector must be a shilling attack "
                        f"or a list of them; item {k} is a {type(batch).__name__}."
                    )
            if not batches:
                raise ValueError("The 'attack' parameter of ShillingDetector is an empty list.")
            shares = [(batch, None) for batch in batches]
            seeds = rng
        else:
            base = self.attack
            seeded = "random_state" in base.get_params() and base.random_state is not None
            seeds = check_random_state(base.random_state) if seeded else rng
            shares = [(base, share) for share in BATCH_SHARES]
        attacks = []
        for base, share in shares:
            attack = clone(base)
            params = {"random_state": int(seeds.randint(2**31 - 1))}
            if share is not None and "attack_size" in attack.get_params():
                # Relative to the users present, which grow by the earlier batches (a few %).
                params["attack_size"] = base.attack_size * share
            if "random_state" not in attack.get_params():
                params.pop("random_state")
            attack.set_params(**params)
            X, y = attack.fit_resample(X, y)
            attacks.append(attack)
        return X, y, attacks


class _Folds:
    """User-group folds of the users of ``X`` and of the injected profiles (when there are
    at least ``cv`` of them; otherwise every fold trains on all injected profiles and they
    get no out-of-fold score)."""

    def __init__(self, n_real, n_fake, cv, rng):
        self.real = list(KFold(cv, shuffle=True, random_state=int(rng.randint(2**31 - 1)))
                         .split(np.empty(n_real)))  # fmt: skip
        if n_fake >= cv:
            self.fake = list(KFold(cv, shuffle=True, random_state=int(rng.randint(2**31 - 1)))
                             .split(np.empty(n_fake)))  # fmt: skip
        else:
            self.fake = None
            everyone = np.arange(n_fake)
            self.fake_all = (everyone, everyone[:0])
        self.n_fake = n_fake

    def out_of_fold(self, clf, F, labels, real_rows, fake_rows, genuine):
        proba = np.empty(real_rows.shape[0])
        fake_proba = np.empty(self.n_fake) if self.fake is not None else None
        for k, (train, test) in enumerate(self.real):
            f_train, f_test = self.fake[k] if self.fake is not None else self.fake_all
            rows = np.r_[real_rows[train[genuine[train]]], fake_rows[f_train]]
            model = clone(clf).fit(F[rows], labels[rows])
            proba[test] = _fake_proba(model, F[real_rows[test]])
            if fake_proba is not None:
                fake_proba[f_test] = _fake_proba(model, F[fake_rows[f_test]])
        return proba, fake_proba


def _fake_proba(model, F):
    proba = model.predict_proba(F)
    classes = list(model.classes_)
    return proba[:, classes.index(1)] if 1 in classes else np.zeros(F.shape[0])


class FakeUserFilter(BaseInteractionSampler):
    """A sampler that drops every interaction of the users a detector flags.

    ``fit_resample(X, y)`` fits a clone of ``detector`` on ``(X, y)`` and returns ``X``
    without the flagged users' rows (imbalanced-learn's contract: in
    ``imblearn.pipeline.Pipeline([("attack", ...), ("filter", FakeUserFilter()),
    ("model", ...)])`` it cleans the training folds only). It never returns an empty
    training set: when the detector flags every user, ``fit_resample`` raises a
    ``ValueError`` naming the filter and the detector's threshold.

    Parameters
    ----------
    detector : skadv detector, default=None
        Any skadv detector (a ``BaseShillingDetector``: ``CombinedDetector``,
        ``CoRatingDetector``, ``PCADetector``, ``ShillingDetector``,
        ``DiscriminatorDetector``); None: ``CombinedDetector()`` (co-rating and PCA
        detectors, unsupervised), seeded from ``random_state``.
    random_state : int, RandomState instance or None, default=None
        Seeds an unseeded detector.

    Attributes
    ----------
    detector_ : BaseShillingDetector
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
        if self.detector is not None and not isinstance(self.detector, BaseShillingDetector):
            raise TypeError(
                "The 'detector' parameter of FakeUserFilter must be a skadv detector "
                "(CombinedDetector, CoRatingDetector, PCADetector, ShillingDetector, "
                "DiscriminatorDetector) or None; got "
                f"{type(self.detector).__name__}."
            )
        detector = clone(CombinedDetector() if self.detector is None else self.detector)
        seedable = "random_state" in detector.get_params()
        if seedable and detector.random_state is None and self.random_state is not None:
            rng = check_random_state(self.random_state)
            detector.set_params(random_state=int(rng.randint(2**31 - 1)))
        X_ids = np.empty((user_codes.shape[0], 2), dtype=object)
        X_ids[:, 0], X_ids[:, 1] = self.user_ids_[user_codes], self.item_ids_[item_codes]
        self.detector_ = detector.fit(X_ids, weights if self.has_y_ else None)
        flagged = self.detector_.predict(self.user_ids_).astype(bool)
        if flagged.all():
            rule = (
                f"contamination={self.detector_.contamination}"
                if getattr(self.detector_, "contamination", None) is not None
                else f"threshold={self.detector_.threshold!r}"
            )
            raise ValueError(
                f"FakeUserFilter: its {type(self.detector_).__name__} flagged all "
                f"{flagged.shape[0]} users ({rule}, threshold_={self.detector_.threshold_:.4g}), "
                "which would leave an empty training set; raise the detector's threshold or "
                "set its contamination to the expected share of fake users."
            )
        self.removed_user_ids_ = self.user_ids_[flagged]
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, np.empty(0), ~flagged[user_codes]
