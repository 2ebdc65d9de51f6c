"""Torch helpers of every torch trainer: threads, optimizers, module state, row norms.

Fitted models hold NumPy arrays only, so that they pickle and score without torch:
:func:`module_state` and :func:`load_module_state` convert a module's state both ways.
"""

import contextlib

import numpy as np
import torch

from skadv._torch import OPTIMIZERS

__all__ = [
    "load_module_state",
    "make_optimizer",
    "mean_row_norm",
    "module_state",
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
