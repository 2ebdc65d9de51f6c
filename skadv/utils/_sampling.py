"""Positive-pair sampling helpers shared by every BPR trainer (NumPy; no skadv import)."""

import numpy as np

__all__ = ["usable_samples"]


def usable_samples(indptr, sample_users, sample_items, n_items):
    """Positive pairs that have a negative item, grouped by user, as int32 arrays.

    Drops the pairs of users who interacted with every item (no negative exists).

    Raises
    ------
    ValueError
        When no pair is left.

    Examples
    --------
    >>> indptr = np.array([0, 2, 3])  # user 0 has both items, user 1 one of them
    >>> [a.tolist() for a in usable_samples(indptr, np.array([0, 0, 1]), np.array([0, 1, 0]), 2)]
    [[1], [0]]
    """
    keep = (np.diff(indptr) < n_items)[sample_users]
    if not keep.all():
        sample_users, sample_items = sample_users[keep], sample_items[keep]
    if sample_users.shape[0] == 0:
        raise ValueError(
            "BPR needs, for every user, items that user did not interact with; here every "
            "sampled user interacted with every item."
        )
    # Pairs taken from a CSR matrix are grouped by user already: skip the sort then.
    if (np.diff(sample_users) < 0).any():
        order = np.argsort(sample_users, kind="stable")
        sample_users, sample_items = sample_users[order], sample_items[order]
    return (
        np.ascontiguousarray(sample_users, dtype=np.int32),
        np.ascontiguousarray(sample_items, dtype=np.int32),
    )
