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

from skadv.utils._params import BOOL, Interval, check_params, validate_params
from skadv.utils._ranking import (
    BYTES_PER_SCORE,
    CandidateLists,
    cosine_normalize,
    fill_holes,
    gather_scores,
    in_rows,
    padded_rows,
    row_blocks,
    take_columns,
    top_k,
)
from skadv.utils._record import fit_record
from skadv.utils._validation import (
    check_id_array,
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


class BaseRecommender(BaseEstimator):
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

    def recommend(
        self,
        users,
        n=10,
        *,
        items=None,
        filter_items=None,
        exclude_seen=True,
        as_frame=False,
        item_metadata=None,
    ):
        """Top-``n`` items for each user, optionally among candidates and without some items.

        Parameters
        ----------
        users : array-like of shape (n_users,)
            User ids as given in ``fit`` (unknown users follow ``handle_unknown``).
        n : int, default=10
            Number of items per user.
        items : array-like of item ids, list of array-likes, or sparse matrix, default=None
            Candidates: only these items are ranked. One 1-d array-like of item ids for every
            user, or a list with one array-like of item ids per user, or a scipy sparse
            matrix of shape ``(n_users, n_items_)`` whose nonzero columns are each user's
            candidates (column ``j`` is ``item_ids_[j]``). Ids unknown to the model are
            ignored (``handle_unknown="error"``: ``ValueError``). None ranks every item.
        filter_items : array-like of item ids, default=None
            Items never returned, for any user (out of stock, already shown...).
        exclude_seen : bool, default=True
            Leave out items the user interacted with in ``fit``.
        as_frame : bool, default=False
            Return a tidy ``pandas.DataFrame`` instead of arrays.
        item_metadata : DataFrame, default=None
            Indexed by item id (e.g. titles); its columns are joined to the frame. Requires
            ``as_frame=True``.

        Returns
        -------
        items : ndarray of shape (n_users, n_out)
            Original item ids, best first. ``n_out = min(n, n_candidates)``, where
            ``n_candidates`` is the number of items that are candidates and not filtered
            (for per-user candidates: the length of the longest list), so a user with at
            least ``n`` eligible items gets exactly ``n`` of them. A slot a user cannot fill
            holds padding with score ``-inf``: an item the user has seen, or else another
            item, never a filtered one and never twice.
        scores : ndarray of shape (n_users, n_out)
            In the model's dtype (float32 factors give float32 scores).
        frame : DataFrame
            With ``as_frame=True``, instead of the two arrays: columns ``user``, ``rank``
            (1 = best), ``item``, ``score``, then the columns of ``item_metadata``; one row
            per recommendation, padding (``-inf``) left out.

        Notes
        -----
        Users are scored in blocks whose score rows fit scikit-learn's ``working_memory``
        (``sklearn.config_context(working_memory=MiB)``, default 1024 MiB), so memory stays
        bounded whatever the number of users. With candidates, a dot-product model (see
        :meth:`factors`) scores only the candidate columns, gathering their item factors: a
        few hundred candidates per user cost a few hundred dot products, not a full ranking;
        other models score full rows and keep the candidate columns. Without ``items`` and
        ``filter_items``, a dot-product model trained on a CUDA device scores each block
        there and moves only the top-``n`` back (when CUDA is available).

        Examples
        --------
        >>> from skadv import AdversarialMFRecommender
        >>> from skadv.datasets import make_interactions
        >>> X = make_interactions(n_users=40, n_items=30, density=0.2, random_state=0)
        >>> model = AdversarialMFRecommender(8, n_epochs=3, random_state=0).fit(X)
        >>> items, scores = model.recommend([0, 1], n=3, items=[2, 4, 6, 8, 10])
        >>> items.shape, bool(np.isin(items, [2, 4, 6, 8, 10]).all())
        ((2, 3), True)
        >>> model.recommend([0], n=2, filter_items=[5], as_frame=True).columns.tolist()
        ['user', 'rank', 'item', 'score']
        """
        check_is_fitted(self)
        self._check_serving_params(n, exclude_seen, as_frame, item_metadata, "recommend")
        users = check_id_array(users, "users")
        codes = self._encode_users(users, name="users")
        candidates, filtered = self._serving_items(items, filter_items, codes.shape[0])
        ranker = None
        if candidates is None and filtered is None:
            ranker = self._device_ranker()  # e.g. a dot-product model trained on a GPU

        def seen(block):
            return self.seen_items(codes[block]) if exclude_seen else None

        idx, vals = self._rank_blocks(
            codes.shape[0], n, self._known_user_scorer(codes), seen, candidates, filtered,
            ranker=None if ranker is None else (lambda block, k, excl: ranker.top_k(
                codes[block], k, excl)),
        )  # fmt: skip
        return self._served(users, idx, vals, as_frame, item_metadata)

    # ----------------------------------------------------------------- serving machinery
    def _check_serving_params(self, n, exclude_seen, as_frame, item_metadata, caller):
        check_params(
            {"n": (n, [Interval("int", 1, None)]), "exclude_seen": (exclude_seen, [BOOL]),
             "as_frame": (as_frame, [BOOL])},
            caller=f"{type(self).__name__}.{caller}",
        )  # fmt: skip
        if item_metadata is not None:
            import pandas as pd

            if not isinstance(item_metadata, pd.DataFrame):
                raise TypeError(
                    "item_metadata must be a pandas DataFrame indexed by item id, got "
                    f"{type(item_metadata).__name__}."
                )
            if not as_frame:
                raise ValueError("item_metadata is joined to a frame: pass as_frame=True.")

    def _item_codes(self, ids, name):
        """Codes of item ids given to a serving method (unknown: -1, or an error)."""
        ids = check_id_array(ids, name)
        codes = lookup_ids(self.item_ids_, ids)
        if np.any(codes < 0):
            check_id_types(self.item_ids_, ids, name)
            if self.handle_unknown == "error":
                unknown = ids[codes < 0][:5].tolist()
                raise ValueError(
                    f"{name} holds {int(np.sum(codes < 0))} items not seen in fit (e.g. "
                    f"{unknown}) and handle_unknown='error'."
                )
        return codes

    def _serving_items(self, items, filter_items, n_rows):
        """``(candidates, filtered)``: None, sorted unique item codes (one set for every
        row, filtered codes removed) or ``CandidateLists`` (per row) for ``items``; sorted
        codes or None for ``filter_items``."""
        filtered = None
        if filter_items is not None:
            codes = self._item_codes(filter_items, "filter_items")
            filtered = np.unique(codes[codes >= 0])
        if items is None:
            return None, filtered
        if sparse.issparse(items):
            if items.shape != (n_rows, self.n_items_):
                raise ValueError(
                    f"items as a sparse matrix must have shape (n_users, n_items_) = "
                    f"{(n_rows, self.n_items_)}, got {items.shape}."
                )
            return CandidateLists.from_sparse(items), filtered
        per_user = (isinstance(items, (list, tuple)) and len(items) > 0
                    and all(np.ndim(c) == 1 and not isinstance(c, (str, bytes))
                            for c in items))  # fmt: skip
        if per_user:
            if len(items) != n_rows:
                raise ValueError(
                    f"items holds {len(items)} candidate lists for {n_rows} users: pass one "
                    "array-like of item ids per user, or one array-like for all of them."
                )
            lengths = [len(c) for c in items]
            parts = [np.asarray(c) for c in items]
            numeric = all(p.dtype.kind in "iu" for p in parts)
            # One concatenated array: ids of NumPy integer lists are checked in bulk.
            flat = np.concatenate(parts) if numeric else [v for c in items for v in c]
            codes = (self._item_codes(flat, "items") if len(flat)
                     else np.empty(0, dtype=np.int32))  # fmt: skip
            return CandidateLists(codes, np.r_[0, np.cumsum(lengths)]), filtered
        codes = self._item_codes(items, "items")
        codes = np.unique(codes[codes >= 0])
        if filtered is not None:
            codes = codes[~np.isin(codes, filtered)]
        return codes, filtered

    def _known_user_scorer(self, codes):
        """``score(block, cols)`` for users given by code: ``cols`` None (every item), a 1-d
        array of item codes (shared candidates) or a 2-d array (per-row candidates, -1 pads
        scored arbitrarily). Dot-product models score only the requested columns."""
        fac = self.factors()

        def score(block, cols):
            c = codes[block]
            if cols is None or fac is None:
                return take_columns(self.score_users(c), cols)
            known = c >= 0
            out = None
            if known.any():
                part = _factor_scores(fac, fac.user[c[known]],
                                      cols if np.ndim(cols) == 1 else cols[known],
                                      n_jobs=getattr(self, "n_jobs", None))  # fmt: skip
                if known.all():
                    return part
                out = np.empty((c.shape[0],) + part.shape[1:], dtype=part.dtype)
                out[known] = part
            row = self.unknown_user_scores()
            unknown = take_columns(np.broadcast_to(row, (int((~known).sum()), row.shape[0])),
                                    cols if np.ndim(cols) == 1 else cols[~known])  # fmt: skip
            if out is None:
                return np.ascontiguousarray(unknown)
            out[~known] = unknown
            return out

        score.item_dim = None if fac is None else fac.item.shape[1]
        return score

    def _rank_blocks(self, n_rows, n, score, seen, candidates, filtered, *, ranker=None):
        """Top-``n`` item codes and scores of ``n_rows`` rows, in blocks (see recommend).

        ``score(block, cols)`` scores a block of rows; ``seen(block)`` gives the CSR rows of
        items to exclude (or None); ``candidates``/``filtered`` come from ``_serving_items``;
        ``ranker(block, k, exclude)`` ranks a whole block elsewhere (only without candidates
        and filters).
        """
        n_filtered = 0 if filtered is None else filtered.shape[0]
        per_row = isinstance(candidates, CandidateLists)
        if candidates is None:
            width = min(n, self.n_items_ - n_filtered)
            row_bytes = self.n_items_ * BYTES_PER_SCORE
        elif per_row:
            longest = candidates.max_length
            width = min(n, longest, self.n_items_ - n_filtered)
            item_dim = getattr(score, "item_dim", None) or 0
            row_bytes = max(longest, 1) * (BYTES_PER_SCORE + 8 + 8 * item_dim)
            if item_dim == 0:  # full rows are scored, then gathered
                row_bytes += self.n_items_ * BYTES_PER_SCORE
            banned = None
            if n_filtered:
                banned = np.zeros(self.n_items_, dtype=bool)
                banned[filtered] = True
        else:
            width = min(n, candidates.shape[0])
            row_bytes = max(candidates.shape[0], 1) * BYTES_PER_SCORE
            if getattr(score, "item_dim", None) is None:
                row_bytes += self.n_items_ * BYTES_PER_SCORE
        idx = np.zeros((n_rows, width), dtype=np.int64)
        vals = None
        n_jobs = getattr(self, "n_jobs", None)
        for block in row_blocks(n_rows, row_bytes):
            exclude = seen(block)
            if width == 0:
                block_idx = np.zeros((block.stop - block.start, 0), dtype=np.int64)
                block_vals = np.zeros((block.stop - block.start, 0), dtype=np.float64)
            elif candidates is None and ranker is not None:
                block_idx, block_vals = ranker(block, width, exclude)
            elif candidates is None:
                n_block = block.stop - block.start
                if n_filtered:  # full rows, the filtered columns excluded
                    banned = sparse.csr_matrix(
                        (np.ones(n_block * n_filtered, dtype=bool), np.tile(filtered, n_block),
                         np.arange(n_block + 1) * n_filtered),
                        shape=(n_block, self.n_items_),
                    )  # fmt: skip
                    exclude = banned if exclude is None else (exclude.astype(bool) + banned)
                block_idx, block_vals = top_k(score(block, None), width, exclude=exclude,
                                              n_jobs=n_jobs)  # fmt: skip
                if n_filtered:  # padding must not be a filtered item either
                    hit = np.isin(block_idx, filtered)
                    if hit.any():
                        block_idx[hit] = -1
                        block_idx = fill_holes(block_idx, self.n_items_, filtered)
            elif not per_row:
                if exclude is not None:
                    exclude = exclude.tocsr()[:, candidates]
                block_idx, block_vals = top_k(score(block, candidates), width,
                                              exclude=exclude, n_jobs=n_jobs)  # fmt: skip
                block_idx = candidates[block_idx]
            else:
                cols = candidates.rows(block, self.n_items_, banned)
                scores = np.array(score(block, np.maximum(cols, 0)), copy=True)
                pad = cols < 0  # unknown, filtered or repeated candidates
                mask = pad.copy()
                if exclude is not None:
                    mask |= in_rows(exclude, cols)
                scores[pad] = -np.inf
                if scores.shape[1] < width:  # a block of short lists
                    extra = width - scores.shape[1]
                    scores = np.pad(scores, ((0, 0), (0, extra)), constant_values=-np.inf)
                    cols = np.pad(cols, ((0, 0), (0, extra)), constant_values=-1)
                    mask = np.pad(mask, ((0, 0), (0, extra)), constant_values=True)
                block_idx, block_vals = top_k(scores, width, exclude=sparse.csr_matrix(mask),
                                              n_jobs=n_jobs)  # fmt: skip
                # Padding left by the kernel (code -1) becomes distinct unfiltered items.
                block_idx = fill_holes(np.take_along_axis(cols, block_idx, axis=1),
                                       self.n_items_, filtered)  # fmt: skip
            if vals is None:
                vals = np.empty((n_rows, width), dtype=block_vals.dtype)
            idx[block], vals[block] = block_idx, block_vals
        if vals is None:  # no row
            vals = np.empty((0, width), dtype=np.float64)
        return idx, vals

    def _served(self, users, idx, vals, as_frame, item_metadata, item_ids=None):
        """Arrays of ids and scores, or the tidy frame of ``recommend``."""
        item_ids = self.item_ids_ if item_ids is None else item_ids
        items = item_ids[idx]
        if not as_frame:
            return items, vals
        import pandas as pd

        keep = vals != -np.inf  # padding
        rows, ranks = np.nonzero(keep)
        frame = pd.DataFrame({
            "user": pd.Series(np.asarray(users)[rows], dtype=_frame_dtype(users)),
            "rank": ranks + 1,
            "item": pd.Series(items[keep], dtype=_frame_dtype(item_ids)),
            "score": vals[keep],
        })  # fmt: skip
        if item_metadata is not None:
            frame = frame.join(item_metadata, on="item")
        return frame

    # ----------------------------------------------------------------- similar items/users
    def item_embeddings(self):
        """Item vectors that :meth:`similar_items` compares by cosine, or None.

        The default is ``factors().item`` (dot-product models); a family whose items have
        another natural embedding overrides it. None: the model has no item embeddings
        (:class:`~skadv.PopularityRecommender`, NeuMF...), and ``similar_items`` raises.

        Returns
        -------
        ndarray of shape (n_items_, n_dims) or None
        """
        fac = self.factors()
        return None if fac is None else fac.item

    def user_embeddings(self):
        """User vectors that :meth:`similar_users` compares by cosine, or None (see
        :meth:`item_embeddings`).

        Returns
        -------
        ndarray of shape (n_users_, n_dims) or None
        """
        fac = self.factors()
        return None if fac is None else fac.user

    def similar_items(self, items, n=10, *, items_subset=None, as_frame=False):
        """The ``n`` items most similar to each given item (cosine of the item embeddings).

        Parameters
        ----------
        items : array-like of shape (n_queries,)
            Item ids seen in ``fit`` (an unknown id raises ``ValueError``).
        n : int, default=10
            Neighbours per item; a query item is never its own neighbour.
        items_subset : array-like of item ids, default=None
            Only these items are neighbours (unknown ids are ignored). None: every item.
        as_frame : bool, default=False
            Return a tidy DataFrame (``item``, ``rank``, ``similar_item``, ``score``).

        Returns
        -------
        neighbours : ndarray of shape (n_queries, n_out)
            Item ids, most similar first; ``n_out = min(n, n_subset - 1)`` when a query is
            in the subset, ``min(n, n_subset)`` otherwise: always exactly that many.
        scores : ndarray of shape (n_queries, n_out)
            Cosine similarities in [-1, 1] (0 for an all-zero embedding).

        Raises
        ------
        TypeError
            When the model has no item embeddings (:meth:`item_embeddings` is None).

        Notes
        -----
        Embeddings are ``item_embeddings()`` (item factors of a dot-product model; item
        biases are left out: they measure popularity, not likeness). Queries are processed
        in blocks whose similarity rows fit ``working_memory``, like ``recommend``.

        Examples
        --------
        >>> from skadv import AdversarialMFRecommender
        >>> from skadv.datasets import make_interactions
        >>> X = make_interactions(n_users=40, n_items=30, density=0.2, random_state=0)
        >>> model = AdversarialMFRecommender(8, n_epochs=3, random_state=0).fit(X)
        >>> neighbours, scores = model.similar_items([0, 1], n=4)
        >>> neighbours.shape, bool((neighbours[0] != 0).all())
        ((2, 4), True)
        """
        check_is_fitted(self)
        return self._similar(items, n, items_subset, as_frame, kind="item")

    def similar_users(self, users, n=10, *, users_subset=None, as_frame=False):
        """The ``n`` users most similar to each given user (cosine of the user embeddings).

        Parameters
        ----------
        users : array-like of shape (n_queries,)
            User ids seen in ``fit`` (an unknown id raises ``ValueError``).
        n : int, default=10
            Neighbours per user; a query user is never its own neighbour.
        users_subset : array-like of user ids, default=None
            Only these users are neighbours (unknown ids are ignored). None: every user.
        as_frame : bool, default=False
            Return a tidy DataFrame (``user``, ``rank``, ``similar_user``, ``score``).

        Returns
        -------
        neighbours : ndarray of shape (n_queries, n_out)
        scores : ndarray of shape (n_queries, n_out)
            As in :meth:`similar_items`.

        Examples
        --------
        >>> from skadv import AdversarialMFRecommender
        >>> from skadv.datasets import make_interactions
        >>> X = make_interactions(n_users=40, n_items=30, density=0.2, random_state=0)
        >>> model = AdversarialMFRecommender(8, n_epochs=3, random_state=0).fit(X)
        >>> model.similar_users([0], n=5)[0].shape
        (1, 5)
        """
        check_is_fitted(self)
        return self._similar(users, n, users_subset, as_frame, kind="user")

    def _similar(self, queries, n, subset, as_frame, kind):
        caller = f"similar_{kind}s"
        check_params(
            {"n": (n, [Interval("int", 1, None)]), "as_frame": (as_frame, [BOOL])},
            caller=f"{type(self).__name__}.{caller}",
        )
        vectors = self.item_embeddings() if kind == "item" else self.user_embeddings()
        if vectors is None:
            raise TypeError(
                f"{type(self).__name__} has no {kind} embeddings ({kind}_embeddings() is None): "
                f"{caller} needs a model whose factors() are not None, e.g. "
                "AdversarialMFRecommender or a two-tower AdversarialNeuralRecommender."
            )
        ids = self.item_ids_ if kind == "item" else self.user_ids_
        queries = check_id_array(queries, f"{kind}s")
        codes = lookup_ids(ids, queries)
        if np.any(codes < 0):
            check_id_types(ids, queries, f"{kind}s")
            raise ValueError(
                f"{caller}: {int(np.sum(codes < 0))} {kind}s not seen in fit (e.g. "
                f"{queries[codes < 0][:5].tolist()}) have no embedding."
            )
        if subset is None:
            cols = np.arange(ids.shape[0])
        else:
            sub = lookup_ids(ids, check_id_array(subset, f"{kind}s_subset"))
            cols = np.unique(sub[sub >= 0])
        unit = cosine_normalize(vectors)
        unit_cols = unit[cols]
        # Position of each query in the subset (-1: not in it): excluded from its own row.
        pos = np.searchsorted(cols, codes)
        in_subset = (pos < cols.shape[0]) & (cols[np.minimum(pos, cols.shape[0] - 1)] == codes)
        width = min(n, cols.shape[0] - (1 if in_subset.any() else 0))
        idx = np.zeros((codes.shape[0], max(width, 0)), dtype=np.int64)
        vals = np.zeros((codes.shape[0], max(width, 0)), dtype=unit.dtype)
        if width > 0:
            for block in row_blocks(codes.shape[0], cols.shape[0] * BYTES_PER_SCORE):
                sims = unit[codes[block]] @ unit_cols.T
                own = in_subset[block]
                exclude = sparse.csr_matrix(
                    (np.ones(int(own.sum()), dtype=bool),
                     (np.flatnonzero(own), pos[block][own])),
                    shape=sims.shape,
                )  # fmt: skip
                block_idx, vals[block] = top_k(sims, width, exclude=exclude,
                                               n_jobs=getattr(self, "n_jobs", None))  # fmt: skip
                idx[block] = cols[block_idx]
        if not as_frame:
            return ids[idx], vals
        import pandas as pd

        rows, ranks = np.nonzero(np.ones(idx.shape, dtype=bool))
        return pd.DataFrame({
            kind: pd.Series(queries[rows], dtype=_frame_dtype(queries)),
            "rank": ranks + 1,
            f"similar_{kind}": pd.Series(ids[idx].ravel(), dtype=_frame_dtype(ids)),
            "score": vals.ravel(),
        })  # fmt: skip

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
            return _factor_scores(fac, P[block], cols)

        score.item_dim = fac.item.shape[1]
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
            :class:`~skadv.CFGANRecommender` conditions its generator on the new profile;
            NeuMF raises).

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
        """Training interactions of users given by code, as CSR rows of shape
        (len(user_codes), n_items_); empty rows for code -1 (the scoring protocol)."""
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


def _frame_dtype(ids):
    """Column dtype of ids in a served frame: their own (object for Python ints >= 2**63)."""
    return ids.dtype if isinstance(ids, np.ndarray) and ids.dtype.kind in "iu" else object


def _factor_scores(fac, vectors, cols, n_jobs=None):
    """Dot-product scores of user ``vectors`` against the items ``cols`` (see
    ``_take_columns``), reading only those item factors."""
    item, bias = fac.item, fac.item_bias
    vectors = vectors.astype(item.dtype, copy=False)
    if cols is None:
        scores = vectors @ item.T
        if bias is not None:
            scores += bias.astype(scores.dtype, copy=False)  # in place: rows are large
        return scores
    if np.ndim(cols) == 1:
        scores = vectors @ item[cols].T
    else:
        scores = gather_scores(item, vectors, cols, n_jobs=n_jobs)
    if bias is not None:
        scores += bias[cols].astype(scores.dtype, copy=False)
    return scores


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
