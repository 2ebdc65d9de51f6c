"""Ranking scorers for ``GridSearchCV`` / ``cross_validate`` (``scoring=``).

A scorer is called as ``scorer(estimator, X, y=None)`` on interactions ``X``, ranks for each
user of ``X`` every item except the user's training items that are not in ``X``, and returns
the mean of a ranking metric over the users (higher is better). On held-out ``X`` that ranks
the items the user has not seen; on the training data (``return_train_score=True``) it
measures the fit. Held-out items the model never saw count as relevant but are never
retrieved (see :mod:`skadv.base`).

scikit-learn's scorer registry is left untouched: pass these objects (or
``get_ranking_scorer("ndcg@10")``) directly as ``scoring=``.
"""

import re

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from skadv.metrics import _ranking
from skadv.utils._params import NONE, STRING, Interval, Options, check_params
from skadv.utils._ranking import row_blocks

# Working memory per user and ranked item when scoring a block of users: the scores (float64
# at most), the sorted copy and the dense candidate mask of the shared rank computation,
# with room for the padding of held-out unknown items.
_BYTES_PER_RANKED_ITEM = 32

__all__ = [
    "auc_scorer",
    "get_ranking_scorer",
    "hit_rate_scorer",
    "make_ranking_scorer",
    "map_scorer",
    "mrr_scorer",
    "ndcg_scorer",
    "per_user_scores",
    "precision_scorer",
    "recall_scorer",
]

# public metric function -> short name used in scorer names ("ndcg@10")
_METRIC_NAMES = {
    _ranking.ndcg_at_k: "ndcg",
    _ranking.recall_at_k: "recall",
    _ranking.precision_at_k: "precision",
    _ranking.hit_rate_at_k: "hit_rate",
    _ranking.map_at_k: "map",
    _ranking.mrr: "mrr",
    _ranking.auc: "auc",
}
_NAME_TO_METRIC = {name: func for func, name in _METRIC_NAMES.items()}
_WITH_K = ("ndcg", "recall", "precision", "hit_rate", "map")
_METRIC_CONSTRAINT = [
    Options(*_NAME_TO_METRIC),
    Options(
        *_METRIC_NAMES,
        description="one of the skadv.metrics ranking functions (ndcg_at_k, recall_at_k, "
        "precision_at_k, hit_rate_at_k, map_at_k, mrr, auc)",
    ),
]
_VALID_NAMES = (
    "'ndcg@K', 'recall@K', 'precision@K', 'hit_rate@K', 'map@K' (K a positive integer; "
    "without '@K', K=10), 'mrr', 'auc'"
)


class _RankingScorer:
    """Callable ``scorer(estimator, X, y=None)``; build it with :func:`make_ranking_scorer`.

    A plain class holding only a metric name and two integers, so it pickles and can be sent
    to joblib workers.
    """

    def __init__(self, name, k, batch_size):
        self._name = name
        self._k = k
        self._batch_size = batch_size

    def __repr__(self):
        func = _NAME_TO_METRIC[self._name].__name__
        k = f", k={self._k}" if self._name in _WITH_K else ""
        return f"make_ranking_scorer({func}{k}, batch_size={self._batch_size})"

    def __call__(self, estimator, X, y=None):
        """Mean of the metric over the test users of ``X`` (those with a relevant item).

        Parameters
        ----------
        estimator : fitted skadv recommender or Pipeline ending with one
        X : array-like of shape (n_interactions, 2) or DataFrame
            Held-out ``(user, item)`` pairs: each user's relevant items.
        y : array-like of shape (n_interactions,), default=None
            Weights (relevance; graded gains for NDCG), thresholded by the estimator's
            ``positive_threshold``. Without ``y`` the threshold cannot apply: every pair of
            ``X`` is relevant.

        Returns
        -------
        score : float
        """
        total, count = 0.0, 0
        for _, values in self._per_user_blocks(estimator, X, y)[1]:
            defined = values[~np.isnan(values)]
            total += float(defined.sum())
            count += defined.shape[0]
        if count == 0:
            raise ValueError(
                f"{self._name} is undefined for every test user of X: no user has a relevant "
                "item (a pair with a positive weight, at or above positive_threshold)"
                + (" and an irrelevant candidate." if self._name == "auc" else ".")
            )
        return total / count

    def _per_user_blocks(self, estimator, X, y):
        """The final recommender, and a generator of ``(block, values)``: the metric of each
        test user of ``X`` (NaN where undefined), block by block of test users in the order
        of ``ranking_problem``."""
        final, X = _final_step(estimator, X)
        problem = final.ranking_problem(X, y)
        n_users = problem.user_codes.shape[0]
        if self._batch_size is None:  # blocks of users whose working arrays fit working_memory
            n_cols = final.n_items_ + problem.n_unknown_items
            blocks = row_blocks(n_users, n_cols * _BYTES_PER_RANKED_ITEM)
        else:
            blocks = [slice(s, s + self._batch_size) for s in range(0, n_users, self._batch_size)]

        def generate():
            for batch in blocks:
                scores = final.score_users(problem.user_codes[batch])
                if problem.n_unknown_items:
                    # Held-out items unknown to the model: relevant, never retrievable.
                    pad = np.full(
                        (scores.shape[0], problem.n_unknown_items), -np.inf, scores.dtype
                    )
                    scores = np.hstack([scores, pad])
                yield (
                    batch,
                    _ranking._per_user(
                        self._name,
                        problem.y_true[batch],
                        scores,
                        k=self._k,
                        exclude=problem.exclude[batch],
                        n_unretrievable=problem.n_unknown_items,
                    ),
                )

        return (final, X), generate()


def per_user_scores(estimator, X, y=None, *, metric="ndcg@10"):
    """One value of a ranking metric per test user: what a scorer averages.

    The input of paired significance tests over users
    (:func:`skadv.evaluation.paired_test`) and of per-user breakdowns. Same protocol as the
    scorers (see :func:`make_ranking_scorer`).

    Parameters
    ----------
    estimator : fitted skadv recommender or Pipeline ending with one
    X : array-like of shape (n_interactions, 2) or DataFrame
        Held-out ``(user, item)`` pairs: each user's relevant items.
    y : array-like of shape (n_interactions,), default=None
        Weights, thresholded by the estimator's ``positive_threshold`` (as for the scorers).
    metric : str, default="ndcg@10"
        A name :func:`get_ranking_scorer` accepts.

    Returns
    -------
    values : pandas.Series
        Indexed by the test users of ``X`` (index name ``"user"``, in the order of their
        sorted ids), named ``metric``; NaN for users whose metric is undefined (no relevant
        item). Its mean over the defined values is the scorer's value.

    Examples
    --------
    >>> from skadv import PopularityRecommender
    >>> train = [[0, "a"], [1, "a"], [1, "b"], [2, "c"]]
    >>> model = PopularityRecommender().fit(train)
    >>> per_user_scores(model, [[0, "b"], [2, "a"]], metric="recall@1").to_dict()
    {0: 0.0, 2: 1.0}
    """
    from skadv.utils._validation import check_interactions, encode_ids

    scorer = get_ranking_scorer(metric)
    (final, X_final), blocks = scorer._per_user_blocks(estimator, X, y)
    values = np.concatenate([np.empty(0)] + [v for _, v in blocks])
    # The test users in the order of ranking_problem's rows: the sorted distinct users of X
    # after the same thresholding.
    threshold = getattr(final, "positive_threshold", None) if y is not None else None
    users, _, _ = check_interactions(X_final, y, positive_threshold=threshold)
    test_users, _ = encode_ids(users)
    return pd.Series(values, index=pd.Index(test_users, name="user"), name=metric)


def _final_step(estimator, X):
    """The recommender at the end of ``estimator`` and ``X`` passed through the steps before.

    Steps without ``transform`` (resamplers such as imbalanced-learn's, applied to training
    data only), ``"passthrough"`` and ``None`` are skipped.
    """
    if isinstance(estimator, Pipeline):
        for _, step in estimator.steps[:-1]:
            # "passthrough" is the only string Pipeline accepts as a step
            if step is None or isinstance(step, str) or not hasattr(step, "transform"):
                continue
            X = step.transform(X)
        estimator = estimator.steps[-1][1]
    if not (hasattr(estimator, "ranking_problem") and hasattr(estimator, "score_users")):
        raise TypeError(
            "ranking scorers need a skadv recommender (a BaseRecommender subclass) or a "
            f"Pipeline ending with one; got {type(estimator).__name__}."
        )
    return estimator, X


def make_ranking_scorer(metric, k=10, *, batch_size=None):
    """Make a scorer from a ranking metric, for ``scoring=`` in model selection.

    Parameters
    ----------
    metric : callable or str
        One of :func:`~skadv.metrics.ndcg_at_k`, :func:`~skadv.metrics.recall_at_k`,
        :func:`~skadv.metrics.precision_at_k`, :func:`~skadv.metrics.hit_rate_at_k`,
        :func:`~skadv.metrics.map_at_k`, :func:`~skadv.metrics.mrr`,
        :func:`~skadv.metrics.auc`, or its short name (``"ndcg"``, ``"recall"``,
        ``"precision"``, ``"hit_rate"``, ``"map"``, ``"mrr"``, ``"auc"``).
    k : int, default=10
        Cut-off of the top-k metrics; ignored by ``mrr`` and ``auc``.
    batch_size : int, default=None
        Users scored at once. None sizes the blocks of users by scikit-learn's
        ``working_memory`` setting (``sklearn.config_context(working_memory=MiB)``, default
        1024 MiB), so memory stays bounded whatever the number of test users.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y=None) -> float``, higher is better. ``estimator`` is a fitted
        skadv recommender or a :class:`~sklearn.pipeline.Pipeline` ending with one (``X``
        goes through the earlier steps that have ``transform``). Picklable.

    Notes
    -----
    For each user of ``X``, the user's items in ``X`` are the relevant ones (weights ``y``
    as gains for NDCG, thresholded by the estimator's ``positive_threshold`` when ``y`` is
    given; without ``y`` every pair is relevant). Every item is ranked by the model except
    the user's training items that are not in ``X`` (``exclude``): on held-out data, all
    items the user has not seen; on the training data, every item, so the score measures the
    fit. Held-out items unknown to the model are relevant but never retrieved: they lower
    the score instead of being dropped. The result is the mean over users with a relevant
    item (for AUC, also an irrelevant one). Ties are pessimistic, as in
    :mod:`skadv.metrics._ranking`.

    Examples
    --------
    >>> from skadv import PopularityRecommender
    >>> from skadv.metrics import recall_at_k
    >>> train = [[0, "a"], [1, "a"], [1, "b"], [2, "c"]]
    >>> model = PopularityRecommender().fit(train)
    >>> scorer = make_ranking_scorer(recall_at_k, k=1)
    >>> scorer
    make_ranking_scorer(recall_at_k, k=1, batch_size=None)
    >>> # user 0: "b" ties with "c" and ranks after it (a miss); user 2: "a" comes first
    >>> scorer(model, [[0, "b"], [2, "a"]])
    0.5
    """
    check_params(
        {
            "metric": (metric, _METRIC_CONSTRAINT),
            "k": (k, _ranking.K_CONSTRAINT),
            "batch_size": (batch_size, [NONE, Interval("int", 1, None)]),
        },
        caller="make_ranking_scorer",
    )
    name = metric if isinstance(metric, str) else _METRIC_NAMES[metric]
    return _RankingScorer(name, int(k), None if batch_size is None else int(batch_size))


def get_ranking_scorer(name):
    """Ranking scorer from a name such as ``"ndcg@10"``, ``"recall@20"``, ``"mrr"``, ``"auc"``.

    Parameters
    ----------
    name : str
        ``"<metric>@<k>"`` for ``ndcg``, ``recall``, ``precision``, ``hit_rate`` and ``map``
        (``"<metric>"`` alone means ``k=10``), or ``"mrr"`` / ``"auc"``. Case-insensitive.

    Returns
    -------
    scorer : callable
        As returned by :func:`make_ranking_scorer`.

    Raises
    ------
    ValueError
        Unknown name; the message lists the valid ones.

    Examples
    --------
    >>> get_ranking_scorer("recall@20")
    make_ranking_scorer(recall_at_k, k=20, batch_size=None)
    >>> get_ranking_scorer("ndcg@ten")
    Traceback (most recent call last):
    ...
    ValueError: Unknown ranking scorer 'ndcg@ten'; valid names: 'ndcg@K', ...
    """
    check_params({"name": (name, [STRING])}, caller="get_ranking_scorer")
    match = re.fullmatch(r"([a-z_]+)(?:@([0-9]+))?", name.strip().lower())
    metric, k = (match.group(1), match.group(2)) if match else (None, None)
    if metric not in _NAME_TO_METRIC or (k is not None and (metric not in _WITH_K or int(k) < 1)):
        raise ValueError(f"Unknown ranking scorer {name!r}; valid names: {_VALID_NAMES}.")
    return make_ranking_scorer(metric, 10 if k is None else int(k))


ndcg_scorer = make_ranking_scorer(_ranking.ndcg_at_k)
recall_scorer = make_ranking_scorer(_ranking.recall_at_k)
precision_scorer = make_ranking_scorer(_ranking.precision_at_k)
hit_rate_scorer = make_ranking_scorer(_ranking.hit_rate_at_k)
map_scorer = make_ranking_scorer(_ranking.map_at_k)
mrr_scorer = make_ranking_scorer(_ranking.mrr)
auc_scorer = make_ranking_scorer(_ranking.auc)
