"""``GANAugmenter``: CFGAN as a sampler (``fit_resample``) and as a meta-estimator (``fit``)."""

import numpy as np
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from skadv.augmentation._diagnostics import BYTES_PER_ITEM, binary_pattern, draw_items
from skadv.augmentation._gan import CFGANRecommender
from skadv.base import BaseInteractionSampler
from skadv.utils._params import (
    NONE,
    RANDOM_STATE,
    Interval,
    validate_params,
)
from skadv.utils._random import check_random_state, draw_seeds
from skadv.utils._ranking import row_blocks
from skadv.utils._record import fit_record
from skadv.utils._validation import lookup_ids

__all__ = ["GANAugmenter"]


class GANAugmenter(BaseInteractionSampler):
    """Data augmentation with CFGAN: a sampler and a meta-estimator.

    As a **sampler** (``fit_resample``, imbalanced-learn's contract: it runs inside
    ``imblearn.pipeline.Pipeline`` and leaves test folds untouched), it fits a clone of
    ``gan`` on the data and returns the data with generated rows added:

    - users with fewer than ``min_interactions`` interactions get items up to that number,
      drawn among their unseen items with probabilities proportional to the generator's
      output for them;
    - ``n_synthetic_users`` new users (fresh ids: see
      :class:`~skadv.base.BaseInteractionSampler`) get generated profiles
      (:meth:`CFGANRecommender.sample` with ``length="condition"``: each as long as the
      real profile it is conditioned on);
    - ``flatten_popularity`` = β > 0 flattens the popularity skew of the added rows: their
      items are drawn with probabilities proportional to the generator's output times
      ``(popularity + 1) ** -β``.

    As a **meta-estimator** (``fit``), it augments its training data that way, fits a
    clone of ``estimator`` on the result and delegates ``predict``, ``recommend``,
    ``score`` and the ranking scorers to it: it is the last step of a plain sklearn
    ``Pipeline`` and searchable with ``GridSearchCV`` over ``estimator__epsilon``,
    ``gan__n_epochs``, ``n_synthetic_users`` ... Only the data given to ``fit`` (a training
    fold) is augmented. With ``estimator=None`` it is the CFGAN recommender itself: ``fit``
    trains the GAN and recommends from the generator, without augmenting.

    Parameters
    ----------
    gan : CFGANRecommender, default=None
        The GAN (cloned in ``fit``); None: ``CFGANRecommender()`` with this object's
        ``random_state``.
    estimator : skadv recommender, default=None
        Fitted (a clone) on the augmented data; None: recommend with the GAN.
    min_interactions : int or None, default=20
        Users with fewer interactions are topped up to this number; None: no top-up.
    n_synthetic_users : int, default=0
        Generated new users to add.
    flatten_popularity : float, default=0.0
        Exponent β of the popularity flattening of the added rows (0: none).
    synthetic_weight : float, default=None
        ``y`` of the added rows when ``y`` is given; None: the median of the weights the
        GAN trained on (at or above its ``positive_threshold``, so the rows stay positives).
    random_state : int, RandomState instance or None, default=None
        Seeds the drawing of the added rows, the default ``gan`` and a given ``gan`` whose
        own ``random_state`` is None.

    Attributes
    ----------
    gan_ : CFGANRecommender
        The fitted GAN.
    estimator_ : recommender
        The fitted clone of ``estimator`` (or ``gan_`` when ``estimator`` is None).
    user_ids_, item_ids_ : ndarray
        Ids of the data given to ``fit`` / ``fit_resample``.
    sample_mask_ : ndarray of bool
        True for the added rows of the last resampled data.
    synthetic_user_ids_ : ndarray
        Ids of the generated new users.
    n_features_in_ : int
        Always 2.

    See Also
    --------
    CFGANRecommender : The GAN, also a recommender on its own.
    skadv.base.BaseInteractionSampler : The ``fit_resample`` contract.

    Examples
    --------
    >>> from skadv import AdversarialMFRecommender, GANAugmenter
    >>> from skadv.augmentation import CFGANRecommender
    >>> from skadv.datasets import make_interactions
    >>> X = make_interactions(n_users=40, n_items=30, random_state=0)
    >>> gan = CFGANRecommender((16,), (16,), n_epochs=2, random_state=0)
    >>> aug = GANAugmenter(gan, min_interactions=10, n_synthetic_users=5, random_state=0)
    >>> X_res, _ = aug.fit_resample(X)
    >>> X_res.shape[0] > X.shape[0], len(aug.synthetic_user_ids_)
    (True, 5)
    >>> model = GANAugmenter(gan, AdversarialMFRecommender(8, n_epochs=2, random_state=0),
    ...                      random_state=0).fit(X)
    >>> model.recommend([0, 1], n=3)[0].shape
    (2, 3)
    """

    _parameter_constraints = {
        "min_interactions": [NONE, Interval("int", 1, None)],
        "n_synthetic_users": [Interval("int", 0, None)],
        "flatten_popularity": [Interval("real", 0, None)],
        "synthetic_weight": [NONE, Interval("real", 0, None)],
        "random_state": [NONE, RANDOM_STATE],
    }

    def __init__(self, gan=None, estimator=None, *, min_interactions=20, n_synthetic_users=0,
                 flatten_popularity=0.0, synthetic_weight=None, random_state=None):  # fmt: skip
        self.gan = gan
        self.estimator = estimator
        self.min_interactions = min_interactions
        self.n_synthetic_users = n_synthetic_users
        self.flatten_popularity = flatten_popularity
        self.synthetic_weight = synthetic_weight
        self.random_state = random_state

    # gan and estimator are checked by type here; the other parameters by the constraints.
    def _check_estimators(self):
        if self.gan is not None and not isinstance(self.gan, CFGANRecommender):
            raise TypeError(
                f"The 'gan' parameter of GANAugmenter must be a CFGANRecommender or None; "
                f"got {type(self.gan).__name__}."
            )
        est = self.estimator
        if est is not None and not (hasattr(est, "fit") and hasattr(est, "ranking_problem")):
            raise TypeError(
                "The 'estimator' parameter of GANAugmenter must be a skadv recommender (a "
                f"BaseRecommender subclass) or None; got {type(est).__name__}."
            )

    def _validate(self):
        self._check_estimators()
        validate_params(self)

    def _fit_gan(self, X, y, rng):
        if self.gan is None:
            gan = CFGANRecommender(random_state=int(draw_seeds(rng, 1)[0] % (2**31)))
        else:
            gan = clone(self.gan)
            # As sklearn's ensembles do: a GAN left unseeded takes its seed from ours, so
            # GANAugmenter(random_state=0) is deterministic whatever GAN it is given.
            if gan.random_state is None:
                gan.set_params(random_state=int(draw_seeds(rng, 1)[0] % (2**31)))
        return gan.fit(X, y)

    # ----------------------------------------------------------------- sampler
    def fit_resample(self, X, y=None):
        """Fit the GAN on ``X`` and return ``X`` with the generated rows added.

        See :class:`~skadv.base.BaseInteractionSampler` for the returned containers.

        Parameters
        ----------
        X : array-like of shape (n_interactions, 2) or DataFrame
        y : array-like of shape (n_interactions,), default=None

        Returns
        -------
        X_resampled : ndarray of shape (n_resampled, 2) or DataFrame
        y_resampled : ndarray of shape (n_resampled,) or None
        """
        self._check_estimators()
        return super().fit_resample(X, y)

    def _fit_resample(self, user_codes, item_codes, weights):
        rng = check_random_state(self.random_state)
        X_ids = np.empty((user_codes.shape[0], 2), dtype=object)
        X_ids[:, 0], X_ids[:, 1] = self.user_ids_[user_codes], self.item_ids_[item_codes]
        self.gan_ = gan = self._fit_gan(X_ids, weights, rng)
        # The GAN's codes are ours unless its positive_threshold dropped users or items.
        user_of = lookup_ids(self.user_ids_, gan.user_ids_).astype(np.int64)
        item_of = lookup_ids(self.item_ids_, gan.item_ids_).astype(np.int64)
        flatten = gan._flatten_weights(self.flatten_popularity)
        new_users, new_items = [], []
        if self.min_interactions is not None:
            counts = np.diff(gan.interactions_.indptr)
            sparse_users = np.flatnonzero(counts < self.min_interactions)
            conditions = binary_pattern(gan.interactions_)
            for block in row_blocks(sparse_users.shape[0], gan.n_items_ * BYTES_PER_ITEM):
                codes = sparse_users[block]
                seen = conditions[codes].toarray() > 0
                n_add = np.minimum(self.min_interactions, gan.n_items_) - counts[codes]
                chosen = draw_items(gan.generate(codes, rng), n_add, rng, flatten, exclude=seen)
                new_users.append(user_of[np.repeat(codes, n_add)])
                new_items.append(item_of[chosen])
        if self.n_synthetic_users:
            # Real lengths (the condition user's): generated ones can be several times
            # too long for a generator that ranks well (few negatives).
            profile, items = gan._sample_profiles(self.n_synthetic_users, rng,
                                                  self.flatten_popularity,
                                                  length="condition")  # fmt: skip
            new_users.append(self.user_ids_.shape[0] + profile)
            new_items.append(item_of[items])
        users = np.concatenate(new_users) if new_users else np.empty(0, np.int64)
        items = np.concatenate(new_items) if new_items else np.empty(0, np.int64)
        weight = self.synthetic_weight
        if weight is None:
            kept = gan.interactions_.data
            weight = float(np.median(kept)) if kept.size else 1.0
        return users, items, np.full(users.shape[0], weight)

    # ----------------------------------------------------------------- meta-estimator
    def fit(self, X, y=None):
        """Fit the GAN, augment ``X`` and fit a clone of ``estimator`` on the result.

        With ``estimator=None`` only the GAN is fitted (it is then the recommender).

        Parameters
        ----------
        X : array-like of shape (n_interactions, 2) or DataFrame
        y : array-like of shape (n_interactions,), default=None

        Returns
        -------
        self : GANAugmenter
        """
        self._validate()
        if self.estimator is None:
            rng = check_random_state(self.random_state)
            self.gan_ = self._fit_gan(X, y, rng)
            self.estimator_ = self.gan_
            self.user_ids_, self.item_ids_ = self.gan_.user_ids_, self.gan_.item_ids_
            self.n_features_in_ = 2
            self.fit_record_ = fit_record(self)
            return self
        X_res, y_res = self.fit_resample(X, y)
        self.estimator_ = clone(self.estimator).fit(X_res, y_res)
        self.fit_record_ = fit_record(self)
        return self

    def predict(self, X):
        """``estimator_.predict(X)``: scores of (user, item) pairs."""
        check_is_fitted(self)
        return self.estimator_.predict(X)

    def recommend(self, users, n=10, **kwargs):
        """``estimator_.recommend``: top-``n`` items per user (see
        :meth:`skadv.base.BaseRecommender.recommend` for the keyword arguments)."""
        check_is_fitted(self)
        return self.estimator_.recommend(users, n, **kwargs)

    def recommend_new_users(self, interactions, n=10, **kwargs):
        """``estimator_.recommend_new_users``: fold-in of users not seen in ``fit``."""
        check_is_fitted(self)
        return self.estimator_.recommend_new_users(interactions, n, **kwargs)

    def similar_items(self, items, n=10, **kwargs):
        """``estimator_.similar_items``: nearest items by cosine of the embeddings."""
        check_is_fitted(self)
        return self.estimator_.similar_items(items, n, **kwargs)

    def similar_users(self, users, n=10, **kwargs):
        """``estimator_.similar_users``: nearest users by cosine of the embeddings."""
        check_is_fitted(self)
        return self.estimator_.similar_users(users, n, **kwargs)

    def score(self, X, y=None):
        """``estimator_.score(X, y)``: NDCG@10 on held-out interactions."""
        check_is_fitted(self)
        return self.estimator_.score(X, y)

    def discriminator_score(self, X):
        """``gan_.discriminator_score(X)``: how real each profile of ``X`` looks."""
        check_is_fitted(self)
        return self.gan_.discriminator_score(X)

    def sample(self, n_users, *, random_state=None):
        """``gan_.sample``: generated profiles of ``n_users`` new users."""
        check_is_fitted(self)
        return self.gan_.sample(n_users, random_state=random_state)

    # What the ranking scorers of skadv.metrics read, delegated to the fitted estimator.
    def ranking_problem(self, X, y=None):
        check_is_fitted(self)
        return self.estimator_.ranking_problem(X, y)

    def score_users(self, user_codes):
        return self.estimator_.score_users(user_codes)

    @property
    def n_items_(self):
        return self.estimator_.n_items_

    def __sklearn_is_fitted__(self):
        return hasattr(self, "estimator_") or hasattr(self, "gan_")
