"""EASE: a linear item-item model with a closed-form solution (dense ``n_items x n_items``)."""

import numpy as np
from scipy import linalg
from threadpoolctl import threadpool_limits

from skadv.base import BaseRecommender
from skadv.baseline._itemknn import item_based_fold_in
from skadv.utils._params import NONE, Interval, Options
from skadv.utils._threads import effective_n_threads
from skadv.utils._validation import binary_csr


class EASERecommender(BaseRecommender):
    r"""Embarrassingly Shallow Autoencoder (EASE): item-item weights in closed form.

    Learns a dense item-item weight matrix :math:`B` with an empty diagonal that
    reconstructs each user's interactions from the user's other interactions, by ridge
    regression solved in closed form, and scores ``score(u, j) = sum_{i in I_u} B[i, j]``.
    Interactions are binary: every training pair counts once, whatever its weight (``y``
    only matters through ``positive_threshold``).

    **Memory**: :math:`B` is a dense ``n_items x n_items`` float64 matrix (inherent to EASE),
    and fitting holds about three such matrices (the Gram matrix, its inverse and :math:`B`):
    24 bytes times ``n_items ** 2``, e.g. 0.07 GB for 1 682 items (MovieLens 100k), 2.4 GB
    for 10 000 items, 9.6 GB for 20 000. ``fit`` raises ``ValueError`` above ``max_items``
    items; use :class:`ItemKNNRecommender` (sparse) or a factor model for larger catalogues.

    Parameters
    ----------
    l2_reg : float, default=1000.0
        L2 penalty :math:`\lambda` on the weights (added to the diagonal of the Gram matrix).
        The default is the best of a grid on a MovieLens 100k validation split (50 to 5000;
        ``benchmarks/bench_baselines.py``); the original paper used 500 on MovieLens 20M.
    max_items : int, default=20000
        Largest number of training items ``fit`` accepts (see Memory above).
    n_jobs : int, default=None
        Threads of the BLAS/LAPACK calls in ``fit`` and of the top-k selection in
        ``recommend``; None means 1, -1 all cores.
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
    item_weights_ : ndarray of shape (n_items_, n_items_)
        The weights :math:`B` (zero diagonal): ``item_weights_[i, j]`` is what an
        interaction with item ``i`` adds to the score of item ``j``.
    fit_record_ : dict
        The settings that reproduce the fit and the library versions, as plain data.

    See Also
    --------
    ItemKNNRecommender : Sparse item-item similarities, for large catalogues.

    Notes
    -----
    With :math:`X` the binary user-item matrix, EASE minimizes
    :math:`\|X - XB\|_F^2 + \lambda \|B\|_F^2` subject to :math:`\mathrm{diag}(B) = 0`, whose
    solution is

    .. math:: P = (X^\top X + \lambda I)^{-1}, \qquad
              B = I - P \,\mathrm{diag}(1 / \mathrm{diag}(P))

    (so :math:`B_{ij} = -P_{ij} / P_{jj}` for :math:`i \ne j` and :math:`B_{jj} = 0`). The
    inverse is computed by a Cholesky factorization of the positive-definite Gram matrix.

    ``recommend_new_users`` folds in users not seen in ``fit`` read-only, by the same
    formula: a new user's scores are their binary row of items :math:`x` times :math:`B`
    (weights ``y`` and ``reg`` play no part, as in ``fit``).

    References
    ----------
    H. Steck, "Embarrassingly shallow autoencoders for sparse data", WWW 2019.

    Examples
    --------
    >>> from skadv.baseline import EASERecommender
    >>> from skadv.datasets import make_interactions
    >>> X = make_interactions(n_users=50, n_items=40, density=0.2, random_state=0)
    >>> model = EASERecommender(l2_reg=10.0).fit(X)
    >>> model.item_weights_.shape
    (40, 40)
    >>> items, scores = model.recommend([0, 1], n=3)
    >>> items.shape
    (2, 3)
    >>> model.recommend_new_users([["new", 0], ["new", 5]], n=3)[1].shape
    (1, 3)
    """

    _parameter_constraints = {
        "l2_reg": [Interval("real", 0, None, closed="neither")],
        "max_items": [Interval("int", 1, None)],
        "n_jobs": [NONE, Interval("int", 1, None), Interval("int", None, -1)],
        "handle_unknown": [Options("popularity", "error")],
        "positive_threshold": [NONE, Interval("real")],
    }

    def __init__(
        self,
        l2_reg=1000.0,
        *,
        max_items=20000,
        n_jobs=None,
        handle_unknown="popularity",
        positive_threshold=None,
    ):
        self.l2_reg = l2_reg
        self.max_items = max_items
        self.n_jobs = n_jobs
        self.handle_unknown = handle_unknown
        self.positive_threshold = positive_threshold

    def fit(self, X, y=None):
        """Solve for the item-item weights on interactions ``X``.

        Parameters
        ----------
        X : array-like of shape (n_interactions, 2) or DataFrame
            ``(user, item)`` id pairs (any hashable ids).
        y : array-like of shape (n_interactions,), default=None
            Weights, only used with ``positive_threshold``.

        Returns
        -------
        self : EASERecommender

        Raises
        ------
        ValueError
            When the training data hold more than ``max_items`` items.
        """
        self._validate_params()
        self._fit_interactions(X, y)
        if self.n_items_ > self.max_items:
            gb = 24 * self.n_items_**2 / 1e9
            raise ValueError(
                f"EASERecommender needs dense {self.n_items_} x {self.n_items_} matrices (about "
                f"{gb:.1f} GB to fit) and max_items={self.max_items}: raise max_items if the "
                "memory is there, or use ItemKNNRecommender or a factor model."
            )
        binary = binary_csr(self.interactions_)
        with threadpool_limits(effective_n_threads(self.n_jobs), user_api="blas"):
            gram = (binary.T @ binary).toarray()
            gram[np.diag_indices_from(gram)] += self.l2_reg
            # The Gram matrix plus lambda I is symmetric positive definite: Cholesky.
            precision = linalg.cho_solve(
                linalg.cho_factor(gram, overwrite_a=True), np.eye(self.n_items_),
                overwrite_b=True,
            )  # fmt: skip
        weights = precision / -np.diag(precision)[None, :]
        weights[np.diag_indices_from(weights)] = 0.0
        self.item_weights_ = weights
        return self

    def _user_item_scores(self, user_codes):
        return np.asarray(binary_csr(self.interactions_[user_codes]) @ self.item_weights_)

    def _new_user_scores(self, matrix, reg):
        # A new user's scores are their (binary) items times B, as for a training user.
        return item_based_fold_in(matrix, lambda rows: rows @ self.item_weights_)
