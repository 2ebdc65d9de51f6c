import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.model_selection import GridSearchCV, cross_validate

from skadv import PopularityRecommender
from skadv.datasets import make_interactions
from skadv.model_selection import (
    LeaveOneOutSplit,
    TemporalSplit,
    UserHoldoutSplit,
    UserKFold,
    train_test_split_interactions,
)


# --------------------------------------------------------------------------- strategies
@st.composite
def interactions(draw, max_users=8, max_rows=60):
    """Rows of (user, item) with a skewed number of rows per user (0 to many)."""
    n_users = draw(st.integers(1, max_users))
    n = draw(st.integers(1, max_rows))
    users = draw(st.lists(st.integers(0, n_users - 1), min_size=n, max_size=n))
    items = draw(st.lists(st.integers(0, 20), min_size=n, max_size=n))
    return np.column_stack([users, items]).astype(np.int64)


test_sizes = st.one_of(
    st.floats(0.01, 0.99, exclude_min=True, exclude_max=True), st.integers(1, 6)
)


def _expected_n_test(n_u, test_size, min_interactions):
    """The documented per-user test count, computed independently (Python's round is also
    half to even)."""
    if n_u < max(2, min_interactions):
        return 0
    n = test_size if isinstance(test_size, int) else round(test_size * n_u)
    return min(max(n, 1), n_u - 1)


def _check_partition(users, train, test, n_rows):
    """Disjoint, covering, sorted, and every test user keeps a training row."""
    assert np.intersect1d(train, test).size == 0
    assert np.array_equal(np.union1d(train, test), np.arange(n_rows))
    assert np.all(np.diff(train) > 0) and np.all(np.diff(test) > 0)
    assert set(users[test]) <= set(users[train])


def _per_user_counts(users, rows):
    return {u: int(np.sum(users[rows] == u)) for u in np.unique(users)}


# --------------------------------------------------------------------------- UserHoldoutSplit
@settings(max_examples=60, deadline=None)
@given(
    X=interactions(),
    test_size=test_sizes,
    min_interactions=st.integers(1, 6),
    n_splits=st.integers(1, 4),
    random_state=st.integers(0, 1000),
)
def test_holdout_laws(X, test_size, min_interactions, n_splits, random_state):
    cv = UserHoldoutSplit(
        n_splits,
        test_size=test_size,
        min_interactions=min_interactions,
        random_state=random_state,
    )
    splits = list(cv.split(X))
    assert len(splits) == cv.get_n_splits() == n_splits
    users = X[:, 0]
    totals = _per_user_counts(users, np.arange(len(X)))
    for train, test in splits:
        _check_partition(users, train, test, len(X))
        tested = _per_user_counts(users, test)
        expected = {u: _expected_n_test(n, test_size, min_interactions) for u, n in totals.items()}
        assert tested == expected


@settings(max_examples=30, deadline=None)
@given(X=interactions(), random_state=st.integers(0, 1000))
def test_holdout_is_deterministic(X, random_state):
    cv = UserHoldoutSplit(3, random_state=random_state)
    for (a_tr, a_te), (b_tr, b_te) in zip(cv.split(X), cv.split(X), strict=True):
        assert np.array_equal(a_tr, b_tr) and np.array_equal(a_te, b_te)


def test_holdout_splits_differ(synthetic_interactions):
    tests = [test for _, test in UserHoldoutSplit(3, random_state=0).split(synthetic_interactions)]
    assert not np.array_equal(tests[0], tests[1]) and not np.array_equal(tests[1], tests[2])


def test_holdout_rounds_half_to_even():
    # Users with 5 rows: 0.5 * 5 = 2.5 rounds to 2; with 7 rows: 3.5 rounds to 4.
    X = np.array([[0, i] for i in range(5)] + [[1, i] for i in range(7)])
    train, test = next(UserHoldoutSplit(1, test_size=0.5, random_state=0).split(X))
    assert np.bincount(X[test, 0]).tolist() == [2, 4]


# --------------------------------------------------------------------------- ids
def _id_variants(X):
    users, items = X[:, 0], X[:, 1]
    as_str = np.array([[f"u{u:03d}", f"i{i:03d}"] for u, i in X], dtype=object)
    big = np.column_stack([users + 10**12, items + 10**12])
    frame = pd.DataFrame({"item": [f"i{i}" for i in items], "user": users + 10**12})
    return {"str": as_str, "big_int": big, "frame": frame, "list": as_str.tolist()}


@pytest.mark.parametrize("kind", ["str", "big_int", "frame", "list"])
@pytest.mark.parametrize(
    "cv",
    [
        UserHoldoutSplit(2, random_state=1),
        UserKFold(3, random_state=1),
        LeaveOneOutSplit(random_state=1),
    ],
    ids=["holdout", "kfold", "loo"],
)
def test_any_hashable_ids_give_the_same_splits(kind, cv, synthetic_interactions):
    # Ids are only encoded (order-preserving here), so the splits cannot depend on their type.
    X = synthetic_interactions
    reference = list(cv.split(X))
    other = list(cv.split(_id_variants(X)[kind]))
    for (a_tr, a_te), (b_tr, b_te) in zip(reference, other, strict=True):
        assert np.array_equal(a_tr, b_tr) and np.array_equal(a_te, b_te)


# --------------------------------------------------------------------------- UserKFold
@settings(max_examples=60, deadline=None)
@given(
    X=interactions(),
    n_splits=st.integers(2, 6),
    shuffle=st.booleans(),
    random_state=st.integers(0, 1000),
)
def test_kfold_test_folds_partition_eligible_rows(X, n_splits, shuffle, random_state):
    cv = UserKFold(n_splits, shuffle=shuffle, random_state=random_state if shuffle else None)
    users = X[:, 0]
    splits = list(cv.split(X))
    assert len(splits) == n_splits
    for train, test in splits:
        _check_partition(users, train, test, len(X))
    all_tests = np.concatenate([test for _, test in splits])
    counts = np.bincount(users)
    eligible = np.flatnonzero(counts[users] >= 2)
    assert np.array_equal(np.sort(all_tests), eligible)  # each eligible row exactly once
    for u in np.flatnonzero(counts >= 2):
        sizes = [int(np.sum(users[test] == u)) for _, test in splits]
        assert max(sizes) - min(sizes) <= 1


def test_kfold_without_shuffle_cuts_contiguous_blocks():
    X = np.array([[0, i] for i in range(6)])
    tests = [test.tolist() for _, test in UserKFold(3, shuffle=False).split(X)]
    assert tests == [[0, 1], [2, 3], [4, 5]]


def test_kfold_spreads_larger_folds_over_folds():
    # 300 users with 4 rows and 3 folds: one fold per user gets 2 rows; which one is random.
    X = np.array([[u, i] for u in range(300) for i in range(4)])
    sizes = [len(test) for _, test in UserKFold(3, random_state=0).split(X)]
    assert min(sizes) > 370 and sum(sizes) == 1200


# --------------------------------------------------------------------------- LeaveOneOutSplit
@settings(max_examples=40, deadline=None)
@given(X=interactions(), random_state=st.integers(0, 1000))
def test_leave_one_out(X, random_state):
    users = X[:, 0]
    train, test = next(LeaveOneOutSplit(random_state=random_state).split(X))
    _check_partition(users, train, test, len(X))
    counts = np.bincount(users)
    assert np.array_equal(np.sort(users[test]), np.flatnonzero(counts >= 2))


# --------------------------------------------------------------------------- TemporalSplit
@st.composite
def timed_interactions(draw):
    X = draw(interactions())
    times = draw(st.lists(st.integers(0, 30), min_size=len(X), max_size=len(X)))
    return X, np.array(times)


def _later(times, a, b):
    """Whether every row in b comes after every row in a, ties broken by row index."""
    if len(a) == 0 or len(b) == 0:
        return True
    key = times.astype(np.int64) * 10**6 + np.arange(len(times))
    return key[a].max() < key[b].min()


@settings(max_examples=60, deadline=None)
@given(data=timed_interactions(), test_size=test_sizes, n_splits=st.integers(1, 3))
def test_temporal_per_user_laws(data, test_size, n_splits):
    X, times = data
    users = X[:, 0]
    splits = list(TemporalSplit(n_splits, test_size=test_size).split(X, groups=times))
    assert len(splits) == n_splits
    for s, (train, test) in enumerate(splits):
        assert np.intersect1d(train, test).size == 0
        assert set(users[test]) <= set(users[train])
        left_out = np.setdiff1d(np.arange(len(X)), np.union1d(train, test))
        for u in np.unique(users):
            tr, te = train[users[train] == u], test[users[test] == u]
            out = left_out[users[left_out] == u]
            assert _later(times, tr, te) and _later(times, te, out) and _later(times, tr, out)
        if s == n_splits - 1:  # the latest window: the documented count, nothing left out
            assert left_out.size == 0
            totals = _per_user_counts(users, np.arange(len(X)))
            expected = {u: _expected_n_test(n, test_size, 2) for u, n in totals.items()}
            assert _per_user_counts(users, test) == expected
    tested = np.concatenate([test for _, test in splits])
    assert len(tested) == len(np.unique(tested))  # windows do not overlap


@settings(max_examples=60, deadline=None)
@given(data=timed_interactions(), test_size=st.floats(0.05, 0.3), n_splits=st.integers(1, 2))
def test_temporal_global_laws(data, test_size, n_splits):
    X, times = data
    users = X[:, 0]
    cv = TemporalSplit(n_splits, test_size=test_size, per_user=False)
    n_test = max(1, round(test_size * len(X)))
    if n_splits * n_test >= len(X):
        with pytest.raises(ValueError, match="n_splits"):
            list(cv.split(X, groups=times))
        return
    for s, (train, test) in enumerate(cv.split(X, groups=times)):
        assert _later(times, train, test)
        assert set(users[test]) <= set(users[train])
        assert len(train) == len(X) - (n_splits - s) * n_test
        # Only test rows of users without training rows are dropped.
        window = np.argsort(times, kind="stable")[len(train) : len(train) + n_test]
        kept = np.isin(users[window], users[train])
        assert np.array_equal(np.sort(window[kept]), test)


def test_temporal_reads_timestamp_column_and_datetimes():
    X = pd.DataFrame(
        {"user": ["a", "a", "a", "b", "b"], "item": [1, 2, 3, 1, 4],
         "timestamp": pd.to_datetime([30, 10, 20, 5, 50], unit="D")}
    )  # fmt: skip
    train, test = next(TemporalSplit(test_size=1).split(X))
    assert train.tolist() == [1, 2, 3] and test.tolist() == [0, 4]
    # groups win over the column; tz-aware datetimes work too.
    groups = pd.Series(pd.to_datetime([1, 2, 3, 4, 5], unit="D")).dt.tz_localize("UTC")
    train, test = next(TemporalSplit(test_size=1).split(X, groups=groups))
    assert test.tolist() == [2, 4]


@pytest.mark.parametrize(
    "groups, error, match",
    [
        (None, ValueError, "timestamp"),
        ([1, 2], ValueError, "shape"),
        ([1.0, np.nan, 2.0, 3.0], ValueError, "NaN"),
        (["x", "y", "z", "w"], TypeError, "numbers or datetimes"),
    ],
)
def test_temporal_bad_timestamps(groups, error, match):
    X = np.array([[0, 1], [0, 2], [1, 1], [1, 3]])
    with pytest.raises(error, match=match):
        next(TemporalSplit().split(X, groups=groups))


# --------------------------------------------------------------------------- train_test_split
def test_train_test_split_protocol(synthetic_interactions):
    X = synthetic_interactions
    X_train, X_test = train_test_split_interactions(X, random_state=0)
    assert isinstance(X_train, np.ndarray) and len(X_train) + len(X_test) == len(X)
    counts = np.bincount(X[:, 0])
    tested = np.bincount(X_test[:, 0], minlength=counts.shape[0])
    assert np.all(tested[counts < 5] == 0)
    expected = np.where(counts >= 5, np.clip(np.round(0.2 * counts), 1, counts - 1), 0)
    assert np.array_equal(tested, expected)
    train, test = next(UserHoldoutSplit(1, min_interactions=5, random_state=0).split(X))
    assert np.array_equal(X_test, X[test])


def test_train_test_split_keeps_types_and_splits_y():
    df = make_interactions(30, 20, density=0.3, as_frame=True, random_state=0)
    y = np.arange(len(df), dtype=float)
    df_train, df_test, y_train, y_test = train_test_split_interactions(df, y, random_state=0)
    assert isinstance(df_train, pd.DataFrame) and df_train.columns.tolist() == ["user", "item"]
    assert np.array_equal(y_test, df_test.index.to_numpy(dtype=float))
    assert np.array_equal(y_train, df_train.index.to_numpy(dtype=float))
    rows = df.to_numpy().tolist()
    list_train, list_test = train_test_split_interactions(rows, random_state=0)
    assert isinstance(list_train, list) and list_test == df_test.to_numpy().tolist()


def test_train_test_split_rejects_mismatched_y():
    with pytest.raises(ValueError, match="inconsistent"):
        train_test_split_interactions([[0, 1], [0, 2]], [1.0])


# --------------------------------------------------------------------------- sklearn integration
def test_grid_search_with_user_holdout(synthetic_interactions):
    search = GridSearchCV(
        PopularityRecommender(),
        {"weighted": [False, True]},
        cv=UserHoldoutSplit(3, random_state=0),
    )
    search.fit(synthetic_interactions)
    scores = search.cv_results_["mean_test_score"]
    assert scores.shape == (2,) and np.all((scores >= 0) & (scores <= 1))
    # Unit weights: both settings rank identically.
    assert scores[0] == pytest.approx(scores[1])


def _n_test_rows(estimator, X, y=None):
    return float(len(X))


@pytest.mark.parametrize(
    "cv",
    [UserKFold(4, random_state=0), LeaveOneOutSplit(2, random_state=0), TemporalSplit(2)],
    ids=["kfold", "loo", "temporal"],
)
def test_cross_validate_accepts_splitters(cv):
    X, times = make_interactions(60, 40, density=0.2, return_timestamps=True, random_state=0)
    result = cross_validate(PopularityRecommender(), X, cv=cv, groups=times, scoring=_n_test_rows)
    expected = [len(test) for _, test in cv.split(X, groups=times)]
    assert result["test_score"].tolist() == expected


def test_repr_lists_parameters():
    assert (
        repr(UserKFold(3, random_state=0)) == "UserKFold(n_splits=3, random_state=0, shuffle=True)"
    )


# --------------------------------------------------------------------------- parameter errors
@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: UserHoldoutSplit(0), "n_splits"),
        (lambda: UserHoldoutSplit(test_size=1.0), "test_size"),
        (lambda: UserHoldoutSplit(test_size=0), "test_size"),
        (lambda: UserHoldoutSplit(test_size=True), "test_size"),
        (lambda: UserHoldoutSplit(min_interactions=0), "min_interactions"),
        (lambda: UserHoldoutSplit(random_state="x"), "random_state"),
        (lambda: UserKFold(1), "n_splits"),
        (lambda: UserKFold(shuffle="yes"), "shuffle"),
        (lambda: UserKFold(shuffle=False, random_state=0), "random_state"),
        (lambda: LeaveOneOutSplit(n_splits=1.5), "n_splits"),
        (lambda: TemporalSplit(test_size=-0.1), "test_size"),
        (lambda: TemporalSplit(per_user=None), "per_user"),
        (
            lambda: train_test_split_interactions([[0, 1]], test_size=2.0),
            "'test_size' parameter of train_test_split_interactions",
        ),
    ],
)
def test_invalid_parameters_are_named(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_parameters_changed_after_init_are_checked_in_split():
    cv = UserHoldoutSplit()
    cv.test_size = 5.0
    with pytest.raises(ValueError, match="test_size"):
        next(cv.split([[0, 1], [0, 2]]))
