"""Target-item metrics: hand-computed values, blocks, shifts, errors."""

import numpy as np
import pytest
import sklearn

from skadv import AdversarialMFRecommender, PopularityRecommender
from skadv.attacks import BandwagonAttack
from skadv.metrics import (
    average_rank_shift,
    prediction_shift,
    target_hit_rate_at_k,
    target_item_ranks,
    target_ndcg_at_k,
)

# Popularity: item 0 has 3 users, item 1 two, item 2 one, item 3 one.
X = np.array([[0, 0], [1, 0], [2, 0], [1, 1], [2, 1], [3, 2], [0, 3]])


def test_ranks_by_hand():
    model = PopularityRecommender().fit(X)
    ranks = target_item_ranks(model, [0, 3], [1, 2])
    # user 0 saw items 0, 3: candidates 1 (pop 2), 2 (pop 1); user 3 saw 2: 0, 1, 3.
    np.testing.assert_array_equal(ranks, [[1.0, 2.0], [2.0, np.nan]])
    assert target_hit_rate_at_k(model, [0, 3], [1, 2], k=1) == pytest.approx(1 / 3)
    expected = (1.0 + 1 / np.log2(3) + 1 / np.log2(3)) / 3
    assert target_ndcg_at_k(model, [0, 3], [1, 2], k=2) == pytest.approx(expected)


def test_ties_rank_the_target_last():
    model = PopularityRecommender().fit(X)
    # user 1 saw 0, 1: candidates 2 and 3 tie at popularity 1.
    np.testing.assert_array_equal(target_item_ranks(model, [1], [2, 3]), [[2.0, 2.0]])


def test_blocks_give_the_same_ranks(synthetic_interactions):
    model = AdversarialMFRecommender(8, n_epochs=2, random_state=0).fit(synthetic_interactions)
    users = np.unique(synthetic_interactions[:, 0])
    full = target_item_ranks(model, users, [3, 40])
    with sklearn.config_context(working_memory=0.01):
        np.testing.assert_array_equal(target_item_ranks(model, users, [3, 40]), full)
    assert 0.0 <= target_hit_rate_at_k(model, users, [3, 40]) <= 1.0


def test_push_attack_shifts_targets_up(synthetic_interactions):
    X_clean = synthetic_interactions
    attack = BandwagonAttack(attack_size=0.2, filler_size=3, random_state=0)
    X_poisoned, _ = attack.fit_resample(X_clean)
    clean = PopularityRecommender().fit(X_clean)
    attacked = PopularityRecommender().fit(X_poisoned)
    users = np.unique(X_clean[:, 0])
    targets = attack.target_items_
    assert average_rank_shift(clean, attacked, users, targets) > 0
    assert prediction_shift(clean, attacked, users, targets) > 0
    assert average_rank_shift(clean, clean, users, targets) == 0.0
    assert target_hit_rate_at_k(attacked, users, targets) >= target_hit_rate_at_k(
        clean, users, targets
    )


def test_bad_arguments():
    model = PopularityRecommender().fit(X)
    with pytest.raises(ValueError, match="'k'"):
        target_hit_rate_at_k(model, [0], [1], k=0)
    with pytest.raises(ValueError, match="target_items"):
        target_item_ranks(model, [0], [99])
    with pytest.raises(TypeError, match="users"):
        target_item_ranks(model, 0, [1])
    with pytest.raises(ValueError, match="no \\(user, target\\) pair"):
        target_hit_rate_at_k(model, [0], [0])
