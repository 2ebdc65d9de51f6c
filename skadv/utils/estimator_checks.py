"""Common checks for samplers, detectors and model attacks, in imbalanced-learn's style.

scikit-learn's :func:`~sklearn.utils.estimator_checks.check_estimator` tests the estimator
API on numeric feature matrices; the checks here test the contracts skadv adds on
``(user, item)`` interaction data, so that a sampler, detector or attack written outside
skadv can be checked like the built-in ones:

samplers (``fit_resample(X, y=None) -> (X_resampled, y_resampled)``)
    the output is the input (less the rows a filter drops) followed by the added rows, with
    ``sample_mask_`` marking them; same ``random_state``, same output; the input and the
    parameters are not changed; empty input is refused; a DataFrame comes back as a
    DataFrame; the sampler works as a step of an ``imblearn.pipeline.Pipeline``.
detectors (``fit(X, y=None)``, then ``predict`` / ``predict_proba`` / ``decision_function``
of user ids)
    output shapes and dtypes, probabilities in [0, 1], decisions that agree with each other;
    determinism, no mutation, empty input refused, unknown users refused.
model attacks (``perturb(estimator, ...)`` -> attacked copy)
    the fitted model is not changed, the copy is a new object, same seed same copy.

Each check is a function ``check_*(name, estimator, ...)`` that raises an
``AssertionError`` (or the estimator's own error) when the contract is broken;
:func:`sampler_checks` and :func:`detector_checks` yield them for ``pytest.mark.parametrize``,
and :func:`check_sampler` / :func:`check_detector` run them all. The checks build their own
small data (no download), so they run in a second or two per estimator.

Examples
--------
>>> from skadv.attacks import RandomAttack
>>> from skadv.utils.estimator_checks import check_sampler, sampler_checks
>>> check_sampler(RandomAttack(filler_size=3, random_state=0))
>>> sorted(check.func.__name__ for check in sampler_checks(RandomAttack()))[:2]
['check_samplers_dataframe', 'check_samplers_deterministic']
"""

import copy
import warnings
from functools import partial
from unittest import SkipTest

import numpy as np
import pandas as pd
from sklearn.base import clone

__all__ = [
    "check_detector",
    "check_detectors_contract",
    "check_detectors_deterministic",
    "check_detectors_empty_input",
    "check_detectors_no_mutation",
    "check_detectors_unknown_users",
    "check_model_attack",
    "check_sampler",
    "check_samplers_dataframe",
    "check_samplers_deterministic",
    "check_samplers_empty_input",
    "check_samplers_fit_resample",
    "check_samplers_no_mutation",
    "check_samplers_pipeline",
    "detector_checks",
    "interaction_data",
    "sampler_checks",
]


def interaction_data(n_users=40, n_items=30, density=0.2, random_state=0):
    """Small interaction data with two user groups and integer ratings, for the checks.

    Users of the first half interact mostly with the first half of the items and the others
    with the second half (each user with at least 3 items), so detectors and recommenders
    have structure to find.

    Parameters
    ----------
    n_users, n_items : int, default=40, 30
        Size of the data.
    density : float, default=0.2
        Mean share of the items each user interacts with.
    random_state : int, default=0
        Seed.

    Returns
    -------
    X : ndarray of int64, shape (n_interactions, 2)
        Unique ``(user, item)`` pairs, sorted by user then item.
    y : ndarray of float64, shape (n_interactions,)
        Ratings in 1-5 (integers stored as floats).

    Examples
    --------
    >>> X, y = interaction_data()
    >>> X.shape[1], bool(y.min() >= 1 and y.max() <= 5), len(np.unique(X[:, 0]))
    (2, True, 40)
    """
    rng = np.random.RandomState(random_state)
    in_group = (np.arange(n_users)[:, None] < n_users // 2) == (
        np.arange(n_items)[None, :] < n_items // 2
    )
    p = np.where(in_group, 1.6 * density, 0.4 * density)
    dense = rng.rand(n_users, n_items) < p
    for u in range(n_users):  # at least 3 items each: every user can be split and scored
        if dense[u].sum() < 3:
            dense[u, rng.choice(n_items, 3, replace=False)] = True
    users, items = np.nonzero(dense)
    X = np.column_stack([users, items]).astype(np.int64)
    y = rng.randint(1, 6, X.shape[0]).astype(np.float64)
    return X, y


def _same(a, b):
    """Equal outputs: arrays, DataFrames or None."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, pd.DataFrame):
        return isinstance(b, pd.DataFrame) and a.equals(b)
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if a.dtype.kind == "f" and b.dtype.kind == "f":
        return bool(np.array_equal(a, b, equal_nan=True))
    return bool(np.array_equal(a, b))


def _params_snapshot(estimator):
    return copy.deepcopy(estimator.get_params(deep=False))


def _assert_params_unchanged(name, estimator, before):
    after = estimator.get_params(deep=False)
    for key, value in before.items():
        try:
            same = _same(value, after[key]) if isinstance(value, np.ndarray) else None
        except (TypeError, ValueError):
            same = None
        if same is None:
            same = repr(value) == repr(after[key])
        assert same, f"{name}.fit changed the parameter {key!r}: {value!r} -> {after[key]!r}"


# ---------------------------------------------------------------------------- samplers
def _resample(sampler, X, y):
    out = sampler.fit_resample(X, y)
    assert isinstance(out, tuple) and len(out) == 2, (
        f"fit_resample must return (X_resampled, y_resampled), got {type(out).__name__}"
    )
    return out


def check_samplers_fit_resample(name, sampler, *, with_y=True):
    """The output is the kept input rows, in order, followed by the added rows.

    Checks the shapes of ``X_resampled`` and ``y_resampled`` (None when ``y`` is None),
    ``sample_mask_`` (True exactly on added rows) and ``kept_mask_``, the values of the
    kept rows, that added rows use known items, that ``fit`` returns the sampler and that
    there is no ``transform`` (so a pipeline skips the sampler at predict time).
    """
    X, y = interaction_data()
    y = y if with_y else None
    sampler = clone(sampler)
    X_res, y_res = _resample(sampler, X, y)
    X_res = np.asarray(X_res)
    assert X_res.ndim == 2 and X_res.shape[1] == 2, f"{name}: X_resampled shape {X_res.shape}"
    # Integer ids in, integer ids out (new users get integer ids above the largest one).
    assert X_res.dtype.kind in "iu", f"{name}: integer ids came back as {X_res.dtype}"
    n_res = X_res.shape[0]
    assert n_res > 0, f"{name} returned no rows: a sampler never empties the training data"
    if y is None:
        assert y_res is None, f"{name}: y_resampled must be None when y is None"
    else:
        y_res = np.asarray(y_res)
        assert y_res.shape == (n_res,), f"{name}: y_resampled shape {y_res.shape} != ({n_res},)"
        assert y_res.dtype.kind == "f", f"{name}: y_resampled dtype {y_res.dtype}"
        assert np.all(np.isfinite(y_res)), f"{name}: y_resampled holds non-finite values"
    mask = np.asarray(sampler.sample_mask_)
    assert mask.dtype == bool and mask.shape == (n_res,), f"{name}: sample_mask_ shape/dtype"
    keep = np.asarray(getattr(sampler, "kept_mask_", np.ones(X.shape[0], dtype=bool)))
    assert keep.dtype == bool and keep.shape == (X.shape[0],), f"{name}: kept_mask_ shape"
    n_kept = int(keep.sum())
    assert not mask[:n_kept].any() and mask[n_kept:].all(), (
        f"{name}: the kept input rows must come first and the added rows after them"
    )
    np.testing.assert_array_equal(X_res[:n_kept].astype(np.int64), X[keep])
    if y is not None:
        np.testing.assert_array_equal(y_res[:n_kept], y[keep])
    added_items = X_res[n_kept:, 1].astype(np.int64)
    assert np.isin(added_items, X[:, 1]).all(), f"{name}: an added row holds an unknown item"
    fitted = clone(sampler)
    assert fitted.fit(X, y) is fitted, f"{name}.fit must return the sampler"
    assert not hasattr(sampler, "transform"), (
        f"{name} has transform: a pipeline would resample the test data too"
    )


def check_samplers_deterministic(name, sampler):
    """Two fits with the same int ``random_state`` return the same rows."""
    X, y = interaction_data()
    if "random_state" in sampler.get_params(deep=False):
        sampler = clone(sampler).set_params(random_state=0)
    first = _resample(clone(sampler), X, y)
    second = _resample(clone(sampler), X, y)
    assert _same(first[0], second[0]) and _same(first[1], second[1]), (
        f"{name}: same random_state, different output"
    )


def check_samplers_no_mutation(name, sampler):
    """``fit_resample`` changes neither ``X``, ``y`` nor the sampler's parameters."""
    X, y = interaction_data()
    X_copy, y_copy = X.copy(), y.copy()
    df = pd.DataFrame({"user": X[:, 0], "item": X[:, 1]})
    df_copy = df.copy()
    sampler = clone(sampler)
    before = _params_snapshot(sampler)
    sampler.fit_resample(X, y)
    np.testing.assert_array_equal(X, X_copy, err_msg=f"{name} changed X")
    np.testing.assert_array_equal(y, y_copy, err_msg=f"{name} changed y")
    clone(sampler).fit_resample(df, y)
    assert df.equals(df_copy), f"{name} changed a DataFrame X"
    _assert_params_unchanged(name, sampler, before)


def check_samplers_empty_input(name, sampler):
    """Empty interaction data is refused with a ``ValueError``."""
    X = np.empty((0, 2), dtype=np.int64)
    try:
        clone(sampler).fit_resample(X, None)
    except ValueError:
        return
    raise AssertionError(f"{name}.fit_resample accepted empty X (expected a ValueError)")


def check_samplers_dataframe(name, sampler):
    """A DataFrame comes back as a DataFrame with its columns and a fresh RangeIndex."""
    X, y = interaction_data()
    df = pd.DataFrame({"user": X[:, 0], "item": X[:, 1]}, index=np.arange(X.shape[0]) + 1000)
    X_res, y_res = _resample(clone(sampler), df, y)
    assert isinstance(X_res, pd.DataFrame), f"{name}: DataFrame in, {type(X_res).__name__} out"
    assert list(X_res.columns) == ["user", "item"], f"{name}: columns {list(X_res.columns)}"
    assert isinstance(X_res.index, pd.RangeIndex), f"{name}: the index must be a RangeIndex"
    assert np.asarray(y_res).shape == (len(X_res),)


def check_samplers_pipeline(name, sampler, recommender):
    """The sampler works as a step of ``imblearn.pipeline.Pipeline`` before ``recommender``.

    The pipeline fits on the resampled data and scores held-out pairs without resampling
    them. Raises :class:`unittest.SkipTest` (a skip under pytest, as in scikit-learn's
    checks) when imbalanced-learn is not installed.
    """
    try:
        from imblearn.pipeline import Pipeline
    except ImportError:
        raise SkipTest("check_samplers_pipeline needs imbalanced-learn") from None
    X, y = interaction_data()
    test = np.arange(X.shape[0]) % 5 == 0
    pipe = Pipeline([("sampler", clone(sampler)), ("model", clone(recommender))])
    pipe.fit(X[~test], y[~test])
    score = pipe.score(X[test])
    assert np.isfinite(score), f"{name} in a Pipeline: score {score}"
    return score


def sampler_checks(sampler, recommender=None):
    """Yield the sampler checks, each a ``functools.partial`` taking the sampler.

    Parameters
    ----------
    sampler : sampler instance
        Used for the check names only; each check clones the sampler it is given.
    recommender : recommender, default=None
        The model after the sampler in the pipeline check; None leaves that check out.

    Yields
    ------
    check : callable
        ``check(sampler)``.
    """
    name = type(sampler).__name__
    yield partial(check_samplers_fit_resample, name)
    yield partial(check_samplers_fit_resample, name, with_y=False)
    yield partial(check_samplers_deterministic, name)
    yield partial(check_samplers_no_mutation, name)
    yield partial(check_samplers_empty_input, name)
    yield partial(check_samplers_dataframe, name)
    if recommender is not None:
        yield partial(check_samplers_pipeline, name, recommender=recommender)


def check_sampler(sampler, recommender=None):
    """Run every sampler check on ``sampler``; raise on the first failure.

    Parameters
    ----------
    sampler : sampler instance
    recommender : recommender, default=None
        Model for the pipeline check; None leaves it out. Without imbalanced-learn that
        check is skipped with a warning.
    """
    for check in sampler_checks(sampler, recommender):
        try:
            check(sampler)
        except SkipTest as exc:  # an optional dependency is missing: say so, go on
            warnings.warn(f"{check.func.__name__} skipped: {exc}", UserWarning, stacklevel=2)


# ---------------------------------------------------------------------------- detectors
def check_detectors_contract(name, detector):
    """``fit`` returns the detector; the per-user methods agree on shapes and decisions."""
    X, y = interaction_data()
    detector = clone(detector)
    assert detector.fit(X, y) is detector, f"{name}.fit must return the detector"
    users = np.unique(X[:, 0])
    pred = detector.predict(users)
    proba = detector.predict_proba(users)
    decision = detector.decision_function(users)
    assert pred.shape == (users.shape[0],) and pred.dtype.kind in "iu", f"{name}: predict"
    assert set(np.unique(pred).tolist()) <= {0, 1}, f"{name}: predict must be 0/1"
    assert proba.shape == (users.shape[0], 2), f"{name}: predict_proba shape {proba.shape}"
    assert np.all(np.isfinite(proba)) and proba.min() >= 0 and proba.max() <= 1
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert decision.shape == (users.shape[0],) and np.all(np.isfinite(decision))
    np.testing.assert_array_equal(pred, (decision > 0).astype(pred.dtype))
    # Any order and any subset of the fitted users: one score per user asked for.
    order = users[::-1][:5]
    np.testing.assert_array_equal(detector.decision_function(order), decision[::-1][:5])
    assert detector.predict(np.empty(0, dtype=np.int64)).shape == (0,)


def check_detectors_deterministic(name, detector):
    """Two fits with the same int ``random_state`` score every user the same."""
    X, y = interaction_data()
    if "random_state" in detector.get_params(deep=False):
        detector = clone(detector).set_params(random_state=0)
    users = np.unique(X[:, 0])
    first = clone(detector).fit(X, y).decision_function(users)
    second = clone(detector).fit(X, y).decision_function(users)
    np.testing.assert_array_equal(first, second, err_msg=f"{name}: same seed, other scores")


def check_detectors_no_mutation(name, detector):
    """``fit`` and the per-user methods change neither the data nor the parameters."""
    X, y = interaction_data()
    X_copy, y_copy = X.copy(), y.copy()
    detector = clone(detector)
    before = _params_snapshot(detector)
    detector.fit(X, y)
    users = np.unique(X[:, 0])
    users_copy = users.copy()
    detector.predict_proba(users)
    np.testing.assert_array_equal(X, X_copy, err_msg=f"{name} changed X")
    np.testing.assert_array_equal(y, y_copy, err_msg=f"{name} changed y")
    np.testing.assert_array_equal(users, users_copy, err_msg=f"{name} changed user_ids")
    _assert_params_unchanged(name, detector, before)


def check_detectors_empty_input(name, detector):
    """Empty interaction data is refused with a ``ValueError``."""
    try:
        clone(detector).fit(np.empty((0, 2), dtype=np.int64))
    except ValueError:
        return
    raise AssertionError(f"{name}.fit accepted empty X (expected a ValueError)")


def check_detectors_unknown_users(name, detector):
    """Users the detector was not fitted on are refused (``ValueError``); a scalar is a
    ``TypeError``."""
    X, y = interaction_data()
    detector = clone(detector).fit(X, y)
    for method in ("predict", "predict_proba", "decision_function"):
        try:
            getattr(detector, method)([int(X[:, 0].max()) + 1])
        except ValueError:
            pass
        else:
            raise AssertionError(f"{name}.{method} scored a user it was not fitted on")
        try:
            getattr(detector, method)(0)
        except TypeError:
            pass
        else:
            raise AssertionError(f"{name}.{method} accepted a scalar (expected a TypeError)")


def detector_checks(detector):
    """Yield the detector checks, each a ``functools.partial`` taking the detector.

    Parameters
    ----------
    detector : detector instance
        Used for the check names only.

    Yields
    ------
    check : callable
        ``check(detector)``.
    """
    name = type(detector).__name__
    for check in (
        check_detectors_contract,
        check_detectors_deterministic,
        check_detectors_no_mutation,
        check_detectors_empty_input,
        check_detectors_unknown_users,
    ):
        yield partial(check, name)


def check_detector(detector):
    """Run every detector check on ``detector``; raise on the first failure.

    Parameters
    ----------
    detector : detector instance
    """
    for check in detector_checks(detector):
        check(detector)


# ---------------------------------------------------------------------------- model attacks
def _factor_state(estimator):
    """Copies of the estimator's array attributes, to detect a change by ``perturb``."""
    return {
        key: value.copy()
        for key, value in vars(estimator).items()
        if key.endswith("_") and isinstance(value, np.ndarray)
    }


def check_model_attack(name, attack, estimator, *args, **kwargs):
    """``attack.perturb(estimator, *args, **kwargs)`` returns a new object and leaves the
    fitted ``estimator`` and the attack's parameters unchanged; with an int
    ``random_state``, two attacks return the same copy.

    Parameters
    ----------
    name : str
    attack : model attack
        An object with ``perturb(estimator, ...)`` and ``get_params``.
    estimator : fitted recommender
    *args, **kwargs
        Passed to ``perturb`` after the estimator (e.g. ``items`` and ``users``).

    Returns
    -------
    attacked : object
        The first attacked copy.
    """
    before_params = _params_snapshot(attack)
    state = _factor_state(estimator)
    attacked = attack.perturb(estimator, *args, **kwargs)
    assert attacked is not estimator, f"{name}.perturb returned the estimator itself"
    for key, value in state.items():
        np.testing.assert_array_equal(
            getattr(estimator, key), value, err_msg=f"{name}.perturb changed {key}"
        )
    _assert_params_unchanged(name, attack, before_params)
    if "random_state" in attack.get_params(deep=False):
        seeded = clone(attack).set_params(random_state=0)
        one = _factor_state(seeded.perturb(estimator, *args, **kwargs))
        two = _factor_state(clone(seeded).perturb(estimator, *args, **kwargs))
        assert one.keys() == two.keys()
        for key in one:
            np.testing.assert_array_equal(
                one[key], two[key], err_msg=f"{name}: same seed, other {key}"
            )
    return attacked
