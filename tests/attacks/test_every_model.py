"""EmbeddingAttack and robustness_curve on every fitted skadv model that scores by a dot
product: matrix factorization on both backends, the two-tower model and the text model's towers
(all expose ``user_factors_`` / ``item_factors_``, and ``item_bias_`` when they have one).
The text model's case is in tests/neural/test_text_attacks.py (it needs the tiny BERT)."""

import numpy as np
import pytest

from skadv.attacks import EmbeddingAttack
from skadv.datasets import make_interactions
from skadv.metrics import robustness_curve
from skadv.mf import AdversarialMFRecommender
from skadv.model_selection import train_test_split_interactions


def _mf_cython():
    return AdversarialMFRecommender(8, n_epochs=10, random_state=0)


def _mf_torch():
    pytest.importorskip("torch")
    return AdversarialMFRecommender(8, n_epochs=10, backend="torch", device="cpu", random_state=0)


def _two_tower():
    pytest.importorskip("torch")
    from skadv.neural import AdversarialNeuralRecommender

    return AdversarialNeuralRecommender(n_factors=8, hidden_layers=(16,), n_epochs=5,
                                        batch_size=64, random_state=0)  # fmt: skip


@pytest.fixture(scope="module")
def split():
    X = make_interactions(n_users=60, n_items=40, random_state=0)
    return train_test_split_interactions(X, test_size=0.2, random_state=0)


def check_attackable(model, X_test):
    """The attack contract on a fitted dot-product model (shared with tests/neural)."""
    attack = EmbeddingAttack("fgsm", 0.5, epsilon_mode="relative", random_state=0)
    d_users, d_items = attack.perturbation(model)
    assert d_users.shape == model.user_factors_.shape
    assert d_items.shape == model.item_factors_.shape
    # Every row with a gradient moves by exactly its radius.
    eps_u, _ = attack.effective_epsilon(model)
    norms = np.linalg.norm(d_users, axis=1)
    np.testing.assert_allclose(norms[norms > 0], eps_u, rtol=1e-6)
    attacked = attack.perturb(model)
    assert attack.bpr_loss(attacked) > attack.bpr_loss(model)
    # The perturbed copy scores through the perturbed factors: its rankings change.
    users = model.user_ids_[:10]
    assert not np.array_equal(attacked.recommend(users, n=5)[0], model.recommend(users, n=5)[0])
    curve = robustness_curve(model, X_test, [0.0, 1.0], epsilon_mode="relative", random_state=0)
    assert curve["attacked"].iloc[0] == curve["clean"].iloc[0]
    assert curve["attacked"].iloc[1] < curve["clean"].iloc[1]


@pytest.mark.parametrize("make", [_mf_cython, _mf_torch, _two_tower],
                         ids=["mf-cython", "mf-torch", "two-tower"])  # fmt: skip
def test_attacks_work_on_every_dot_product_model(make, split):
    X_train, X_test = split
    check_attackable(make().fit(X_train), X_test)


def test_a_model_without_dot_product_factors_is_refused(split):
    pytest.importorskip("torch")
    from skadv.neural import AdversarialNeuralRecommender

    neumf = AdversarialNeuralRecommender("neumf", n_factors=4, hidden_layers=(8,), n_epochs=1,
                                         batch_size=64, random_state=0)  # fmt: skip
    with pytest.raises(TypeError, match="user_factors_"):
        EmbeddingAttack().perturbation(neumf.fit(split[0]))
