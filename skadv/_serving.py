"""Serving for every recommender: ``recommend`` with candidates, filters and frames,
``similar_items`` / ``similar_users`` and the read-only fold-in of new users.

``ServingMixin`` is mixed into :class:`skadv.base.BaseRecommender`; it reads the model only
through the scoring protocol (``score_users``, ``seen_items``, ``factors``, the id encoders),
in blocks of users sized by scikit-learn's ``working_memory``.
"""

import numpy as np
from scipy import sparse
from sklearn.utils.validation import check_is_fitted

from skadv.utils._params import BOOL, Interval, check_params
from skadv.utils._ranking import (
    BYTES_PER_SCORE,
    CandidateLists,
    candidate_top_k,
    cosine_normalize,
    dot_top_k,
    fill_holes,
    gather_scores,
    row_blocks,
    take_columns,
    top_k,
)
from skadv.utils._validation import check_id_array, check_id_types, dense_lookup, lookup_ids

__all__ = ["ServingMixin"]

#: Working memory per row of the fused dot-product path (``dot_top_k``): no score row is
#: held, only the row's exclusions (a few thousand seen items), its vector and its output,
#: so blocks hold thousands of users (16 384 at the default 1024 MiB).
DOT_ROW_BYTES = 2**16


class ServingMixin:
    """``recommend``, ``similar_items`` / ``similar_users`` and ``recommend_new_users``: the
    serving surface of :class:`skadv.base.BaseRecommender` (see its methods)."""

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
        Users are scored in blocks whose working arrays fit scikit-learn's
        ``working_memory`` (``sklearn.config_context(working_memory=MiB)``, default
        1024 MiB), so memory stays bounded whatever the number of users. A dot-product model
        (see :meth:`factors`) ranking every item, or one set of candidates shared by all
        users, never holds a row of scores: a fused kernel scores small tiles of items for
        a few hundred users at a time and keeps a running top-``n`` per user, skipping seen
        and filtered items as it goes (``n_jobs`` threads; the results are those of the
        full score rows). With per-user candidates, a dot-product model scores only the
        candidate columns, gathering their item factors: a few hundred candidates per user
        cost a few hundred dot products, not a full ranking; other models score full rows
        and keep the candidate columns. Without ``items`` and ``filter_items``, a
        dot-product model trained on a CUDA device scores each block there and moves only
        the top-``n`` back (when CUDA is available).

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
        codes = dense_lookup(self.item_ids_, ids)
        if codes is None:
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
                    and all(c.ndim == 1 if isinstance(c, np.ndarray)  # the common case, fast
                            else np.ndim(c) == 1 and not isinstance(c, (str, bytes))
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
            return CandidateLists(codes, np.concatenate([[0], np.cumsum(lengths)])), filtered
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
                part = factor_scores(fac, fac.user[c[known]],
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

        def candidate_source(block):
            # What candidate_top_k scores with: the block's user vectors, and for unknown
            # users (no vector) the dense row they all share.
            c = codes[block]
            known = c >= 0
            parts = {"item": fac.item, "bias": fac.item_bias,
                     "vectors": fac.user[np.maximum(c, 0)]}  # fmt: skip
            if not known.all():
                parts["dense"] = self.unknown_user_scores()[None]
                parts["dense_row"] = np.where(known, -1, 0)
            return parts

        score.item_dim = None if fac is None else fac.item.shape[1]
        if fac is not None:  # the fused kernel of _rank_blocks ranks these rows

            def dot_rows(block):
                c = codes[block]
                known = c >= 0
                return fac.user[c[known]], known

            score.factors = fac
            score.dot_rows = dot_rows
            score.unknown_row = self.unknown_user_scores
        score.candidate_source = None if fac is None else candidate_source
        return score

    def _block_shape(self, n, score, candidates, n_filtered):
        """``(width, row_bytes)``: items per output row, and the bytes a block holds per row
        (what ``row_blocks`` sizes the blocks by) on the unfused paths of ``_rank_blocks``."""
        if candidates is None:
            return min(n, self.n_items_ - n_filtered), self.n_items_ * BYTES_PER_SCORE
        if isinstance(candidates, CandidateLists):
            width = min(n, candidates.max_length, self.n_items_ - n_filtered)
            item_dim = getattr(score, "item_dim", None) or 0
            # What candidate_top_k holds per row: the output slots and the user's vector
            # (the candidates are read in place); full score rows for a model without factors.
            row_bytes = max(width, 1) * BYTES_PER_SCORE + 8 * item_dim
            if item_dim == 0:
                row_bytes += self.n_items_ * BYTES_PER_SCORE
            return width, row_bytes
        row_bytes = max(candidates.shape[0], 1) * BYTES_PER_SCORE
        if getattr(score, "item_dim", None) is None:
            row_bytes += self.n_items_ * BYTES_PER_SCORE
        return min(n, candidates.shape[0]), row_bytes

    def _rank_blocks(self, n_rows, n, score, seen, candidates, filtered, *, ranker=None):
        """Top-``n`` item codes and scores of ``n_rows`` rows, in blocks (see recommend).

        ``score(block, cols)`` scores a block of rows; ``seen(block)`` gives the CSR rows of
        items to exclude (or None); ``candidates``/``filtered`` come from ``_serving_items``;
        ``ranker(block, k, exclude)`` ranks a whole block elsewhere (only without candidates
        and filters).

        A ``score`` with ``dot_rows`` (a dot-product model: ``score.factors``, and
        ``score.dot_rows(block)`` giving the vectors of the block's rows that have one and
        a mask of those rows; the others score ``score.unknown_row()``) is ranked by the
        fused kernel ``dot_top_k`` for every item or shared candidates: no score rows are
        held, so blocks are sized by ``DOT_ROW_BYTES``.
        """
        n_filtered = 0 if filtered is None else filtered.shape[0]
        per_row = isinstance(candidates, CandidateLists)
        fused = getattr(score, "dot_rows", None) is not None and not per_row and ranker is None
        width, row_bytes = self._block_shape(n, score, candidates, n_filtered)
        banned = None
        if per_row and n_filtered:
            banned = np.zeros(self.n_items_, dtype=bool)
            banned[filtered] = True
        idx = np.zeros((n_rows, width), dtype=np.int64)
        vals = None
        n_jobs = getattr(self, "n_jobs", None)
        if fused:
            row_bytes = DOT_ROW_BYTES
            dot = _DotSelect(score, candidates, filtered, n_jobs)
        for block in row_blocks(n_rows, row_bytes):
            exclude = seen(block)
            if width == 0:
                block_idx = np.zeros((block.stop - block.start, 0), dtype=np.int64)
                block_vals = np.zeros((block.stop - block.start, 0), dtype=np.float64)
            elif fused:
                block_idx, block_vals = dot(block, width, exclude)
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
                # One pass per row in the kernel: gather-dot (or a dense row), exclusion,
                # de-duplication, bounded heap; holes (-1) become distinct unfiltered items.
                source = getattr(score, "candidate_source", None)
                parts = (source(block) if source is not None else
                         {"dense": score(block, None),
                          "dense_row": np.arange(block.stop - block.start)})  # fmt: skip
                block_idx, block_vals = candidate_top_k(
                    candidates, block, width, exclude=exclude, banned=banned, n_jobs=n_jobs,
                    **parts,
                )  # fmt: skip
                block_idx = fill_holes(block_idx, self.n_items_, filtered)
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
            "user": pd.Series(np.asarray(users)[rows], dtype=frame_dtype(users)),
            "rank": ranks + 1,
            "item": pd.Series(items[keep], dtype=frame_dtype(item_ids)),
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
        biases are left out: they measure popularity, not likeness). Queries are ranked by
        the fused kernel of ``recommend`` on the unit-normalized embeddings: no row of
        similarities is held, whatever the number of items.

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
        unit_cols = unit if subset is None else unit[cols]  # no second copy of every row
        # Position of each query in the subset (-1: not in it): excluded from its own row.
        pos = np.searchsorted(cols, codes)
        in_subset = (pos < cols.shape[0]) & (cols[np.minimum(pos, cols.shape[0] - 1)] == codes)
        width = min(n, cols.shape[0] - (1 if in_subset.any() else 0))
        idx = np.zeros((codes.shape[0], max(width, 0)), dtype=np.int64)
        vals = np.zeros((codes.shape[0], max(width, 0)), dtype=unit.dtype)
        if width > 0:
            # The fused kernel: no (queries x subset) block of similarities is held.
            for block in row_blocks(codes.shape[0], DOT_ROW_BYTES):
                own = in_subset[block]
                exclude = sparse.csr_matrix(
                    (np.ones(int(own.sum()), dtype=bool),
                     (np.flatnonzero(own), pos[block][own])),
                    shape=(block.stop - block.start, cols.shape[0]),
                )  # fmt: skip
                block_idx, vals[block] = dot_top_k(
                    unit[codes[block]], unit_cols, width, exclude=exclude,
                    n_jobs=getattr(self, "n_jobs", None))  # fmt: skip
                idx[block] = cols[block_idx]
        if not as_frame:
            return ids[idx], vals
        import pandas as pd

        rows, ranks = np.nonzero(np.ones(idx.shape, dtype=bool))
        return pd.DataFrame({
            kind: pd.Series(queries[rows], dtype=frame_dtype(queries)),
            "rank": ranks + 1,
            f"similar_{kind}": pd.Series(ids[idx].ravel(), dtype=frame_dtype(ids)),
            "score": vals.ravel(),
        })  # fmt: skip


class _DotSelect:
    """Top-``k`` of blocks of rows of a dot-product ``score`` (see ``_rank_blocks``) with the
    fused kernel: every item minus ``filtered``, or the shared ``candidates`` (their
    factors gathered once per call). Rows without a vector (unknown users) rank
    ``score.unknown_row()`` through the same kernel, as a one-factor dot product
    (``1 * row[i]``: the row's own values)."""

    def __init__(self, score, candidates, filtered, n_jobs):
        fac = score.factors
        self.score, self.candidates, self.filtered, self.n_jobs = (
            score, candidates, filtered, n_jobs)  # fmt: skip
        self.item, self.bias = fac.item, fac.item_bias
        if candidates is not None:
            self.item = fac.item[candidates]
            self.bias = None if fac.item_bias is None else fac.item_bias[candidates]
        self._unknown = None

    def unknown_item(self):
        if self._unknown is None:
            row = np.asarray(self.score.unknown_row())
            if self.candidates is not None:
                row = row[self.candidates]
            self._unknown = row[:, None]
        return self._unknown

    def __call__(self, block, k, exclude):
        n_block = block.stop - block.start
        shared = self.filtered if self.candidates is None else None
        if exclude is not None:
            exclude = sparse.csr_matrix(exclude)
            if self.candidates is not None:
                exclude = exclude[:, self.candidates]
        vectors, known = self.score.dot_rows(block)
        parts = []
        if known.any():
            rows = np.flatnonzero(known)
            part = exclude if exclude is None or known.all() else exclude[rows]
            parts.append((rows, dot_top_k(vectors, self.item, k, item_bias=self.bias,
                                          exclude=part, filtered=shared,
                                          n_jobs=self.n_jobs)))  # fmt: skip
        if not known.all():
            rows = np.flatnonzero(~known)
            unit = self.unknown_item()
            part = None if exclude is None else exclude[rows]
            parts.append((rows, dot_top_k(np.ones((rows.shape[0], 1), dtype=unit.dtype), unit,
                                          k, exclude=part, filtered=shared,
                                          n_jobs=self.n_jobs)))  # fmt: skip
        if len(parts) == 1:
            idx, vals = parts[0][1]
        else:
            dtype = np.result_type(*(p[1][1].dtype for p in parts))
            idx = np.empty((n_block, k), dtype=np.int64)
            vals = np.empty((n_block, k), dtype=dtype)
            for rows, (part_idx, part_vals) in parts:
                idx[rows], vals[rows] = part_idx, part_vals
        if self.candidates is not None:
            return self.candidates[idx], vals
        if self.filtered is not None and self.filtered.shape[0]:
            # Padding must not be a filtered item either (as in the unfused path).
            hit = np.isin(idx, self.filtered)
            if hit.any():
                idx[hit] = -1
                idx = fill_holes(idx, self.item.shape[0], self.filtered)
        return idx, vals


def frame_dtype(ids):
    """Column dtype of ids in a served frame: their own (object for Python ints >= 2**63)."""
    return ids.dtype if isinstance(ids, np.ndarray) and ids.dtype.kind in "iu" else object


def factor_scores(fac, vectors, cols, n_jobs=None):
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
