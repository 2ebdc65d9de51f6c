"""``GANAttack``: fake profiles drawn from a CFGAN generator, with the targets inserted."""

import numbers

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from skadv.attacks._poisoning import _DOC_ATTRIBUTES, _DOC_PARAMETERS, _ShillingAttack
from skadv.utils._params import NONE
from skadv.utils._validation import lookup_ids

__all__ = ["GANAttack"]

_PARAMETERS = _DOC_PARAMETERS.replace(
    "filler_size : int or float, default=0.01", "filler_size : int, float or None, default=None"
).replace(
    "neither targets nor selected items (rounded).",
    "not targets (rounded); None keeps\n        each generated profile's own length.",
)


class GANAttack(_ShillingAttack):
    __doc__ = f"""GAN attack: generated profiles of a CFGAN, with the targets inserted.

    A :class:`~skadv.augmentation.CFGANRecommender` generates one profile per fake user
    (:meth:`~skadv.augmentation.CFGANRecommender.sample`: a real user drawn as the
    condition, a generated vector :math:`\\hat r = G(z, c_u)` and items drawn with
    probabilities proportional to it): profiles that look like the real users' to a
    discriminator. Items of ``X`` only are kept, the targets removed from the draw, and a
    profile longer than the filler budget keeps ``n_filler`` of its items drawn at random
    (a shorter one keeps all: the budget is an upper bound). The targets are then added,
    rated :math:`r_{{max}}` (push) or :math:`r_{{min}}` (nuke); with ``y``, fillers are
    rated around each item's mean, as :class:`AverageAttack` does. Fitting a GAN needs
    PyTorch; a fitted one samples without it.

    Parameters
    ----------{_PARAMETERS}
    gan : CFGANRecommender, default=None
        The generator: a fitted one is used as is (its items that are not in ``X`` are
        dropped from the profiles); an unfitted one is cloned and fitted on the (user,
        item) pairs of ``X`` (ratings ignored: CFGAN's conditions are binary); None fits
        ``CFGANRecommender(random_state=...)`` with a seed drawn from ``random_state``.

    Attributes
    ----------{_DOC_ATTRIBUTES}
    gan_ : CFGANRecommender
        The fitted generator.

    See Also
    --------
    skadv.augmentation.GANAugmenter : Generated users as data augmentation.
    SurrogateAttack, AverageAttack

    References
    ----------
    .. [1] D.-K. Chae, J.-S. Kang, S.-W. Kim and J.-T. Lee, "CFGAN: A Generic Collaborative
       Filtering Framework based on Generative Adversarial Networks", CIKM 2018.
    .. [2] K. Christakopoulou and A. Banerjee, "Adversarial attacks on an oblivious
       recommender", RecSys 2019.

    Examples
    --------
    >>> from skadv.attacks import GANAttack
    >>> from skadv.augmentation import CFGANRecommender
    >>> from skadv.datasets import make_interactions
    >>> X = make_interactions(n_users=60, n_items=40, random_state=0)
    >>> gan = CFGANRecommender((8,), (8,), noise_dim=4, n_epochs=2, random_state=0)
    >>> attack = GANAttack(gan=gan, target_items=[5], filler_size=3, random_state=0)
    >>> X_poisoned, _ = attack.fit_resample(X)
    >>> attack.n_fake_users_, bool((X_poisoned[attack.sample_mask_, 1] == 5).sum() == 3)
    (3, True)
    """

    _parameter_constraints = {
        **_ShillingAttack._parameter_constraints,
        "filler_size": [NONE, *_ShillingAttack._parameter_constraints["filler_size"]],
    }

    def __init__(self, target_items=None, *, gan=None, n_targets=5,
                 target_popularity="unpopular", attack_size=0.05, filler_size=None,
                 goal="push", rating_range=None, random_state=None):  # fmt: skip
        super().__init__(target_items, n_targets=n_targets,
                         target_popularity=target_popularity, attack_size=attack_size,
                         filler_size=filler_size, goal=goal, rating_range=rating_range,
                         random_state=random_state)  # fmt: skip
        self.gan = gan

    def _check_fit_arguments(self):
        from skadv.augmentation import CFGANRecommender

        if self.gan is not None and not isinstance(self.gan, CFGANRecommender):
            raise TypeError(
                "The 'gan' parameter of GANAttack must be a CFGANRecommender or None; "
                f"got {type(self.gan).__name__}."
            )
        super()._check_fit_arguments()

    def _n_filler(self, n_candidates):
        if self.filler_size is None:
            return None
        return super()._n_filler(n_candidates)

    def _fit_gan(self, pairs, rng):
        from skadv.augmentation import CFGANRecommender

        if self.gan is not None:
            try:
                check_is_fitted(self.gan)
                return self.gan
            except NotFittedError:
                gan = clone(self.gan)
        else:
            gan = CFGANRecommender(random_state=int(rng.randint(2**31)))
        X = np.empty((pairs.shape[0], 2), dtype=object)
        X[:, 0], X[:, 1] = self.user_ids_[pairs[:, 0]], self.item_ids_[pairs[:, 1]]
        if self.user_ids_.dtype.kind in "iu" and self.item_ids_.dtype.kind in "iu":
            X = X.astype(np.int64)
        return gan.fit(X)

    def _draw_fillers(self, candidates, n_fake, n_filler, popularity, rng, *, targets, pairs):
        self.gan_ = self._fit_gan(pairs, rng)
        profiles = self.gan_.sample(n_fake, random_state=int(rng.randint(2**31)))
        codes = lookup_ids(self.item_ids_, profiles[:, 1])
        keep = (codes >= 0) & np.isin(codes, candidates)
        numbers_, codes = profiles[keep, 0].astype(np.int64), codes[keep].astype(np.int64)
        fillers = []
        for k in range(n_fake):
            items = np.unique(codes[numbers_ == k])
            if isinstance(n_filler, numbers.Integral) and items.shape[0] > n_filler:
                items = np.sort(rng.choice(items, size=n_filler, replace=False))
            fillers.append(items)
        return fillers

    def _filler_ratings(self, fillers, stats, rng):
        return stats.around_item_means(fillers, rng)
