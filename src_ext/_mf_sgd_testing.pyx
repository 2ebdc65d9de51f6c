# src_ext/_mf_sgd_testing.pyx: test entry points of the BPR/APR update (not used in training).
# cython: language_level=3
"""Test hooks of the cdef helpers of ``_mf_sgd``: the same update, one triple at a time."""

include "_mf_sgd_update.pxi"

import numpy as np


def sgd_triples(floating[:, ::1] P, floating[:, ::1] Q, floating[::1] bias,
                floating[:, ::1] acc_P, floating[:, ::1] acc_Q, floating[::1] acc_bias,
                const int[::1] users, const int[::1] pos_items, const int[::1] neg_items,
                Step step, uint64_t seed, const double[::1] user_scale=None,
                double[:, ::1] user_loss=None, const double[::1] item_weight=None):
    """Apply the update of each given triple in order, on one thread; returns the loss sums
    ``(clean, adversarial)`` as ``_mf_sgd.sgd_epoch`` does.

    The update of ``sgd_epoch`` with the same ``step`` (a dict of the Step fields);
    ``seed`` seeds the random adversary's directions; ``user_scale`` and ``user_loss`` as
    ``vulnerability`` in ``sgd_epoch``; ``item_weight`` as in ``sgd_epoch``.
    Every triple needs ``pos_items[t] != neg_items[t]`` (as sampled triples have): the update
    assumes its three rows are distinct.
    """
    cdef Params prm = _params(step, P.shape[1], Q.shape[0])
    if user_scale is not None:
        prm.user_scale = &user_scale[0]
    if user_loss is not None:
        prm.user_loss = &user_loss[0, 0]
    if item_weight is not None:
        prm.item_weight = &item_weight[0]
    cdef Py_ssize_t t, k = P.shape[1]
    cdef bint adagrad = step.adagrad
    cdef int u, i, j
    cdef uint64_t state = _splitmix64(seed)
    cdef floating[::1] work = np.zeros(3 * k + 1, dtype=np.float32 if floating is float
                                       else np.float64)
    cdef LossSum acc
    _loss_init(&acc)
    with nogil:
        for t in range(users.shape[0]):
            u = users[t]
            i = pos_items[t]
            j = neg_items[t]
            _update(&P[u, 0], &Q[i, 0], &Q[j, 0], &bias[i], &bias[j],
                    &acc_P[u, 0] if adagrad else &acc_P[0, 0],
                    &acc_Q[i, 0] if adagrad else &acc_Q[0, 0],
                    &acc_Q[j, 0] if adagrad else &acc_Q[0, 0],
                    &acc_bias[i] if adagrad else &acc_bias[0],
                    &acc_bias[j] if adagrad else &acc_bias[0],
                    i >= step.item_start, j >= step.item_start, &prm, &work[0], &state, &acc,
                    prm.user_scale + u if prm.user_scale != NULL else NULL,
                    prm.user_loss + 2 * u if prm.user_loss != NULL else NULL,
                    prm.item_weight[u] if prm.item_weight != NULL else 1.0)
    cdef double clean, adv
    _loss_totals(&acc, &clean, &adv)
    return clean, adv


def perturbation(floating[::1] p, floating[::1] qi, floating[::1] qj, double eps_user,
                 double eps_item, int adversary, uint64_t seed, double inv_user_norm=0.0):
    """The perturbation ``(delta_u, delta_i, delta_j)`` that ``_update`` uses for one triple.

    A test hook for the cdef helpers: ``adversary=1`` (gradient) rebuilds the vectors from the
    closed-form coefficients of the update; ``adversary=2`` (random) draws them with the RNG
    seeded like :func:`sgd_triples` with ``seed``, so a one-triple ``sgd_triples`` call uses
    exactly these vectors. ``inv_user_norm`` as in the Step of ``sgd_epoch``.
    """
    cdef Py_ssize_t f, k = p.shape[0]
    cdef double pp, dd, c_p, c_d, scale
    cdef uint64_t state = _splitmix64(seed)
    dtype = np.float32 if floating is float else np.float64
    cdef floating[::1] out = np.zeros(3 * k + 1, dtype=dtype)
    if inv_user_norm > 0 and adversary != ADV_NONE:
        scale = _user_scale(_sqnorm(&p[0], k), inv_user_norm)
        eps_user = eps_user * scale
        eps_item = eps_item * scale
    if adversary == ADV_GRADIENT:
        pp = _sqnorm(&p[0], k)
        dd = _sqnorm_diff(&qi[0], &qj[0], k)
        _gradient_coefficients(pp, dd, eps_user, eps_item, &c_p, &c_d)
        for f in range(k):
            out[f] = <floating>(-c_d * (qi[f] - qj[f]))
            out[k + f] = <floating>(-c_p * p[f])
            out[2 * k + f] = <floating>(c_p * p[f])
    elif adversary == ADV_RANDOM:
        _random_direction(&out[0], k, eps_user, &state)
        _random_direction(&out[k], k, eps_item, &state)
        _random_direction(&out[2 * k], k, eps_item, &state)
    arr = np.asarray(out)
    return arr[:k].copy(), arr[k:2 * k].copy(), arr[2 * k:3 * k].copy()


def bpr_loss(double x):
    """``(softplus(-x), sigmoid(-x))`` as the kernel computes them (test hook)."""
    cdef LossSum acc
    _loss_init(&acc)
    cdef double s = _bpr(x, &acc.linear_clean, &acc.prod_clean)
    cdef double clean, adv
    _loss_totals(&acc, &clean, &adv)
    return clean, s


def row_contains(const int[::1] indices, int64_t start, int64_t end, int j):
    """Whether ``j`` is in the sorted ``indices[start:end]``, by the sampler's search.

    A test hook for the binary search of negative sampling.
    """
    if end <= start:
        return False
    return bool(_contains(&indices[0], start, end, j))


def highest_scored(floating[::1] p, floating[:, ::1] Q, floating[::1] bias,
                   const int[::1] candidates, bint use_bias):
    """The candidate negative that dynamic negative sampling keeps: the highest
    ``p . Q[j] (+ bias[j])`` among ``candidates`` (the first one on ties)."""
    return _highest_scored(&p[0], &Q[0, 0], &bias[0], &candidates[0],
                           <int>candidates.shape[0], p.shape[0], use_bias)
