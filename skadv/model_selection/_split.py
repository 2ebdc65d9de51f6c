"""Interaction splitters: hold out part of each user's interactions.

A recommender is evaluated on interactions it did not see, for users it did see: every
splitter here masks *rows* of ``X`` (interactions), user by user, and guarantees that every
user with a test row keeps at least one training row. The splitters follow scikit-learn's
cross-validator protocol (``split(X, y=None, groups=None)`` yielding ``(train, test)`` row
indices, ``get_n_splits``), so they plug into ``GridSearchCV(cv=...)``, ``cross_validate``
and friends. ``X`` is read with :func:`skadv.utils._validation.check_interactions`: any
supported form, ids of any hashable type.

Splitting by user (``GroupKFold(groups=users)``) would instead evaluate on users never seen in
training: a cold-start protocol, not this one.
"""

import numbers

import numpy as np
import pandas as pd
from sklearn.model_selection import BaseCrossValidator
from sklearn.utils import check_consistent_length

from skadv.utils._params import (
    BOOL,
    NONE,
    RANDOM_STATE,
    Interval,
    check_params,
    validate_params,
)
from skadv.utils._random import check_random_state
from skadv.utils._validation import check_interactions, encode_ids

__all__ = [
    "LeaveOneOutSplit",
    "TemporalSplit",
    "UserHoldoutSplit",
    "UserKFold",
    "train_test_split_interactions",
]

_TEST_SIZE = [Interval("real", 0, 1, closed="neither"), Interval("int", 1, None)]


class _InteractionSplitter(BaseCrossValidator):
    """Shared checks; subclasses define ``_parameter_constraints`` and ``split``."""

    _parameter_constraints: dict = {}

    def _validate(self):
        validate_params(self)

    def _random_holdouts(self, X, test_size, min_interactions):
        """``n_splits`` independent per-user random holdouts of ``X``."""
        self._validate()
        codes = _user_codes(X)
        counts = np.bincount(codes)
        n_test = _test_counts(counts, test_size, min_interactions)
        rng = check_random_state(self.random_state)
        for _ in range(self.n_splits):
            yield _holdout(codes, counts, n_test, rng)

    def get_n_splits(self, X=None, y=None, groups=None):
        """Number of splits (``n_splits``); ``X``, ``y`` and ``groups`` are ignored.

        Returns
        -------
        n_splits : int
        """
        self._validate()
        return int(self.n_splits)


class UserHoldoutSplit(_InteractionSplitter):
    """Random per-user holdout, repeated ``n_splits`` times independently.

    In each split, every user with at least ``min_interactions`` interactions (and at least
    2) has a random ``test_size`` share of its interactions moved to the test set; other users
    keep all their interactions in training. Like :class:`~sklearn.model_selection.
    ShuffleSplit`, splits are drawn independently: a row can be tested in several splits.

    Parameters
    ----------
    n_splits : int, default=5
        Number of independent splits.
    test_size : float in (0, 1) or int >= 1, default=0.2
        A float is the share of each user's interactions held out:
        ``round(test_size * n_u)`` (round half to even, as :func:`numpy.round`) and at least 1.
        An int is the number of interactions held out per user. Either way at most
        ``n_u - 1``, so each test user keeps one training interaction.
    min_interactions : int, default=5
        Users with fewer interactions are never tested: they keep all of theirs in
        training (the same default as :func:`train_test_split_interactions`).
    random_state : int, RandomState instance or None, default=None
        Controls the draws. An int gives the same splits on every call of ``split``.

    See Also
    --------
    UserKFold : Per-user K-fold: every interaction tested exactly once.
    train_test_split_interactions : One holdout split, returning the data.

    Examples
    --------
    >>> from skadv.datasets import make_interactions
    >>> X = make_interactions(n_users=50, n_items=40, random_state=0)
    >>> cv = UserHoldoutSplit(n_splits=3, test_size=0.2, random_state=0)
    >>> train, test = next(cv.split(X))
    >>> len(train) + len(test) == len(X), cv.get_n_splits()
    (True, 3)
    """

    _parameter_constraints = {
        "n_splits": [Interval("int", 1, None)],
        "test_size": _TEST_SIZE,
        "min_interactions": [Interval("int", 1, None)],
        "random_state": [NONE, RANDOM_STATE],
    }

    def __init__(self, n_splits=5, *, test_size=0.2, min_interactions=5, random_state=None):
        self.n_splits = n_splits
        self.test_size = test_size
        self.min_interactions = min_interactions
        self.random_state = random_state
        self._validate()

    def split(self, X, y=None, groups=None):
        """Generate ``(train, test)`` row indices of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_interactions, 2) or DataFrame
            ``(user, item)`` pairs.
        y, groups : ignored
            Present for compatibility with scikit-learn's cross-validation tools.

        Yields
        ------
        train, test : ndarray of int
            Sorted row indices.
        """
        yield from self._random_holdouts(X, self.test_size, self.min_interactions)


class LeaveOneOutSplit(_InteractionSplitter):
    """Hold out one random interaction of every user with at least two.

    The leave-one-out protocol of many recommender papers (without their sampled negatives:
    skadv ranks all items). Each of the ``n_splits`` splits is drawn independently.

    Parameters
    ----------
    n_splits : int, default=1
        Number of independent splits.
    random_state : int, RandomState instance or None, default=None
        Controls which interaction is held out.

    See Also
    --------
    UserHoldoutSplit : Hold out a share of each user's interactions.
    TemporalSplit : Hold out each user's latest interactions.

    Examples
    --------
    >>> X = [[0, "a"], [0, "b"], [1, "a"], [1, "c"], [1, "d"], [2, "b"]]
    >>> train, test = next(LeaveOneOutSplit(random_state=0).split(X))
    >>> len(test), sorted(X[i][0] for i in test)
    (2, [0, 1])
    """

    _parameter_constraints = {
        "n_splits": [Interval("int", 1, None)],
        "random_state": [NONE, RANDOM_STATE],
    }

    def __init__(self, n_splits=1, *, random_state=None):
        self.n_splits = n_splits
        self.random_state = random_state
        self._validate()

    def split(self, X, y=None, groups=None):
        """Generate ``(train, test)`` row indices of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_interactions, 2) or DataFrame
            ``(user, item)`` pairs.
        y, groups : ignored
            Present for compatibility with scikit-learn's cross-validation tools.

        Yields
        ------
        train, test : ndarray of int
            Sorted row indices.
        """
        yield from self._random_holdouts(X, test_size=1, min_interactions=2)


class UserKFold(_InteractionSplitter):
    """Per-user K-fold: each user's interactions are partitioned into ``n_splits`` folds.

    Split ``k`` tests fold ``k`` of every user. Over all splits each interaction of a user with
    at least two interactions is tested exactly once; users with a single interaction always
    stay in training. A user's folds differ in size by at most one, and a test user always
    keeps training interactions (a fold holds at most ``ceil(n_u / n_splits) < n_u`` rows).

    Parameters
    ----------
    n_splits : int >= 2, default=5
        Number of folds.
    shuffle : bool, default=True
        Assign interactions to folds at random. With ``False`` each user's interactions are cut
        into contiguous folds in row order (e.g. chronological if ``X`` is sorted by time).
    random_state : int, RandomState instance or None, default=None
        Controls the assignment when ``shuffle=True``; must be None otherwise.

    See Also
    --------
    UserHoldoutSplit : Independent random holdouts.

    Examples
    --------
    >>> from skadv.datasets import make_interactions
    >>> X = make_interactions(n_users=50, n_items=40, random_state=0)
    >>> tests = [test for _, test in UserKFold(n_splits=3, random_state=0).split(X)]
    >>> all_tested = np.concatenate(tests)
    >>> len(all_tested) == len(np.unique(all_tested))
    True
    """

    _parameter_constraints = {
        "n_splits": [Interval("int", 2, None)],
        "shuffle": [BOOL],
        "random_state": [NONE, RANDOM_STATE],
    }

    def __init__(self, n_splits=5, *, shuffle=True, random_state=None):
        self.n_splits = n_splits
        self.shuffle = shuffle
        self.random_state = random_state
        self._validate()

    def _validate(self):
        super()._validate()
        if not self.shuffle and self.random_state is not None:
            raise ValueError(
                "Setting a random_state has no effect since shuffle is False; leave "
                "random_state=None or set shuffle=True."
            )

    def split(self, X, y=None, groups=None):
        """Generate ``(train, test)`` row indices of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_interactions, 2) or DataFrame
            ``(user, item)`` pairs.
        y, groups : ignored
            Present for compatibility with scikit-learn's cross-validation tools.

        Yields
        ------
        train, test : ndarray of int
            Sorted row indices.
        """
        self._validate()
        codes = _user_codes(X)
        n = codes.shape[0]
        k = int(self.n_splits)
        counts = np.bincount(codes)
        if self.shuffle:
            rng = check_random_state(self.random_state)
            rank = _ranks(codes, counts, rng.random_sample(n))
            # A random rotation per user spreads the larger folds of users whose count is
            # not a multiple of k over all folds instead of always the first ones.
            offset = rng.randint(k, size=counts.shape[0])
        else:
            rank = _ranks(codes, counts, np.arange(n))
            offset = np.zeros(counts.shape[0], dtype=np.int64)
        n_u = counts[codes]
        fold = (rank * k // n_u + offset[codes]) % k
        fold[n_u < 2] = -1  # never tested
        for i in range(k):
            test = fold == i
            yield np.flatnonzero(~test), np.flatnonzero(test)


class TemporalSplit(_InteractionSplitter):
    """Hold out the latest interactions, by timestamp.

    Timestamps come from ``groups`` (``split(X, groups=timestamps)``; in
    ``GridSearchCV.fit(X, groups=timestamps)`` they reach the splitter the same way) or, when
    ``groups`` is None and ``X`` is a DataFrame, from its ``timestamp`` column. Any numeric or
    datetime values work; ties are broken by row order.

    ``per_user=True``
        Each user with at least two interactions has its latest ``test_size`` share tested
        (the count rule of :class:`UserHoldoutSplit`, at most ``n_u - 1``).
    ``per_user=False``
        One global cutoff: the latest ``test_size`` share of all rows is tested. Test rows of
        users with no interaction before the cutoff are dropped from the split (in neither
        train nor test): they would be cold-start users, and moving them into training
        would train on the future.

    With ``n_splits > 1`` the splits are successive evaluation windows, oldest first, as in
    :class:`~sklearn.model_selection.TimeSeriesSplit`: the last split tests the latest
    window; split ``n_splits - 1 - w`` pretends the latest ``w`` windows have not happened yet
    (their rows are in neither set) and tests the window before them. A user whose history is
    too short for a window gets fewer test rows there (keeping one training row) or none.

    Parameters
    ----------
    n_splits : int, default=1
        Number of successive test windows.
    test_size : float in (0, 1) or int >= 1, default=0.2
        Size of a test window: a share (rounded half to even, at least 1) or a count, of each
        user's interactions (``per_user=True``) or of all rows (``per_user=False``).
    per_user : bool, default=True
        Per-user latest interactions, or one global time cutoff.

    See Also
    --------
    UserHoldoutSplit : Random per-user holdout.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"user": [0, 0, 0, 1, 1], "item": [1, 2, 3, 1, 4],
    ...                   "timestamp": [30, 10, 20, 5, 50]})
    >>> train, test = next(TemporalSplit(test_size=1).split(X))
    >>> train.tolist(), test.tolist()
    ([1, 2, 3], [0, 4])
    """

    __metadata_request__split = {"groups": True}

    _parameter_constraints = {
        "n_splits": [Interval("int", 1, None)],
        "test_size": _TEST_SIZE,
        "per_user": [BOOL],
    }

    def __init__(self, n_splits=1, *, test_size=0.2, per_user=True):
        self.n_splits = n_splits
        self.test_size = test_size
        self.per_user = per_user
        self._validate()

    def split(self, X, y=None, groups=None):
        """Generate ``(train, test)`` row indices of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_interactions, 2) or DataFrame
            ``(user, item)`` pairs; a DataFrame may carry a ``timestamp`` column.
        y : ignored
        groups : array-like of shape (n_interactions,), default=None
            Timestamps of the rows (numbers or datetimes). Required unless ``X`` is a
            DataFrame with a ``timestamp`` column.

        Yields
        ------
        train, test : ndarray of int
            Sorted row indices.
        """
        self._validate()
        codes = _user_codes(X)
        times = _timestamps(X, groups, codes.shape[0])
        if self.per_user:
            yield from self._split_per_user(codes, times)
        else:
            yield from self._split_global(codes, times)

    def _split_per_user(self, codes, times):
        n = codes.shape[0]
        counts = np.bincount(codes)
        # Oldest first within each user; np.lexsort is stable, so ties keep row order.
        order = np.lexsort((times, codes))
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(n) - (np.cumsum(counts) - counts)[codes[order]]
        n_test = _test_counts(counts, self.test_size, 2)
        for w in range(self.n_splits - 1, -1, -1):
            visible = np.maximum(counts - w * n_test, 0)
            start = np.where(visible >= 2, np.maximum(visible - n_test, 1), visible)
            train = rank < start[codes]
            test = ~train & (rank < visible[codes])
            yield np.flatnonzero(train), np.flatnonzero(test)

    def _split_global(self, codes, times):
        n = codes.shape[0]
        if isinstance(self.test_size, numbers.Integral):
            n_test = int(self.test_size)
        else:
            n_test = int(np.round(self.test_size * n))
        n_test = max(n_test, 1)
        if self.n_splits * n_test >= n:
            raise ValueError(
                f"n_splits={self.n_splits} windows of {n_test} rows (test_size="
                f"{self.test_size}) leave no training rows among {n} interactions."
            )
        rank = np.empty(n, dtype=np.int64)
        rank[np.argsort(times, kind="stable")] = np.arange(n)
        for w in range(self.n_splits - 1, -1, -1):
            cutoff = n - (w + 1) * n_test
            train = rank < cutoff
            test = ~train & (rank < cutoff + n_test)
            has_train = np.bincount(codes[train], minlength=codes.max() + 1) > 0
            test &= has_train[codes]
            yield np.flatnonzero(train), np.flatnonzero(test)


def train_test_split_interactions(
    X, y=None, *, test_size=0.2, min_interactions=5, random_state=None
):
    """Split interactions into a training and a test set, holding out per user.

    The first split of :class:`UserHoldoutSplit`: each user with at least
    ``min_interactions`` interactions has a random ``test_size`` share of them held out;
    other users keep all of theirs in training. With the defaults this is the protocol "per
    user a random 20 % held out, users with fewer than 5 interactions kept in training".

    Parameters
    ----------
    X : array-like of shape (n_interactions, 2) or DataFrame
        ``(user, item)`` pairs.
    y : array-like of shape (n_interactions,), default=None
        Optional weights or ratings, split alongside ``X``.
    test_size : float in (0, 1) or int >= 1, default=0.2
        Share or count of each eligible user's interactions held out (see
        :class:`UserHoldoutSplit`).
    min_interactions : int, default=5
        Users with fewer interactions are kept entirely in training.
    random_state : int, RandomState instance or None, default=None
        Controls the draw.

    Returns
    -------
    X_train, X_test : same type as ``X``
        Rows of ``X`` (DataFrame rows keep their index), in their original order.
    y_train, y_test : same type as ``y``
        Only when ``y`` is given.

    Examples
    --------
    >>> from skadv.datasets import make_interactions
    >>> X = make_interactions(n_users=50, n_items=40, density=0.3, random_state=0)
    >>> X_train, X_test = train_test_split_interactions(X, random_state=0)
    >>> len(X_train) + len(X_test) == len(X), set(X_test[:, 0]) <= set(X_train[:, 0])
    (True, True)
    """
    check_params(
        {
            "test_size": (test_size, _TEST_SIZE),
            "min_interactions": (min_interactions, [Interval("int", 1, None)]),
            "random_state": (random_state, [NONE, RANDOM_STATE]),
        },
        caller="train_test_split_interactions",
    )
    if y is not None:
        check_consistent_length(X, y)
    cv = UserHoldoutSplit(
        n_splits=1,
        test_size=test_size,
        min_interactions=min_interactions,
        random_state=random_state,
    )
    train, test = next(cv.split(X))
    out = [_take_rows(X, train), _take_rows(X, test)]
    if y is not None:
        out += [_take_rows(y, train), _take_rows(y, test)]
    return tuple(out)


def _take_rows(data, rows):
    """Rows of ``data`` in the type it came in (DataFrame/Series, ndarray, list)."""
    if hasattr(data, "iloc"):
        return data.iloc[rows]
    if isinstance(data, np.ndarray):
        return data[rows]
    if isinstance(data, list):
        return [data[r] for r in rows]
    return np.asarray(data, dtype=object)[rows]


# --------------------------------------------------------------------------- helpers
def _user_codes(X):
    users, _, _ = check_interactions(X)
    return encode_ids(users)[1].astype(np.int64)


def _test_counts(counts, test_size, min_interactions):
    """Per-user number of test rows: the documented rounding, capped to keep one train row."""
    if isinstance(test_size, numbers.Integral):
        n_test = np.full(counts.shape[0], int(test_size), dtype=np.int64)
    else:
        n_test = np.round(test_size * counts).astype(np.int64)
    n_test = np.clip(n_test, 1, np.maximum(counts - 1, 0))
    n_test[counts < max(2, min_interactions)] = 0
    return n_test


def _ranks(codes, counts, keys):
    """Position of each row within its user when the user's rows are ordered by ``keys``."""
    n = codes.shape[0]
    order = np.lexsort((keys, codes))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - (np.cumsum(counts) - counts)[codes[order]]
    return rank


def validation_holdout(user_codes, item_codes, validation_fraction, rng):
    """Per-user random holdout of training pairs for early stopping (estimators' ``fit``).

    Parameters
    ----------
    user_codes, item_codes : ndarray of shape (n_pairs,)
        Integer codes of the training pairs.
    validation_fraction : float
        Share of each user's pairs held out (users with fewer than 2 pairs keep them all).
    rng : numpy.random.RandomState
        Draws the split's seed.

    Returns
    -------
    train_idx, val_idx : ndarray of int
        Indexes into the pairs.

    Raises
    ------
    ValueError
        If no pair is held out (no user has 2 or more pairs).

    Examples
    --------
    >>> users = np.array([0, 0, 0, 0, 1])
    >>> train, val = validation_holdout(users, np.arange(5), 0.25, np.random.RandomState(0))
    >>> len(train), len(val)
    (4, 1)
    """
    # Early stopping validates on every user with at least 2 pairs (its documented rule),
    # not on the splitters' evaluation default of 5.
    cv = UserHoldoutSplit(
        n_splits=1,
        test_size=validation_fraction,
        min_interactions=2,
        random_state=int(rng.randint(np.iinfo(np.int32).max)),
    )
    train_idx, val_idx = next(cv.split(np.column_stack([user_codes, item_codes])))
    if val_idx.shape[0] == 0:
        raise ValueError(
            f"early_stopping with validation_fraction={validation_fraction} holds out no "
            "interaction: no user has 2 or more interactions."
        )
    return train_idx, val_idx


def _holdout(codes, counts, n_test, rng):
    rank = _ranks(codes, counts, rng.random_sample(codes.shape[0]))
    test = rank < n_test[codes]
    return np.flatnonzero(~test), np.flatnonzero(test)


def _timestamps(X, groups, n):
    if groups is None:
        if hasattr(X, "columns") and "timestamp" in X.columns:
            groups = X["timestamp"]
        else:
            raise ValueError(
                "TemporalSplit needs timestamps: pass them as groups (split(X, groups=ts)) "
                "or give X as a DataFrame with a 'timestamp' column."
            )
    if isinstance(groups, (pd.Series, pd.Index)) and isinstance(groups.dtype, pd.DatetimeTZDtype):
        groups = (
            groups.tz_convert("UTC")
            if isinstance(groups, pd.Index)
            else (groups.dt.tz_convert("UTC"))
        )
        groups = np.asarray(groups.astype("datetime64[ns, UTC]").astype("int64"))
    times = np.asarray(groups)
    if times.ndim != 1 or times.shape[0] != n:
        raise ValueError(f"groups (timestamps) must have shape ({n},), got shape {times.shape}.")
    if times.dtype.kind == "M":
        if np.isnat(times).any():
            raise ValueError("groups (timestamps) contain missing values (NaT).")
        return times.astype("datetime64[ns]").view(np.int64)
    if times.dtype.kind in "biu":
        return times.astype(np.int64)
    try:
        times = times.astype(np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"groups (timestamps) must be numbers or datetimes, got dtype {times.dtype}."
        ) from None
    if not np.isfinite(times).all():
        raise ValueError("groups (timestamps) contain NaN or infinite values.")
    return times
