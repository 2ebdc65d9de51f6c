r"""``ProfileFeatures``: per-user detection features of interaction profiles.

Features (Chirita et al. 2005; Burke et al. 2006), for user :math:`u` with profile
:math:`I_u` (:math:`n_u = |I_u|`), item popularity :math:`NR_i` (distinct users of the fitted
data) and item mean rating :math:`\bar r_i` (fitted data):

Always
    ``length`` :math:`n_u`; ``LengthVar`` :math:`|n_u - \bar n| / \sum_v (n_v - \bar n)^2`
    (fitted users :math:`v`); ``DegSim``, the mean cosine similarity of :math:`u`'s profile
    vector (ratings, or 0/1 without ``y``) to its ``n_neighbors`` most similar fitted users
    (itself excluded; Chirita et al. use Pearson correlation); ``MeanPop``, the mean
    :math:`\log(1 + NR_i)` over :math:`I_u` (not in the papers: the implicit-data signal that
    separates random fillers from real tastes).
With ratings ``y`` (:math:`\delta_{ui} = |r_{ui} - \bar r_i|`)
    ``RDMA`` :math:`\frac{1}{n_u} \sum_i \delta_{ui} / NR_i`; ``WDMA``
    :math:`\frac{1}{n_u} \sum_i \delta_{ui} / NR_i^2`; ``WDA`` :math:`\sum_i \delta_{ui} / NR_i`;
    with :math:`P_T` the items :math:`u` rated at its own maximum and :math:`P_F` the rest,
    ``MeanVar`` :math:`\frac{1}{|P_F|} \sum_{i \in P_F} (r_{ui} - \bar r_i)^2` and ``FMTD``
    :math:`|\overline{r_u}(P_T) - \overline{r_u}(P_F)|` (both 0 when :math:`P_F` is empty).

Items the fitted data lacks count as :math:`NR_i = 1`, :math:`\bar r_i = r_{ui}`.
"""

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from skadv.utils._params import Interval, validate_params
from skadv.utils._ranking import row_blocks
from skadv.utils._validation import check_interactions, encode_ids, lookup_ids

__all__ = ["ProfileFeatures"]

IMPLICIT_FEATURES = ("length", "LengthVar", "DegSim", "MeanPop")
RATING_FEATURES = ("RDMA", "WDMA", "WDA", "MeanVar", "FMTD")


class ProfileFeatures(TransformerMixin, BaseEstimator):
    """Per-user shilling-detection features of interaction profiles.

    ``fit`` learns item statistics and the reference profiles from ``(X, y)``; ``transform``
    returns one row of features **per user** of its ``X`` (not per interaction), in the
    order of ``np.unique`` of the user ids (:meth:`transform_users` returns the ids too).
    The rating-based features exist only when ``fit`` was given ``y``. See the module
    docstring for the definitions.

    Parameters
    ----------
    n_neighbors : int, default=25
        Neighbours averaged by ``DegSim``.

    Attributes
    ----------
    has_y_ : bool
        Whether ``fit`` had ratings; if so, ``transform`` needs them too.
    feature_names_out_ : ndarray of str
        ``length, LengthVar, DegSim, MeanPop`` (+ ``RDMA, WDMA, WDA, MeanVar, FMTD`` with y).
    user_ids_, item_ids_ : ndarray
        Ids of the fitted data.
    item_popularity_, item_mean_ : ndarray of shape (n_items,)
    n_features_in_ : int
        Always 2.

    References
    ----------
    .. [1] P.-A. Chirita, W. Nejdl and C. Zamfir, "Preventing shilling attacks in online
       recommender systems", WIDM 2005.
    .. [2] R. Burke, B. Mobasher, C. Williams and R. Bhaumik, "Classification features for
       attack detection in collaborative recommender systems", KDD 2006.

    Examples
    --------
    >>> from skadv.datasets import make_interactions
    >>> X = make_interactions(n_users=30, n_items=20, random_state=0)
    >>> ProfileFeatures(n_neighbors=5).fit_transform(X).shape
    (30, 4)
    """

    _parameter_constraints = {"n_neighbors": [Interval("int", 1, None)]}

    def __init__(self, n_neighbors=25):
        self.n_neighbors = n_neighbors

    def fit(self, X, y=None):
        """Learn item statistics and reference profiles from ``(X, y)``.

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
        users, items, weights = check_interactions(X, y)
        self.has_y_ = y is not None
        self.user_ids_, u = encode_ids(users)
        self.item_ids_, i = encode_ids(items)
        self.n_features_in_ = 2
        matrix = _profile_matrix(u, i, weights, len(self.user_ids_), len(self.item_ids_))
        self.item_popularity_ = np.bincount(matrix.indices, minlength=matrix.shape[1]).astype(
            np.float64
        )
        sums = np.asarray(matrix.sum(axis=0)).ravel()
        self.item_mean_ = sums / np.maximum(self.item_popularity_, 1.0)
        lengths = np.diff(matrix.indptr).astype(np.float64)
        self.mean_length_ = float(lengths.mean())
        self.length_spread_ = float(np.sum((lengths - self.mean_length_) ** 2))
        self.reference_ = _normalize_rows(matrix)
        names = IMPLICIT_FEATURES + (RATING_FEATURES if self.has_y_ else ())
        self.feature_names_out_ = np.array(names, dtype=object)
        return self

    def transform(self, X, y=None):
        """Features of each user of ``X`` (rows in ``np.unique`` order of its user ids).

        Parameters
        ----------
        X : array-like of shape (n_interactions, 2) or DataFrame
        y : array-like of shape (n_interactions,), default=None
            Ratings; required when ``fit`` had them.

        Returns
        -------
        features : ndarray of shape (n_users, n_features)
        """
        return self.transform_users(X, y)[1]

    def transform_users(self, X, y=None):
        """``(user_ids, features)``: the ids of the rows of :meth:`transform`."""
        check_is_fitted(self)
        if self.has_y_ and y is None:
            raise ValueError(
                "ProfileFeatures was fitted with ratings y: pass them to transform too."
            )
        users, items, weights = check_interactions(X, y if self.has_y_ else None)
        user_ids, u = encode_ids(users)
        n_users = user_ids.shape[0]
        codes = lookup_ids(self.item_ids_, items).astype(np.int64)
        known = codes >= 0
        pop = np.where(known, self.item_popularity_[np.maximum(codes, 0)], 1.0)
        pop = np.maximum(pop, 1.0)
        lengths = np.bincount(u, minlength=n_users).astype(np.float64)
        columns = [
            lengths,
            np.abs(lengths - self.mean_length_) / max(self.length_spread_, np.finfo(float).tiny),
            self._degsim(user_ids, u, codes, weights),
            np.bincount(u, np.log1p(pop), minlength=n_users) / lengths,
        ]
        if self.has_y_:
            mean = np.where(known, self.item_mean_[np.maximum(codes, 0)], weights)
            dev = np.abs(weights - mean)
            wda = np.bincount(u, dev / pop, minlength=n_users)
            columns += [wda / lengths, np.bincount(u, dev / pop**2, minlength=n_users) / lengths,
                        wda]  # fmt: skip
            user_max = np.full(n_users, -np.inf)
            np.maximum.at(user_max, u, weights)
            filler = weights < user_max[u]
            n_filler = np.bincount(u, filler, minlength=n_users)
            n_target = lengths - n_filler
            has_filler = n_filler > 0
            safe = np.maximum(n_filler, 1)
            mean_var = np.bincount(u, filler * dev**2, minlength=n_users) / safe
            filler_mean = np.bincount(u, filler * weights, minlength=n_users) / safe
            target_mean = np.bincount(u, ~filler * weights, minlength=n_users) / n_target
            fmtd = np.abs(target_mean - filler_mean)
            columns += [np.where(has_filler, mean_var, 0.0), np.where(has_filler, fmtd, 0.0)]
        return user_ids, np.column_stack(columns)

    def _degsim(self, user_ids, u, codes, weights):
        n_users = user_ids.shape[0]
        known = codes >= 0  # items the reference lacks add to the norm only
        matrix = _profile_matrix(u, np.where(known, codes, 0), np.where(known, weights, 0.0),
                                 n_users, self.reference_.shape[1])  # fmt: skip
        norms = np.sqrt(np.bincount(u, weights**2, minlength=n_users))
        matrix = sparse.diags(1.0 / np.maximum(norms, np.finfo(float).tiny)) @ matrix
        self_code = lookup_ids(self.user_ids_, user_ids)
        n_ref = self.reference_.shape[0]
        k = min(self.n_neighbors, max(n_ref - 1, 1))
        out = np.zeros(n_users)
        for block in row_blocks(n_users, 16 * n_ref):
            sims = (matrix[block] @ self.reference_.T).toarray()
            rows = np.flatnonzero(self_code[block] >= 0)
            sims[rows, self_code[block][rows]] = -np.inf  # not one's own neighbour
            top = -np.partition(-sims, k - 1, axis=1)[:, :k]
            out[block] = np.where(np.isfinite(top), top, 0.0).mean(axis=1)
        return out

    def get_feature_names_out(self, input_features=None):
        """Names of the feature columns."""
        check_is_fitted(self)
        return self.feature_names_out_.copy()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        tags.input_tags.two_d_array = True
        tags.input_tags.string = True
        return tags


def _profile_matrix(u, i, weights, n_users, n_items):
    matrix = sparse.csr_matrix((weights, (u, i)), shape=(n_users, n_items))
    matrix.sum_duplicates()
    return matrix


def _normalize_rows(matrix):
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    return (sparse.diags(1.0 / np.maximum(norms, np.finfo(float).tiny)) @ matrix).tocsr()
