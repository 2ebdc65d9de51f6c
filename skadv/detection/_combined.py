r"""``CombinedDetector``: several detectors, one decision (the default of ``FakeUserFilter``).

Each component detector is fitted on the same data with its own decision rule, and its
``proba_`` is mapped piecewise-linearly so that its cut ``threshold_`` lands on 1/2:

.. math:: q_u = \begin{cases} p_u / (2t) & p_u \le t \\
          1/2 + (p_u - t) / (2 (1 - t)) & p_u > t \end{cases}

The combined ``proba_`` is the largest :math:`q_u` over the components, so
``threshold="auto"`` (1/2) flags a user that **any** component flags, and
``contamination`` ranks users by their most alarming component.

The default components see different traces of an attack: :class:`CoRatingDetector` the
batch's shared rare items (any batch size, from a few profiles up), :class:`PCADetector`
the batch's own principal components (batches of a few percent), so that an attack that
hides from one (popular targets; a batch too small for a component) can still be caught by
the other. The supervised :class:`ShillingDetector` is not a default component: on ml-100k
its out-of-fold cut flags 5-10 genuine users whatever the attack
(``benchmarks/README.md``), more than the 1 % of genuine users a filter may drop; add it
with ``detectors=[..., ShillingDetector()]`` when recall matters more.
"""

import numpy as np
from sklearn.base import clone

from skadv.detection._base import (
    _DOC_ATTRIBUTES,
    _DOC_DECISION,
    DECISION_CONSTRAINTS,
    BaseShillingDetector,
)
from skadv.detection._corating import CoRatingDetector
from skadv.detection._pca import PCADetector
from skadv.utils._params import NONE, RANDOM_STATE, TypeOf, validate_params
from skadv.utils._random import check_random_state
from skadv.utils._validation import check_interactions, lookup_ids

__all__ = ["CombinedDetector"]


#: The participation cut of the default PCA component: batches of up to about a tenth of
#: the users, not the genuine taste clusters a cut of 0.2 can take for attacks.
DEFAULT_MAX_PARTICIPATION = 0.1


def default_detectors():
    """The default components: ``[CoRatingDetector(), PCADetector(max_participation=0.1)]``."""
    return [CoRatingDetector(), PCADetector(max_participation=DEFAULT_MAX_PARTICIPATION)]


class CombinedDetector(BaseShillingDetector):
    __doc__ = f"""Flag the users any of several detectors flags (default of ``FakeUserFilter``).

    See the module docstring for how the components' scores are put on one scale.

    Parameters
    ----------
    detectors : list of skadv detectors, default=None
        The components, cloned and fitted on the same data, each with its own decision
        rule; None: ``[CoRatingDetector(), PCADetector(max_participation=0.1)]``.{_DOC_DECISION}
    random_state : int, RandomState instance or None, default=None
        Seeds the components that have a ``random_state`` and none of their own.

    Attributes
    ----------{_DOC_ATTRIBUTES}
    detectors_ : list of fitted detectors
    component_proba_ : ndarray of shape (n_users, n_detectors)
        :math:`q_u` of each component (its cut at 1/2).

    See Also
    --------
    CoRatingDetector, PCADetector, ShillingDetector

    Examples
    --------
    >>> from skadv.attacks import RandomAttack
    >>> from skadv.datasets import make_interactions
    >>> X = make_interactions(n_users=200, n_items=100, random_state=0)
    >>> attack = RandomAttack(attack_size=0.05, filler_size=5, random_state=1)
    >>> X_poisoned, _ = attack.fit_resample(X)
    >>> detector = CombinedDetector(random_state=0).fit(X_poisoned)
    >>> flagged = detector.predict(detector.user_ids_).astype(bool)
    >>> is_fake = np.isin(detector.user_ids_, attack.fake_user_ids_)
    >>> int(flagged[is_fake].sum()), int(flagged[~is_fake].sum())  # of 10 fakes, 200 genuine
    (10, 0)
    """

    _parameter_constraints = {
        "detectors": [NONE, TypeOf(list, tuple, description="a list of skadv detectors")],
        **DECISION_CONSTRAINTS,
        "random_state": [NONE, RANDOM_STATE],
    }

    def __init__(self, detectors=None, *, threshold="auto", contamination=None,
                 random_state=None):  # fmt: skip
        self.detectors = detectors
        self.threshold = threshold
        self.contamination = contamination
        self.random_state = random_state

    def fit(self, X, y=None):
        """Fit every component on ``(X, y)`` and combine their scores.

        Parameters
        ----------
        X : array-like of shape (n_interactions, 2) or DataFrame
        y : array-like of shape (n_interactions,), default=None
            Ratings, passed to every component.

        Returns
        -------
        self
        """
        validate_params(self)
        components = default_detectors() if self.detectors is None else list(self.detectors)
        if not components:
            raise ValueError("The 'detectors' parameter of CombinedDetector is an empty list.")
        for k, detector in enumerate(components):
            if not isinstance(detector, BaseShillingDetector):
                raise TypeError(
                    "The 'detectors' parameter of CombinedDetector must hold skadv detectors; "
                    f"item {k} is a {type(detector).__name__}."
                )
        check_interactions(X, y)  # errors name X or y before any component runs
        rng = check_random_state(self.random_state)
        fitted, columns, user_ids = [], [], None
        for detector in components:
            detector = clone(detector)
            seed = int(rng.randint(2**31 - 1))  # drawn for every component: stable seeds
            if "random_state" in detector.get_params() and detector.random_state is None:
                detector.set_params(random_state=seed)
            detector.fit(X, y)
            if user_ids is None:
                user_ids = detector.user_ids_
            codes = lookup_ids(detector.user_ids_, user_ids)
            columns.append(_calibrate(detector.proba_[codes], detector.threshold_))
            fitted.append(detector)
        self.detectors_ = fitted
        self.component_proba_ = np.column_stack(columns)
        return self._decide(user_ids, self.component_proba_.max(axis=1), 0.5)


def _calibrate(proba, threshold):
    """Map ``proba`` piecewise-linearly so that ``threshold`` goes to 1/2 (0 and 1 stay)."""
    t = min(max(float(threshold), 1e-12), 1.0 - 1e-12)
    low = proba / (2.0 * t)
    high = 0.5 + (proba - t) / (2.0 * (1.0 - t))
    return np.clip(np.where(proba > t, high, low), 0.0, 1.0)
