r"""Target-item metrics: how far a poisoning attack moved its target items.

Every function scores the pairs :math:`(u, t)` of a real user :math:`u` and a target item
:math:`t` that :math:`u` did not interact with in the model's training data (the pairs an
attack can change); pairs of a user who has interacted with the target are left out.

Definitions
-----------
:math:`\mathrm{rank}_u(t) \ge 1` is the pessimistic rank of :math:`t` among the user's
candidates (all items not in the user's training data): one plus the number of other
candidates scoring at least as high (ties rank the target last, as
:mod:`skadv.metrics` does everywhere). Over the :math:`P` valid pairs,

* target hit rate@k (T-HR@k) :math:`= \frac{1}{P} \sum_{(u,t)} [\mathrm{rank}_u(t) \le k]`
* target NDCG@k (T-NDCG@k) :math:`= \frac{1}{P} \sum_{(u,t)}
  [\mathrm{rank}_u(t) \le k] / \log_2(\mathrm{rank}_u(t) + 1)`: each pair is a ranking with
  one relevant item, so its ideal DCG is 1
* average rank shift :math:`= \frac{1}{P} \sum_{(u,t)} \mathrm{rank}^{clean}_u(t) -
  \mathrm{rank}^{attacked}_u(t)`: positive when the attack moved the targets up
* prediction shift :math:`= \frac{1}{P} \sum_{(u,t)} \hat r^{attacked}_{ut} -
  \hat r^{clean}_{ut}` (Mobasher et al. 2007), in the models' score units

For the shifts, a pair counts when it is valid for both models. Users are scored in blocks
whose score rows fit scikit-learn's ``working_memory``: never a dense all-users matrix.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from skadv.metrics._scorer import _final_step
from skadv.utils._params import Interval, check_params
from skadv.utils._ranking import BYTES_PER_SCORE, row_blocks
from skadv.utils._validation import check_interactions

__all__ = [
    "average_rank_shift",
    "prediction_shift",
    "target_hit_rate_at_k",
    "target_item_ranks",
    "target_ndcg_at_k",
    "target_scores",
]


def _ids(values, name):
    if isinstance(values, (str, bytes)) or np.ndim(values) == 0:
        raise TypeError(f"{name} must be a 1-d array-like of ids, not a scalar.")
    values = np.asarray(values, dtype=object).ravel()
    if values.size == 0:
        raise ValueError(f"{name} is empty.")
    ids, _, _ = check_interactions(np.column_stack([values, values]))
    return ids


def _model_and_codes(estimator, users, target_items):
    model, _ = _final_step(estimator, None)
    check_is_fitted(model)
    user_codes = model._encode_users(_ids(users, "users"), name="users")
    targets = _ids(target_items, "target_items")
    target_codes = model._encode_items(targets, name="target_items")
    if np.any(target_codes < 0):
        raise ValueError(
            f"target_items holds items the model never saw: "
            f"{targets[target_codes < 0][:5].tolist()}; a target must be in its training data."
        )
    return model, user_codes, target_codes.astype(np.int64)


def _unseen(model, user_codes, target_codes):
    """(n_users, n_targets) bool: the user did not interact with the target in training."""
    seen = model.seen_items(user_codes)[:, target_codes].toarray() != 0
    return ~seen


def target_item_ranks(estimator, users, target_items):
    """Pessimistic rank of each target among each user's unseen items.

    Parameters
    ----------
    estimator : skadv recommender or Pipeline ending with one
        Fitted.
    users : array-like of shape (n_users,)
        User ids (pass the real users: fake ones are not the audience of an attack). Users
        the model never saw follow its ``handle_unknown`` rule.
    target_items : array-like of shape (n_targets,)
        Item ids, all seen by the model.

    Returns
    -------
    ranks : ndarray of shape (n_users, n_targets), float64
        ``1`` is the top; NaN where the user interacted with the target in training.

    Examples
    --------
    >>> from skadv import PopularityRecommender
    >>> X = np.array([[0, 0], [1, 0], [1, 1], [2, 2]])
    >>> target_item_ranks(PopularityRecommender().fit(X), [0, 2], [1]).tolist()
    [[2.0], [2.0]]
    """
    model, user_codes, target_codes = _model_and_codes(estimator, users, target_items)
    ranks = np.empty((user_codes.shape[0], target_codes.shape[0]), dtype=np.float64)
    for block in row_blocks(user_codes.shape[0], model.n_items_ * BYTES_PER_SCORE):
        codes = user_codes[block]
        # The block is read, never copied or written: seen items are subtracted from the
        # counts instead of being masked in the scores (a copy of the block cost most of the
        # time at a million users).
        scores = np.asarray(model.score_users(codes))
        seen = model.seen_items(codes).tocoo()
        seen_scores = scores[seen.row, seen.col]
        n_rows = scores.shape[0]
        for j, t in enumerate(target_codes):
            target = scores[:, t]
            # One plus the other candidates scoring >= the target: the target counts itself.
            at_least = np.count_nonzero(scores >= target[:, None], axis=1)
            seen_at_least = np.bincount(seen.row, weights=seen_scores >= target[seen.row],
                                        minlength=n_rows)  # fmt: skip
            ranks[block, j] = at_least - seen_at_least
    ranks[~_unseen(model, user_codes, target_codes)] = np.nan
    return ranks


def _check_k(k, caller):
    check_params({"k": (k, [Interval("int", 1, None)])}, caller=caller)


def _mean_over_pairs(values, caller):
    values = values[~np.isnan(values)]
    if values.size == 0:
        raise ValueError(
            f"{caller}: no (user, target) pair left: every user has interacted with every target."
        )
    return float(values.mean())


def _hit_gain(ranks):
    return np.ones_like(ranks)


def _ndcg_gain(ranks):
    return 1.0 / np.log2(ranks + 1.0)


def mean_gain_at_k(ranks, k, gain, caller):
    """Mean over the non-NaN ``ranks`` (valid pairs) of ``gain(rank)`` for ranks <= k, else 0."""
    with np.errstate(invalid="ignore"):  # NaN ranks (seen pairs) stay NaN
        values = np.where(ranks <= k, gain(ranks), 0.0)
    return _mean_over_pairs(np.where(np.isnan(ranks), np.nan, values), caller)


def target_hit_rate_at_k(estimator, users, target_items, *, k=50):
    """Target hit rate @k (T-HR@k): share of (user, unseen target) pairs in the top ``k``.

    See the module docstring for the definition. Parameters as
    :func:`target_item_ranks`, plus ``k`` (int, default=50).

    Returns
    -------
    float in [0, 1]

    Examples
    --------
    >>> from skadv import PopularityRecommender
    >>> X = np.array([[0, 0], [1, 0], [1, 1], [2, 2]])
    >>> target_hit_rate_at_k(PopularityRecommender().fit(X), [0, 2], [1], k=2)
    1.0
    """
    _check_k(k, "target_hit_rate_at_k")
    ranks = target_item_ranks(estimator, users, target_items)
    return mean_gain_at_k(ranks, k, _hit_gain, "target_hit_rate_at_k")


def target_ndcg_at_k(estimator, users, target_items, *, k=50):
    """Target NDCG @k (T-NDCG@k): ``1 / log2(rank + 1)`` of pairs ranked in the top ``k``.

    See the module docstring for the definition. Parameters as
    :func:`target_item_ranks`, plus ``k`` (int, default=50).

    Returns
    -------
    float in [0, 1]

    Examples
    --------
    >>> from skadv import PopularityRecommender
    >>> X = np.array([[0, 0], [1, 0], [1, 1], [2, 2]])
    >>> round(target_ndcg_at_k(PopularityRecommender().fit(X), [0, 2], [1], k=2), 3)
    0.631
    """
    _check_k(k, "target_ndcg_at_k")
    ranks = target_item_ranks(estimator, users, target_items)
    return mean_gain_at_k(ranks, k, _ndcg_gain, "target_ndcg_at_k")


def average_rank_shift(clean_estimator, attacked_estimator, users, target_items):
    """Mean rank gained by the targets: clean rank minus attacked rank over unseen pairs.

    Parameters
    ----------
    clean_estimator, attacked_estimator : skadv recommender or Pipeline ending with one
        Fitted on the clean and on the poisoned training data.
    users, target_items : array-like
        As in :func:`target_item_ranks`.

    Returns
    -------
    float
        Positive when the attacked model ranks the targets higher (a successful push).

    Examples
    --------
    >>> from skadv import PopularityRecommender
    >>> X = np.array([[0, 0], [1, 0], [1, 1], [2, 2]])
    >>> X_poisoned = np.r_[X, [[3, 1], [4, 1]]]
    >>> clean = PopularityRecommender().fit(X)
    >>> average_rank_shift(clean, PopularityRecommender().fit(X_poisoned), [0, 2], [1])
    1.0
    """
    clean = target_item_ranks(clean_estimator, users, target_items)
    attacked = target_item_ranks(attacked_estimator, users, target_items)
    return _mean_over_pairs(clean - attacked, "average_rank_shift")


def prediction_shift(clean_estimator, attacked_estimator, users, target_items):
    """Mean change of the predicted score of (user, unseen target) pairs.

    Parameters as :func:`average_rank_shift`. Scores are in each model's own units, so the
    shift compares two fits of one model family (rating predictors, in the literature).

    Returns
    -------
    float

    Examples
    --------
    >>> from skadv import PopularityRecommender
    >>> X = np.array([[0, 0], [1, 0], [1, 1], [2, 2]])
    >>> X_poisoned = np.r_[X, [[3, 1], [4, 1]]]
    >>> clean = PopularityRecommender().fit(X)
    >>> prediction_shift(clean, PopularityRecommender().fit(X_poisoned), [0, 2], [1]) > 0
    True
    """
    shift = target_scores(attacked_estimator, users, target_items) - target_scores(
        clean_estimator, users, target_items
    )
    return _mean_over_pairs(shift, "prediction_shift")


def target_scores(estimator, users, target_items):
    """Predicted score of each target for each user, NaN where the user interacted with it.

    Parameters as :func:`target_item_ranks`.

    Returns
    -------
    scores : ndarray of shape (n_users, n_targets), float64

    Examples
    --------
    >>> from skadv import PopularityRecommender
    >>> X = np.array([[0, 0], [1, 0], [1, 1], [2, 2]])
    >>> target_scores(PopularityRecommender().fit(X), [0, 1], [1]).tolist()
    [[1.0], [nan]]
    """
    model, user_codes, target_codes = _model_and_codes(estimator, users, target_items)
    n_users, n_targets = user_codes.shape[0], target_codes.shape[0]
    pairs = np.empty((n_users * n_targets, 2), dtype=object)
    pairs[:, 0] = np.repeat(_ids(users, "users"), n_targets)
    pairs[:, 1] = np.tile(_ids(target_items, "target_items"), n_users)
    scores = np.asarray(model.predict(pairs), dtype=np.float64).reshape(n_users, n_targets)
    scores[~_unseen(model, user_codes, target_codes)] = np.nan
    return scores
