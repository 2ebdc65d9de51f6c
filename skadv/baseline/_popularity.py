"""Popularity baseline: every user gets the most interacted-with items."""

import numpy as np

from skadv.base import BaseRecommender
from skadv.utils._params import BOOL, NONE, Interval, Options
from skadv.utils._ranking import take_columns


class PopularityRecommender(BaseRecommender):
    """Rank items by how many training users interacted with them.

    The standard non-personalized baseline of recommender evaluation: any model worth using
    must beat it under the same protocol.

    Parameters
    ----------
    weighted : bool, default=False
        Rank by the sum of interaction weights ``y`` instead of the number of distinct users.
    handle_unknown : {"popularity", "error"}, default="popularity"
        What to do with users/items not seen in ``fit`` (see :mod:`skadv.base`).
    positive_threshold : float, default=None
        Interactions with ``y`` below this value are ignored in ``fit`` and ``score``. Setting
        it without passing ``y`` to ``fit`` raises ``ValueError``; ``score`` without ``y``
        counts every pair as relevant.

    Attributes
    ----------
    user_ids_, item_ids_ : ndarray
        Ids seen in ``fit``; rows/columns of ``interactions_`` follow this order.
    n_users_, n_items_ : int
    interactions_ : scipy.sparse.csr_matrix of shape (n_users_, n_items_)
        Summed training weights.
    item_popularity_ : ndarray of shape (n_items_,)
        Number of distinct training users per item.
    item_scores_ : ndarray of shape (n_items_,)
        The score of each item (popularity, or summed weights with ``weighted=True``).
    fit_record_ : dict
        The settings that reproduce the fit and the library versions, as plain data.

    Examples
    --------
    >>> from skadv.datasets import make_interactions
    >>> X = make_interactions(n_users=50, n_items=40, random_state=0)
    >>> model = PopularityRecommender().fit(X)
    >>> items, scores = model.recommend([0, 1], n=3)
    >>> items.shape
    (2, 3)
    """

    _parameter_constraints = {
        "weighted": [BOOL],
        "handle_unknown": [Options("popularity", "error")],
        "positive_threshold": [NONE, Interval("real")],
    }

    def __init__(self, *, weighted=False, handle_unknown="popularity", positive_threshold=None):
        self.weighted = weighted
        self.handle_unknown = handle_unknown
        self.positive_threshold = positive_threshold

    def fit(self, X, y=None):
        """Count item popularity on interactions ``X`` (optionally weighted by ``y``)."""
        self._validate_params()
        self._fit_interactions(X, y)
        if self.weighted:
            self.item_scores_ = np.asarray(self.interactions_.sum(axis=0)).ravel()
        else:
            self.item_scores_ = self.item_popularity_.copy()
        return self

    def _user_item_scores(self, user_codes):
        return np.broadcast_to(self.item_scores_, (len(user_codes), self.n_items_)).copy()

    def _pair_scores(self, user_codes, item_codes):
        return self.item_scores_[item_codes]

    def _new_user_scores(self, matrix, reg):
        # Everyone gets the same ranking: a new user's row is the items' scores.
        def score(block, cols):
            rows = np.broadcast_to(self.item_scores_, (block.stop - block.start, self.n_items_))
            return np.array(take_columns(rows, cols))

        score.item_dim = None
        return score
