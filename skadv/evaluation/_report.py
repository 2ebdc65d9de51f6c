"""One robustness report across threats: embedding perturbations and data poisoning.

:func:`robustness_report` fits a recommender on clean training data, then, for every attack,
either perturbs the fitted model (attacks with a ``perturb`` method, such as
:class:`skadv.attacks.EmbeddingAttack`) or poisons the training data and refits (samplers with
``fit_resample``, such as :class:`skadv.attacks.BandwagonAttack`), and tabulates clean against
attacked metrics in one tidy DataFrame. The test data is never poisoned.

The poisoning helpers here (:func:`_poison_and_refit`, :func:`_target_metrics`) are shared with
:func:`skadv.evaluation.make_robustness_scorer`, so a report and a scorer measure the same thing.
"""

import inspect
import re

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from skadv.metrics._scorer import _final_step, get_ranking_scorer
from skadv.metrics._target import (
    _hit_gain,
    _ndcg_gain,
    mean_gain_at_k,
    target_item_ranks,
    target_scores,
)
from skadv.utils._params import validate_params
from skadv.utils._validation import check_interactions

__all__ = ["robustness_report"]

#: Metrics of the targets of a poisoning attack, among the real users: ``"target_hr@K"``,
#: ``"target_ndcg@K"``, ``"target_rank"`` (mean pessimistic rank; its change is minus the
#: average rank shift) and ``"target_score"`` (mean predicted score; its change is the
#: prediction shift).
_TARGET_METRIC = re.compile(r"(target_hr|target_ndcg)@([0-9]+)|(target_rank|target_score)")


def _is_poisoning(attack):
    return hasattr(attack, "fit_resample")


def _check_attack(attack, name="attacks"):
    if not (_is_poisoning(attack) or hasattr(attack, "perturb")):
        raise TypeError(
            f"{name} must hold attacks: samplers with fit_resample (poisoning, e.g. "
            f"skadv.attacks.BandwagonAttack) or objects with perturb(estimator) (e.g. "
            f"skadv.attacks.EmbeddingAttack); got {type(attack).__name__}."
        )


def _validate_own_params(attack):
    """Check the parameters of a skadv attack before any fit (fail fast).

    Only skadv's estimators declare ``_parameter_constraints`` in skadv's format;
    imbalanced-learn's samplers declare scikit-learn's (their ``fit_resample`` checks them)
    and a user-written sampler may declare none: those are checked when they run.
    """
    if type(attack).__module__.split(".")[0] == "skadv":
        validate_params(attack)


def _poison_and_refit(estimator, attack, X_train, y_train=None):
    """Fit a clone of ``attack`` on the training data, refit a clone of ``estimator`` on the
    poisoned data; return ``(fitted_attack, poisoned_estimator)``."""
    # safe=False: a user-written sampler without get_params is deep-copied instead.
    attack = clone(attack, safe=False)
    try:
        X_poisoned, y_poisoned = attack.fit_resample(X_train, y_train)
    except (TypeError, ValueError) as exc:
        if y_train is not None or type(attack).__module__.split(".")[0] == "skadv":
            raise
        # imbalanced-learn's samplers resample by class label: implicit data has none.
        raise ValueError(
            f"{type(attack).__name__}.fit_resample failed on implicit data (y=None): {exc} "
            "Samplers that resample by label (imbalanced-learn's) need ratings or weights y."
        ) from exc
    return attack, clone(estimator).fit(X_poisoned, y_poisoned)


def _training_data(estimator):
    """The interactions a fitted skadv recommender (or Pipeline's last step) was trained on,
    as a ``(DataFrame[user, item], weights or None)`` pair in its id space.

    Weights are None when every stored weight is 1 (implicit data)."""
    model, _ = _final_step(estimator, None)
    check_is_fitted(model)
    coo = model.interactions_.tocoo()
    X = pd.DataFrame({"user": model.user_ids_[coo.row], "item": model.item_ids_[coo.col]})
    weights = np.asarray(coo.data, dtype=np.float64)
    # A model with a positive_threshold refuses to be fitted without y.
    implicit = np.all(weights == 1.0) and getattr(model, "positive_threshold", None) is None
    return X, (None if implicit else weights)


def _split_metrics(metrics, caller):
    if isinstance(metrics, str):
        metrics = [metrics]
    ranking, target = [], []
    for name in metrics:
        if not isinstance(name, str):
            raise TypeError(f"{caller}: metrics must be metric names, got {type(name).__name__}.")
        key = name.strip().lower()
        if _TARGET_METRIC.fullmatch(key):
            target.append(key)
        else:
            get_ranking_scorer(key)  # raises ValueError listing the valid names
            ranking.append(key)
    return ranking, target


def _target_metrics(names, estimator, users, targets):
    """``{name: value}`` of target metrics (see ``_TARGET_METRIC``) of one fitted model; the
    targets' ranks (and scores) are computed once for all of them."""
    ranks = scores = None
    values = {}
    for name in names:
        match = _TARGET_METRIC.fullmatch(name)
        if match.group(3) == "target_score":
            if scores is None:
                scores = target_scores(estimator, users, targets)
            values[name] = _nanmean(scores)
            continue
        if ranks is None:
            ranks = target_item_ranks(estimator, users, targets)
        if match.group(3) == "target_rank":
            values[name] = _nanmean(ranks)
        else:
            gain = _hit_gain if match.group(1) == "target_hr" else _ndcg_gain
            values[name] = mean_gain_at_k(ranks, int(match.group(2)), gain, name)
    return values


def _nanmean(values):
    return float(np.nanmean(values)) if np.any(~np.isnan(values)) else float("nan")


def _changed_params(attack):
    """``"name=value, ..."`` of the parameters that differ from the class defaults."""
    if not hasattr(attack, "get_params"):  # a user-written sampler: no parameters to show
        return ""
    params = attack.get_params(deep=False)
    signature = inspect.signature(type(attack).__init__).parameters
    changed = []
    for key, value in params.items():
        default = signature[key].default if key in signature else inspect.Parameter.empty
        try:
            same = default is not inspect.Parameter.empty and bool(np.all(value == default))
        except (TypeError, ValueError):
            same = False
        if not same:
            changed.append(f"{key}={value!r}")
    return ", ".join(changed)


def _strength(attack):
    """The attack's budget as one number: ``attack_size`` (poisoning) or ``epsilon``."""
    if not hasattr(attack, "get_params"):
        return float("nan")
    params = attack.get_params(deep=False)
    for key in ("attack_size", "epsilon"):
        value = params.get(key)
        if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
            return float(value)
    # Wrappers (a memoizing or a composite attack) may hold the real attack as a parameter.
    inner = [v for v in params.values() if hasattr(v, "get_params")]
    return _strength(inner[0]) if len(inner) == 1 else float("nan")


def _named_attacks(attacks):
    if isinstance(attacks, (str, bytes)) or not hasattr(attacks, "__iter__"):
        attacks = [attacks]
    named = []
    for entry in attacks:
        name, attack = entry if isinstance(entry, tuple) and len(entry) == 2 else (None, entry)
        _check_attack(attack)
        named.append((type(attack).__name__ if name is None else str(name), attack))
    if not named:
        raise ValueError("attacks is empty: pass at least one attack.")
    return named


def robustness_report(
    estimator,
    X_train,
    X_test,
    attacks,
    *,
    y_train=None,
    y_test=None,
    metrics=("ndcg@10", "target_hr@50", "target_ndcg@50", "target_rank"),
    users=None,
):
    """Clean against attacked metrics of one recommender under several attacks.

    ``estimator`` is cloned and fitted on ``(X_train, y_train)`` once (the clean model). Then
    for each attack:

    * a **poisoning** attack (a sampler with ``fit_resample``, e.g.
      :class:`skadv.attacks.BandwagonAttack`) poisons ``X_train`` and a fresh clone of
      ``estimator`` is fitted on the poisoned data — so a defence that is part of the estimator,
      such as ``imblearn.pipeline.Pipeline([("filter", FakeUserFilter()), ("model", ...)])``,
      sees the fake users as it would in production;
    * a **model** attack (:class:`skadv.attacks.BaseModelAttack`, or any object with
      ``perturb(estimator)``, e.g. :class:`skadv.attacks.EmbeddingAttack` or
      :class:`skadv.attacks.TextAttack`) perturbs a copy of the clean model.

    Ranking metrics are measured on ``X_test``, which is never poisoned. Target metrics are
    measured on the attack's targets among the real users (fake users are not an attack's
    audience): a poisoning attack's ``target_items_``, a model attack's
    ``attack_targets(estimator)`` (:class:`skadv.attacks.BaseModelAttack`; e.g.
    ``TextAttack(items=...)``); an untargeted model attack (``EmbeddingAttack``) and a
    sampler without ``target_items_`` (such as imbalanced-learn's) get ranking metrics only.

    Parameters
    ----------
    estimator : skadv recommender or Pipeline ending with one
        Unfitted (it is cloned).
    X_train, X_test : array-like of shape (n, 2) or DataFrame
        Training and held-out ``(user, item)`` interactions, as for ``fit``.
    attacks : attack, or list of attacks or of ``(name, attack)`` pairs
        The threats. Give an int ``random_state`` to each for a reproducible report. A name
        defaults to the class name; the ``setting`` column tells instances of one class apart.
    y_train, y_test : array-like, default=None
        Ratings or weights of the training and held-out rows.
    metrics : str or sequence of str, default=("ndcg@10", "target_hr@50", "target_ndcg@50", \
"target_rank")
        Ranking scorer names of :func:`skadv.metrics.get_ranking_scorer` (clean quality on
        ``X_test``) and target metrics: ``"target_hr@K"``
        (:func:`~skadv.metrics.target_hit_rate_at_k`), ``"target_ndcg@K"``
        (:func:`~skadv.metrics.target_ndcg_at_k`), ``"target_rank"`` (mean rank of the targets
        among each user's unseen items: its ``change`` is minus
        :func:`~skadv.metrics.average_rank_shift` when every pair is valid in both models) and
        ``"target_score"`` (mean predicted score: its ``change`` is the prediction shift).
    users : array-like, default=None
        The real users for target metrics; None means every user of ``X_train``.

    Returns
    -------
    report : DataFrame
        One row per attack × setting × metric, with columns ``attack`` (name), ``setting``
        (the attack's parameters that differ from its defaults), ``strength`` (its budget as
        one number: ``attack_size`` of a poisoning attack, ``epsilon`` of an embedding
        attack, NaN for an attack with neither), ``threat`` (``"poisoning"``
        or ``"model"``), ``metric``, ``clean``, ``attacked``, ``change`` (attacked − clean)
        and ``relative_change`` (``change / clean``, NaN when clean is 0).

    See Also
    --------
    skadv.evaluation.robustness_curve : Model attacks of growing ε.
    skadv.evaluation.make_robustness_scorer : The same measurements as a scorer for model
        selection.

    Notes
    -----
    A target metric of the clean model is measured on the targets the attack chose (drawn
    from the clean training data), so ``clean`` differs between attacks that choose different
    targets.

    Examples
    --------
    >>> from skadv.attacks import BandwagonAttack, EmbeddingAttack
    >>> from skadv.datasets import make_interactions
    >>> from skadv.model_selection import train_test_split_interactions
    >>> from skadv.mf import AdversarialMFRecommender
    >>> X = make_interactions(n_users=80, n_items=40, random_state=0)
    >>> X_train, X_test = train_test_split_interactions(X, test_size=0.2, random_state=0)
    >>> report = robustness_report(
    ...     AdversarialMFRecommender(n_factors=8, n_epochs=10, random_state=0),
    ...     X_train, X_test,
    ...     [BandwagonAttack(attack_size=0.1, random_state=0),
    ...      EmbeddingAttack("fgsm", 0.5, random_state=0)],
    ...     metrics=["ndcg@10", "target_hr@10"])
    >>> print(report[["attack", "threat", "metric"]].to_string(index=False))
             attack    threat       metric
    BandwagonAttack poisoning      ndcg@10
    BandwagonAttack poisoning target_hr@10
    EmbeddingAttack     model      ndcg@10
    >>> bool(report.loc[1, "attacked"] >= report.loc[1, "clean"])  # the targets were pushed
    True
    """
    named = _named_attacks(attacks)
    ranking, target = _split_metrics(metrics, "robustness_report")
    if users is None:
        users = np.unique(check_interactions(X_train, y_train)[0])
    else:
        if isinstance(users, (str, bytes)) or np.ndim(users) == 0:
            raise TypeError("users must be a 1-d array-like of user ids, not a scalar.")
        users = np.asarray(users).ravel()
    scorers = {name: get_ranking_scorer(name) for name in ranking}

    clean = clone(estimator).fit(X_train, y_train)
    clean_scores = {name: float(s(clean, X_test, y_test)) for name, s in scorers.items()}
    clean_targets = {}  # the clean model's target metrics, per target set
    rows = []
    for name, attack in named:
        setting, strength = _changed_params(attack), _strength(attack)
        if _is_poisoning(attack):
            fitted_attack, attacked = _poison_and_refit(estimator, attack, X_train, y_train)
            threat, names = "poisoning", ranking + target
            targets = getattr(fitted_attack, "target_items_", None)
            if targets is None:  # a sampler without targets: ranking metrics only
                names, before, after = ranking, clean_scores, {}
            else:
                key = tuple(np.asarray(targets, dtype=object).tolist())
                if key not in clean_targets:
                    clean_targets[key] = _target_metrics(target, clean, users, targets)
                before = {**clean_scores, **clean_targets[key]}
                after = _target_metrics(target, attacked, users, targets)
        else:
            attacked = attack.perturb(clean)
            threat, names, before, after = "model", ranking, clean_scores, {}
            targets = attack.attack_targets(clean) if hasattr(attack, "attack_targets") else None
            if targets is not None:  # a targeted model attack, e.g. TextAttack(items=...)
                names = ranking + target
                before = {**clean_scores, **_target_metrics(target, clean, users, targets)}
                after = _target_metrics(target, attacked, users, targets)
        after.update({m: float(scorers[m](attacked, X_test, y_test)) for m in ranking})
        for metric in names:
            change = after[metric] - before[metric]
            rows.append({
                "attack": name, "setting": setting, "strength": strength, "threat": threat,
                "metric": metric, "clean": before[metric], "attacked": after[metric],
                "change": change,
                "relative_change": change / before[metric] if before[metric] != 0 else np.nan,
            })  # fmt: skip
    return pd.DataFrame(
        rows,
        columns=["attack", "setting", "strength", "threat", "metric", "clean", "attacked",
                 "change", "relative_change"],
    )  # fmt: skip
