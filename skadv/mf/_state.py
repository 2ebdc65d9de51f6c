"""The factor state of :class:`~skadv.mf.AdversarialMFRecommender` between fits.

Fresh, warm-started (rows of known ids copied from the previous fit) and grown (fold-in of new
users and items) :class:`skadv.training.FactorState` objects, with the optimizer state that
carries over; and the binary interaction matrix of training pairs.
"""

import numpy as np
from scipy import sparse

from skadv.training import FactorState
from skadv.utils._memory import aligned_empty, aligned_like, aligned_zeros
from skadv.utils._validation import lookup_ids

__all__ = ["OPTIMIZER_SLOTS", "factor_state", "grown_state", "initial_state", "pairs_matrix"]

#: Per-row optimizer state of each optimizer: "acc" holds AdaGrad's sums of squared gradients
#: or Adam's second moments, "mom" Adam's first moments.
OPTIMIZER_SLOTS = {"sgd": (), "adagrad": ("acc",), "adam": ("acc", "mom")}


def factor_state(user, item, bias, slots, n_steps):
    """``FactorState`` from the parameters and the optimizer ``slots`` ({"acc"/"mom": rows})."""
    acc = slots.get("acc", (None, None, None))
    mom = slots.get("mom", (None, None, None))
    return FactorState(user, item, bias, *acc, *mom, n_steps=n_steps)


def initial_state(init_user, init_item, dtype, optimizer, previous, user_ids, item_ids):
    """FactorState from fresh rows, with the rows of ids known in ``previous`` copied.

    ``previous`` (None: a cold start) holds the previous fit's ``user_ids``, ``item_ids``,
    ``user``, ``item``, ``bias`` (or None) and ``optimizer_state`` (or None);
    ``user_ids``/``item_ids`` are the ids of the new rows. The row matrices start on cache
    lines (:mod:`skadv.utils._memory`; one-thread epochs on a large catalogue ran about 10 %
    faster, benchmarks/README).
    """
    user = aligned_like(init_user, dtype)
    item = aligned_like(init_item, dtype)
    bias = np.zeros(item.shape[0], dtype=dtype)
    slots = {
        slot: [aligned_zeros(a.shape, a.dtype) for a in (user, item, bias)]  # no fill pass
        for slot in OPTIMIZER_SLOTS[optimizer]
    }
    n_steps = 0
    if previous is not None:
        urows = lookup_ids(previous["user_ids"], user_ids)
        irows = lookup_ids(previous["item_ids"], item_ids)
        ku, ki = urows >= 0, irows >= 0
        user[ku] = previous["user"][urows[ku]]
        item[ki] = previous["item"][irows[ki]]
        if previous["bias"] is not None:
            bias[ki] = previous["bias"][irows[ki]]
        old = previous["optimizer_state"]
        if old is not None:
            for slot, (new_u, new_i, new_b) in slots.items():
                old_u, old_i, old_b = old[slot]
                new_u[ku] = old_u[urows[ku]]
                new_i[ki] = old_i[irows[ki]]
                new_b[ki] = old_b[irows[ki]]
            n_steps = old["n_steps"]
    return factor_state(user, item, bias, slots, n_steps)


def grown_state(user, item, bias, old, new_user_rows, new_item_rows, dtype, optimizer):
    """The fitted state (``user``, ``item``, ``bias`` or None, optimizer state ``old`` or
    None) with rows appended for new users and items (fold-in)."""

    def grow(rows, new_rows):
        out = aligned_empty((rows.shape[0] + new_rows.shape[0], *rows.shape[1:]), dtype)
        out[: rows.shape[0]] = rows
        out[rows.shape[0] :] = new_rows.astype(rows.dtype)  # as the rows were stored
        return out

    n_new_items = new_item_rows.shape[0]
    if bias is None:
        bias = np.zeros(item.shape[0])
    slots = {}
    for slot in OPTIMIZER_SLOTS[optimizer]:
        if old is None:  # state of another optimizer (or none): start from zero
            old_u, old_i = np.zeros_like(user), np.zeros_like(item)
            old_b = np.zeros(item.shape[0])
        else:
            old_u, old_i, old_b = old[slot]
        slots[slot] = [
            grow(old_u, np.zeros_like(new_user_rows)),
            grow(old_i, np.zeros_like(new_item_rows)),
            grow(old_b, np.zeros(n_new_items)),
        ]
    return factor_state(
        grow(user, new_user_rows),
        grow(item, new_item_rows),
        grow(bias, np.zeros(n_new_items)),
        slots,
        0 if old is None else old["n_steps"],
    )


def pairs_matrix(users, items, shape):
    """Binary CSR matrix with a one at every (user, item) pair (duplicates merged).

    Examples
    --------
    >>> pairs_matrix(np.array([0, 0, 1]), np.array([1, 1, 0]), (2, 2)).toarray()
    array([[0., 1.],
           [1., 0.]])
    """
    m = sparse.csr_matrix((np.ones(users.shape[0], dtype=np.float64), (users, items)), shape=shape)
    m.sum_duplicates()
    m.data[:] = 1.0
    return m
