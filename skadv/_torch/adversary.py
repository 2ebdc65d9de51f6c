r"""Adversarial training steps on embeddings: FGM, PGD and FreeLB (PyTorch).

One function, :func:`adversarial_backward`, runs the forward and backward passes of one
training step, for every model in :mod:`skadv.neural`: the neural recommenders perturb the
outputs of their id-embedding layers, the text recommender the token embeddings of its encoder.
The model hands over two callables, ``embed()`` (fresh embedding tensors, with the graph back to
the embedding weights) and ``loss_fn(*embeddings)`` (the training loss given those tensors), so
the perturbation logic never knows the architecture.

The step always keeps the clean loss (``adv_reg`` weighs the adversarial one):

.. math:: L(\theta) = \ell(E) + \lambda\, \ell(E + \delta)

- ``"fgsm"`` (FGM of Miyato et al., 2017: FGSM with an L2 norm): :math:`\delta =
  \varepsilon\, g / \|g\|` with :math:`g =
  \nabla_E \ell(E)` taken from the clean backward pass (no extra pass): one clean and one
  adversarial forward/backward, about 2 clean steps.
- ``"pgd"`` (Madry et al., 2018): ``n_steps`` ascent steps :math:`\delta \leftarrow
  \Pi_{\|\delta\| \le \varepsilon}(\delta + \alpha\, g / \|g\|)` starting from 0; the first uses
  the clean gradient, the others an input-gradient-only pass (``torch.autograd.grad`` w.r.t.
  :math:`\delta`: no weight gradients), then one adversarial forward/backward: about
  ``n_steps + 1`` clean steps.
- ``"freelb"`` (Zhu et al., 2020): :math:`\delta_0` uniform in the ball, then ``n_steps``
  ascent steps whose weight gradients are all accumulated ("free" adversarial training): the
  adversarial term is :math:`\frac{\lambda}{K} \sum_{k} \ell(E + \delta_k)`.
- ``"random"``: :math:`\delta` a Gaussian direction scaled to norm :math:`\varepsilon` (the
  control: robustness from noise rather than from the adversary); one clean and one perturbed
  forward/backward.

With ``epsilon_mode="relative"`` the radius of each unit of ``norm`` is ε times the mean L2
norm of the clean embedding tensor over those units (computed per batch, held fixed):
the same ε then means the same thing for embeddings of different scales.

Norms (``norm``), for an embedding tensor of shape ``(batch, ..., dim)``:

``"per-example"``
    One L2 norm over everything that belongs to one example (all its tokens: Miyato's
    convention; for a ``(batch, dim)`` id embedding, each row — APR's per-row convention).
``"global"``
    One L2 norm over the whole batch tensor (the common PyTorch FGM snippet, which normalizes
    the gradient of the whole embedding matrix).
``"per-token"``
    Each token vector (the last axis) separately.

Padding positions (``mask`` zero) are never perturbed.
"""

import torch

__all__ = ["NORMS", "adversarial_backward", "normalize", "project"]

from skadv.utils._adversarial import ADVERSARIES  # all of them are implemented here

NORMS = ("per-example", "global", "per-token")

# Norms below this are treated as zero (no direction): keeps 0 / 0 out of the update.
_TINY = 1e-12


def _norm_dims(tensor, norm):
    if norm == "global":
        return tuple(range(tensor.dim()))
    if norm == "per-example":
        return tuple(range(1, tensor.dim()))
    if norm == "per-token":
        return (tensor.dim() - 1,)
    raise ValueError(f"norm must be one of {NORMS}, got {norm!r}.")


def _masked(tensor, mask):
    return tensor if mask is None else tensor * mask.unsqueeze(-1).to(tensor.dtype)


def _l2(tensor, norm):
    # Computed in float32 at least (bf16 squares of small gradients underflow), float64 kept.
    dims = _norm_dims(tensor, norm)
    wide = tensor if tensor.dtype in (torch.float32, torch.float64) else tensor.float()
    return torch.linalg.vector_norm(wide, dim=dims, keepdim=True).to(tensor.dtype)


def normalize(grad, radius, norm, mask=None):
    """``grad`` scaled to L2 norm ``radius`` per unit of ``norm``; zero gradients stay zero.

    Parameters
    ----------
    grad : Tensor of shape (batch, ..., dim)
    radius : float
    norm : {"per-example", "global", "per-token"}
    mask : Tensor of shape (batch, ...), default=None
        Zero where a position must not move (padding tokens).

    Returns
    -------
    Tensor of the shape of ``grad``.

    Examples
    --------
    >>> import torch
    >>> g = torch.tensor([[3.0, 4.0], [0.0, 0.0]])
    >>> normalize(g, 1.0, "per-example")
    tensor([[0.6000, 0.8000],
            [0.0000, 0.0000]])
    >>> normalize(g, 10.0, "global")
    tensor([[6., 8.],
            [0., 0.]])
    """
    grad = _masked(grad, mask)
    # Divide by the largest entry first: squaring tiny float32 gradients underflows to 0.
    dims = _norm_dims(grad, norm)
    scale = grad.abs().amax(dim=dims, keepdim=True)
    grad = grad / torch.where(scale > 0, scale, torch.ones_like(scale))
    length = _l2(grad, norm)
    return torch.where(length > _TINY, grad * (radius / length.clamp_min(_TINY)), 0.0)


def project(delta, radius, norm, mask=None):
    """``delta`` pulled back into the L2 ball of ``radius`` (per unit of ``norm``).

    Examples
    --------
    >>> import torch
    >>> project(torch.tensor([[3.0, 4.0], [0.3, 0.4]]), 1.0, "per-example")
    tensor([[0.6000, 0.8000],
            [0.3000, 0.4000]])
    """
    delta = _masked(delta, mask)
    length = _l2(delta, norm)
    return delta * torch.clamp(radius / length.clamp_min(_TINY), max=1.0)


def _radius(embedding, epsilon, epsilon_mode, norm, mask):
    """``epsilon`` (absolute), or ``epsilon`` times the mean norm of the clean embedding's
    units of ``norm`` (relative; padding units left out), as a float."""
    if epsilon_mode == "absolute":
        return float(epsilon)
    if epsilon_mode != "relative":
        raise ValueError(f"epsilon_mode must be 'absolute' or 'relative', got {epsilon_mode!r}.")
    with torch.no_grad():
        lengths = _l2(_masked(embedding.detach(), mask), norm).float()
        if mask is not None and norm == "per-token":
            keep = mask.unsqueeze(-1).to(torch.bool)
            lengths = lengths[keep.expand_as(lengths)]
        return float(epsilon) * float(lengths.mean()) if lengths.numel() else 0.0


def _uniform_in_ball(like, radius, norm, mask, generator):
    """FreeLB's start: uniform noise in [-1, 1] rescaled to lie within the ball."""
    noise = torch.rand(like.shape, generator=generator, device=like.device, dtype=like.dtype)
    noise = _masked(noise * 2 - 1, mask)
    return project(noise * radius, radius, norm, mask)


def adversarial_backward(
    embed,
    loss_fn,
    *,
    adversary,
    epsilon,
    adv_reg=1.0,
    n_steps=1,
    step_size=None,
    norm="per-example",
    masks=None,
    generator=None,
    epsilon_mode="absolute",
):
    """Forward and backward passes of one adversarial training step.

    Accumulates into the ``.grad`` of the model's parameters the gradient of
    ``loss_fn(*embed()) + adv_reg * adversarial loss``; the caller then clips and steps.

    Parameters
    ----------
    embed : callable
        ``embed() -> tuple of Tensor``: the embedding tensors of the batch, computed afresh
        (with the graph to the embedding weights) at every call.
    loss_fn : callable
        ``loss_fn(*embeddings) -> Tensor`` of shape (): the training loss of the batch.
    adversary : {"none", "fgsm", "pgd", "freelb", "random"}
    epsilon : float
        Radius of the perturbation of each embedding tensor (per unit of ``norm``), or its
        ratio to the mean norm of those units with ``epsilon_mode="relative"``.
    adv_reg : float, default=1.0
        Weight λ of the adversarial loss.
    n_steps : int, default=1
        Ascent steps of PGD and FreeLB (FGM takes one).
    step_size : float, default=None
        Ascent step α of PGD and FreeLB; None means ``epsilon / n_steps`` for PGD (the
        ``n_steps`` steps can just reach the surface of the ball) and ``epsilon`` for FreeLB.
    norm : {"per-example", "global", "per-token"}, default="per-example"
    masks : tuple of (Tensor or None), default=None
        One mask per embedding tensor (zero = padding), or None.
    generator : torch.Generator, default=None
        FreeLB's random start and the random adversary's directions.
    epsilon_mode : {"absolute", "relative"}, default="absolute"

    Returns
    -------
    clean_loss, adversarial_loss : float
        The clean loss and the (mean, for FreeLB) adversarial loss, 0.0 with ``"none"``.

    Examples
    --------
    >>> import torch
    >>> weight = torch.nn.Parameter(torch.tensor([[1.0, 0.0]]))
    >>> embed = lambda: (weight * 1.0,)
    >>> loss_fn = lambda e: (e ** 2).sum()
    >>> clean, adv = adversarial_backward(embed, loss_fn, adversary="fgsm", epsilon=0.5)
    >>> round(clean, 3), round(adv, 3)       # the worst 0.5-step from [1, 0] is [1.5, 0]
    (1.0, 2.25)
    >>> weight.grad                          # 2 * [1, 0] + 2 * [1.5, 0]
    tensor([[5., 0.]])
    """
    if adversary not in ADVERSARIES:
        raise ValueError(f"adversary must be one of {ADVERSARIES}, got {adversary!r}.")
    if adversary == "none" or epsilon == 0 or adv_reg == 0:
        clean = loss_fn(*embed())
        clean.backward()
        return float(clean.detach()), 0.0

    embeddings = embed()
    for e in embeddings:
        # A frozen embedding layer gives a leaf without grad: ask for its gradient.
        e.retain_grad() if e.requires_grad else e.requires_grad_()
    masks = (None,) * len(embeddings) if masks is None else tuple(masks)
    radii = [
        _radius(e, epsilon, epsilon_mode, norm, m) for e, m in zip(embeddings, masks, strict=True)
    ]
    clean = loss_fn(*embeddings)
    clean.backward()
    grads = [e.grad.detach() for e in embeddings]

    if adversary in ("fgsm", "random"):
        if adversary == "random":
            grads = [torch.randn(g.shape, generator=generator, device=g.device, dtype=g.dtype)
                     for g in grads]  # fmt: skip
        deltas = [normalize(g, r, norm, m) for g, r, m in zip(grads, radii, masks, strict=True)]
        adv = loss_fn(*(e + d for e, d in zip(embed(), deltas, strict=True)))
        (adv_reg * adv).backward()
        return float(clean.detach()), float(adv.detach())

    # Ascent steps are in the units of epsilon: they scale with each tensor's radius.
    if adversary == "pgd":
        alpha = epsilon / n_steps if step_size is None else step_size
        alphas = [alpha * r / epsilon for r in radii]
        fixed = [e.detach() for e in embeddings]
        deltas = [project(normalize(g, a, norm, m), r, norm, m)
                  for g, a, r, m in zip(grads, alphas, radii, masks, strict=True)]  # fmt: skip
        for _ in range(n_steps - 1):
            deltas = [d.requires_grad_() for d in deltas]
            loss = loss_fn(*(f + d for f, d in zip(fixed, deltas, strict=True)))
            step_grads = torch.autograd.grad(loss, deltas)
            deltas = [
                project(d.detach() + normalize(g, a, norm, m), r, norm, m)
                for d, g, a, r, m in zip(deltas, step_grads, alphas, radii, masks, strict=True)
            ]
        adv = loss_fn(*(e + d for e, d in zip(embed(), deltas, strict=True)))
        (adv_reg * adv).backward()
        return float(clean.detach()), float(adv.detach())

    # FreeLB: every ascent step also contributes its weight gradients.
    alpha = epsilon if step_size is None else step_size
    alphas = [alpha * r / epsilon for r in radii]
    deltas = [_uniform_in_ball(e, r, norm, m, generator)
              for e, r, m in zip(embeddings, radii, masks, strict=True)]  # fmt: skip
    total = 0.0
    for _ in range(n_steps):
        deltas = [d.requires_grad_() for d in deltas]
        adv = loss_fn(*(e + d for e, d in zip(embed(), deltas, strict=True)))
        (adv * (adv_reg / n_steps)).backward()
        total += float(adv.detach())
        deltas = [
            project(d.detach() + normalize(d.grad, a, norm, m), r, norm, m)
            for d, a, r, m in zip(deltas, alphas, radii, masks, strict=True)
        ]
    return float(clean.detach()), total / n_steps
