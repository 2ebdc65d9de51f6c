"""Torch helpers shared by every torch trainer in skadv (neural models and the MF torch backend).

Written once here: the thread-count context manager, the optimizer factory, the
(user, positive, negative) triple sampler, the row-norm of a tensor and the conversion of a
module's state to NumPy (fitted models hold NumPy arrays only, so they pickle without torch).
Importing this module imports torch: only trainers import it, from ``fit``.
"""

import contextlib

import numpy as np
import torch

from skadv.neural._base import OPTIMIZERS
from skadv.training import usable_samples

__all__ = [
    "OPTIMIZERS",
    "DotProductRanker",
    "TripleSampler",
    "load_module_state",
    "make_optimizer",
    "mean_row_norm",
    "module_state",
    "sample_negatives",
    "torch_threads",
]


@contextlib.contextmanager
def torch_threads(n_threads):
    """Run the block with ``n_threads`` intra-op torch threads, then restore the previous count.

    Examples
    --------
    >>> before = torch.get_num_threads()
    >>> with torch_threads(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(int(n_threads))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def make_optimizer(name, groups, learning_rate, weight_decay):
    """A torch optimizer over parameter ``groups`` (dicts with ``"params"``; empty ones dropped).

    Raises
    ------
    ValueError
        If no group holds a trainable parameter.
    """
    params = [g for g in groups if g["params"]]
    if not params:
        raise ValueError("The model has no trainable parameter (check trainable_layers).")
    if name == "adamw":
        return torch.optim.AdamW(params, lr=learning_rate, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=learning_rate, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=learning_rate, momentum=0.9,
                               weight_decay=weight_decay)  # fmt: skip
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=learning_rate, weight_decay=weight_decay)
    raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {name!r}.")


def sample_negatives(users, pair_keys, n_items, generator):
    """A uniform item per user, redrawn while it is one of the user's items.

    ``pair_keys`` are the sorted ``user * n_items + item`` of all interactions; every user has
    at least one item outside them (:func:`skadv.training.usable_samples` dropped the others),
    so the loop ends.
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

    def epoch(self, batch_size):
        """Batches of one epoch: dicts of ``users``, ``pos``, ``neg`` and ``weight`` tensors."""
        for start in range(0, self.n_pairs, batch_size):
            n = min(batch_size, self.n_pairs - start)
            picked = torch.randint(self.n_pairs, (n,), generator=self.generator,
                                   device=self.device)  # fmt: skip
            users = self.users.index_select(0, picked)
            yield {
                "users": users,
                "pos": self.items.index_select(0, picked),
                "neg": sample_negatives(users, self.pair_keys, self.n_items, self.generator),
                "weight": self.weights.index_select(0, picked),
            }


def mean_row_norm(matrix):
    """:func:`skadv.training.mean_row_norm` of a tensor, computed on its device (float)."""
    if matrix.shape[0] == 0:
        return 0.0
    return torch.linalg.vector_norm(matrix, dim=1, dtype=torch.float64).mean().item()


def module_state(module):
    """The module's ``state_dict`` as NumPy arrays (picklable without torch)."""
    return {k: v.detach().cpu().numpy().copy() for k, v in module.state_dict().items()}


def load_module_state(module, state):
    """Load NumPy arrays from :func:`module_state` into ``module``; return the module."""
    module.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in state.items()})
    return module


class DotProductRanker:
    """Top-k of a fitted dot-product model's users, scored on a torch device.

    The factors (and item biases) are copied to ``device`` once; each call scores a block of
    users there, excludes their seen items, and moves only the top-``n`` indices and scores
    back: what ``recommend`` uses for a model trained on a GPU. Results follow the compiled
    kernel's order (score descending, ties by the lower item index; excluded items last, at
    ``-inf``), in the factors' dtype.
    """

    def __init__(self, model, device):
        self.device = torch.device(device)
        self.P = torch.from_numpy(np.ascontiguousarray(model.user_factors_)).to(self.device)
        self.Q = torch.from_numpy(np.ascontiguousarray(model.item_factors_)).to(self.device)
        bias = getattr(model, "item_bias_", None)
        self.bias = None if bias is None else torch.from_numpy(
            np.asarray(bias, dtype=model.item_factors_.dtype)).to(self.device)  # fmt: skip
        self.popularity = torch.from_numpy(
            model.item_popularity_.astype(model.item_factors_.dtype)).to(self.device)  # fmt: skip

    def top_k(self, user_codes, n, exclude=None):
        """``(indices, scores)`` as NumPy arrays of shape (len(user_codes), n); code -1 rows
        are scored by item popularity; ``exclude``: CSR rows of items to leave out."""
        with torch.no_grad():
            codes = torch.from_numpy(np.asarray(user_codes, dtype=np.int64)).to(self.device)
            known = codes >= 0
            scores = self.P.index_select(0, codes.clamp(min=0)) @ self.Q.T
            if self.bias is not None:
                scores += self.bias
            scores[~known] = self.popularity
            excluded = torch.zeros(scores.shape, dtype=torch.bool, device=self.device)
            if exclude is not None and exclude.nnz:
                exclude = exclude.tocsr()
                rows = np.repeat(np.arange(exclude.shape[0]), np.diff(exclude.indptr))
                cols = exclude.indices.astype(np.int64)
                excluded[torch.from_numpy(rows).to(self.device),
                         torch.from_numpy(cols).to(self.device)] = True  # fmt: skip
            # Candidates by score descending (a stable sort keeps the lower index first among
            # equals, as the compiled kernel does), then the excluded items by index.
            key = scores.masked_fill(excluded, -torch.inf)
            order = torch.sort(key, dim=1, descending=True, stable=True).indices
            flags = excluded.gather(1, order).to(torch.int8)
            order = order.gather(1, torch.argsort(flags, dim=1, stable=True))[:, :n]
            values = key.gather(1, order)
            return order.cpu().numpy(), values.cpu().numpy()
