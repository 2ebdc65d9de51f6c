"""NumPy reference of one BPR / APR step on one (u, i, j) triple, in float64.

Written from the definitions (the loss, its gradient, the perturbation as the normalized
gradient of each row), not from the kernel's closed forms, so that the kernel tests compare two
independent derivations.
"""

import numpy as np
from scipy.special import expit

ADAGRAD_EPS = 1e-8


def bpr_terms(x):
    """Return ``(softplus(-x), sigmoid(-x))``."""
    return np.logaddexp(0.0, -x), expit(-x)


def _normalized(g, eps):
    scale = np.max(np.abs(g))  # rescale first: squaring a tiny gradient would underflow
    if scale == 0:
        return np.zeros_like(g)
    g = g / scale
    return eps * g / np.linalg.norm(g)


def gradient_perturbation(p, qi, qj, bi, bj, eps_user, eps_item):
    """APR's perturbation of the rows (p_u, q_i, q_j): ε times the normalized row gradient."""
    x = p @ (qi - qj) + bi - bj
    # sigmoid(-x) > 0; in floating point it underflows to 0 for x > ~745, which would erase
    # the direction of the gradient: floor it at the smallest positive normal double.
    s = max(bpr_terms(x)[1], np.finfo(np.float64).tiny)
    return (
        _normalized(-s * (qi - qj), eps_user),
        _normalized(-s * p, eps_item),
        _normalized(s * p, eps_item),
    )


def apr_loss(p, qi, qj, bi, bj, delta, adv_reg):
    """BPR(Θ) + adv_reg * BPR(Θ + Δ) for one triple, Δ = (du, di, dj) held fixed."""
    du, di, dj = delta
    clean, _ = bpr_terms(p @ (qi - qj) + bi - bj)
    adv, _ = bpr_terms((p + du) @ ((qi + di) - (qj + dj)) + bi - bj)
    return clean + adv_reg * adv


def reference_step(
    P, Q, b, acc_P, acc_Q, acc_b, u, i, j, *, lr, reg, adv_reg, eps_user, eps_item,
    adversary, optimizer, use_bias, item_start=0, delta=None, item_weight=1.0,
):  # fmt: skip
    """Apply one step to float64 copies' rows in place; return the sample's loss.

    ``adversary`` is ``"none"``, ``"fgsm"`` or ``"random"``; ``"random"`` needs the
    perturbation ``delta = (du, di, dj)``. Items below ``item_start`` are frozen; the item
    rows' and biases' gradients are multiplied by ``item_weight`` (the user's weight).
    """
    p, qi, qj = P[u].copy(), Q[i].copy(), Q[j].copy()
    bi, bj = (b[i], b[j]) if use_bias else (0.0, 0.0)
    x = p @ (qi - qj) + bi - bj
    loss, s = bpr_terms(x)
    g_p = -s * (qi - qj) + reg * p
    g_i = -s * p + reg * qi
    g_j = s * p + reg * qj
    g_bi, g_bj = -s + reg * bi, s + reg * bj
    if adversary != "none":
        if adversary == "fgsm":
            delta = gradient_perturbation(p, qi, qj, bi, bj, eps_user, eps_item)
        du, di, dj = delta
        x_adv = (p + du) @ ((qi + di) - (qj + dj)) + bi - bj
        loss_adv, s_adv = bpr_terms(x_adv)
        loss += adv_reg * loss_adv
        g_p += -adv_reg * s_adv * ((qi + di) - (qj + dj))
        g_i += -adv_reg * s_adv * (p + du)
        g_j += adv_reg * s_adv * (p + du)
        g_bi += -adv_reg * s_adv
        g_bj += adv_reg * s_adv
    g_i, g_j, g_bi, g_bj = (item_weight * g for g in (g_i, g_j, g_bi, g_bj))
    rows = [(P, acc_P, u, g_p, True), (Q, acc_Q, i, g_i, i >= item_start),
            (Q, acc_Q, j, g_j, j >= item_start)]  # fmt: skip
    if use_bias:
        rows += [(b, acc_b, i, g_bi, i >= item_start), (b, acc_b, j, g_bj, j >= item_start)]
    for param, acc, row, grad, trainable in rows:
        if not trainable:
            continue
        if optimizer == "adagrad":
            acc[row] += grad * grad
            param[row] -= lr * grad / (np.sqrt(acc[row]) + ADAGRAD_EPS)
        else:
            param[row] -= lr * grad
    return loss
