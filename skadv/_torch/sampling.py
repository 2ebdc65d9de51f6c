"""(user, positive, negative) triples drawn on a torch device, for every BPR-style trainer."""

import numpy as np
import torch

from skadv.utils._sampling import usable_samples

__all__ = ["TripleSampler", "hardest_negatives", "sample_negatives"]


def sample_negatives(users, pair_keys, n_items, generator):
    """A uniform item per user, redrawn while it is one of the user's items.

    ``pair_keys`` are the sorted ``user * n_items + item`` of all interactions; every user has
    at least one item outside them (``usable_samples`` dropped the others), so the loop ends.
    """
    neg = torch.randint(n_items, users.shape, generator=generator, device=users.device)
    base = users * n_items
    todo = None  # positions still to check: all of them in the first round
    last = pair_keys.shape[0] - 1
    while True:
        keys = base + neg if todo is None else base[todo] + neg[todo]
        found = pair_keys[torch.searchsorted(pair_keys, keys).clamp_(max=last)] == keys
        todo = found.nonzero().squeeze(1) if todo is None else todo[found]
        if todo.shape[0] == 0:
            return neg
        neg[todo] = torch.randint(n_items, todo.shape, generator=generator, device=users.device)


def hardest_negatives(users, pair_keys, n_items, generator, n_candidates, score):
    """Dynamic negative sampling: per user, ``n_candidates`` negatives of
    :func:`sample_negatives`, and the one ``score(users, items)`` rates highest (the first
    drawn on ties).

    ``score`` takes two equal-shaped tensors of user and item indexes and returns their
    scores in that shape.
    """
    repeated = users.repeat_interleave(n_candidates)
    candidates = sample_negatives(repeated, pair_keys, n_items, generator)
    candidates = candidates.view(-1, n_candidates)
    best = score(repeated.view(-1, n_candidates), candidates).argmax(dim=1, keepdim=True)
    return candidates.gather(1, best).squeeze(1)


class TripleSampler:
    """(user, positive, negative) triples drawn on the device from a ``torch.Generator``.

    An epoch draws ``n_pairs`` positive pairs uniformly with replacement and, for each, a
    negative item uniformly among the items its user did not interact with (rejection,
    checked with ``searchsorted`` on the sorted keys ``user * n_items + item``).

    Parameters
    ----------
    interactions : scipy.sparse matrix of shape (n_users, n_items)
        Positives of every user: negatives are drawn among the other items.
    pair_users, pair_items : ndarray of shape (n_pairs,)
        Positive pairs to sample from; pairs of users without any negative are dropped.
    device : torch.device
    generator : torch.Generator
    pair_weights : ndarray of shape (n_pairs,), default=None
        Weight of each pair, returned with its batch (``"weight"``; ones when None).
    """

    def __init__(self, interactions, pair_users, pair_items, device, generator, pair_weights=None):
        interactions = interactions.tocsr()
        interactions.sort_indices()
        indptr = np.asarray(interactions.indptr, dtype=np.int64)
        self.n_items = interactions.shape[1]
        if pair_weights is None:
            pair_weights = np.ones(len(pair_users), dtype=np.float32)
        # Grouped by user first, so that usable_samples keeps the order and the weights stay
        # aligned with their pairs.
        order = np.argsort(pair_users, kind="stable")
        pair_users, pair_items = np.asarray(pair_users)[order], np.asarray(pair_items)[order]
        pair_weights = np.asarray(pair_weights, dtype=np.float32)[order]
        keep = (np.diff(indptr) < self.n_items)[pair_users]
        users, items = usable_samples(indptr, pair_users[keep], pair_items[keep], self.n_items)
        row_of = np.repeat(np.arange(interactions.shape[0], dtype=np.int64), np.diff(indptr))
        self.pair_keys = torch.from_numpy(row_of * self.n_items + interactions.indices).to(device)
        self.users = torch.from_numpy(users.astype(np.int64)).to(device)
        self.items = torch.from_numpy(items.astype(np.int64)).to(device)
        self.weights = torch.from_numpy(pair_weights[keep]).to(device)
        self.n_pairs = users.shape[0]
        self.device, self.generator = device, generator

    def epoch(self, batch_size, n_candidates=1, score=None):
        """Batches of one epoch: dicts of ``users``, ``pos``, ``neg`` and ``weight`` tensors.

        With ``n_candidates > 1`` each negative is the one of that many candidates that
        ``score`` rates highest (:func:`hardest_negatives`), scored when its batch is drawn.
        """
        for start in range(0, self.n_pairs, batch_size):
            n = min(batch_size, self.n_pairs - start)
            picked = torch.randint(self.n_pairs, (n,), generator=self.generator,
                                   device=self.device)  # fmt: skip
            users = self.users.index_select(0, picked)
            yield {
                "users": users,
                "pos": self.items.index_select(0, picked),
                "neg": (
                    sample_negatives(users, self.pair_keys, self.n_items, self.generator)
                    if n_candidates == 1
                    else hardest_negatives(
                        users, self.pair_keys, self.n_items, self.generator, n_candidates, score
                    )  # fmt: skip
                ),
                "weight": self.weights.index_select(0, picked),
            }
