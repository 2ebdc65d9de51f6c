"""Item-based k-nearest-neighbours: cosine similarity with shrinkage, top-k kept sparse."""

import numpy as np
from scipy import sparse

from skadv.base import BaseRecommender
from skadv.utils._params import NONE, Interval, Options
from skadv.utils._ranking import row_blocks, take_columns
from skadv.utils._validation import binary_csr

# Working bytes per (item, block column) while building the similarity: the dense block of
# co-occurrence counts, the similarities, and the comparison masks of the top-k selection.
_BYTES_PER_PAIR = 56


class ItemKNNRecommender(BaseRecommender):
    r"""Item-based nearest neighbours: cosine similarity with shrinkage, ``n_neighbors`` kept.

    Scores item :math:`j` for user :math:`u` by summing the similarities between :math:`j`
    and the items :math:`u` interacted with, among the ``n_neighbors`` items most similar
    to :math:`j` (the classic item-based top-N recommender). Interactions are binary: every
    training pair counts once, whatever its weight (``y`` only matters through
    ``positive_threshold``).

    Parameters
    ----------
    n_neighbors : int, default=200
        Number of most similar items kept for each item (its neighbourhood); the rest of the
        similarity matrix is dropped, which keeps it sparse (``n_items_ * n_neighbors``
        entries at most). Items with fewer co-occurring items keep fewer.
    shrink : float, default=10.0
        Shrinkage :math:`h` added to the denominator of the cosine: similarities supported
        by few co-occurrences shrink towards 0 (see Notes).
    handle_unknown : {"popularity", "error"}, default="popularity"
        What to do with users/items not seen in ``fit`` (see :mod:`skadv.base`).
    positive_threshold : float, default=None
        Interactions with ``y`` below this value are ignored in ``fit`` and ``score``.

    Attributes
    ----------
    user_ids_, item_ids_ : ndarray
        Ids seen in ``fit``, in code order.
    n_users_, n_items_ : int
    interactions_ : scipy.sparse.csr_matrix of shape (n_users_, n_items_)
        Summed training weights (read as binary).
    item_popularity_ : ndarray of shape (n_items_,)
        Number of distinct training users per item.
    similarity_ : scipy.sparse.csr_matrix of shape (n_items_, n_items_)
        ``similarity_[i, j]`` is the shrunk cosine of items ``i`` and ``j`` when ``i`` is
        among the ``n_neighbors`` neighbours of ``j``, else not stored. Columns are
        neighbourhoods; the diagonal is empty.
    fit_record_ : dict
        The settings that reproduce the fit and the library versions, as plain data.

    See Also
    --------
    EASERecommender : Item-item weights learned in closed form (dense).
    ImplicitALSRecommender : Matrix factorization of implicit feedback.

    Notes
    -----
    With :math:`X` the binary user-item matrix and :math:`c_{ij} = (X^\top X)_{ij}` the number
    of users who interacted with both items,

    .. math:: s_{ij} = \frac{c_{ij}}{\sqrt{c_{ii}}\sqrt{c_{jj}} + h}, \qquad
              \mathrm{score}(u, j) = \sum_{i \in I_u \cap N_k(j)} s_{ij}

    where :math:`N_k(j)` holds the ``n_neighbors`` items :math:`i \ne j` of largest
    :math:`s_{ij} > 0`; ties at the last place go to the lower item code (the order of
    ``item_ids_``), so the fit is deterministic.

    The similarity is built in blocks of items whose dense co-occurrence block fits
    scikit-learn's ``working_memory``: no ``n_items x n_items`` dense matrix is ever held,
    and the result stores at most ``n_neighbors`` entries per item.

    ``recommend_new_users`` folds in users not seen in ``fit`` read-only, by the same
    formula: a new user's scores are their binary row of items times ``similarity_``
    (weights ``y`` and ``reg`` play no part, as in ``fit``).

    References
    ----------
    M. Deshpande and G. Karypis, "Item-based top-N recommendation algorithms", ACM TOIS 22(1),
    2004.

    Examples
    --------
    >>> from skadv.baseline import ItemKNNRecommender
    >>> from skadv.datasets import make_interactions
    >>> X = make_interactions(n_users=50, n_items=40, density=0.2, random_state=0)
    >>> model = ItemKNNRecommender(n_neighbors=10).fit(X)
    >>> model.similarity_.shape
    (40, 40)
    >>> items, scores = model.recommend([0, 1], n=3)
    >>> items.shape
    (2, 3)
    >>> users, items, scores = model.recommend_new_users([["new", 0], ["new", 5]], n=3)
    >>> users.tolist(), items.shape, bool(np.isin(items, [0, 5]).any())
    (['new'], (1, 3), False)
    """

    _parameter_constraints = {
        "n_neighbors": [Interval("int", 1, None)],
        "shrink": [Interval("real", 0, None)],
        "handle_unknown": [Options("popularity", "error")],
        "positive_threshold": [NONE, Interval("real")],
    }

    def __init__(
        self, n_neighbors=200, *, shrink=10.0, handle_unknown="popularity", positive_threshold=None
    ):
        self.n_neighbors = n_neighbors
        self.shrink = shrink
        self.handle_unknown = handle_unknown
        self.positive_threshold = positive_threshold

    def fit(self, X, y=None):
        """Compute the item neighbourhoods from interactions ``X``.

        Parameters
        ----------
        X : array-like of shape (n_interactions, 2) or DataFrame
            ``(user, item)`` id pairs (any hashable ids).
        y : array-like of shape (n_interactions,), default=None
            Weights, only used with ``positive_threshold``.

        Returns
        -------
        self : ItemKNNRecommender
        """
        self._validate_params()
        self._fit_interactions(X, y)
        self.similarity_ = item_cosine_neighbors(
            binary_csr(self.interactions_), int(self.n_neighbors), float(self.shrink)
        )
        return self

    def _user_item_scores(self, user_codes):
        return (binary_csr(self.interactions_[user_codes]) @ self.similarity_).toarray()

    def _new_user_scores(self, matrix, reg):
        # The natural fold-in of an item-based model: a new user's row is their (binary)
        # items times the fitted similarity, exactly how a training user is scored.
        return item_based_fold_in(matrix, lambda rows: (rows @ self.similarity_).toarray())


def item_based_fold_in(matrix, score_rows):
    """``score(block, cols)`` of new users (``recommend_new_users``) for an item-item model:
    ``score_rows`` of the binary rows of ``matrix`` (CSR, one row per new user), read only."""
    binary = binary_csr(matrix)

    def score(block, cols):
        return take_columns(np.asarray(score_rows(binary[block])), cols)

    score.item_dim = None  # no factors: candidates are read from full score rows
    return score


def item_cosine_neighbors(X, n_neighbors, shrink):
    """Sparse top-``n_neighbors`` shrunk cosine similarity of the columns of ``X``.

    Parameters
    ----------
    X : scipy.sparse.csr_matrix of shape (n_users, n_items)
        Binary interactions.
    n_neighbors : int
    shrink : float

    Returns
    -------
    similarity : scipy.sparse.csr_matrix of shape (n_items, n_items)
        Column ``j`` holds the ``n_neighbors`` largest positive similarities ``s_ij``,
        ``i != j`` (ties to the lower ``i``).
    """
    n_items = X.shape[1]
    Xc = X.tocsc()
    norms = np.sqrt(np.asarray(Xc.multiply(Xc).sum(axis=0)).ravel())
    XT = Xc.T.tocsr()
    k = min(n_neighbors, max(n_items - 1, 1))
    rows, cols, vals = [], [], []
    for block in row_blocks(n_items, n_items * _BYTES_PER_PAIR):
        counts = (XT @ Xc[:, block]).toarray()  # (n_items, block): co-occurrences
        sim = counts / (norms[:, None] * norms[None, block] + shrink)
        sim[np.arange(block.start, block.stop), np.arange(sim.shape[1])] = 0.0  # not i == j
        keep = _top_k_mask(sim, k) & (sim > 0)
        r, c = np.nonzero(keep)
        rows.append(r)
        cols.append(c + block.start)
        vals.append(sim[r, c])
    rows = np.concatenate(rows) if rows else np.empty(0, np.int64)
    cols = np.concatenate(cols) if cols else np.empty(0, np.int64)
    vals = np.concatenate(vals) if vals else np.empty(0)
    return sparse.csr_matrix((vals, (rows, cols)), shape=(n_items, n_items))


def _top_k_mask(values, k):
    """Mask of the ``k`` largest entries of each column, ties at the k-th going to the lower
    row (deterministic, unlike ``argpartition`` alone)."""
    n = values.shape[0]
    if k >= n:
        return np.ones(values.shape, dtype=bool)
    kth = -np.partition(-values, k - 1, axis=0)[k - 1]  # k-th largest value of each column
    above = values > kth
    tied = values == kth
    needed = k - above.sum(axis=0)  # slots left for the tied entries, lowest rows first
    return above | (tied & (np.cumsum(tied, axis=0) <= needed))
