"""Dynamic negative sampling (``n_negative_candidates``) on both MF backends."""

import numpy as np
import pytest
import test_kernel
from _kernel import testing
from scipy import stats

from skadv.datasets import make_interactions
from skadv.mf import AdversarialMFRecommender

# The law of the kept negative: the highest-scored of K uniform draws among m items ranked
# by score is the item of rank r (1 = lowest) with probability (r / m)^K - ((r - 1) / m)^K.
M_ITEMS, N_DRAWS = 10, 60_000


def _max_of_uniform_law(n_candidates, m=M_ITEMS):
    r = np.arange(1, m + 1)
    return (r / m) ** n_candidates - ((r - 1) / m) ** n_candidates


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("use_bias", [False, True])
def test_highest_scored_is_numpy_argmax(dtype, use_bias):
    rng = np.random.RandomState(0)
    for k in (1, 3, 8, 13):  # below, at and past the four-way unrolling
        p = rng.normal(size=k).astype(dtype)
        Q = rng.normal(size=(20, k)).astype(dtype)
        bias = rng.normal(size=20).astype(dtype)
        candidates = rng.randint(0, 20, size=6).astype(np.int32)
        scores = Q[candidates].astype(np.float64) @ p + (bias[candidates] if use_bias else 0)
        expected = candidates[np.argmax(scores)]
        assert testing.highest_scored(p, Q, bias, candidates, use_bias) == expected


def test_highest_scored_keeps_the_first_on_ties():
    p = np.ones(4)
    Q = np.zeros((5, 4))
    candidates = np.array([3, 1, 4], dtype=np.int32)
    assert testing.highest_scored(p, Q, np.zeros(5), candidates, True) == 3


@pytest.mark.parametrize("n_candidates", [1, 3])
def test_kernel_keeps_the_highest_of_uniform_candidates(n_candidates):
    # One user whose only positive is item 0; items 1..10 score 1e-6 * rank (Q's one
    # column, P = [[1]]). A tiny SGD step moves the kept negative j down by lr / 2 per draw
    # (sigmoid(-x) = 1/2 to ~1e-6), far less than the spacing of the scores: the moves count
    # how often each item was kept, to be tested against the law of the max of K uniforms.
    matrix = np.zeros((1, M_ITEMS + 1))
    matrix[0, 0] = 1
    P = np.ones((1, 1))
    Q = np.concatenate([[0.0], 1e-6 * np.arange(1, M_ITEMS + 1)])[:, None]
    before, lr = Q.copy(), 1e-12
    test_kernel._epoch(P, Q, matrix, lr=lr, n_draws=N_DRAWS, n_candidates=n_candidates)
    counts = np.rint((before - Q)[1:, 0] / (lr / 2))
    assert counts.sum() == N_DRAWS
    expected = N_DRAWS * _max_of_uniform_law(n_candidates)
    assert stats.chisquare(counts, expected).pvalue > 1e-3


def test_torch_sampler_keeps_the_highest_of_uniform_candidates():
    torch = pytest.importorskip("torch")
    from skadv._torch.sampling import hardest_negatives

    # 2 users; user u's positives are items 0 and 1 + u. Item j scores j (for both users).
    n_items = M_ITEMS + 2
    keys = torch.tensor([0, 1, n_items, n_items + 2])
    users = torch.tensor([0, 1]).repeat(N_DRAWS // 2)
    generator = torch.Generator().manual_seed(0)
    kept = hardest_negatives(users, keys, n_items, generator, 3, lambda u, j: j.double())
    for user in (0, 1):
        items = kept[users == user].numpy()
        positives = (0, 1 + user)
        assert not np.isin(items, positives).any()
        negatives = np.setdiff1d(np.arange(n_items), positives)  # increasing: rank order
        counts = (items[:, None] == negatives).sum(axis=0)
        expected = len(items) * _max_of_uniform_law(3, m=len(negatives))
        assert stats.chisquare(counts, expected).pvalue > 1e-3


@pytest.mark.parametrize("backend", ["cython", pytest.param("torch", marks=pytest.mark.torch)])
def test_harder_negatives_raise_the_training_loss(backend):
    # Negatives that the model scores high are harder: the same fit ends at a higher loss,
    # and the candidates do not change the number of samples per epoch.
    if backend == "torch":
        pytest.importorskip("torch")
    X = make_interactions(n_users=200, n_items=150, density=0.08, random_state=0)
    losses = {}
    for n_candidates in (1, 4):
        model = AdversarialMFRecommender(
            n_negative_candidates=n_candidates, n_epochs=30, backend=backend, n_jobs=1,
            random_state=0,
        ).fit(X)  # fmt: skip
        losses[n_candidates] = model.loss_curve_[-1]
    assert losses[4] > 1.2 * losses[1]


@pytest.mark.parametrize("value", [0, 33, 2.5])
def test_bad_candidate_counts_are_rejected(value):
    X = make_interactions(n_users=20, n_items=15, density=0.2, random_state=0)
    with pytest.raises((ValueError, TypeError), match="n_negative_candidates"):
        AdversarialMFRecommender(n_negative_candidates=value, n_epochs=1).fit(X)


@pytest.mark.parametrize("n_candidates", [0, 33])
def test_kernel_rejects_candidate_counts_beyond_its_buffer(n_candidates):
    # The kernel keeps a sample's candidates on the stack: a direct caller gets an error,
    # not a write past the buffer.
    matrix = np.zeros((1, 4))
    matrix[0, 0] = 1
    with pytest.raises(ValueError, match="n_candidates"):
        test_kernel._epoch(np.ones((1, 2)), np.ones((4, 2)), matrix, lr=0.1,
                           n_candidates=n_candidates)  # fmt: skip
