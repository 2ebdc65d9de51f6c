"""Torch modules and losses of CFGAN (imported by ``CFGANRecommender.fit`` only).

The generator maps ``[z, c_u]`` (noise, the user's binary interaction vector) to a vector of
item scores in (0, 1); the discriminator maps ``[r ⊙ e_u, c_u]`` to a logit of "real". Only
training runs these modules: the fitted estimator evaluates the same layers with NumPy
(``skadv._torch.numpy_twin.mlp_forward``), reading the same ``state_dict`` names; a change of
architecture here needs the same change there (the tests compare both).
"""

import torch
import torch.nn.functional as F

__all__ = ["discriminator_loss", "generator_loss"]


def generator_loss(g, c, mask, zr, d_fake, *, alpha, reconstruction_weight, loss,
                   logits=None, reconstruction="squared"):  # fmt: skip
    """Generator objective of one batch, averaged over its users.

    Parameters
    ----------
    g : Tensor (B, n_items)
        Generated vectors (after the sigmoid).
    c : Tensor (B, n_items)
        Binary condition (real) vectors.
    mask : Tensor (B, n_items)
        ``e_u``: the user's items plus the partial-masking negatives (PM), 0/1.
    zr : Tensor (B, n_items) or None
        Zero-reconstruction negatives (0/1), None without ZR.
    d_fake : Tensor (B,) or None
        Discriminator logits of ``[g ⊙ mask, c]``; None without discriminator.
    alpha, reconstruction_weight : float
    loss : {"non-saturating", "minimax"}
    logits : Tensor (B, n_items) or None
        The generator's logits (``g = sigmoid(logits)``); needed by the multinomial term.
    reconstruction : {"squared", "multinomial"}
        Reconstruction term: ``sum_j mask_j (g_j - c_j)^2`` or the multinomial
        log-likelihood ``-sum_j c_j log softmax(logits)_j`` (Mult-DAE; every item competes,
        the mask is not used).

    Returns
    -------
    Tensor (scalar)
        ``adv + alpha * sum_j zr_j g_j^2 + reconstruction_weight * rec`` with ``rec`` the
        reconstruction term above, ``adv = -log D`` (non-saturating) or ``log(1 - D)``
        (minimax), ``D = sigmoid``.
    """
    total = torch.zeros((), dtype=g.dtype, device=g.device)
    if d_fake is not None:
        adv = F.softplus(-d_fake) if loss == "non-saturating" else -F.softplus(d_fake)
        total = total + adv.mean()
    if zr is not None and alpha:
        total = total + alpha * (zr * g * g).sum(dim=1).mean()
    if reconstruction_weight:
        if reconstruction == "multinomial":
            rec = -(c * F.log_softmax(logits, dim=1)).sum(dim=1)
        else:
            rec = (mask * (g - c) ** 2).sum(dim=1)
        total = total + reconstruction_weight * rec.mean()
    return total


def discriminator_loss(d_real, d_fake):
    """``-log D(real) - log(1 - D(fake))``, averaged over the batch (logits in, stable)."""
    return (F.softplus(-d_real) + F.softplus(d_fake)).mean()
