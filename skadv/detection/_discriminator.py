"""``DiscriminatorDetector``: users whose profiles a GAN discriminator finds unrealistic."""

import numpy as np
from sklearn.base import clone

from skadv.detection._base import (
    _DOC_ATTRIBUTES,
    _DOC_DECISION,
    DECISION_CONSTRAINTS,
    BaseShillingDetector,
)
from skadv.utils._estimators import final_estimator
from skadv.utils._params import NONE, RANDOM_STATE, HasMethods, validate_params
from skadv.utils._random import check_random_state
from skadv.utils._validation import check_interactions

__all__ = ["DiscriminatorDetector"]


class DiscriminatorDetector(BaseShillingDetector):
    __doc__ = f"""Unsupervised shilling detection by a GAN discriminator's realism score.

    ``fit(X)`` fits a clone of ``gan`` (a :class:`~skadv.augmentation.CFGANRecommender`)
    on ``X`` and scores each user of ``X`` by :math:`1 - D(p_u)`, where :math:`D(p_u)` is
    the probability its discriminator gives the user's profile of being real
    (``CFGANRecommender.discriminator_score``). ``threshold="auto"`` is 1/2: flagged
    profiles look more generated than real to the discriminator.

    The discriminator learns what the profiles of ``X`` look like, fakes included, so the
    score separates best when the attack is a small share of ``X``, or with a GAN trained
    on data known to be clean: pass it fitted inside
    :class:`sklearn.frozen.FrozenEstimator` (clones and ``fit`` leave it as it is).
    Training needs PyTorch; scoring does not.

    Parameters
    ----------
    gan : CFGANRecommender, FrozenEstimator or Pipeline ending with one, default=None
        None: ``CFGANRecommender()`` seeded from ``random_state``.{_DOC_DECISION}
    random_state : int, RandomState instance or None, default=None
        Seeds an unseeded ``gan``.

    Attributes
    ----------{_DOC_ATTRIBUTES}
    gan_ : estimator
        The fitted ``gan``.

    See Also
    --------
    PCADetector, ShillingDetector

    Examples
    --------
    >>> from skadv.augmentation import CFGANRecommender
    >>> from skadv.datasets import make_interactions
    >>> X = make_interactions(n_users=60, n_items=30, random_state=0)
    >>> gan = CFGANRecommender((8,), (8,), noise_dim=4, n_epochs=2, random_state=0)
    >>> detector = DiscriminatorDetector(gan).fit(X)  # doctest: +SKIP
    >>> detector.predict_proba(detector.user_ids_).shape  # doctest: +SKIP
    (60, 2)
    """

    _parameter_constraints = {
        "gan": [NONE, HasMethods("fit", description="a CFGANRecommender")],
        **DECISION_CONSTRAINTS,
        "random_state": [NONE, RANDOM_STATE],
    }

    def __init__(self, gan=None, *, threshold="auto", contamination=None, random_state=None):
        self.gan = gan
        self.threshold = threshold
        self.contamination = contamination
        self.random_state = random_state

    def fit(self, X, y=None):
        """Fit the GAN on ``X`` (unless frozen) and score every user of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_interactions, 2) or DataFrame
        y : None
            Ignored: the discriminator reads profiles as sets of items.

        Returns
        -------
        self
        """
        validate_params(self)
        check_interactions(X)
        rng = check_random_state(self.random_state)
        if self.gan is None:
            from skadv.augmentation import CFGANRecommender

            gan = CFGANRecommender()
        else:
            gan = clone(self.gan)
        params = gan.get_params()
        if "random_state" in params and params["random_state"] is None:
            gan.set_params(random_state=int(rng.randint(2**31 - 1)))
        self.gan_ = gan.fit(X, None)  # FrozenEstimator.fit needs y
        scorer = final_estimator(getattr(self.gan_, "estimator", self.gan_))
        if not hasattr(scorer, "discriminator_score"):
            raise TypeError(
                "The 'gan' parameter of DiscriminatorDetector must be a CFGANRecommender "
                "(or a FrozenEstimator or Pipeline holding one): it needs "
                f"discriminator_score; got {type(scorer).__name__}."
            )
        user_ids, realism = scorer.discriminator_score(X)
        return self._decide(user_ids, 1.0 - np.asarray(realism, dtype=np.float64), 0.5)
