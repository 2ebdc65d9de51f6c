"""Comparing recommenders: ranking metrics over seeds, and paired tests over users."""

import time
from itertools import combinations

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from scipy import stats
from sklearn.base import clone

from skadv.metrics import get_ranking_scorer, per_user_scores
from skadv.utils._params import (
    BOOL,
    NONE,
    STRING,
    HasMethods,
    Interval,
    Options,
    TupleOf,
    TypeOf,
    check_params,
)

__all__ = ["compare", "paired_test"]

_ESTIMATORS = [
    TypeOf(dict, description="a dict of name -> estimator"),
    TypeOf(list, tuple, description="a list of estimators or of (name, estimator) pairs"),
]
_N_JOBS = [NONE, Interval("int", 1, None), Interval("int", None, -1)]


def compare(
    estimators, X_train, X_test, *, y_train=None, y_test=None,
    metrics=("ndcg@10", "recall@10"), n_seeds=1, seeds=None, per_user=False, n_jobs=None,
):  # fmt: skip
    """Fit recommenders on the same split and score them, over several seeds.

    Each estimator is cloned, its ``random_state`` (and every nested ``*__random_state``)
    set to the seed, fitted on ``(X_train, y_train)`` and scored on ``(X_test, y_test)``
    with the ranking scorers of :mod:`skadv.metrics`. An estimator without a
    ``random_state`` parameter (popularity, ItemKNN, EASE) is deterministic: it is fitted
    once and its values repeated for every seed.

    Parameters
    ----------
    estimators : dict, or list of estimators or of (name, estimator) pairs
        The recommenders (unfitted; they are cloned). A plain list is named by class
        (``"ItemKNNRecommender"``, then ``"ItemKNNRecommender-2"`` for a second one).
    X_train, X_test : array-like of shape (n_interactions, 2) or DataFrame
        Training and held-out ``(user, item)`` pairs.
    y_train, y_test : array-like of shape (n_interactions,), default=None
        Weights or ratings of each part (see the estimators' ``fit`` and the scorers).
    metrics : tuple of str, default=("ndcg@10", "recall@10")
        Names :func:`skadv.metrics.get_ranking_scorer` accepts.
    n_seeds : int, default=1
        Seeds ``0, 1, ..., n_seeds - 1``.
    seeds : list of int, default=None
        The seeds themselves, instead of ``range(n_seeds)``.
    per_user : bool, default=False
        Return one row per test user (column ``user``) instead of the mean over users: the
        input of :func:`paired_test`. Users whose metric is undefined are left out.
    n_jobs : int, default=None
        Fits run in parallel (joblib processes); None means 1, -1 all cores. Each estimator
        keeps its own ``n_jobs``.

    Returns
    -------
    results : DataFrame
        Tidy: columns ``estimator``, ``seed``, ``metric``, ``value`` and ``fit_time``
        (seconds of the fit), with ``user`` after ``metric`` when ``per_user=True``; one row
        per estimator, seed and metric (and user). ``results.pivot_table(index="estimator",
        columns="metric", values="value")`` gives the usual table of means.

    See Also
    --------
    paired_test : Whether the differences between the estimators are significant.

    Examples
    --------
    >>> from skadv import ItemKNNRecommender, PopularityRecommender
    >>> from skadv.datasets import make_interactions
    >>> from skadv.model_selection import train_test_split_interactions
    >>> X = make_interactions(n_users=100, n_items=60, density=0.1, random_state=0)
    >>> X_train, X_test = train_test_split_interactions(X, random_state=0)
    >>> results = compare({"pop": PopularityRecommender(), "knn": ItemKNNRecommender()},
    ...                   X_train, X_test, metrics=("ndcg@10",))
    >>> results.columns.tolist()
    ['estimator', 'seed', 'metric', 'value', 'fit_time']
    >>> table = results.pivot_table(index="estimator", columns="metric", values="value")
    >>> bool(table.loc["knn", "ndcg@10"] > table.loc["pop", "ndcg@10"])
    True
    """
    check_params(
        {
            "estimators": (estimators, _ESTIMATORS),
            "metrics": (metrics, [TupleOf(STRING, min_length=1)]),
            "n_seeds": (n_seeds, [Interval("int", 1, None)]),
            "seeds": (seeds, [NONE, TupleOf(Interval("int", 0, None), min_length=1)]),
            "per_user": (per_user, [BOOL]),
            "n_jobs": (n_jobs, _N_JOBS),
        },
        caller="compare",
    )
    named = _named_estimators(estimators)
    seed_list = list(range(n_seeds)) if seeds is None else [int(s) for s in seeds]
    for m in metrics:
        get_ranking_scorer(m)  # an unknown name fails before any fit
    tasks = []
    for name, est in named:
        keys = [k for k in est.get_params(deep=True) if k.split("__")[-1] == "random_state"]
        tasks += [(name, est, keys, seed) for seed in (seed_list if keys else [None])]
    outputs = Parallel(n_jobs=n_jobs)(
        delayed(_fit_and_score)(est, keys, seed, X_train, y_train, X_test, y_test, metrics,
                                per_user)
        for _, est, keys, seed in tasks
    )  # fmt: skip
    frames = []
    for (name, _, _, seed), (values, fit_time) in zip(tasks, outputs, strict=True):
        for s in seed_list if seed is None else [seed]:
            frame = values.copy()
            frame.insert(0, "seed", s)
            frame.insert(0, "estimator", name)
            frame["fit_time"] = fit_time
            frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _fit_and_score(estimator, keys, seed, X_train, y_train, X_test, y_test, metrics, per_user):
    model = clone(estimator)
    if seed is not None:
        model.set_params(**{k: seed for k in keys})
    start = time.perf_counter()
    model.fit(X_train, y_train)
    fit_time = time.perf_counter() - start
    if not per_user:
        values = [get_ranking_scorer(m)(model, X_test, y_test) for m in metrics]
        return pd.DataFrame({"metric": list(metrics), "value": values}), fit_time
    frames = []
    for m in metrics:
        series = per_user_scores(model, X_test, y_test, metric=m).dropna()
        frames.append(
            pd.DataFrame({"metric": m, "user": series.index.to_numpy(), "value": series.values})
        )
    return pd.concat(frames, ignore_index=True), fit_time


def _named_estimators(estimators):
    """``[(name, estimator)]`` from a dict, a list of pairs or a list of estimators."""
    if isinstance(estimators, dict):
        pairs = list(estimators.items())
    else:
        pairs, counts = [], {}
        for est in estimators:
            if isinstance(est, tuple) and len(est) == 2 and isinstance(est[0], str):
                pairs.append(est)
                continue
            base = type(est).__name__
            counts[base] = counts.get(base, 0) + 1
            pairs.append((base if counts[base] == 1 else f"{base}-{counts[base]}", est))
    if not pairs:
        raise ValueError("estimators is empty: pass at least one recommender.")
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        raise ValueError(f"estimators has duplicate names: {names}.")
    fit_ok = HasMethods("fit", "get_params")
    for name, est in pairs:
        if not isinstance(name, str) or not fit_ok.is_satisfied_by(est):
            raise TypeError(
                f"estimators must map names (str) to unfitted estimators with fit and "
                f"get_params; got {name!r}: {type(est).__name__}."
            )
    return pairs


def paired_test(
    estimators, X_train=None, X_test=None, *, y_train=None, y_test=None, metric="ndcg@10",
    baseline=None, test="t", correction="holm", alpha=0.05, n_seeds=1, n_jobs=None,
):  # fmt: skip
    r"""Paired significance tests between recommenders over the test users.

    For each pair of estimators, the per-user values of ``metric`` (averaged over seeds when
    there are several) are compared user by user with a paired t-test or a Wilcoxon
    signed-rank test, and the p-values of all the comparisons are corrected for multiple
    testing.

    Parameters
    ----------
    estimators : dict, list, or DataFrame
        The recommenders, as for :func:`compare` (then ``X_train`` and ``X_test`` are
        required), or the result of ``compare(..., per_user=True)``.
    X_train, X_test : array-like of shape (n_interactions, 2) or DataFrame, default=None
        The split, when ``estimators`` are recommenders.
    y_train, y_test : array-like of shape (n_interactions,), default=None
        Weights of each part (see :func:`compare`).
    metric : str, default="ndcg@10"
        The metric compared (a name :func:`skadv.metrics.get_ranking_scorer` accepts).
    baseline : str, default=None
        Compare every other estimator with this one; None compares every pair.
    test : {"t", "wilcoxon"}, default="t"
        ``"t"``: paired t-test (:func:`scipy.stats.ttest_rel`); ``"wilcoxon"``: Wilcoxon
        signed-rank test (:func:`scipy.stats.wilcoxon`; users with equal values are left
        out, as its default ``zero_method`` does). Both two-sided.
    correction : {"holm", "bonferroni"} or None, default="holm"
        Adjustment of the p-values over the comparisons: Holm's step-down method (controls
        the family-wise error rate, uniformly more powerful than Bonferroni), Bonferroni's,
        or none.
    alpha : float, default=0.05
        Level of the ``significant`` column (on the adjusted p-values).
    n_seeds : int, default=1
        Seeds of each fit (see :func:`compare`); ignored for a DataFrame.
    n_jobs : int, default=None
        Parallel fits (see :func:`compare`); ignored for a DataFrame.

    Returns
    -------
    tests : DataFrame
        One row per comparison: ``estimator``, ``baseline`` (the other estimator),
        ``metric``, ``n_users`` (users with a value for both), ``mean``, ``baseline_mean``,
        ``mean_difference`` (``mean - baseline_mean``), ``statistic``, ``p_value``,
        ``p_adjusted`` and ``significant`` (``p_adjusted < alpha``).

    Notes
    -----
    Users are the pairing unit (as in Elliot and RecBole's significance tests): a
    difference between two models is tested against the spread of its per-user values, not
    against seed-to-seed noise. With several seeds, each user's value is first averaged over
    the seeds. Holm's adjustment sorts the :math:`m` p-values increasingly and sets
    :math:`\tilde p_{(i)} = \max_{j \le i} \min(1, (m - j + 1)\, p_{(j)})`.

    Examples
    --------
    >>> from skadv import ItemKNNRecommender, PopularityRecommender
    >>> from skadv.datasets import make_interactions
    >>> from skadv.model_selection import train_test_split_interactions
    >>> X = make_interactions(n_users=200, n_items=80, density=0.1, random_state=0)
    >>> X_train, X_test = train_test_split_interactions(X, random_state=0)
    >>> tests = paired_test({"pop": PopularityRecommender(), "knn": ItemKNNRecommender()},
    ...                     X_train, X_test, baseline="pop")
    >>> tests[["estimator", "baseline", "significant"]].to_dict("records")
    [{'estimator': 'knn', 'baseline': 'pop', 'significant': True}]
    """
    check_params(
        {
            "estimators": (
                estimators,
                [*_ESTIMATORS, TypeOf(pd.DataFrame, description="a DataFrame from compare")],
            ),
            "metric": (metric, [STRING]),
            "baseline": (baseline, [NONE, STRING]),
            "test": (test, [Options("t", "wilcoxon")]),
            "correction": (correction, [NONE, Options("holm", "bonferroni")]),
            "alpha": (alpha, [Interval("real", 0, 1, closed="neither")]),
        },
        caller="paired_test",
    )
    if isinstance(estimators, pd.DataFrame):
        results = estimators
        needed = {"estimator", "seed", "metric", "user", "value"}
        if not needed <= set(results.columns):
            raise ValueError(
                "estimators is a DataFrame without the per-user columns of "
                f"compare(..., per_user=True) ({sorted(needed)}); it has "
                f"{list(results.columns)}."
            )
    else:
        if X_train is None or X_test is None:
            raise ValueError("paired_test needs X_train and X_test to fit the estimators.")
        results = compare(
            estimators, X_train, X_test, y_train=y_train, y_test=y_test, metrics=(metric,),
            n_seeds=n_seeds, per_user=True, n_jobs=n_jobs,
        )  # fmt: skip
    results = results[results["metric"] == metric]
    if results.empty:
        raise ValueError(f"the results hold no values of metric={metric!r}.")
    # users x estimators, each user's value averaged over the seeds
    table = results.pivot_table(index="user", columns="estimator", values="value",
                                aggfunc="mean", sort=False)  # fmt: skip
    names = list(pd.unique(results["estimator"]))
    if len(names) < 2:
        raise ValueError(f"paired_test needs at least two estimators; got {names}.")
    if baseline is None:
        pairs = list(combinations(names, 2))
        pairs = [(b, a) for a, b in pairs]  # (later, earlier): the earlier one as baseline
    elif baseline not in names:
        raise ValueError(f"baseline={baseline!r} is not one of the estimators {names}.")
    else:
        pairs = [(name, baseline) for name in names if name != baseline]
    rows = []
    for name, base in pairs:
        both = table[[name, base]].dropna()
        a, b = both[name].to_numpy(), both[base].to_numpy()
        statistic, p_value = _paired(a, b, test)
        rows.append({
            "estimator": name, "baseline": base, "metric": metric, "n_users": a.shape[0],
            "mean": a.mean(), "baseline_mean": b.mean(), "mean_difference": (a - b).mean(),
            "statistic": statistic, "p_value": p_value,
        })  # fmt: skip
    out = pd.DataFrame(rows)
    out["p_adjusted"] = _adjust(out["p_value"].to_numpy(), correction)
    out["significant"] = out["p_adjusted"] < alpha
    return out


def _paired(a, b, test):
    """``(statistic, p_value)`` of a two-sided paired test; p = 1 where there is no
    difference at all (both tests are undefined there)."""
    diff = a - b
    if a.shape[0] < 2 or np.all(diff == 0):
        return 0.0, 1.0
    if test == "t":
        if np.all(diff == diff[0]):  # constant non-zero difference: no spread
            return float(np.sign(diff[0]) * np.inf), 0.0
        res = stats.ttest_rel(a, b)
    else:
        res = stats.wilcoxon(a, b)
    return float(res.statistic), float(res.pvalue)


def _adjust(p_values, correction):
    """p-values adjusted for ``len(p_values)`` comparisons (Holm or Bonferroni)."""
    m = p_values.shape[0]
    if correction is None:
        return p_values.copy()
    if correction == "bonferroni":
        return np.minimum(1.0, m * p_values)
    order = np.argsort(p_values, kind="stable")
    stepped = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * p_values[order]))
    out = np.empty(m)
    out[order] = stepped
    return out
