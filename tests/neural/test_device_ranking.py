"""recommend on the device of a GPU-trained dot-product model: the same top-n as NumPy's."""

import numpy as np
import pytest
import sklearn

torch = pytest.importorskip("torch")

from skadv import AdversarialMFRecommender  # noqa: E402
from skadv._torch.ranker import DotProductRanker  # noqa: E402
from skadv.datasets import make_interactions  # noqa: E402

pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def model():
    X = make_interactions(n_users=80, n_items=60, random_state=0)
    return AdversarialMFRecommender(8, n_epochs=3, item_bias=True, random_state=0).fit(X)


def _ranked_on(model, device, monkeypatch, users, **kwargs):
    monkeypatch.setattr(type(model), "_scoring_device", lambda self: device)
    try:
        return model.recommend(users, **kwargs)
    finally:
        monkeypatch.undo()


@pytest.mark.parametrize("exclude_seen", [True, False])
def test_device_path_equals_the_numpy_path(model, monkeypatch, exclude_seen):
    users = np.append(model.user_ids_, 10**6)  # and an unknown user (popularity fallback)
    with sklearn.config_context(working_memory=1):  # several blocks
        items, scores = _ranked_on(model, "cpu", monkeypatch, users, n=7,
                                   exclude_seen=exclude_seen)  # fmt: skip
    want_items, want_scores = model.recommend(users, n=7, exclude_seen=exclude_seen)
    np.testing.assert_array_equal(items, want_items)
    np.testing.assert_allclose(scores, want_scores, rtol=1e-6)


def test_ties_and_exhausted_candidates_follow_the_kernel(model):
    # All scores equal: the lower index first; a user who has seen all but two items gets
    # those two, then excluded items at -inf, lowest index first (as skadv.utils._ranking).
    from scipy import sparse

    from skadv.base import DotProductFactors
    from skadv.utils._ranking import top_k

    tied = type("M", (), {})()
    factors = DotProductFactors(np.zeros((2, 3), np.float32), np.zeros((6, 3), np.float32), None)
    tied.factors = lambda: factors
    tied.item_popularity_ = np.zeros(6)
    tied.score_users = lambda codes: np.zeros((len(codes), 6), np.float32)  # unknown users' row
    exclude = sparse.csr_matrix(np.array([[0, 0, 0, 0, 0, 0], [1, 1, 0, 1, 0, 1]], bool))
    idx, vals = DotProductRanker(tied, "cpu").top_k(np.array([0, 1]), 4, exclude)
    want_idx, want_vals = top_k(np.zeros((2, 6), np.float32), 4, exclude=exclude)
    np.testing.assert_array_equal(idx, want_idx)
    np.testing.assert_array_equal(vals, want_vals)


def test_a_cpu_trained_or_loaded_model_ranks_in_numpy(model):
    assert model._scoring_device() is None  # trained on CPU
    gpu_trained = AdversarialMFRecommender(8, n_epochs=1, random_state=0).fit(
        make_interactions(n_users=20, n_items=15, random_state=0)
    )
    gpu_trained.device_ = "cuda:0"  # as if loaded from a GPU machine
    expected = None if not torch.cuda.is_available() else "cuda:0"
    assert gpu_trained._scoring_device() == expected


@pytest.mark.gpu
def test_gpu_ranking_equals_numpy():
    X = make_interactions(n_users=300, n_items=200, random_state=0)
    model = AdversarialMFRecommender(16, n_epochs=3, backend="torch", device="cuda",
                                     random_state=0).fit(X)  # fmt: skip
    assert model._scoring_device() is not None
    items, _ = model.recommend(model.user_ids_, n=10)
    model.device_ = "cpu"  # the NumPy path
    want, _ = model.recommend(model.user_ids_, n=10)
    assert np.mean(items == want) > 0.99  # float32 GEMM rounding may swap near-ties
