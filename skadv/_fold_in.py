"""Read-only fold-in of users not seen in ``fit``: ``new_user_factors`` and
``recommend_new_users``, mixed into :class:`skadv.base.BaseRecommender`.

A new user's vector is the ridge solution with the item factors fixed (the closed form is in
``new_user_factors``); the fitted model is never modified.
"""

import numpy as np
from scipy import sparse
from sklearn.utils.validation import check_is_fitted

from skadv._serving import factor_scores
from skadv.utils._params import Interval, check_params
from skadv.utils._ranking import (
    padded_rows,
    row_blocks,
)
from skadv.utils._validation import (
    check_id_types,
    check_interactions,
    encode_ids,
    lookup_ids,
)

__all__ = ["FoldInMixin"]


class FoldInMixin:
    """``new_user_factors`` and ``recommend_new_users`` of :class:`skadv.base.BaseRecommender`."""

    # ----------------------------------------------------------------- new users (fold-in)
    def new_user_factors(self, interactions, y=None, *, reg=0.1):
        """User vectors of users not seen in ``fit``, solved with the item factors fixed.

        A read-only fold-in: nothing of the fitted model changes (``partial_fit`` is the way
        to update it). Each user's vector is the closed-form ridge least-squares solution
        that makes the user's items score like a typical training positive.

        Parameters
        ----------
        interactions : array-like of shape (n_interactions, 2) or DataFrame
            ``(user, item)`` pairs of the new users; their user ids are free (they are new
            users, even when an id equals a training id). Items not seen in ``fit`` are
            ignored.
        y : array-like of shape (n_interactions,), default=None
            Weights ``w`` of the pairs (confidence); ones when None.
        reg : float, default=0.1
            Ridge strength ``alpha``, relative to the mean squared norm of the item factors.

        Returns
        -------
        user_ids : ndarray of shape (n_new_users,)
            Sorted when the ids are comparable (otherwise in order of first appearance).
        factors : ndarray of shape (n_new_users, n_factors), float64

        Raises
        ------
        NotImplementedError
            For a model that does not score by a dot product (``factors()`` is None).

        Notes
        -----
        With :math:`Q_u` the factors of user :math:`u`'s items, :math:`W_u` their weights,
        :math:`\\lambda = \\alpha \\cdot \\operatorname{mean}_i \\lVert q_i\\rVert^2` and
        :math:`t` the mean over training interactions of :math:`p_v \\cdot q_i` (the score of
        a typical training positive without its bias),

        .. math:: p_u = t\\,(Q_u^\\top W_u Q_u + \\lambda I)^{-1} Q_u^\\top W_u \\mathbf{1}.

        The item bias is left out of the fit and added back when scoring: it is the item's
        prior, which the new user inherits like every training user.

        Examples
        --------
        >>> from skadv import AdversarialMFRecommender
        >>> from skadv.datasets import make_interactions
        >>> X = make_interactions(n_users=40, n_items=30, density=0.2, random_state=0)
        >>> model = AdversarialMFRecommender(8, n_epochs=3, random_state=0).fit(X)
        >>> ids, P = model.new_user_factors([["new", 0], ["new", 3]])
        >>> ids.tolist(), P.shape
        (['new'], (1, 8))
        """
        check_is_fitted(self)
        check_params({"reg": (reg, [Interval("real", 0, None, closed="neither")])},
                     caller=f"{type(self).__name__}.new_user_factors")  # fmt: skip
        fac = self.factors()
        if fac is None:
            raise NotImplementedError(
                f"{type(self).__name__} does not score by a dot product (factors() is None): "
                "there is no user vector to fold in. Use partial_fit to add users."
            )
        user_ids, matrix = self._new_user_matrix(interactions, y)
        return user_ids, _fold_in(fac, matrix, reg, self._typical_positive_score(fac))

    def _typical_positive_score(self, fac):
        """Mean over training interactions of ``user . item`` (no bias): one sparse product
        (sum of each user's item factors), no gathered copy per interaction."""
        # What the value depends on (fit and partial_fit make a new fit_record_).
        state = (self.fit_record_, self.interactions_, fac.user, fac.item)
        cached = getattr(self, "_typical_score_cache", None)
        if cached is not None and all(a is b for a, b in zip(cached[0], state, strict=True)):
            return cached[1]
        pattern = (self.interactions_ != 0).astype(np.float64)
        value = 1.0
        if pattern.nnz:
            summed = pattern @ fac.item.astype(np.float64)  # (n_users, k)
            value = float(np.einsum("ij,ij->", fac.user, summed, dtype=np.float64)) / pattern.nnz
        self._typical_score_cache = (state, value)
        return value

    def _new_user_matrix(self, interactions, y):
        """Ids of the new users and their CSR (n_new_users, n_items_) of weights."""
        users, items, weights = check_interactions(interactions, y)
        user_ids, rows = encode_ids(users)
        cols = lookup_ids(self.item_ids_, items)
        if np.any(cols < 0):
            check_id_types(self.item_ids_, items, "interactions (item column)")
        keep = cols >= 0
        matrix = sparse.csr_matrix((weights[keep], (rows[keep], cols[keep])),
                                   shape=(user_ids.shape[0], self.n_items_))  # fmt: skip
        matrix.sum_duplicates()
        return user_ids, matrix

    def _new_user_scores(self, matrix, reg):
        """``score(block, cols)`` for new users: the hook a family without factors can fill
        (the default folds in user vectors; see :meth:`new_user_factors`)."""
        fac = self.factors()
        if fac is None:
            raise NotImplementedError(
                f"{type(self).__name__} cannot fold in new users: it does not score by a dot "
                "product (factors() is None). Use partial_fit to add them."
            )
        P = _fold_in(fac, matrix, reg, self._typical_positive_score(fac)).astype(fac.item.dtype)

        def score(block, cols):
            return factor_scores(fac, P[block], cols)

        score.item_dim = fac.item.shape[1]
        score.candidate_source = lambda block: {"item": fac.item, "bias": fac.item_bias,
                                                "vectors": P[block]}  # fmt: skip
        # Every new user has a vector: the fused kernel of _rank_blocks ranks them all.
        score.factors = fac
        score.dot_rows = lambda block: (P[block], np.ones(block.stop - block.start, dtype=bool))
        score.unknown_row = self.unknown_user_scores
        return score

    def recommend_new_users(
        self,
        interactions,
        n=10,
        *,
        y=None,
        reg=0.1,
        items=None,
        filter_items=None,
        exclude_seen=True,
        as_frame=False,
        item_metadata=None,
    ):
        """Top-``n`` items for users not seen in ``fit``, from a few of their interactions.

        A read-only fold-in (see :meth:`new_user_factors`): the fitted model is not changed,
        so it can serve concurrently; ``partial_fit`` remains the way to train on new users.

        Parameters
        ----------
        interactions : array-like of shape (n_interactions, 2) or DataFrame
            ``(user, item)`` pairs of the new users (items not seen in ``fit`` are ignored).
        n : int, default=10
        y : array-like of shape (n_interactions,), default=None
            Weights of the pairs.
        reg : float, default=0.1
            Ridge strength of the fold-in (dot-product models).
        items, filter_items, as_frame, item_metadata
            As in :meth:`recommend` (per-user candidates follow the order of ``user_ids``).
        exclude_seen : bool, default=True
            Leave out the items of ``interactions``.

        Returns
        -------
        user_ids : ndarray of shape (n_new_users,)
            The rows' users: sorted when comparable, else in order of first appearance.
        items, scores : ndarray of shape (n_new_users, n_out)
            As in :meth:`recommend`. With ``as_frame=True`` a single DataFrame is returned
            instead of the three arrays.

        Raises
        ------
        NotImplementedError
            For a model with no fold-in: neither dot-product factors nor a family rule
            (:class:`~skadv.PopularityRecommender` recommends the most popular items,
            :class:`~skadv.CFGANRecommender` conditions its generator on the new profile,
            :class:`~skadv.ItemKNNRecommender` and :class:`~skadv.EASERecommender` multiply
            the new user's binary items by their item-item matrix; NeuMF raises).

        Examples
        --------
        >>> from skadv import AdversarialMFRecommender
        >>> from skadv.datasets import make_interactions
        >>> X = make_interactions(n_users=40, n_items=30, density=0.2, random_state=0)
        >>> model = AdversarialMFRecommender(8, n_epochs=3, random_state=0).fit(X)
        >>> users, items, scores = model.recommend_new_users([["ann", 0], ["ann", 3]], n=4)
        >>> users.tolist(), items.shape, bool(np.isin(items, [0, 3]).any())
        (['ann'], (1, 4), False)
        """
        check_is_fitted(self)
        self._check_serving_params(n, exclude_seen, as_frame, item_metadata,
                                   "recommend_new_users")  # fmt: skip
        check_params({"reg": (reg, [Interval("real", 0, None, closed="neither")])},
                     caller=f"{type(self).__name__}.recommend_new_users")  # fmt: skip
        user_ids, matrix = self._new_user_matrix(interactions, y)
        score = self._new_user_scores(matrix, reg)
        candidates, filtered = self._serving_items(items, filter_items, user_ids.shape[0])

        def seen(block):
            return matrix[block] if exclude_seen else None

        idx, vals = self._rank_blocks(user_ids.shape[0], n, score, seen, candidates, filtered)
        out = self._served(user_ids, idx, vals, as_frame, item_metadata)
        return out if as_frame else (user_ids, *out)


def _fold_in(fac, matrix, reg, target):
    """Ridge least-squares user vectors with the item factors fixed (see
    ``BaseRecommender.new_user_factors``): batched k x k solves, in blocks of users."""
    Q = fac.item
    k = Q.shape[1]
    mean_sq = np.einsum("ij,ij->", Q, Q, dtype=np.float64) / max(Q.shape[0], 1)
    lam = float(reg) * float(mean_sq)
    lam = lam if lam > 0 else float(reg)  # all-zero item factors: plain ridge
    out = np.zeros((matrix.shape[0], k), dtype=np.float64)
    width = int(np.diff(matrix.indptr).max()) if matrix.shape[0] else 0
    for block in row_blocks(matrix.shape[0], 2 * 8 * k * (max(width, 1) + k)):
        rows = matrix[block]
        cols, _ = padded_rows(rows)
        weights = np.zeros(cols.shape)
        weights[cols >= 0] = rows.data  # padded_rows keeps CSR order: data lines up
        Qg = Q[np.maximum(cols, 0)].astype(np.float64)  # padding has weight 0
        A = np.einsum("bl,blk,blj->bkj", weights, Qg, Qg) + lam * np.eye(k)
        rhs = np.einsum("bl,blk->bk", weights, Qg)
        out[block] = target * np.linalg.solve(A, rhs[:, :, None])[:, :, 0]
    return out
