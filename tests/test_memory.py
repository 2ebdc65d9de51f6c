"""Bounded memory: ranking and scoring work in user blocks sized by sklearn's working_memory.

Each test traces the peak of Python-level allocations (NumPy's included) while ranking many
users under a small ``working_memory``, and asserts a bound that does not depend on the number
of users: a dense (n_users x n_items) score matrix, which is several times larger here, cannot
pass. Results equal the unblocked ones.
"""

import tracemalloc

import numpy as np
import pytest
import sklearn

from skadv import AdversarialMFRecommender
from skadv.datasets import make_interactions
from skadv.metrics import get_ranking_scorer
from skadv.model_selection import train_test_split_interactions

N_USERS, N_ITEMS = 12_000, 2_000
WORKING_MEMORY = 2  # MiB
# A dense float32 score matrix of every user: 96 MB; blocks: about WORKING_MEMORY each.
DENSE_BYTES = N_USERS * N_ITEMS * 4


@pytest.fixture(scope="module")
def fitted():
    X = make_interactions(n_users=N_USERS, n_items=N_ITEMS, density=0.002, random_state=0)
    X_train, X_test = train_test_split_interactions(X, test_size=0.2, random_state=0)
    model = AdversarialMFRecommender(8, n_epochs=1, random_state=0).fit(X_train)
    return model, X_test


def _peak(function):
    tracemalloc.start()
    try:
        with sklearn.config_context(working_memory=WORKING_MEMORY):
            out = function()
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_recommend_peak_memory_does_not_grow_with_the_number_of_users(fitted):
    model, _ = fitted
    users = model.user_ids_
    (items, scores), peak = _peak(lambda: model.recommend(users, n=10))
    outputs = items.nbytes + scores.nbytes
    # Blocks of WORKING_MEMORY, their exclusion rows and the outputs: far below one dense
    # matrix (96 MB; unblocked, the peak was 115 MB) and independent of the number of users
    # beyond the outputs.
    assert peak < outputs + 4 * WORKING_MEMORY * 2**20 < DENSE_BYTES / 8
    # The same top-10 as one block (a working memory large enough for all users).
    with sklearn.config_context(working_memory=4096):
        whole_items, whole_scores = model.recommend(users, n=10)
    np.testing.assert_array_equal(items, whole_items)
    np.testing.assert_array_equal(scores, whole_scores)
    assert scores.dtype == np.float32  # the model's dtype


def test_scoring_many_test_users_is_bounded(fitted):
    model, X_test = fitted
    scorer = get_ranking_scorer("ndcg@10")
    value, peak = _peak(lambda: scorer(model, X_test))
    # Unblocked, the peak was 65 MB for the 5k test users.
    assert peak < 4 * WORKING_MEMORY * 2**20 < DENSE_BYTES / 8
    with sklearn.config_context(working_memory=4096):
        assert scorer(model, X_test) == pytest.approx(value, rel=1e-12)


def test_predict_over_many_pairs_is_bounded(fitted):
    model, _ = fitted
    rng = np.random.RandomState(0)
    pairs = np.column_stack(
        [rng.choice(model.user_ids_, 400_000), rng.choice(model.item_ids_, 400_000)]
    )
    scores, peak = _peak(lambda: model.predict(pairs))
    # The input and output arrays, the id lookups, and blocks of gathered rows (a float64 copy
    # of all gathered rows would be 400k x 8 x 8 x 2 = 51 MB).
    assert peak < 40 * pairs.shape[0] + 4 * WORKING_MEMORY * 2**20
    with sklearn.config_context(working_memory=4096):
        np.testing.assert_allclose(model.predict(pairs), scores, rtol=1e-12)
