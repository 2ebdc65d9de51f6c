"""FGM / PGD / FreeLB steps of skadv._torch.adversary against hand computations."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

torch = pytest.importorskip("torch")

from skadv._torch.adversary import (  # noqa: E402
    adversarial_backward,
    normalize,
    project,
)

finite = st.floats(-10, 10, allow_nan=False, width=32)


@given(arrays(np.float32, (4, 3, 5), elements=finite), st.floats(0.01, 5))
def test_normalize_per_example_has_norm_epsilon(grad, epsilon):
    g = torch.from_numpy(grad)
    delta = normalize(g, epsilon, "per-example")
    norms = torch.linalg.vector_norm(delta, dim=(1, 2))
    nonzero = torch.linalg.vector_norm(g, dim=(1, 2)) > 1e-6
    np.testing.assert_allclose(norms[nonzero].numpy(), epsilon, rtol=1e-4)
    assert torch.all(norms[~nonzero] <= epsilon * (1 + 1e-4))


@given(arrays(np.float32, (3, 4, 2), elements=finite), st.floats(0.01, 5))
def test_normalize_per_token_and_global(grad, epsilon):
    g = torch.from_numpy(grad)
    per_token = torch.linalg.vector_norm(normalize(g, epsilon, "per-token"), dim=2)
    nonzero = torch.linalg.vector_norm(g, dim=2) > 1e-6
    np.testing.assert_allclose(per_token[nonzero].numpy(), epsilon, rtol=1e-4)
    whole = torch.linalg.vector_norm(normalize(g, epsilon, "global"))
    if torch.linalg.vector_norm(g) > 1e-6:
        np.testing.assert_allclose(whole.item(), epsilon, rtol=1e-4)


def test_normalize_keeps_the_direction_of_tiny_gradients():
    # Squares of 1e-30 underflow in float32: the scaling must keep the direction.
    g = torch.tensor([[3e-30, 4e-30]], dtype=torch.float32)
    np.testing.assert_allclose(normalize(g, 1.0, "per-example").numpy(), [[0.6, 0.8]], rtol=1e-5)


def test_mask_leaves_padding_unperturbed():
    g = torch.ones(2, 3, 4)
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    delta = normalize(g, 2.0, "per-example", mask)
    assert torch.all(delta[0, 2] == 0) and torch.all(delta[1, 1:] == 0)
    np.testing.assert_allclose(torch.linalg.vector_norm(delta, dim=(1, 2)).numpy(), 2.0)


@given(arrays(np.float32, (5, 3), elements=finite), st.floats(0.01, 3))
def test_project_lands_in_the_ball_and_keeps_inner_points(delta, radius):
    d = torch.from_numpy(delta)
    out = project(d, radius, "per-example")
    norms = torch.linalg.vector_norm(out, dim=1)
    assert torch.all(norms <= radius * (1 + 1e-5))
    inside = torch.linalg.vector_norm(d, dim=1) <= radius
    np.testing.assert_allclose(out[inside].numpy(), d[inside].numpy(), rtol=1e-6)


def _quadratic_problem():
    """loss(e) = sum((e - target)^2) with e = W: analytic gradients everywhere."""
    weight = torch.nn.Parameter(torch.tensor([[1.0, 2.0], [0.0, -1.0]]))
    target = torch.tensor([[0.0, 0.0], [1.0, 1.0]])

    def embed():
        return (weight * 1.0,)

    def loss_fn(e):
        return ((e - target) ** 2).sum()

    return weight, target, embed, loss_fn


def test_no_adversary_is_the_plain_gradient():
    weight, target, embed, loss_fn = _quadratic_problem()
    clean, adv = adversarial_backward(embed, loss_fn, adversary="none", epsilon=1.0)
    assert adv == 0.0
    np.testing.assert_allclose(clean, ((weight - target) ** 2).sum().item())
    np.testing.assert_allclose(weight.grad.numpy(), 2 * (weight - target).detach().numpy())


@pytest.mark.parametrize("norm", ["per-example", "global"])
def test_fgm_gradient_matches_hand_computation(norm):
    weight, target, embed, loss_fn = _quadratic_problem()
    epsilon, adv_reg = 0.3, 0.7
    adversarial_backward(embed, loss_fn, adversary="fgsm", epsilon=epsilon, adv_reg=adv_reg,
                         norm=norm)  # fmt: skip
    diff = (weight - target).detach().numpy()
    g = 2 * diff
    if norm == "per-example":
        delta = epsilon * g / np.linalg.norm(g, axis=1, keepdims=True)
    else:
        delta = epsilon * g / np.linalg.norm(g)
    expected = 2 * diff + adv_reg * 2 * (diff + delta)
    np.testing.assert_allclose(weight.grad.numpy(), expected, rtol=1e-6)


def test_fgm_perturbation_increases_the_loss_by_the_first_order_amount():
    # Finite-difference check: loss(e + delta) - loss(e) ~ epsilon * ||grad|| for small eps.
    weight, target, embed, loss_fn = _quadratic_problem()
    epsilon = 1e-3
    clean, adv = adversarial_backward(embed, loss_fn, adversary="fgsm", epsilon=epsilon,
                                      norm="global")  # fmt: skip
    grad_norm = np.linalg.norm(2 * (weight - target).detach().numpy())
    np.testing.assert_allclose((adv - clean) / epsilon, grad_norm, rtol=1e-2)


def test_pgd_with_one_full_step_is_fgm():
    results = []
    for adversary, kwargs in (("fgsm", {}), ("pgd", {"n_steps": 1, "step_size": 0.5})):
        weight, _, embed, loss_fn = _quadratic_problem()
        adversarial_backward(embed, loss_fn, adversary=adversary, epsilon=0.5, **kwargs)
        results.append(weight.grad.numpy().copy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6)


def test_pgd_reaches_a_loss_at_least_as_high_as_fgm_and_stays_in_the_ball():
    # The quadratic is convex: its maximum over the ball is on the gradient direction, which
    # PGD approaches from inside; it never leaves the ball (its loss <= FGM's + tolerance).
    weight, target, embed, loss_fn = _quadratic_problem()
    _, adv_fgm = adversarial_backward(embed, loss_fn, adversary="fgsm", epsilon=0.5)
    weight.grad = None
    _, adv_pgd = adversarial_backward(embed, loss_fn, adversary="pgd", epsilon=0.5,
                                      n_steps=5, step_size=0.2)  # fmt: skip
    assert adv_pgd == pytest.approx(adv_fgm, rel=1e-4)
    weight.grad = None
    _, adv_small = adversarial_backward(embed, loss_fn, adversary="pgd", epsilon=0.5,
                                        n_steps=2, step_size=0.1)  # fmt: skip
    clean = loss_fn(*embed()).item()
    assert clean < adv_small < adv_fgm


def test_freelb_accumulates_the_weight_gradients_of_every_step():
    weight, target, embed, loss_fn = _quadratic_problem()
    gen = torch.Generator().manual_seed(0)
    clean, adv = adversarial_backward(embed, loss_fn, adversary="freelb", epsilon=0.2,
                                      adv_reg=1.0, n_steps=3, generator=gen)  # fmt: skip
    # Every perturbed loss is within the ball around the clean point: its gradient 2(e+d-t)
    # differs from the clean one by at most 2 * epsilon per row.
    diff = 2 * (weight - target).detach().numpy()
    extra = weight.grad.numpy() - diff  # the mean of the 3 adversarial gradients
    assert np.all(np.linalg.norm(extra - diff, axis=1) <= 2 * 0.2 + 1e-6)
    assert adv > clean - 1e-6 - 2 * 0.2 * np.linalg.norm(diff)


def test_frozen_embeddings_still_get_a_direction():
    # A frozen embedding layer yields a tensor without grad: FGM must still perturb it and
    # train the parameters after it.
    frozen = torch.tensor([[1.0, 0.0]])
    head = torch.nn.Parameter(torch.tensor([2.0, 1.0]))
    clean, adv = adversarial_backward(
        lambda: (frozen.clone(),), lambda e: ((e * head).sum() - 5.0) ** 2,
        adversary="fgsm", epsilon=0.1,
    )  # fmt: skip
    assert adv > clean and head.grad is not None and frozen.grad is None


def test_unknown_adversary_and_norm_raise():
    _, _, embed, loss_fn = _quadratic_problem()
    with pytest.raises(ValueError, match="adversary"):
        adversarial_backward(embed, loss_fn, adversary="gradient", epsilon=1.0)
    with pytest.raises(ValueError, match="norm"):
        normalize(torch.ones(2, 2), 1.0, "row")
