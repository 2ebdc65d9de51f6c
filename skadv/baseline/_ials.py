"""Implicit alternating least squares (iALS): weighted matrix factorization of implicit data."""

import numpy as np
from scipy import linalg, sparse
from sklearn.utils import check_random_state
from threadpoolctl import threadpool_limits

from skadv.base import BaseRecommender, dot_product_pair_scores, dot_product_scores
from skadv.utils._params import NONE, RANDOM_STATE, Interval, Options
from skadv.utils._ranking import row_blocks
from skadv.utils._threads import effective_n_threads

# Working bytes per stored interaction in a block of conjugate-gradient rows: the gathered
# factor rows of both sides and the products (float64 at most).
_CG_BYTES_PER_NONZERO = 48


class ImplicitALSRecommender(BaseRecommender):
    r"""Matrix factorization of implicit feedback by alternating least squares (iALS).

    Every (user, item) cell is a target: 1 for an observed interaction, 0 otherwise, with
    confidence ``1 + alpha * r`` on observed cells (``r`` the summed training weight, 1 per
    interaction without ``y``) and 1 elsewhere. The user and item factors are found by
    alternating exact (``solver="cholesky"``) or conjugate-gradient (``solver="cg"``) least
    squares solves, never materializing the dense user-item matrix. Scores are
    ``user_factors_[u] @ item_factors_[i]``, so :meth:`factors` returns them and every
    embedding attack and robustness curve of skadv applies.

    Parameters
    ----------
    n_factors : int, default=64
        Dimension of the user and item factors.
    n_iter : int, default=15
        Alternating iterations (each solves every user, then every item).
    alpha : float, default=2.0
        Confidence scale: an observed cell of weight ``r`` has confidence ``1 + alpha * r``.
    reg : float, default=0.02
        L2 penalty :math:`\lambda` on every factor row, scaled per row by ``reg_scaling``.
        Tune it with ``alpha``: the defaults are the best of grids on a MovieLens 100k
        validation split, where a quarter more or less cost 3 % of NDCG@10 and half or
        double 10-20 % (``benchmarks/bench_baselines.py``).
    reg_scaling : {"frequency", "none"}, default="frequency"
        ``"frequency"``: row :math:`u` is penalized by :math:`\lambda \sum_i c_{ui}` (its
        total confidence: the number of cells of the other side plus ``alpha`` times its
        weights), which makes ``reg`` independent of the size of the data (Rendle et al.,
        2022, in spirit); ``"none"``: by :math:`\lambda` itself (Hu et al., and the ``implicit``
        library), whose good values grow with the data and which shrinks the factors
        of a small data set towards 0.
    solver : {"cg", "cholesky"}, default="cg"
        ``"cg"``: ``cg_steps`` conjugate-gradient steps per row, warm-started from the
        previous factors (vectorized over blocks of rows; the fast choice). ``"cholesky"``:
        the exact solution of each row's ``n_factors x n_factors`` system (slower: one
        factorization per row).
    cg_steps : int, default=3
        Conjugate-gradient steps per row and iteration (``solver="cg"`` only).
    init_std : float, default=0.01
        Standard deviation of the normal initial factors.
    dtype : {np.float32, np.float64}, default=np.float32
        Floating type of the factors and of the computation.
    n_jobs : int, default=None
        Threads of the BLAS/LAPACK calls in ``fit`` and of the top-k selection in
        ``recommend``; None means 1, -1 all cores. With one thread and a fixed
        ``random_state`` two fits give identical factors.
    random_state : int, RandomState instance or None, default=None
        Seed of the initial factors.
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
        Summed training weights ``r``.
    item_popularity_ : ndarray of shape (n_items_,)
        Number of distinct training users per item.
    user_factors_ : ndarray of shape (n_users_, n_factors)
    item_factors_ : ndarray of shape (n_items_, n_factors)
    n_iter_ : int
        Iterations run.
    fit_record_ : dict
        The settings that reproduce the fit and the library versions, as plain data.

    See Also
    --------
    skadv.mf.AdversarialMFRecommender : Matrix factorization trained with (adversarial) BPR.

    Notes
    -----
    With :math:`p_{ui} = 1` on observed cells and 0 elsewhere and confidence
    :math:`c_{ui} = 1 + \alpha r_{ui}` (1 on unobserved cells), iALS minimizes

    .. math:: \sum_{u, i} c_{ui} (p_{ui} - x_u^\top y_i)^2
              + \sum_u \lambda_u \|x_u\|^2 + \sum_i \lambda_i \|y_i\|^2

    with :math:`\lambda_u = \lambda \sum_i c_{ui}` (``reg_scaling="frequency"``) or
    :math:`\lambda_u = \lambda` (``"none"``), and the same for items. With the item factors
    :math:`Y` fixed, each user's row solves

    .. math:: \big(Y^\top Y + Y^\top (C_u - I) Y + \lambda_u I\big)\, x_u = Y^\top C_u p_u,

    where :math:`Y^\top Y` is shared by all users and the correction only involves the user's
    observed items; the item step is the same with the roles swapped. Each iteration solves
    the users, then the items, from factors drawn from :math:`N(0, \mathrm{init\_std}^2)`
    (users first, then items, from ``random_state``).

    References
    ----------
    Y. Hu, Y. Koren and C. Volinsky, "Collaborative filtering for implicit feedback datasets",
    ICDM 2008.

    G. Takács, I. Pilászy and D. Tikk, "Applications of the conjugate gradient method for
    implicit feedback collaborative filtering", RecSys 2011.

    S. Rendle, W. Krichene, L. Zhang and Y. Koren, "Revisiting the performance of iALS on item
    recommendation benchmarks", RecSys 2022 (frequency-scaled regularization; their scaling
    counts observed and unobserved cells with their own weights, as ``"frequency"`` does
    with the confidences).

    Examples
    --------
    >>> from skadv.baseline import ImplicitALSRecommender
    >>> from skadv.datasets import make_interactions
    >>> X = make_interactions(n_users=50, n_items=40, density=0.2, random_state=0)
    >>> model = ImplicitALSRecommender(n_factors=8, n_iter=3, random_state=0).fit(X)
    >>> model.factors().item.shape
    (40, 8)
    >>> items, scores = model.recommend([0, 1], n=3)
    >>> items.shape
    (2, 3)
    """

    _parameter_constraints = {
        "n_factors": [Interval("int", 1, None)],
        "n_iter": [Interval("int", 1, None)],
        "alpha": [Interval("real", 0, None)],
        "reg": [Interval("real", 0, None, closed="neither")],
        "reg_scaling": [Options("frequency", "none")],
        "solver": [Options("cg", "cholesky")],
        "cg_steps": [Interval("int", 1, None)],
        "init_std": [Interval("real", 0, None, closed="neither")],
        "dtype": [Options(np.float32, np.float64, "float32", "float64")],
        "n_jobs": [NONE, Interval("int", 1, None), Interval("int", None, -1)],
        "random_state": [NONE, RANDOM_STATE],
        "handle_unknown": [Options("popularity", "error")],
        "positive_threshold": [NONE, Interval("real")],
    }

    def __init__(
        self,
        n_factors=64,
        *,
        n_iter=15,
        alpha=2.0,
        reg=0.02,
        reg_scaling="frequency",
        solver="cg",
        cg_steps=3,
        init_std=0.01,
        dtype=np.float32,
        n_jobs=None,
        random_state=None,
        handle_unknown="popularity",
        positive_threshold=None,
    ):
        self.n_factors = n_factors
        self.n_iter = n_iter
        self.alpha = alpha
        self.reg = reg
        self.reg_scaling = reg_scaling
        self.solver = solver
        self.cg_steps = cg_steps
        self.init_std = init_std
        self.dtype = dtype
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.handle_unknown = handle_unknown
        self.positive_threshold = positive_threshold

    def fit(self, X, y=None):
        """Learn the user and item factors from interactions ``X``.

        Parameters
        ----------
        X : array-like of shape (n_interactions, 2) or DataFrame
            ``(user, item)`` id pairs (any hashable ids).
        y : array-like of shape (n_interactions,), default=None
            Weights ``r`` of the confidence ``1 + alpha * r`` (summed over repeated pairs),
            also thresholded by ``positive_threshold``. None gives every interaction ``r = 1``.

        Returns
        -------
        self : ImplicitALSRecommender
        """
        self._validate_params()
        dtype = np.dtype(self.dtype)
        rng = check_random_state(self.random_state)
        self._fit_interactions(X, y)
        user = rng.normal(0.0, self.init_std, (self.n_users_, self.n_factors)).astype(dtype)
        item = rng.normal(0.0, self.init_std, (self.n_items_, self.n_factors)).astype(dtype)
        # Observed cells: confidence - 1 = alpha * r (cells of weight 0 are unobserved).
        extra = sparse.csr_matrix(self.interactions_, dtype=dtype, copy=True)
        extra.eliminate_zeros()
        extra.data *= dtype.type(self.alpha)
        extra_t = extra.T.tocsr()
        solve = _cg_rows if self.solver == "cg" else _exact_rows
        reg_user, reg_item = self._row_penalties(extra, extra_t, dtype)
        with threadpool_limits(effective_n_threads(self.n_jobs), user_api="blas"):
            for _ in range(self.n_iter):
                solve(user, item, extra, reg_user, self.cg_steps)
                solve(item, user, extra_t, reg_item, self.cg_steps)
        if not (np.all(np.isfinite(user)) and np.all(np.isfinite(item))):
            raise ValueError(
                "ImplicitALSRecommender diverged (non-finite factors): increase reg, lower "
                "alpha, or use dtype=np.float64."
            )
        self.user_factors_, self.item_factors_ = user, item
        self.n_iter_ = int(self.n_iter)
        return self

    def _row_penalties(self, extra, extra_t, dtype):
        """L2 penalty of each user row and of each item row."""
        if self.reg_scaling == "none":
            return (np.full(self.n_users_, self.reg, dtype=dtype),
                    np.full(self.n_items_, self.reg, dtype=dtype))  # fmt: skip
        # total confidence of a row: one per cell of the other side, plus alpha * r observed
        conf_user = self.n_items_ + np.asarray(extra.sum(axis=1)).ravel()
        conf_item = self.n_users_ + np.asarray(extra_t.sum(axis=1)).ravel()
        return (self.reg * conf_user).astype(dtype), (self.reg * conf_item).astype(dtype)

    def _user_item_scores(self, user_codes):
        return dot_product_scores(self, user_codes)

    def _pair_scores(self, user_codes, item_codes):
        return dot_product_pair_scores(self, user_codes, item_codes)


def _exact_rows(rows, other, extra, reg, cg_steps=None):
    """Solve every row of ``rows`` in place, exactly, with ``other`` fixed.

    ``extra`` (CSR, one row per row of ``rows``) holds ``confidence - 1`` of the observed
    cells; the target of an observed cell is 1. ``reg`` is the L2 penalty of each row.
    """
    k = other.shape[1]
    gram = other.T @ other
    eye = np.eye(k, dtype=other.dtype)
    indptr, indices, data = extra.indptr, extra.indices, extra.data
    for u in range(rows.shape[0]):
        cols = indices[indptr[u] : indptr[u + 1]]
        if cols.shape[0] == 0:
            rows[u] = 0.0
            continue
        Y = other[cols]
        w = data[indptr[u] : indptr[u + 1]]
        A = gram + reg[u] * eye + (Y.T * w) @ Y
        b = (w + 1.0) @ Y
        rows[u] = linalg.cho_solve(linalg.cho_factor(A, overwrite_a=True), b)


def _cg_rows(rows, other, extra, reg, cg_steps):
    """``cg_steps`` conjugate-gradient steps on every row of ``rows`` (in place), warm-started
    from the current values, vectorized over blocks of rows whose gathered factor rows fit
    ``working_memory``."""
    dtype = rows.dtype
    k = other.shape[1]
    gram = other.T @ other
    nnz_per_row = max(extra.nnz / max(extra.shape[0], 1), 1.0)
    tiny = np.finfo(dtype).tiny
    for block in row_blocks(rows.shape[0], int(nnz_per_row * k * _CG_BYTES_PER_NONZERO)):
        sub = extra[block]
        row_of = np.repeat(np.arange(sub.shape[0]), np.diff(sub.indptr))
        Y = other[sub.indices]  # (nnz, k): the factor row of each observed cell
        penalty = reg[block][:, None]
        x = rows[block]
        b = sparse.csr_matrix((sub.data + 1.0, sub.indices, sub.indptr), shape=sub.shape) @ other
        r = b - _cg_apply(x, row_of, Y, sub, gram, penalty, other)
        p = r.copy()
        rs_old = np.einsum("ij,ij->i", r, r)
        for _ in range(cg_steps):
            Ap = _cg_apply(p, row_of, Y, sub, gram, penalty, other)
            pAp = np.einsum("ij,ij->i", p, Ap)
            # A row already solved has r = p = 0: its step is 0, not 0 / 0.
            step = np.divide(rs_old, pAp, out=np.zeros_like(rs_old), where=pAp > tiny)
            x += step[:, None] * p
            r -= step[:, None] * Ap
            rs_new = np.einsum("ij,ij->i", r, r)
            beta = np.divide(rs_new, rs_old, out=np.zeros_like(rs_new), where=rs_old > tiny)
            p = r + beta[:, None] * p
            rs_old = rs_new
        rows[block] = x


def _cg_apply(v, row_of, Y, extra, gram, penalty, other):
    """``A v`` for every row of a block: the shared ``Y^T Y`` part, the row's penalty, and
    the correction of the observed cells (``extra`` holds their ``confidence - 1``, ``Y``
    the factor row of each, ``row_of`` its row in the block)."""
    dots = np.einsum("ij,ij->i", v[row_of], Y)
    corr = sparse.csr_matrix((extra.data * dots, extra.indices, extra.indptr), shape=extra.shape)
    return v @ gram + penalty * v + corr @ other
