"""Robustness of a fitted recommender to adversarial perturbations of its embeddings.

:func:`robustness_curve` tabulates a ranking metric before and after
:class:`skadv.attacks.EmbeddingAttack` for several ε; :func:`make_robustness_scorer` turns the
attacked metric (or its relative drop) into a scorer for ``GridSearchCV`` / ``cross_validate``.
Ranking metrics come from :func:`skadv.metrics.get_ranking_scorer`, so they are defined once.
Both fit or attack estimators, so they live in :mod:`skadv.evaluation`, above the attacks.
"""

import numpy as np
import pandas as pd

from skadv.attacks import EmbeddingAttack
from skadv.evaluation._report import (
    _TARGET_METRIC,
    _check_attack,
    _is_poisoning,
    _poison_and_refit,
    _target_metrics,
    _training_data,
    _validate_own_params,
)
from skadv.metrics._scorer import _final_step, get_ranking_scorer, make_ranking_scorer
from skadv.utils._params import Options, check_params, validate_params
from skadv.utils._validation import check_interactions

__all__ = ["make_robustness_scorer", "robustness_curve"]


def _metric_scorer(metric):
    if callable(metric):
        try:  # a ranking metric function such as ndcg_at_k: wrap it, k=10
            return make_ranking_scorer(metric)
        except TypeError:  # any other callable is taken to be a scorer already
            return metric
    if not isinstance(metric, str):
        raise TypeError(
            f"metric must be a metric name such as 'ndcg@10' or a scorer callable, got "
            f"{type(metric).__name__}."
        )
    return get_ranking_scorer(metric)


def _relative_drop(clean, attacked):
    # Undefined when the clean model scores 0: NaN rather than a division warning.
    return (clean - attacked) / clean if clean != 0 else float("nan")


def _check_epsilons(epsilons):
    if isinstance(epsilons, (str, bytes)):
        raise TypeError("epsilons must be a 1-d array-like of non-negative floats, got a str.")
    try:
        values = np.asarray(epsilons, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError("epsilons must be a 1-d array-like of non-negative floats.") from None
    values = np.atleast_1d(values)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(
            f"epsilons must be a non-empty 1-d array-like, got shape {np.shape(epsilons)}."
        )
    if not np.all(np.isfinite(values)) or values.min() < 0:
        raise ValueError(f"epsilons must be finite and non-negative, got {values.tolist()}.")
    return values


def robustness_curve(
    estimator,
    X_test,
    epsilons,
    *,
    y_test=None,
    adversary="fgsm",
    metric="ndcg@10",
    epsilon_mode="absolute",
    norm="row-l2",
    n_steps=10,
    target="both",
    random_state=None,
):
    """Ranking quality of a fitted model under embedding attacks of growing radius ε.

    For each ε, :class:`skadv.attacks.EmbeddingAttack` perturbs a copy of ``estimator`` and the
    metric is measured on held-out interactions, next to the clean model's value.

    Parameters
    ----------
    estimator : fitted recommender or Pipeline
        A model with ``user_factors_`` and ``item_factors_`` scoring by dot product (see
        :class:`skadv.attacks.EmbeddingAttack`); for a Pipeline, its last step is attacked and
        the whole pipeline is scored. Not modified.
    X_test : array-like of shape (n_interactions, 2) or DataFrame
        Held-out ``(user, item)`` pairs: the relevant items of each test user.
    epsilons : array-like of shape (n_epsilons,)
        Radii ε, non-negative; ``0`` reproduces the clean model.
    y_test : array-like of shape (n_interactions,), default=None
        Weights of the held-out interactions (relevance grades).
    adversary : {"fgsm", "pgd", "random"}, default="fgsm"
        The attack; ``"random"`` is the control of the same norm.
    metric : str or callable, default="ndcg@10"
        A name understood by :func:`skadv.metrics.get_ranking_scorer`, a ranking metric
        function such as :func:`skadv.metrics.ndcg_at_k` (at k=10), or a scorer
        ``(estimator, X, y=None) -> float``. Higher must be better.
    epsilon_mode : {"absolute", "relative", "per-user"}, default="absolute"
        Whether ε is a radius, a fraction of the mean row norm of each embedding matrix
        (the ``user_norm`` and ``item_norm`` columns), or a fraction of each row's own norm
        (see :class:`skadv.attacks.EmbeddingAttack`).
    norm : {"row-l2", "global-l2", "linf"}, default="row-l2"
        The perturbation set: an L2 ball per row, one per matrix, or a box (see
        :class:`skadv.attacks.EmbeddingAttack`). Not recorded in the table: keep one
        ``norm`` per table, as one ``epsilon_mode``.
    n_steps : int, default=10
        Number of PGD steps (``adversary="pgd"`` only).
    target : {"both", "users", "items"}, default="both"
        Which embedding matrices are attacked.
    random_state : int, RandomState instance or None, default=None
        Seeds the attack. With an int every ε uses the same negatives (or the same random
        directions), so the curve varies only with ε.

    Returns
    -------
    curve : pandas.DataFrame
        One row per ε, in the order given, with columns ``epsilon``, ``epsilon_mode``,
        ``clean`` (metric of the clean model), ``attacked``, ``relative_drop``
        (``(clean - attacked) / clean``, NaN when ``clean`` is 0), ``user_norm`` and
        ``item_norm`` (mean L2 row norms of the clean ``user_factors_`` / ``item_factors_``:
        the scale against which an absolute ε should be read).

    See Also
    --------
    skadv.attacks.EmbeddingAttack : The attack and its formulas.
    make_robustness_scorer : The attacked metric as a model-selection scorer.

    Notes
    -----
    FGSM perturbs every row by :math:`\\epsilon\\, g_r / \\lVert g_r \\rVert_2` where
    :math:`g_r` is the gradient of the training BPR loss; PGD iterates normalised ascent steps
    with projection onto the ε-ball. APR [1]_ trains against the FGSM attack, so its curve
    should fall more slowly than plain BPR's; PGD [2]_ is the stronger check.

    References
    ----------
    .. [1] He, X., He, Z., Du, X. and Chua, T.-S. "Adversarial Personalized Ranking for
       Recommendation". SIGIR 2018.
    .. [2] Madry, A. et al. "Towards Deep Learning Models Resistant to Adversarial Attacks".
       ICLR 2018.

    Examples
    --------
    >>> from skadv.datasets import make_interactions
    >>> from skadv.mf import AdversarialMFRecommender
    >>> from skadv.model_selection import train_test_split_interactions
    >>> X = make_interactions(n_users=60, n_items=40, random_state=0)
    >>> X_train, X_test = train_test_split_interactions(X, test_size=0.2, random_state=0)
    >>> model = AdversarialMFRecommender(n_factors=8, n_epochs=5, random_state=0).fit(X_train)
    >>> curve = robustness_curve(model, X_test, [0.0, 0.5], random_state=0)
    >>> curve.columns.tolist()
    ['epsilon', 'epsilon_mode', 'clean', 'attacked', 'relative_drop', 'user_norm', 'item_norm']
    >>> bool(curve["attacked"].iloc[0] == curve["clean"].iloc[0])
    True
    """
    eps_values = _check_epsilons(epsilons)
    scorer = _metric_scorer(metric)
    # One attack object per epsilon, all validated up front so a bad adversary fails fast.
    attacks = [
        EmbeddingAttack(
            adversary,
            float(eps),
            n_steps=n_steps,
            epsilon_mode=epsilon_mode,
            norm=norm,
            target=target,
            random_state=random_state,
        )
        for eps in eps_values
    ]
    for attack in attacks:
        validate_params(attack)
        attack._check_norm()
    # Relative radii of ε = 1 are the mean row norms (this also checks the estimator).
    user_norm, item_norm = EmbeddingAttack(epsilon=1.0, epsilon_mode="relative").effective_epsilon(
        estimator
    )
    clean = float(scorer(estimator, X_test, y_test))
    rows = []
    for eps, attack in zip(eps_values, attacks, strict=True):
        attacked = float(scorer(attack.perturb(estimator), X_test, y_test))
        rows.append(
            {
                "epsilon": float(eps),
                "epsilon_mode": epsilon_mode,
                "clean": clean,
                "attacked": attacked,
                "relative_drop": _relative_drop(clean, attacked),
                "user_norm": user_norm,
                "item_norm": item_norm,
            }
        )
    return pd.DataFrame(rows)


class _RobustnessScorer:
    """Scorer ``(estimator, X, y=None)``: a ranking metric of the attacked model."""

    def __init__(self, attack, metric, kind):
        self.attack, self.metric, self.kind = attack, metric, kind
        self._scorer = _metric_scorer(metric)

    def __call__(self, estimator, X, y=None):
        attacked = float(self._scorer(self.attack.perturb(estimator), X, y))
        if self.kind == "attacked":
            return attacked
        clean = float(self._scorer(estimator, X, y))
        return -_relative_drop(clean, attacked)

    def __repr__(self):
        return (
            f"make_robustness_scorer({self.attack!r}, metric={self.metric!r}, kind={self.kind!r})"
        )


class _PoisoningScorer(_RobustnessScorer):
    """Scorer ``(estimator, X, y=None)``: poisons the data ``estimator`` was fitted on, refits
    its last step and scores the poisoned model, oriented so that higher is more robust."""

    def __init__(self, attack, metric, kind):
        self.attack, self.metric, self.kind = attack, metric, kind
        is_target = isinstance(metric, str) and _TARGET_METRIC.fullmatch(metric.strip().lower())
        self._target = metric.strip().lower() if is_target else None
        self._scorer = None if is_target else _metric_scorer(metric)

    def __call__(self, estimator, X, y=None):
        clean, X_model = _final_step(estimator, X)
        X_train, y_train = _training_data(clean)
        fitted_attack, poisoned = _poison_and_refit(clean, self.attack, X_train, y_train)
        if self._target is None:
            attacked = float(self._scorer(poisoned, X_model, y))
            if self.kind == "attacked":
                return attacked
            return -_relative_drop(float(self._scorer(clean, X_model, y)), attacked)
        # The audience: the held-out users the clean model knows (fake users are never in X).
        users = np.unique(check_interactions(X_model, y)[0])
        users = users[np.isin(users, clean.user_ids_)]
        targets = getattr(fitted_attack, "target_items_", None)
        if targets is None:
            raise TypeError(
                f"metric={self.metric!r} measures the attack's target items, but "
                f"{type(fitted_attack).__name__} has no target_items_ after fit_resample (skadv's "
                "shilling attacks have): use a ranking metric such as 'ndcg@10'."
            )
        (attacked,) = _target_metrics([self._target], poisoned, users, targets).values()
        # Ranks grow as the attack fails; hit rates, NDCG and scores shrink.
        sign = 1.0 if self._target == "target_rank" else -1.0
        if self.kind == "attacked":
            return sign * attacked
        (before,) = _target_metrics([self._target], clean, users, targets).values()
        return sign * (attacked - before)


def make_robustness_scorer(attack, metric="ndcg@10", kind="attacked"):
    """Make a scorer that measures a fitted model under an embedding or a poisoning attack.

    Use it as ``scoring=`` in :class:`~sklearn.model_selection.GridSearchCV` or
    :func:`~sklearn.model_selection.cross_validate` to select hyper-parameters (for instance
    the adversarial weight λ and training radius ε of APR) by robustness rather than by clean
    accuracy alone; combine it with a clean scorer in a dict for multi-metric search.

    Parameters
    ----------
    attack : EmbeddingAttack or poisoning sampler
        The attack each fitted model faces. An :class:`~skadv.attacks.EmbeddingAttack`
        perturbs the fitted model. A poisoning sampler (an object with ``fit_resample``, such
        as :class:`~skadv.attacks.BandwagonAttack`) poisons the interactions the model was
        fitted on (its ``interactions_``: the training fold, in cross-validation) and a clone
        of the model is refitted on them; the held-out fold ``X`` is never poisoned. With an
        int ``random_state`` every candidate faces the same attack. Any object with
        ``fit_resample(X, y) -> (X, y)`` works: imbalanced-learn's samplers (which resample
        by label, so they need ratings or weights ``y``) and user-written ones (copied with
        ``copy.deepcopy`` when they have no ``get_params``); target metrics need a sampler
        that sets ``target_items_``, as skadv's shilling attacks do.
    metric : str or callable, default="ndcg@10"
        A name understood by :func:`skadv.metrics.get_ranking_scorer`, a ranking metric
        function such as :func:`skadv.metrics.ndcg_at_k` (at k=10), or a scorer
        ``(estimator, X, y=None) -> float`` (higher must be better): the quality of the
        attacked model on ``X``. With a poisoning attack also a target metric:
        ``"target_hr@K"``, ``"target_ndcg@K"``, ``"target_rank"`` or ``"target_score"`` (see
        :func:`skadv.evaluation.robustness_report`) of the attack's targets among the users of
        ``X``, oriented so that higher is more robust: minus the hit rate, NDCG or score, the
        mean rank itself.
    kind : {"attacked", "drop"}, default="attacked"
        ``"attacked"``: the metric of the attacked model. ``"drop"``: for a ranking metric,
        minus the relative drop ``-(clean - attacked) / clean`` (NaN when ``clean`` is 0); for
        a target metric, minus what the attack gained (``-(attacked - clean)``; for
        ``"target_rank"``, minus the average rank shift). Higher is better for both.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y=None) -> float``. For a Pipeline, the last step is attacked
        (a poisoning attack refits the last step only, on the data it was fitted on) and ``X``
        passes through the steps before it.

    See Also
    --------
    robustness_curve : The embedding-attack measurement for several ε at once.
    robustness_report : Clean against attacked metrics under several attacks, as a table.

    Notes
    -----
    ``"drop"`` alone rewards a model that is equally bad clean and attacked (a constant model
    has drop 0); select with ``"attacked"``, or report both. A poisoning scorer refits the
    model once per call: it costs a fit per fold and candidate. To evaluate a defence that
    filters the training data (``FakeUserFilter``), whose effect a refit of the last step
    would bypass, use :func:`robustness_report` or put the attack in the pipeline.

    Examples
    --------
    >>> from sklearn.model_selection import cross_val_score
    >>> from skadv.attacks import BandwagonAttack, EmbeddingAttack
    >>> from skadv.datasets import make_interactions
    >>> from skadv.mf import AdversarialMFRecommender
    >>> X = make_interactions(n_users=60, n_items=40, random_state=0)
    >>> scorer = make_robustness_scorer(EmbeddingAttack("fgsm", 0.5, random_state=0))
    >>> model = AdversarialMFRecommender(n_factors=8, n_epochs=5, random_state=0)
    >>> cross_val_score(model, X, cv=2, scoring=scorer).shape
    (2,)
    >>> poisoned = make_robustness_scorer(
    ...     BandwagonAttack(attack_size=0.1, random_state=0), metric="target_rank", kind="drop")
    >>> bool(poisoned(model.fit(X), X) <= 0)  # minus the rank shift: the targets moved up
    True
    """
    _check_attack(attack, name="attack")
    _validate_own_params(attack)
    check_params({"kind": (kind, [Options("attacked", "drop")])}, caller="make_robustness_scorer")
    if _is_poisoning(attack):
        if isinstance(metric, str) and not _TARGET_METRIC.fullmatch(metric.strip().lower()):
            get_ranking_scorer(metric)  # unknown names raise here, not at the first fold
        return _PoisoningScorer(attack, metric, kind)
    if not isinstance(attack, EmbeddingAttack):
        raise TypeError(
            f"attack must be an EmbeddingAttack or a poisoning sampler, got "
            f"{type(attack).__name__}."
        )
    _metric_scorer(metric)
    return _RobustnessScorer(attack, metric, kind)
