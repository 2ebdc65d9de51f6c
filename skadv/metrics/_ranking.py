r"""Top-k ranking metrics over a full ranking of candidate items.

Every function takes ``y_true`` (relevance of each item for each user), ``y_score`` (the
model's scores) and an optional ``exclude`` mask, and ranks, for each user, **all** items that
are not excluded (the "full ranking" protocol: no sampled negatives).

Conventions shared by all metrics
---------------------------------
Candidates
    The items of a row not marked in ``exclude`` (typically the user's training items). An
    excluded item is removed from the ranking whatever its score; a relevant item that is
    excluded is dropped from ``y_true`` for that row.
Relevance
    ``y_true > 0`` marks a relevant item. NDCG uses the values as graded gains (as
    :func:`sklearn.metrics.ndcg_score`); every other metric binarizes them.
Pessimistic ties
    A relevant item whose score ties with irrelevant candidates is ranked **after** all of
    them; relevant items tied with each other are ordered by increasing gain (the worst case
    for NDCG; it does not matter for the binary metrics). A constant model therefore gets the
    worst possible value instead of a lucky one, and the value does not depend on item order.
    This differs from :func:`sklearn.metrics.ndcg_score`, which averages over ties.
Scores
    ``-inf`` and ``+inf`` are valid scores (``-inf`` ranks last among candidates); NaN raises
    ``ValueError``.
Users without a relevant candidate
    Their value is undefined: reported as NaN with ``average=False`` and left out of the mean
    with ``average=True`` (``ValueError`` when no user is left). For AUC, users without an
    irrelevant candidate are undefined in the same way.

Definitions
-----------
For one user, let :math:`R` be the relevant candidates, :math:`n_{rel} = |R|`,
:math:`\mathrm{rank}(i) \ge 1` the pessimistic rank of item :math:`i` among the candidates,
:math:`\mathrm{hits@k} = |\{i \in R : \mathrm{rank}(i) \le k\}|` and :math:`g_i` the gain
(``y_true`` value) of item :math:`i`.

* precision@k :math:`= \mathrm{hits@k} / k`
* recall@k :math:`= \mathrm{hits@k} / n_{rel}` (the standard definition; it cannot reach 1
  when :math:`n_{rel} > k`)
* hit rate@k :math:`= 1` if :math:`\mathrm{hits@k} > 0` else :math:`0`
* NDCG@k :math:`= \mathrm{DCG@k} / \mathrm{IDCG@k}` with
  :math:`\mathrm{DCG@k} = \sum_{i \in R, \mathrm{rank}(i) \le k} g_i / \log_2(\mathrm{rank}(i)
  + 1)` and IDCG@k the DCG@k of the gains of :math:`R` sorted decreasingly
* MAP@k: mean over users of :math:`\mathrm{AP@k} = \frac{1}{\min(k, n_{rel})} \sum_{i \in R,
  \mathrm{rank}(i) \le k} \mathrm{precision@rank}(i)`
* MRR: mean over users of :math:`1 / \min_{i \in R} \mathrm{rank}(i)`
* AUC: fraction of (relevant, irrelevant) candidate pairs whose relevant item scores strictly
  higher (ties count as wrong, pessimistically)
"""

import numpy as np
from scipy import sparse

from skadv.utils._params import BOOL, Interval, check_params
from skadv.utils._ranking import check_exclude, check_scores

__all__ = [
    "auc",
    "hit_rate_at_k",
    "map_at_k",
    "mrr",
    "ndcg_at_k",
    "precision_at_k",
    "recall_at_k",
]


# ----------------------------------------------------------------------------- validation
def _check_y_true(y_true, shape):
    """CSR float64 relevance without explicit zeros, checked against ``shape``."""
    if sparse.issparse(y_true):
        rel = sparse.csr_matrix(y_true, dtype=np.float64, copy=True)
    else:
        arr = np.asarray(y_true)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"y_true must hold real relevance values, got dtype {arr.dtype}.")
        if arr.ndim != 2:
            raise ValueError(
                f"y_true must be 2-dimensional (n_users, n_items), got shape {arr.shape}."
            )
        rel = sparse.csr_matrix(arr.astype(np.float64))
    if rel.shape != shape:
        raise ValueError(f"y_true and y_score have different shapes: {rel.shape} and {shape}.")
    rel.sum_duplicates()
    if not np.all(np.isfinite(rel.data)):
        raise ValueError("y_true contains NaN or infinite values.")
    if rel.nnz and rel.data.min() < 0:
        raise ValueError(f"y_true must be non-negative; found {rel.data.min()}.")
    rel.eliminate_zeros()
    return rel


#: Constraint of the cut-off ``k`` of the top-k metrics (also used by the scorers).
K_CONSTRAINT = [Interval("int", 1, None)]


# ----------------------------------------------------------------------------- core
def _count_at_least(sorted_rows, rows, values, n_valid):
    """For each query, how many of the first ``n_valid[q]`` entries of its row are >= value.

    ``sorted_rows`` is sorted increasingly along axis 1 (NaN padding at the end of each row);
    a binary search vectorized over all queries: O(n_queries log n_items).
    """
    n_cols = sorted_rows.shape[1]
    flat = sorted_rows.ravel()
    lo = np.zeros(rows.shape[0], dtype=np.int64)
    hi = n_valid.astype(np.int64, copy=True)
    active = np.flatnonzero(lo < hi)
    while active.size:
        mid = (lo[active] + hi[active]) // 2
        less = flat[rows[active] * n_cols + mid] < values[active]
        lo[active[less]] = mid[less] + 1
        hi[active[~less]] = mid[~less]
        active = active[lo[active] < hi[active]]
    return n_valid - lo  # lo is now the first position whose entry is >= value


def _count_by_comparison(rows_values, rows, values, chunk_bytes=1 << 25):
    """For each query, how many entries of its row of ``rows_values`` are >= value (NaN
    entries never are): the count :func:`_count_at_least` gives on sorted rows, by direct
    comparison, in chunks of queries whose gathered rows take about ``chunk_bytes``."""
    out = np.empty(rows.shape[0], dtype=np.int64)
    row_bytes = rows_values.shape[1] * (rows_values.itemsize + 1)  # the rows and the mask
    step = max(1, chunk_bytes // max(row_bytes, 1))
    for start in range(0, rows.shape[0], step):
        q = slice(start, start + step)
        out[q] = np.count_nonzero(rows_values[rows[q]] >= values[q, None], axis=1)
    return out


def _within_row_position(rows_sorted, starts):
    """Position of each entry inside its row group, for entries already sorted by row."""
    return np.arange(rows_sorted.shape[0]) - starts[rows_sorted]


class _Ranks:
    """Pessimistic ranks of the relevant candidates of every row (the shared computation).

    Attributes: ``rows``, ``gains``, ``rank`` (float, ``inf`` for unretrievable items),
    ``n_rel_ahead`` (relevant items ranked before), ``n_irr_at_least`` (irrelevant candidates
    scoring at least as high), ``n_rel`` and ``n_irr`` per row, ``n_rows``.
    """

    def __init__(self, y_true, y_score, exclude, n_unretrievable=0):
        scores = check_scores(y_score, name="y_score")
        n_rows, n_items = scores.shape
        rel = _check_y_true(y_true, scores.shape)
        mask = check_exclude(exclude, scores.shape)
        # Dense (n_rows, n_items) bool, the same size order as the scores themselves: marks
        # every item that is not an irrelevant candidate.
        not_irrelevant = np.zeros(scores.shape, dtype=bool)
        not_irrelevant[np.repeat(np.arange(n_rows), np.diff(mask.indptr)), mask.indices] = True
        rows = np.repeat(np.arange(n_rows), np.diff(rel.indptr))
        cols = rel.indices.astype(np.int64)
        keep = ~not_irrelevant[rows, cols]  # excluded relevant items are dropped
        rows, cols, gains = rows[keep], cols[keep], rel.data[keep]
        not_irrelevant[rows, cols] = True
        # Items the model never saw (scorer only): relevant, but never ranked nor candidates.
        unretrievable = cols >= n_items - n_unretrievable
        if n_unretrievable:
            not_irrelevant[:, n_items - n_unretrievable :] = True
        n_irr = n_items - not_irrelevant.sum(axis=1)
        work = scores.copy()
        work[not_irrelevant] = np.nan  # not an irrelevant candidate: never counted

        s = scores[rows, cols]
        retrievable = ~unretrievable
        n_irr_at_least = np.zeros(rows.shape[0], dtype=np.int64)
        q_rows, q_values = rows[retrievable], s[retrievable]
        if q_rows.shape[0] < n_rows * max(np.log2(max(n_items, 2)), 1.0):
            # Few relevant items per row (held-out data at catalogue scale): one comparison
            # pass per relevant item costs less than sorting every row.
            n_irr_at_least[retrievable] = _count_by_comparison(work, q_rows, q_values)
        else:
            work.sort(axis=1)
            n_irr_at_least[retrievable] = _count_at_least(work, q_rows, q_values, n_irr[q_rows])
        # Order of the relevant items of a row: retrievable first, score descending, then
        # gain ascending (pessimistic among tied relevant items), then index (no effect).
        n_rel = np.bincount(rows, minlength=n_rows)
        starts = np.concatenate(([0], np.cumsum(n_rel)[:-1]))
        order = np.lexsort((cols, gains, -s, unretrievable, rows))
        n_rel_ahead = np.empty(rows.shape[0], dtype=np.int64)
        n_rel_ahead[order] = _within_row_position(rows[order], starts)
        rank = np.where(retrievable, 1.0 + n_irr_at_least + n_rel_ahead, np.inf)

        self.n_rows, self.rows, self.gains, self.rank = n_rows, rows, gains, rank
        self.n_rel_ahead, self.n_irr_at_least = n_rel_ahead, n_irr_at_least
        self.n_rel, self.n_irr, self.starts = n_rel, n_irr, starts

    def per_row(self, values):
        """Sum of per-entry ``values`` for each row."""
        return np.bincount(self.rows, weights=values, minlength=self.n_rows)

    def finish(self, numerator, denominator, defined):
        """``numerator / denominator`` where ``defined``, NaN elsewhere (no warnings)."""
        out = np.full(self.n_rows, np.nan)
        np.divide(numerator, denominator, out=out, where=defined)
        return out


def _precision(r, k):
    hits = r.per_row(r.rank <= k)
    return r.finish(hits, float(k), r.n_rel > 0)


def _recall(r, k):
    hits = r.per_row(r.rank <= k)
    return r.finish(hits, r.n_rel, r.n_rel > 0)


def _hit_rate(r, k):
    hits = r.per_row(r.rank <= k)
    return r.finish((hits > 0).astype(np.float64), 1.0, r.n_rel > 0)


def _ndcg(r, k):
    hit = r.rank <= k
    disc = np.zeros(r.rank.shape[0])
    disc[hit] = r.gains[hit] / np.log2(r.rank[hit] + 1.0)
    dcg = r.per_row(disc)
    # Ideal DCG: each row's gains in decreasing order at ranks 1, 2, ...
    order = np.lexsort((-r.gains, r.rows))
    pos = _within_row_position(r.rows[order], r.starts)
    ideal = np.where(pos < k, r.gains[order] / np.log2(pos + 2.0), 0.0)
    idcg = np.bincount(r.rows[order], weights=ideal, minlength=r.n_rows)
    return r.finish(dcg, idcg, r.n_rel > 0)


def _map(r, k):
    hit = r.rank <= k
    prec = np.zeros(r.rank.shape[0])
    prec[hit] = (r.n_rel_ahead[hit] + 1.0) / r.rank[hit]
    return r.finish(r.per_row(prec), np.minimum(k, r.n_rel), r.n_rel > 0)


def _mrr(r, k=None):
    best = np.full(r.n_rows, np.inf)
    np.minimum.at(best, r.rows, r.rank)
    return r.finish(1.0, best, r.n_rel > 0)


def _auc(r, k=None):
    correct = np.where(np.isfinite(r.rank), r.n_irr[r.rows] - r.n_irr_at_least, 0)
    pairs = r.n_rel * r.n_irr
    return r.finish(r.per_row(correct), pairs, pairs > 0)


# name -> (per-row implementation, public function name, whether it takes k)
_IMPLEMENTATIONS = {
    "ndcg": (_ndcg, "ndcg_at_k", True),
    "recall": (_recall, "recall_at_k", True),
    "precision": (_precision, "precision_at_k", True),
    "hit_rate": (_hit_rate, "hit_rate_at_k", True),
    "map": (_map, "map_at_k", True),
    "mrr": (_mrr, "mrr", False),
    "auc": (_auc, "auc", False),
}


def _per_user(name, y_true, y_score, *, k=None, exclude=None, n_unretrievable=0):
    """Per-user values of metric ``name`` (NaN where undefined).

    ``n_unretrievable`` trailing columns hold items that can be relevant but are never ranked
    (rank ``inf``: never a hit) and are never candidates; used by the scorers for held-out
    items the model did not see in ``fit``.
    """
    impl = _IMPLEMENTATIONS[name][0]
    return impl(_Ranks(y_true, y_score, exclude, n_unretrievable), k)


def _evaluate(name, y_true, y_score, k, exclude, average):
    _, caller, takes_k = _IMPLEMENTATIONS[name]
    params = {"k": (k, K_CONSTRAINT)} if takes_k else {}
    params["average"] = (average, [BOOL])
    check_params(params, caller=caller)
    k = int(k) if takes_k else None
    values = _per_user(name, y_true, y_score, k=k, exclude=exclude)
    if not average:
        return values
    defined = values[~np.isnan(values)]
    if defined.size == 0:
        what = "both a relevant and an irrelevant" if name == "auc" else "a relevant"
        raise ValueError(
            f"{name} is undefined for every user: no user has {what} candidate item "
            "(relevant items that are excluded do not count)."
        )
    return float(defined.mean())


def ndcg_at_k(y_true, y_score, *, k=10, exclude=None, average=True):
    r"""Normalized discounted cumulative gain of the top ``k`` candidates (NDCG@k).

    Parameters
    ----------
    y_true : array-like or scipy sparse matrix of shape (n_users, n_items)
        Non-negative relevance of each item for each user, used as graded gains; ``0`` is
        irrelevant.
    y_score : array-like of shape (n_users, n_items)
        Scores of a model, higher is better. ``-inf`` is allowed, NaN is not.
    k : int, default=10
        Cut-off: only the first ``k`` ranked candidates count.
    exclude : scipy sparse matrix or bool array-like of shape (n_users, n_items), default=None
        Items that are not candidates (e.g. each user's training items): nonzero entries are
        removed from the ranking whatever their score, and dropped from ``y_true``.
    average : bool, default=True
        Return the mean over users, or one value per user.

    Returns
    -------
    value : float or ndarray of shape (n_users,)
        The mean over users with a relevant candidate (``average=True``), or one value per
        user, NaN for users without a relevant candidate.

    Raises
    ------
    ValueError
        Shape mismatch, NaN scores, negative or non-finite relevance, or no user with a
        relevant candidate when ``average=True``; an ``InvalidParameterError`` (also a
        ``ValueError``) names ``k`` when it is not an int >= 1 and ``average`` when it is not
        a bool.

    See Also
    --------
    sklearn.metrics.ndcg_score : The same gains and discount, with ties averaged.

    Notes
    -----
    .. math::

        \mathrm{NDCG@k} = \frac{1}{\mathrm{IDCG@k}}
        \sum_{i \in R,\ \mathrm{rank}(i) \le k} \frac{g_i}{\log_2(\mathrm{rank}(i) + 1)}

    with :math:`g_i` the ``y_true`` value (linear gain) and IDCG@k the same sum over the
    relevant candidates :math:`R` sorted by decreasing gain. Without ties and without
    ``exclude`` it equals ``sklearn.metrics.ndcg_score(y_true, y_score, k=k)`` on users with a
    relevant item.

    Ties are pessimistic: a relevant item tied with irrelevant candidates is ranked after all
    of them, and relevant items tied with each other are ordered by increasing gain.

    Examples
    --------
    >>> import numpy as np
    >>> y_true = np.array([[0, 1, 0, 2]])
    >>> y_score = np.array([[0.9, 0.8, 0.1, 0.5]])
    >>> round(ndcg_at_k(y_true, y_score, k=3), 4)
    0.6199
    >>> # excluding item 0 (seen in training) moves both relevant items up one place
    >>> round(ndcg_at_k(y_true, y_score, k=3, exclude=np.array([[1, 0, 0, 0]])), 4)
    0.8597
    """
    return _evaluate("ndcg", y_true, y_score, k, exclude, average)


def recall_at_k(y_true, y_score, *, k=10, exclude=None, average=True):
    r"""Fraction of the relevant candidates ranked in the top ``k`` (recall@k).

    Parameters
    ----------
    y_true : array-like or scipy sparse matrix of shape (n_users, n_items)
        Non-negative relevance; ``> 0`` is relevant (binarized).
    y_score : array-like of shape (n_users, n_items)
        Scores of a model, higher is better. ``-inf`` is allowed, NaN is not.
    k : int, default=10
        Cut-off: only the first ``k`` ranked candidates count.
    exclude : scipy sparse matrix or bool array-like of shape (n_users, n_items), default=None
        Items that are not candidates (e.g. each user's training items): nonzero entries are
        removed from the ranking whatever their score, and dropped from ``y_true``.
    average : bool, default=True
        Return the mean over users, or one value per user.

    Returns
    -------
    value : float or ndarray of shape (n_users,)
        The mean over users with a relevant candidate (``average=True``), or one value per
        user, NaN for users without a relevant candidate.

    Raises
    ------
    ValueError
        Shape mismatch, NaN scores, negative or non-finite relevance, or no user with a
        relevant candidate when ``average=True``; an ``InvalidParameterError`` (also a
        ``ValueError``) names ``k`` when it is not an int >= 1 and ``average`` when it is not
        a bool.

    Notes
    -----
    .. math:: \mathrm{recall@k} = \mathrm{hits@k} / n_{rel}

    The standard definition (not :math:`\min(k, n_{rel})` in the denominator): it stays below
    1 when a user has more than ``k`` relevant candidates, even for a perfect ranking.

    Ties are pessimistic: a relevant item tied with irrelevant candidates is ranked after all
    of them.

    Examples
    --------
    >>> import numpy as np
    >>> y_true = np.array([[1, 0, 1, 0], [0, 0, 0, 1]])
    >>> y_score = np.array([[0.9, 0.8, 0.1, 0.5], [1.0, 1.0, 1.0, 1.0]])
    >>> recall_at_k(y_true, y_score, k=2, average=False).tolist()
    [0.5, 0.0]
    """
    return _evaluate("recall", y_true, y_score, k, exclude, average)


def precision_at_k(y_true, y_score, *, k=10, exclude=None, average=True):
    r"""Fraction of the top ``k`` candidates that are relevant (precision@k).

    Parameters
    ----------
    y_true : array-like or scipy sparse matrix of shape (n_users, n_items)
        Non-negative relevance; ``> 0`` is relevant (binarized).
    y_score : array-like of shape (n_users, n_items)
        Scores of a model, higher is better. ``-inf`` is allowed, NaN is not.
    k : int, default=10
        Cut-off: only the first ``k`` ranked candidates count.
    exclude : scipy sparse matrix or bool array-like of shape (n_users, n_items), default=None
        Items that are not candidates (e.g. each user's training items): nonzero entries are
        removed from the ranking whatever their score, and dropped from ``y_true``.
    average : bool, default=True
        Return the mean over users, or one value per user.

    Returns
    -------
    value : float or ndarray of shape (n_users,)
        The mean over users with a relevant candidate (``average=True``), or one value per
        user, NaN for users without a relevant candidate.

    Raises
    ------
    ValueError
        Shape mismatch, NaN scores, negative or non-finite relevance, or no user with a
        relevant candidate when ``average=True``; an ``InvalidParameterError`` (also a
        ``ValueError``) names ``k`` when it is not an int >= 1 and ``average`` when it is not
        a bool.

    Notes
    -----
    .. math:: \mathrm{precision@k} = \mathrm{hits@k} / k

    The denominator is always ``k``, also when a user has fewer than ``k`` relevant items or
    candidates.

    Ties are pessimistic: a relevant item tied with irrelevant candidates is ranked after all
    of them.

    Examples
    --------
    >>> import numpy as np
    >>> y_true = np.array([[1, 0, 1, 0]])
    >>> y_score = np.array([[0.9, 0.8, 0.1, 0.5]])
    >>> precision_at_k(y_true, y_score, k=2)
    0.5
    """
    return _evaluate("precision", y_true, y_score, k, exclude, average)


def hit_rate_at_k(y_true, y_score, *, k=10, exclude=None, average=True):
    r"""Whether a relevant candidate is ranked in the top ``k`` (hit rate, HR@k).

    Parameters
    ----------
    y_true : array-like or scipy sparse matrix of shape (n_users, n_items)
        Non-negative relevance; ``> 0`` is relevant (binarized).
    y_score : array-like of shape (n_users, n_items)
        Scores of a model, higher is better. ``-inf`` is allowed, NaN is not.
    k : int, default=10
        Cut-off: only the first ``k`` ranked candidates count.
    exclude : scipy sparse matrix or bool array-like of shape (n_users, n_items), default=None
        Items that are not candidates (e.g. each user's training items): nonzero entries are
        removed from the ranking whatever their score, and dropped from ``y_true``.
    average : bool, default=True
        Return the mean over users, or one value per user.

    Returns
    -------
    value : float or ndarray of shape (n_users,)
        The fraction of users with a hit among those with a relevant candidate
        (``average=True``), or 1.0/0.0 per user, NaN for users without a relevant candidate.

    Raises
    ------
    ValueError
        Shape mismatch, NaN scores, negative or non-finite relevance, or no user with a
        relevant candidate when ``average=True``; an ``InvalidParameterError`` (also a
        ``ValueError``) names ``k`` when it is not an int >= 1 and ``average`` when it is not
        a bool.

    Notes
    -----
    .. math:: \mathrm{HR@k} = \mathbb{1}[\mathrm{hits@k} > 0]

    Ties are pessimistic: a relevant item tied with irrelevant candidates is ranked after all
    of them.

    Examples
    --------
    >>> import numpy as np
    >>> y_true = np.array([[0, 0, 1], [1, 0, 0]])
    >>> y_score = np.array([[0.1, 0.2, 0.3], [0.1, 0.2, 0.3]])
    >>> hit_rate_at_k(y_true, y_score, k=1, average=False).tolist()
    [1.0, 0.0]
    """
    return _evaluate("hit_rate", y_true, y_score, k, exclude, average)


def map_at_k(y_true, y_score, *, k=10, exclude=None, average=True):
    r"""Mean average precision of the top ``k`` candidates (MAP@k).

    Parameters
    ----------
    y_true : array-like or scipy sparse matrix of shape (n_users, n_items)
        Non-negative relevance; ``> 0`` is relevant (binarized).
    y_score : array-like of shape (n_users, n_items)
        Scores of a model, higher is better. ``-inf`` is allowed, NaN is not.
    k : int, default=10
        Cut-off: only the first ``k`` ranked candidates count.
    exclude : scipy sparse matrix or bool array-like of shape (n_users, n_items), default=None
        Items that are not candidates (e.g. each user's training items): nonzero entries are
        removed from the ranking whatever their score, and dropped from ``y_true``.
    average : bool, default=True
        Return the mean over users (MAP@k), or AP@k per user.

    Returns
    -------
    value : float or ndarray of shape (n_users,)
        The mean over users with a relevant candidate (``average=True``), or one value per
        user, NaN for users without a relevant candidate.

    Raises
    ------
    ValueError
        Shape mismatch, NaN scores, negative or non-finite relevance, or no user with a
        relevant candidate when ``average=True``; an ``InvalidParameterError`` (also a
        ``ValueError``) names ``k`` when it is not an int >= 1 and ``average`` when it is not
        a bool.

    Notes
    -----
    .. math::

        \mathrm{AP@k} = \frac{1}{\min(k, n_{rel})}
        \sum_{i \in R,\ \mathrm{rank}(i) \le k} \mathrm{precision@rank}(i)

    where :math:`\mathrm{precision@rank}(i)` is the fraction of relevant items among the first
    :math:`\mathrm{rank}(i)` candidates. Dividing by :math:`\min(k, n_{rel})` makes a perfect
    ranking score 1.

    Ties are pessimistic: a relevant item tied with irrelevant candidates is ranked after all
    of them.

    Examples
    --------
    >>> import numpy as np
    >>> y_true = np.array([[1, 0, 1, 0]])
    >>> y_score = np.array([[0.9, 0.8, 0.1, 0.5]])
    >>> map_at_k(y_true, y_score, k=4)  # (1/1 + 2/4) / 2
    0.75
    """
    return _evaluate("map", y_true, y_score, k, exclude, average)


def mrr(y_true, y_score, *, exclude=None, average=True):
    r"""Mean reciprocal rank of the first relevant candidate, over the full ranking (MRR).

    Parameters
    ----------
    y_true : array-like or scipy sparse matrix of shape (n_users, n_items)
        Non-negative relevance; ``> 0`` is relevant (binarized).
    y_score : array-like of shape (n_users, n_items)
        Scores of a model, higher is better. ``-inf`` is allowed, NaN is not.
    exclude : scipy sparse matrix or bool array-like of shape (n_users, n_items), default=None
        Items that are not candidates (e.g. each user's training items): nonzero entries are
        removed from the ranking whatever their score, and dropped from ``y_true``.
    average : bool, default=True
        Return the mean over users, or the reciprocal rank per user.

    Returns
    -------
    value : float or ndarray of shape (n_users,)
        The mean over users with a relevant candidate (``average=True``), or one value per
        user, NaN for users without a relevant candidate.

    Raises
    ------
    ValueError
        Shape mismatch, NaN scores, negative or non-finite relevance, or no user with a
        relevant candidate when ``average=True``; an ``InvalidParameterError`` (also a
        ``ValueError``) names ``average`` when it is not a bool.

    Notes
    -----
    .. math:: \mathrm{RR} = 1 / \min_{i \in R} \mathrm{rank}(i)

    No cut-off: every candidate is ranked.

    Ties are pessimistic: a relevant item tied with irrelevant candidates is ranked after all
    of them.

    Examples
    --------
    >>> import numpy as np
    >>> y_true = np.array([[0, 0, 1, 0]])
    >>> y_score = np.array([[0.9, 0.8, 0.5, 0.5]])
    >>> mrr(y_true, y_score)  # tied with item 3, so ranked after it
    0.25
    """
    return _evaluate("mrr", y_true, y_score, None, exclude, average)


def auc(y_true, y_score, *, exclude=None, average=True):
    r"""Per-user ROC AUC: how often a relevant candidate outscores an irrelevant one.

    Parameters
    ----------
    y_true : array-like or scipy sparse matrix of shape (n_users, n_items)
        Non-negative relevance; ``> 0`` is relevant (binarized).
    y_score : array-like of shape (n_users, n_items)
        Scores of a model, higher is better. ``-inf`` is allowed, NaN is not.
    exclude : scipy sparse matrix or bool array-like of shape (n_users, n_items), default=None
        Items that are not candidates (e.g. each user's training items): nonzero entries are
        removed from the ranking whatever their score, and dropped from ``y_true``.
    average : bool, default=True
        Return the mean over users, or one value per user.

    Returns
    -------
    value : float or ndarray of shape (n_users,)
        The mean over users with at least one relevant and one irrelevant candidate
        (``average=True``), or one value per user, NaN for the other users.

    Raises
    ------
    ValueError
        Shape mismatch, NaN scores, negative or non-finite relevance, or no user with a
        defined value when ``average=True``; an ``InvalidParameterError`` (also a
        ``ValueError``) names ``average`` when it is not a bool.

    Notes
    -----
    .. math::

        \mathrm{AUC} = \frac{|\{(i, j) : i \in R,\ j \in C \setminus R,\ s_i > s_j\}|}
        {|R|\,|C \setminus R|}

    over the candidates :math:`C` of a user, then averaged over users (not pooled over all
    pairs). Pessimistic ties: a tied pair counts as wrongly ordered.

    Examples
    --------
    >>> import numpy as np
    >>> y_true = np.array([[1, 0, 1, 0]])
    >>> y_score = np.array([[0.9, 0.8, 0.5, 0.5]])
    >>> auc(y_true, y_score)  # (0, 1) and (0, 3) right, (2, 1) wrong, (2, 3) tied
    0.5
    """
    return _evaluate("auc", y_true, y_score, None, exclude, average)
