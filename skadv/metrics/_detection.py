"""How well a shilling detector finds the known fake users of an attack."""

import numpy as np
from sklearn.base import clone
from sklearn.metrics import (
    average_precision_score,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.utils import get_tags

from skadv.utils._validation import check_interactions

__all__ = ["detection_scores"]

_NOT_A_DETECTOR = (
    "detector must be a shilling detector of skadv.detection (fit(X, y) on interactions, then "
    "predict / decision_function of the user ids it stores in user_ids_), got {}."
)


def _check_detector(detector):
    """Duck-typed (this layer sits below skadv.detection): a detector scores users, so it has
    fit, predict and decision_function and is not a classifier, regressor or the like, whose
    predict takes feature rows (a recommender has no decision_function)."""
    methods = ("fit", "predict", "decision_function")
    is_model = False
    if hasattr(detector, "__sklearn_tags__"):
        is_model = get_tags(detector).estimator_type is not None
    if is_model or not all(callable(getattr(detector, m, None)) for m in methods):
        raise TypeError(_NOT_A_DETECTOR.format(type(detector).__name__))


def detection_scores(detector, X, fake_user_ids, y=None):
    """Precision, recall, F1 and ROC-AUC of a detector against an attack's fake users.

    Fits a clone of ``detector`` on the poisoned data ``(X, y)``, then compares its
    ``predict`` (1 = fake) and ``decision_function`` over every user of ``X`` with the
    truth ``fake_user_ids`` (an attack's ``fake_user_ids_``). The labels never reach the
    detector, so the scored fakes are not its training positives: evaluate a supervised
    detector on an attack batch it did not generate (its own ``attack`` draws its own).

    Parameters
    ----------
    detector : skadv detector
        ``ShillingDetector``, ``PCADetector`` or ``DiscriminatorDetector`` (unfitted or
        fitted: it is cloned).
    X : array-like of shape (n_interactions, 2) or DataFrame
        The poisoned interactions.
    fake_user_ids : array-like
        The fake users among the users of ``X``.
    y : array-like of shape (n_interactions,), default=None
        Ratings, passed to the detector.

    Returns
    -------
    dict
        ``precision``, ``recall``, ``f1`` (of ``predict``; 0 when nothing is flagged),
        ``roc_auc`` and ``average_precision`` (of ``decision_function``), ``n_flagged``,
        ``n_fake`` and ``n_users``.

    Examples
    --------
    >>> from skadv.attacks import RandomAttack
    >>> from skadv.datasets import make_interactions
    >>> from skadv.detection import ShillingDetector
    >>> X = make_interactions(n_users=100, n_items=60, random_state=0)
    >>> attack = RandomAttack(attack_size=0.1, filler_size=10, random_state=1)
    >>> X_poisoned, _ = attack.fit_resample(X)
    >>> detector = ShillingDetector(RandomAttack(attack_size=0.1, filler_size=10), random_state=0)
    >>> scores = detection_scores(detector, X_poisoned, attack.fake_user_ids_)
    >>> round(scores["f1"], 2), scores["n_flagged"], scores["n_fake"]
    (0.95, 11, 10)
    """
    _check_detector(detector)
    if isinstance(fake_user_ids, (str, bytes)) or np.ndim(fake_user_ids) == 0:
        raise TypeError("fake_user_ids must be a 1-d array-like of user ids, not a scalar.")
    fitted = clone(detector).fit(X, y)
    user_ids = getattr(fitted, "user_ids_", None)
    if user_ids is None:
        raise TypeError(_NOT_A_DETECTOR.format(type(detector).__name__))
    fake = np.asarray(fake_user_ids, dtype=object).ravel()
    if fake.size:
        _, fake, _ = check_interactions(np.column_stack([fake, fake]))
    truth = np.isin(user_ids, fake)
    if truth.sum() != np.unique(fake).shape[0]:
        missing = np.setdiff1d(fake, user_ids)[:5].tolist()
        raise ValueError(f"fake_user_ids holds ids that are not users of X: {missing}.")
    if truth.all() or not truth.any():
        raise ValueError(
            "fake_user_ids must hold some but not all users of X: precision, recall and "
            "ROC-AUC need both fake and genuine users."
        )
    flagged = fitted.predict(user_ids)
    score = fitted.decision_function(user_ids)
    return {
        "precision": float(precision_score(truth, flagged, zero_division=0)),
        "recall": float(recall_score(truth, flagged)),
        "f1": float(f1_score(truth, flagged, zero_division=0)),
        "roc_auc": float(roc_auc_score(truth, score)),
        "average_precision": float(average_precision_score(truth, score)),
        "n_flagged": int(flagged.sum()),
        "n_fake": int(truth.sum()),
        "n_users": int(user_ids.shape[0]),
    }
