import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse
from scipy.sparse.linalg import svds

from skadv.datasets import make_interactions
from skadv.datasets._synthetic import _sample_without_replacement


def _keys(X, n_items):
    return X[:, 0].astype(np.int64) * n_items + X[:, 1]


@settings(max_examples=40, deadline=None)
@given(
    n_users=st.integers(1, 40),
    n_items=st.integers(1, 30),
    n_factors=st.integers(1, 6),
    density=st.floats(0.01, 1.0),
    popularity_skew=st.floats(0.0, 3.0),
    noise=st.floats(0.0, 1.0),
    min_frac=st.floats(0.0, 1.0),
    random_state=st.integers(0, 2**31),
)
def test_output_contract(
    n_users, n_items, n_factors, density, popularity_skew, noise, min_frac, random_state
):
    min_inter = max(1, int(min_frac * n_items))
    X = make_interactions(
        n_users,
        n_items,
        n_factors=n_factors,
        density=density,
        popularity_skew=popularity_skew,
        noise=noise,
        min_interactions_per_user=min_inter,
        random_state=random_state,
    )
    assert X.dtype == np.int64 and X.ndim == 2 and X.shape[1] == 2
    keys = _keys(X, n_items)
    assert np.all(np.diff(keys) > 0)  # sorted by (user, item), hence no duplicate pair
    assert X[:, 1].min() >= 0 and X[:, 1].max() < n_items
    counts = np.bincount(X[:, 0], minlength=n_users)
    assert counts.shape[0] == n_users  # no user id beyond n_users - 1
    assert counts.min() >= min_inter and counts.max() <= n_items


def test_same_seed_same_output_and_seeds_differ():
    a = make_interactions(200, 100, return_timestamps=True, random_state=3)
    b = make_interactions(200, 100, return_timestamps=True, random_state=3)
    c = make_interactions(200, 100, return_timestamps=True, random_state=4)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert a[0].shape != c[0].shape or not np.array_equal(a[0], c[0])


def test_generator_random_state_is_accepted():
    X1 = make_interactions(30, 20, random_state=np.random.default_rng(5))
    X2 = make_interactions(30, 20, random_state=np.random.default_rng(5))
    np.testing.assert_array_equal(X1, X2)


def test_density_sets_the_mean_count(seed):
    X = make_interactions(4000, 500, density=0.04, random_state=seed)
    # Poisson counts with mean 20 and a log-normal activity of mean 1: the average stays 20
    # (the min-1 and max-n_items clips barely move it).
    assert len(X) / 4000 == pytest.approx(20, rel=0.05)


def test_popularity_skew_concentrates_interactions(seed):
    def top_share(skew):
        X = make_interactions(1000, 200, popularity_skew=skew, random_state=seed)
        counts = np.sort(np.bincount(X[:, 1], minlength=200))[::-1]
        return counts[:20].sum() / counts.sum()

    # The top 10 % of items: about 10 % of interactions without skew (a little more, from
    # the topics), about a third with Zipf exponent 1, more than half with exponent 2.
    uniform, zipf, steep = top_share(0.0), top_share(1.0), top_share(2.0)
    assert uniform < 0.2 < zipf < 0.45 < steep


def test_preferences_are_row_distributions_of_rank_at_most_k_plus_1(seed):
    X, P = make_interactions(60, 50, n_factors=4, return_preferences=True, random_state=seed)
    assert P.shape == (60, 50) and P.min() >= 0
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)
    s = np.linalg.svd(P, compute_uv=False)
    assert s[5] < 1e-12 * s[0]


def test_noise_one_leaves_only_popularity(seed):
    _, P = make_interactions(20, 30, noise=1.0, return_preferences=True, random_state=seed)
    np.testing.assert_allclose(P, np.broadcast_to(P[0], P.shape))


def test_structure_beats_popularity(seed):
    # The point of the generator: the planted preferences and a plain rank-k factorization
    # both rank held-out items clearly better than popularity does.
    n_users, n_items, k = 1000, 500, 8
    X, P = make_interactions(
        n_users, n_items, n_factors=k, return_preferences=True, random_state=seed
    )
    test = np.random.RandomState(seed).random_sample(len(X)) < 0.2
    train = sparse.csr_matrix(
        (np.ones((~test).sum()), (X[~test, 0], X[~test, 1])), shape=(n_users, n_items)
    )
    truth = sparse.csr_matrix(
        (np.ones(test.sum()), (X[test, 0], X[test, 1])), shape=(n_users, n_items)
    )
    u, s, vt = svds(train, k=k)
    popularity = np.asarray(train.sum(axis=0)).ravel()
    users = np.unique(X[test, 0])

    def recall_at_10(scores):
        scores = np.array(np.broadcast_to(scores, (n_users, n_items)), dtype=float)
        scores[train.nonzero()] = -np.inf
        top = np.argsort(-scores[users], axis=1)[:, :10]
        relevant = truth[users].toarray()
        hits = np.take_along_axis(relevant, top, axis=1).sum(axis=1)
        return np.mean(hits / np.minimum(relevant.sum(axis=1), 10))

    pop = recall_at_10(popularity)
    assert recall_at_10(P) > 1.5 * pop
    assert recall_at_10((u * s) @ vt) > 1.2 * pop


def _successive_inclusion(p, m):
    """Exact inclusion probabilities of a size-m draw without replacement from p."""
    out = np.zeros(len(p))
    for seq in itertools.permutations(range(len(p)), m):
        prob, left = 1.0, 1.0
        for i in seq:
            prob *= p[i] / left
            left -= p[i]
        out[list(seq)] += prob
    return out


@pytest.mark.parametrize("m", [1, 2, 3, 4], ids=lambda m: f"size{m}")
def test_sampler_matches_exact_without_replacement_law(m):
    # Sizes 1-2 go through the rejection rounds, 3-4 (> half of 5 items) through the
    # Gumbel-top-k fallback: both must give the law of successive sampling.
    n_users = 20000
    p = np.array([0.4, 0.25, 0.2, 0.1, 0.05])
    mixture = np.ones((n_users, 1))
    counts = np.full(n_users, m)
    keys = _sample_without_replacement(mixture, p[None, :], counts, np.random.RandomState(0))
    assert len(keys) == n_users * m
    freq = np.bincount(keys % 5, minlength=5) / n_users
    expected = _successive_inclusion(p, m)
    # Binomial standard error is at most 0.0036 here: 5 sigma.
    np.testing.assert_allclose(freq, expected, atol=0.018)


def test_sampler_tops_up_users_short_after_rounds():
    # One heavy item and many light ones: rejection rounds see mostly duplicates, so the
    # users still short at the end must be completed by the dense fallback.
    n_users, n_items = 50, 40
    p = np.full(n_items, 1e-4)
    p[0] = 1 - p[1:].sum()
    keys = _sample_without_replacement(
        np.ones((n_users, 1)), p[None, :], np.full(n_users, 15), np.random.RandomState(1)
    )
    users = keys // n_items
    assert np.array_equal(np.bincount(users, minlength=n_users), np.full(n_users, 15))
    assert len(np.unique(keys)) == len(keys)


def test_as_frame_and_timestamps(seed):
    X, t = make_interactions(80, 60, return_timestamps=True, random_state=seed)
    df = make_interactions(80, 60, return_timestamps=True, as_frame=True, random_state=seed)
    assert isinstance(df, pd.DataFrame) and df.columns.tolist() == ["user", "item", "timestamp"]
    np.testing.assert_array_equal(df[["user", "item"]].to_numpy(), X)
    np.testing.assert_array_equal(df["timestamp"].to_numpy(), t)
    assert t.dtype == np.int64 and t.min() >= 946_684_800
    # Strictly increasing within each user: no ties for temporal splits to break.
    per_user = df.groupby("user")["timestamp"].nunique()
    assert (per_user == df.groupby("user").size()).all()


def test_return_tuple_order(seed):
    X, t, P = make_interactions(
        10, 8, return_timestamps=True, return_preferences=True, random_state=seed
    )
    assert X.shape == (len(t), 2) and P.shape == (10, 8)
    df, P2 = make_interactions(10, 8, as_frame=True, return_preferences=True, random_state=seed)
    assert df.columns.tolist() == ["user", "item"]
    np.testing.assert_array_equal(P, P2)


def test_every_user_gets_all_items_when_density_is_one():
    X = make_interactions(30, 12, density=1.0, min_interactions_per_user=12, random_state=0)
    assert len(X) == 30 * 12


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_users": 0}, "n_users"),
        ({"n_items": 2.5}, "n_items"),
        ({"n_factors": 0}, "n_factors"),
        ({"density": 0.0}, "density"),
        ({"density": 1.5}, "density"),
        ({"density": float("nan")}, "density"),
        ({"popularity_skew": -1.0}, "popularity_skew"),
        ({"popularity_skew": float("inf")}, "popularity_skew"),
        ({"noise": 1.1}, "noise"),
        ({"min_interactions_per_user": 0}, "min_interactions_per_user"),
        ({"n_items": 5, "min_interactions_per_user": 6}, "min_interactions_per_user"),
        ({"as_frame": "yes"}, "as_frame"),
        ({"return_preferences": 1}, "return_preferences"),
    ],
)
def test_invalid_parameters_are_named(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make_interactions(**kwargs)
