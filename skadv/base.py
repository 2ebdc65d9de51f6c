"""``BaseRecommender``: what every skadv recommender shares.

Id encoding learned in ``fit``, ``predict`` on (user, item) pairs, ``recommend`` top-n lists and
``score`` (NDCG@10 on held-out interactions). Subclasses implement ``_fit`` on integer codes and
``_user_item_scores``; everything else, including the rule for ids not seen in ``fit``, lives here.

Unknown users and items (``handle_unknown``)
--------------------------------------------
``"popularity"`` (default)
    A user not seen in ``fit`` is scored with the training popularity of each item (number of
    distinct training users who interacted with it): ``recommend`` returns the most popular
    items. An item not seen in ``fit`` cannot be ranked: ``predict`` gives it
    ``UNKNOWN_ITEM_SCORE``, the lowest finite float64 (``np.finfo(np.float64).min``, about
    ``-1.8e308``), whoever the user. It is finite, so scikit-learn's metrics
    (``roc_auc_score``...) accept it, and it ranks every unknown item below every known one,
    whose scores are finite and above it. In ``score`` and the ranking scorers, a held-out
    unknown item counts as relevant but is never retrieved. This keeps cross-validation
    working when a test fold holds ids its training fold lacks.
``"error"``
    Any unknown user or item in ``predict``, ``recommend`` or ``score`` raises ``ValueError``.

Either way, ids of the wrong type are an error, not unknown ids: when every fitted id is an
integer and every queried id a string (``"196"`` for ``196``), or the reverse, ``predict``,
``recommend`` and ``score`` raise ``TypeError`` naming the cast to do.

Scoring (``score`` and :mod:`skadv.metrics` scorers)
----------------------------------------------------
For each user of ``X``, the user's items in ``X`` are relevant and every other item is ranked,
except the user's training items that are not in ``X``. On held-out data (disjoint from the
training data) this is the usual "rank all items the user has not seen" protocol; on the
training data itself, ``score(X_train)`` measures how well the model fits it (what
``GridSearchCV(return_train_score=True)`` reports). A pair that is in both the training data
and a held-out ``X`` (a repeated interaction) is therefore relevant and ranked, not dropped.
``positive_threshold`` applies when ``y`` is given; without ``y`` every pair of ``X`` counts as
relevant.
"""

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from skadv._fold_in import FoldInMixin
from skadv._serving import ServingMixin
from skadv.utils._params import validate_params
from skadv.utils._ranking import (
    BYTES_PER_SCORE,
    row_blocks,
)
from skadv.utils._record import fit_record
from skadv.utils._validation import (
    check_id_types,
    check_interactions,
    encode_ids,
    lookup_ids,
)

__all__ = [
    "UNKNOWN_ITEM_SCORE",
    "BaseInteractionSampler",
    "BaseRecommender",
    "DotProductFactors",
    "RankingProblem",
    "dot_product_pair_scores",
    "dot_product_scores",
    "fresh_user_ids",
]

#: ``predict`` score of a pair whose item was not seen in ``fit``: below every finite score.
UNKNOWN_ITEM_SCORE = float(np.finfo(np.float64).min)


@dataclass
class RankingProblem:
    """Held-out interactions arranged for ranking metrics (see ``BaseRecommender``).

    Attributes
    ----------
    user_codes : ndarray of shape (n_test_users,)
        Codes of the test users in ``user_ids_`` (-1 for users unknown to the model).
    y_true : scipy.sparse.csr_matrix of shape (n_test_users, n_items + n_unknown_items)
        Relevance (the held-out weights) of each item; the last ``n_unknown_items`` columns are
        held-out items the model never saw.
    exclude : scipy.sparse.csr_matrix of shape (n_test_users, n_items + n_unknown_items)
        Training interactions of each test user that are not in ``X``: not candidates.
    n_unknown_items : int
        Number of extra columns for held-out items unknown to the model (never retrieved).
    """

    user_codes: np.ndarray
    y_true: sparse.csr_matrix
    exclude: sparse.csr_matrix
    n_unknown_items: int


class DotProductFactors(NamedTuple):
    """The arrays of a dot-product model: ``score(u, i) = user[u] @ item[i] + item_bias[i]``.

    Attributes
    ----------
    user : ndarray of shape (n_users_, n_factors)
    item : ndarray of shape (n_items_, n_factors)
    item_bias : ndarray of shape (n_items_,) or None
    """

    user: np.ndarray
    item: np.ndarray
    item_bias: np.ndarray | None


class BaseRecommender(ServingMixin, FoldInMixin, BaseEstimator):
    """Base class for recommenders on (user, item) interaction pairs.

    Not used directly: subclass it and implement ``_fit(user_codes, item_codes, weights)``
    and ``_user_item_scores(user_codes)``.

    Notes
    -----
    Subclasses must have parameters ``handle_unknown`` and ``positive_threshold``;
    ``positive_threshold`` without ``y`` in ``fit`` raises ``ValueError``
    (:func:`~skadv.utils._validation.check_interactions`).

    See the module docstring for the ``handle_unknown`` and scoring rules.
    """

    _parameter_constraints: dict = {}

    # ----------------------------------------------------------------- fit-time helpers
    def _validate_params(self):
        validate_params(self)

    def _fit_interactions(self, X, y=None):
        """Validate ``(X, y)``, learn the id encodings and the training interaction matrix.

        Returns
        -------
        user_codes, item_codes : ndarray of int32
        weights : ndarray of float64
        """
        users, items, weights = check_interactions(
            X, y, positive_threshold=self.positive_threshold
        )
        self.user_ids_, user_codes = encode_ids(users)
        self.item_ids_, item_codes = encode_ids(items)
        self.n_users_ = self.user_ids_.shape[0]
        self.n_items_ = self.item_ids_.shape[0]
        self.n_features_in_ = 2
        matrix = sparse.csr_matrix(
            (weights, (user_codes, item_codes)), shape=(self.n_users_, self.n_items_)
        )
        matrix.sum_duplicates()
        self.interactions_ = matrix
        self.item_popularity_ = np.bincount(matrix.indices, minlength=self.n_items_).astype(
            np.float64
        )
        self.fit_record_ = fit_record(self)
        return user_codes, item_codes, weights

    # ----------------------------------------------------------------- subclass hooks
    def _user_item_scores(self, user_codes):
        """Scores of every item for known users: ndarray (len(user_codes), n_items_)."""
        raise NotImplementedError

    def _pair_scores(self, user_codes, item_codes):
        """Scores of known (user, item) pairs; override when cheaper than full rows.

        This default scores full rows of the distinct users, in blocks that fit
        ``working_memory``.
        """
        out = np.empty(user_codes.shape[0], dtype=np.float64)
        uniq, inverse = np.unique(user_codes, return_inverse=True)
        for block in row_blocks(uniq.shape[0], self.n_items_ * BYTES_PER_SCORE):
            rows = self._user_item_scores(uniq[block])
            sel = (inverse >= block.start) & (inverse < block.stop)
            out[sel] = rows[inverse[sel] - block.start, item_codes[sel]]
        return out

    # ----------------------------------------------------------------- id handling
    def _encode_users(self, users, name="X (user column)"):
        codes = lookup_ids(self.user_ids_, users)
        if np.any(codes < 0):
            check_id_types(self.user_ids_, users, name)
        if self.handle_unknown == "error" and np.any(codes < 0):
            unknown = np.unique(np.asarray(users, dtype=object)[codes < 0])[:5].tolist()
            raise ValueError(
                f"{int(np.sum(codes < 0))} interactions involve users not seen in fit "
                f"(e.g. {unknown}) and handle_unknown='error'."
            )
        return codes

    def _encode_items(self, items, name="X (item column)"):
        codes = lookup_ids(self.item_ids_, items)
        if np.any(codes < 0):
            check_id_types(self.item_ids_, items, name)
        if self.handle_unknown == "error" and np.any(codes < 0):
            unknown = np.unique(np.asarray(items, dtype=object)[codes < 0])[:5].tolist()
            raise ValueError(
                f"{int(np.sum(codes < 0))} interactions involve items not seen in fit "
                f"(e.g. {unknown}) and handle_unknown='error'."
            )
        return codes

    # ----------------------------------------------------------------- scoring protocol
    # What metrics, scorers, attacks and meta-estimators read: public, so that a new family
    # (or a wrapper such as GANAugmenter) implements or delegates these and nothing private.
    def score_users(self, user_codes):
        """Scores of every item for a block of users given by code (the scoring protocol).

        Parameters
        ----------
        user_codes : array-like of int of shape (n_block,)
            Positions in ``user_ids_``; -1 for a user not seen in ``fit``, whose row is
            :meth:`unknown_user_scores` (``handle_unknown="popularity"``): items in order of
            training popularity, with scores on the model's scale.

        Returns
        -------
        scores : ndarray of shape (n_block, n_items_)
            In the model's dtype (float32 factors give float32 scores). Callers pass one
            block of users at a time (see ``recommend``): the array is dense.

        Examples
        --------
        >>> from skadv import PopularityRecommender
        >>> from skadv.datasets import make_interactions
        >>> X = make_interactions(30, 20, density=0.3, random_state=0)
        >>> model = PopularityRecommender().fit(X)
        >>> model.score_users([0, -1]).shape
        (2, 20)
        """
        user_codes = np.asarray(user_codes, dtype=np.int32)
        known = user_codes >= 0
        if known.all():
            return self._user_item_scores(user_codes)
        scores = self._user_item_scores(user_codes[known]) if known.any() else None
        unknown_row = self.unknown_user_scores()
        dtype = unknown_row.dtype if scores is None else scores.dtype
        out = np.empty((user_codes.shape[0], self.n_items_), dtype=dtype)
        if scores is not None:
            out[known] = scores
        out[~known] = unknown_row
        return out

    def unknown_user_scores(self):
        """The score row of a user not seen in ``fit`` (``handle_unknown="popularity"``).

        Items rank by training popularity (number of distinct training users, ties by the
        lower item code), and the scores are those of the *average training user* (the mean
        of every training user's score row; for a dot-product model, the scores of the mean
        user vector), sorted and handed out in that order: the best score goes to the most
        popular item. Unknown users are therefore ranked by popularity, as ever, while their
        ``predict`` scores lie on the scale of the known users' scores and can be mixed with
        them in one ranking or metric (:class:`~skadv.PopularityRecommender`: its own scores).

        Returns
        -------
        scores : ndarray of shape (n_items_,)

        Examples
        --------
        >>> from skadv import AdversarialMFRecommender
        >>> from skadv.datasets import make_interactions
        >>> X = make_interactions(30, 20, density=0.3, random_state=0)
        >>> model = AdversarialMFRecommender(4, n_epochs=2, random_state=0).fit(X)
        >>> row = model.unknown_user_scores()
        >>> int(np.argmax(row)) == int(np.argmax(model.item_popularity_))
        True
        """
        check_is_fitted(self)
        mean_row = self._mean_user_scores()
        order = np.lexsort((np.arange(self.n_items_), -self.item_popularity_))
        out = np.empty_like(mean_row)
        out[order] = np.sort(mean_row)[::-1]
        return out

    def _mean_user_scores(self):
        """Mean of the training users' score rows (the average user), in the scores' dtype."""
        fac = self.factors()
        if fac is not None:  # linear: the mean row is the mean user vector's row
            mean_user = fac.user.astype(np.float64).mean(axis=0) if fac.user.shape[0] else None
            if mean_user is not None:
                row = fac.item.astype(np.float64) @ mean_user
                if fac.item_bias is not None:
                    row += fac.item_bias
                return row.astype(fac.item.dtype)
        # A pass over every training user: computed once per fitted state (fit and
        # partial_fit make a new fit_record_), not once per block of a serving call.
        # The cache holds the objects themselves (not their ids, which a refit may reuse).
        cached = getattr(self, "_mean_row_cache", None)
        if (
            cached is not None
            and cached[0] is self.fit_record_
            and cached[1] is self.interactions_
            and cached[2].shape[0] == self.n_items_
        ):
            return cached[2]  # fmt: skip
        total, dtype = np.zeros(self.n_items_, dtype=np.float64), np.float64
        for block in row_blocks(self.n_users_, self.n_items_ * BYTES_PER_SCORE):
            rows = self._user_item_scores(np.arange(block.start, block.stop, dtype=np.int32))
            total += rows.sum(axis=0, dtype=np.float64)
            dtype = rows.dtype
        row = (total / max(self.n_users_, 1)).astype(dtype)
        self._mean_row_cache = (self.fit_record_, self.interactions_, row)
        return row

    # ----------------------------------------------------------------- public API
    def predict(self, X):
        """Score (user, item) pairs: higher means more likely to be relevant.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2) or DataFrame
            ``(user, item)`` id pairs.

        Returns
        -------
        scores : ndarray of shape (n_pairs,)
            Finite, on one scale for every pair. With ``handle_unknown="popularity"``, a pair
            of an unknown user and a known item gets the item's entry of
            :meth:`unknown_user_scores` (items ranked by popularity, scores taken from the
            average training user's: on the model's scale, so mixing known and unknown users
            in one metric is sound), and a pair with an unknown item gets
            ``UNKNOWN_ITEM_SCORE`` (``np.finfo(np.float64).min``, below every other score);
            with ``"error"`` either raises ``ValueError``.
        """
        check_is_fitted(self)
        users, items, _ = check_interactions(X, allow_empty=True)
        u = self._encode_users(users)
        i = self._encode_items(items)
        scores = np.full(u.shape[0], UNKNOWN_ITEM_SCORE, dtype=np.float64)
        both = (u >= 0) & (i >= 0)
        if both.any():
            scores[both] = self._pair_scores(u[both], i[both])
        cold_user = (u < 0) & (i >= 0)
        if cold_user.any():
            scores[cold_user] = self.unknown_user_scores()[i[cold_user]]
        return scores

    def _device_ranker(self):
        """A ranker of blocks of users on another device (``top_k(codes, n, exclude)``), or
        None to rank in NumPy: the hook of the torch-backed families
        (``skadv._torch.dispatch.DeviceRankingMixin``)."""
        return None

    def score(self, X, y=None):
        """NDCG@10 of the model on interactions ``X`` (higher is better).

        Each user's items in ``X`` are the relevant ones; every item is ranked except the
        user's training items that are not in ``X``. On held-out ``X`` this ranks the items
        the user has not seen; on the training data it measures the fit. Other metrics:
        :func:`skadv.metrics.get_ranking_scorer`.

        Parameters
        ----------
        X : array-like of shape (n_interactions, 2) or DataFrame
            ``(user, item)`` id pairs.
        y : array-like of shape (n_interactions,), default=None
            Weights (ratings). **Passing y switches NDCG to graded gains**: each held-out
            pair's gain is its weight (a 5-star item counts more than a 4-star one), after
            the ``positive_threshold`` filter. ``score(X)`` without ``y`` is binary NDCG
            (every pair of ``X`` relevant with gain 1, no threshold), so ``score(X)`` and
            ``score(X, y)`` differ on the same pairs unless every weight is 1.

        Returns
        -------
        score : float
        """
        from skadv.metrics import get_ranking_scorer

        return get_ranking_scorer("ndcg@10")(self, X, y)

    # ----------------------------------------------------------------- evaluation support
    def seen_items(self, user_codes):
        """Training interactions of users given by code (the scoring protocol).

        Parameters
        ----------
        user_codes : array-like of int of shape (n_block,)
            Positions in ``user_ids_``; -1 for a user not seen in ``fit``.

        Returns
        -------
        rows : scipy.sparse.csr_matrix of shape (n_block, n_items)
            Row ``k`` holds the training weights of user ``user_codes[k]`` (``n_items`` is
            the fitted ``n_items_``); an empty row for code -1.

        Examples
        --------
        >>> from skadv import PopularityRecommender
        >>> from skadv.datasets import make_interactions
        >>> model = PopularityRecommender().fit(make_interactions(20, 10, random_state=0))
        >>> model.seen_items([0, -1]).shape
        (2, 10)
        """
        user_codes = np.asarray(user_codes, dtype=np.int64)
        known = np.where(user_codes >= 0, user_codes, 0)
        rows = self.interactions_[known]
        if np.any(user_codes < 0):
            keep = sparse.diags((user_codes >= 0).astype(np.float64))
            rows = (keep @ rows).tocsr()
            rows.eliminate_zeros()
        return rows

    def ranking_problem(self, X, y=None):
        """Held-out interactions ``(X, y)`` arranged for ranking metrics: a
        :class:`RankingProblem` (the scoring protocol, read by ``score`` and every scorer of
        :mod:`skadv.metrics`; see the module docstring for which items are ranked)."""
        check_is_fitted(self)
        # Without y there is nothing to threshold: every pair of X is relevant.
        threshold = self.positive_threshold if y is not None else None
        users, items, weights = check_interactions(X, y, positive_threshold=threshold)
        u = self._encode_users(users)
        i = self._encode_items(items)
        test_users, row = encode_ids(users)
        user_codes = u[_first_index(row, test_users.shape[0])]
        unknown = i < 0
        n_unknown = 0
        col = i.astype(np.int64)
        if unknown.any():
            _, unk_codes = encode_ids(items[unknown])
            n_unknown = int(unk_codes.max()) + 1
            col[unknown] = self.n_items_ + unk_codes
        n_cols = self.n_items_ + n_unknown
        y_true = sparse.csr_matrix(
            (np.where(weights > 0, weights, 0.0), (row, col)),
            shape=(test_users.shape[0], n_cols),
        )
        y_true.sum_duplicates()
        y_true.eliminate_zeros()
        # Training items stay candidates when they are in X: scoring the training data then
        # measures the fit instead of excluding every relevant item.
        seen = (self.seen_items(user_codes) != 0).astype(np.float64)
        seen.resize((seen.shape[0], n_cols))
        exclude = (seen - seen.multiply(y_true != 0)).tocsr()
        exclude.eliminate_zeros()
        return RankingProblem(user_codes, y_true, exclude, n_unknown)

    def factors(self):
        """The factor protocol: the arrays a dot-product model scores with, or None.

        A model scores by a dot product when ``score(u, i) = user[u] @ item[i] +
        item_bias[i]``; embedding attacks, robustness curves and device ranking need those
        arrays. The default reads the fitted ``user_factors_``, ``item_factors_`` and
        ``item_bias_`` (optional); a model that does not score this way returns None.

        Returns
        -------
        DotProductFactors or None

        Examples
        --------
        >>> from skadv import AdversarialMFRecommender, PopularityRecommender
        >>> from skadv.datasets import make_interactions
        >>> X = make_interactions(30, 20, density=0.3, random_state=0)
        >>> AdversarialMFRecommender(4, n_epochs=1, random_state=0).fit(X).factors().item.shape
        (20, 4)
        >>> PopularityRecommender().fit(X).factors() is None
        True
        """
        check_is_fitted(self)
        user = getattr(self, "user_factors_", None)
        item = getattr(self, "item_factors_", None)
        if user is None or item is None:
            return None
        return DotProductFactors(user, item, getattr(self, "item_bias_", None))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        tags.input_tags.two_d_array = True
        tags.input_tags.string = True
        return tags


def _first_index(inverse, n):
    first = np.full(n, -1, dtype=np.int64)
    order = np.arange(inverse.shape[0] - 1, -1, -1)
    first[inverse[order]] = order
    return first


# ------------------------------------------------------------------------ dot-product models
def dot_product_scores(model, user_codes):
    """``user[users] @ item.T (+ item_bias)`` of ``model.factors()`` in the factors' dtype:
    the ``_user_item_scores`` of every model that scores by a dot product."""
    user, item, bias = model.factors()
    scores = user[user_codes] @ item.T
    if bias is not None:
        scores += bias.astype(scores.dtype, copy=False)
    return scores


def dot_product_pair_scores(model, user_codes, item_codes):
    """Float64 ``user_factors_[u] . item_factors_[i] (+ item_bias_[i])`` of each pair, in
    blocks of pairs whose gathered rows fit ``working_memory``."""
    user, item, bias = model.factors()
    out = np.empty(user_codes.shape[0], dtype=np.float64)
    row_bytes = 2 * 8 * user.shape[1]  # two float64 rows per pair
    for block in row_blocks(user_codes.shape[0], row_bytes):
        u = user[user_codes[block]].astype(np.float64)
        out[block] = np.einsum("ij,ij->i", u, item[item_codes[block]])
    if bias is not None:
        out += bias[item_codes]
    return out


# ------------------------------------------------------------------------------ samplers
#: Prefix of the synthetic user ids a sampler gives when the real ids are not all integers.
SYNTHETIC_USER_PREFIX = "synthetic-"


def fresh_user_ids(user_ids, n):
    """``n`` user ids that cannot collide with ``user_ids``.

    Integer ids (all of ``user_ids`` integers): ``max + 1, max + 2, ...``. Otherwise strings
    ``"synthetic-0", "synthetic-1", ...``, with the prefix lengthened by ``"_"`` until none
    of them is a real id.

    Examples
    --------
    >>> fresh_user_ids(np.array([3, 10]), 2).tolist()
    [11, 12]
    >>> fresh_user_ids(np.array(["a", "synthetic-0"], dtype=object), 2).tolist()
    ['synthetic_-0', 'synthetic_-1']
    """
    if user_ids.dtype.kind in "iu" and user_ids.shape[0]:
        start = int(user_ids.max()) + 1
        if start + n - 1 > np.iinfo(np.int64).max:
            raise ValueError("the largest user id leaves no room for new integer ids.")
        return np.arange(start, start + n, dtype=np.int64)
    known = set(user_ids.tolist())
    prefix = SYNTHETIC_USER_PREFIX
    while True:
        ids = [f"{prefix}{k}" for k in range(n)]
        if known.isdisjoint(ids):
            return np.array(ids, dtype=object)
        prefix = prefix[:-1] + "_-"


class BaseInteractionSampler(BaseEstimator):
    """Base class of samplers of interaction data: imbalanced-learn's ``fit_resample`` contract.

    A sampler returns the training data with rows added (generated profiles, fake users,
    poisoning rows) and has no ``transform``, so ``imblearn.pipeline.Pipeline`` applies it
    while fitting and skips it at predict and score time: a test fold is never resampled.
    Subclasses implement one hook:

    ``_fit_resample(user_codes, item_codes, weights)``
        Given the validated input as integer codes (indexes into ``user_ids_`` and
        ``item_ids_``, learned here) and float64 weights (ones when ``y`` is None:
        ``has_y_`` tells), return ``(users, items, weights)`` of the rows to **add**: user
        codes ``< n_users`` are real users, code ``n_users + k`` is the ``k``-th synthetic
        user (``synthetic_user_ids_[k]``); item codes index ``item_ids_``. A filter may
        return a fourth element, a boolean mask of the input rows to **keep** (None keeps
        them all).

    The returned data is the input, unchanged and in its order (less the rows a filter
    dropped), followed by the added rows, in the caller's container and id space: an ndarray
    of shape ``(n, 2)`` for array-like input; for a DataFrame, a DataFrame with a fresh
    ``RangeIndex`` and the input's columns, where added rows hold their user and item and
    missing values in the other columns. ``fit(X, y)`` runs ``fit_resample`` and returns the
    sampler (imbalanced-learn's samplers have both).

    Attributes
    ----------
    user_ids_, item_ids_ : ndarray
        Ids of the input, in code order (``_fit_resample`` codes index them).
    sample_mask_ : ndarray of bool, shape (n_resampled,)
        True for the rows the sampler added.
    kept_mask_ : ndarray of bool, shape (n_interactions,)
        True for the input rows kept (all of them unless the sampler filters).
    has_y_ : bool
        Whether ``y`` was given (ratings or weights) or not (implicit data).
    synthetic_user_ids_ : ndarray of shape (n_synthetic_users,)
        Ids given to new users: integers above the largest real id, or strings
        ``"synthetic-<k>"`` (see :func:`fresh_user_ids`).
    n_features_in_ : int
        Always 2.
    """

    _parameter_constraints: dict = {}

    def fit_resample(self, X, y=None):
        """Fit the sampler on ``X`` and return it with the added rows.

        Parameters
        ----------
        X : array-like of shape (n_interactions, 2) or DataFrame
            ``(user, item)`` id pairs (see :func:`~skadv.utils._validation.check_interactions`).
        y : array-like of shape (n_interactions,), default=None
            Weights or ratings; None for implicit feedback.

        Returns
        -------
        X_resampled : ndarray of shape (n_resampled, 2) or DataFrame
        y_resampled : ndarray of shape (n_resampled,) or None
            None when ``y`` is None; else ``y`` followed by the weights of the added rows.
        """
        validate_params(self)
        users, items, weights = check_interactions(X, y)
        self.user_ids_, user_codes = encode_ids(users)
        self.item_ids_, item_codes = encode_ids(items)
        self.n_features_in_ = 2
        n_users = self.user_ids_.shape[0]
        self.has_y_ = y is not None
        out = self._fit_resample(user_codes, item_codes, weights)
        new_users, new_items, new_weights = out[:3]
        keep = out[3] if len(out) > 3 else None
        keep = np.ones(len(users), dtype=bool) if keep is None else np.asarray(keep, dtype=bool)
        if keep.shape != (len(users),):
            raise RuntimeError("_fit_resample returned a keep mask of the wrong shape.")
        self.kept_mask_ = keep
        new_users = np.asarray(new_users, dtype=np.int64)
        new_items = np.asarray(new_items, dtype=np.int64)
        n_synthetic = int(new_users.max()) + 1 - n_users if new_users.size else 0
        self.synthetic_user_ids_ = fresh_user_ids(self.user_ids_, max(n_synthetic, 0))
        if new_users.size and new_users.min() < 0:
            raise RuntimeError("_fit_resample returned a negative user code.")
        added_users = np.empty(new_users.shape[0], dtype=object)
        real = new_users < n_users
        added_users[real] = self.user_ids_[new_users[real]]
        added_users[~real] = self.synthetic_user_ids_[new_users[~real] - n_users]
        added_items = self.item_ids_[new_items]
        self.sample_mask_ = np.r_[np.zeros(int(keep.sum()), dtype=bool),
                                  np.ones(new_users.shape[0], dtype=bool)]  # fmt: skip
        if not keep.all():
            X = X.iloc[np.flatnonzero(keep)] if hasattr(X, "iloc") else X
            users, items = users[keep], items[keep]
        X_res = _append_rows(X, users, items, added_users, added_items)
        y_res = None
        if y is not None:
            y_res = np.concatenate([np.asarray(y, dtype=np.float64).ravel()[keep],
                                    np.asarray(new_weights, dtype=np.float64)])  # fmt: skip
        return X_res, y_res

    def fit(self, X, y=None):
        """Run :meth:`fit_resample` for its fitted attributes and return the sampler.

        Parameters
        ----------
        X : array-like of shape (n_interactions, 2) or DataFrame
        y : array-like of shape (n_interactions,), default=None

        Returns
        -------
        self
        """
        self.fit_resample(X, y)
        return self

    def _fit_resample(self, user_codes, item_codes, weights):
        raise NotImplementedError

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        tags.input_tags.two_d_array = True
        tags.input_tags.string = True
        return tags


def _append_rows(X, users, items, added_users, added_items):
    """``X`` followed by the (user, item) rows added, in ``X``'s container."""
    import pandas as pd

    if isinstance(X, pd.DataFrame):
        added = pd.DataFrame({"user": added_users, "item": added_items})
        for col in ("user", "item"):
            if X[col].dtype.kind in "iu" and added[col].map(type).eq(int).all():
                added[col] = added[col].astype(X[col].dtype)
        return pd.concat([X, added], ignore_index=True)
    column = [users, items]
    out = np.empty((len(users) + len(added_users), 2), dtype=object)
    out[: len(users), 0], out[: len(users), 1] = column
    out[len(users) :, 0], out[len(users) :, 1] = added_users, added_items
    # Integer ids stay an integer array (synthetic users of integer ids are integers).
    if users.dtype.kind in "iu" and items.dtype.kind in "iu":
        return out.astype(np.int64)
    return out
