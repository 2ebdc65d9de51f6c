"""The NumPy forward pass of :func:`skadv._torch.mlp.mlp` stacks (torch-free).

Fitted torch models keep their weights as NumPy arrays (``state_dict`` order and names) and
score with these functions, so they pickle, load and recommend on a machine without torch.
Everything stays float32 like torch, so scores match the module's to float32 rounding.
"""

import numpy as np

__all__ = ["ACTIVATIONS", "linear", "linear_names", "mlp_forward", "sigmoid"]


def _relu(x):
    return np.maximum(x, np.float32(0.0), out=x)


def _tanh(x):
    return np.tanh(x, out=x)


def _gelu(x):
    from scipy.special import erf

    # torch's default GELU: the exact form x * Phi(x), not the tanh approximation.
    return x * np.float32(0.5) * (np.float32(1.0) + erf(x * np.float32(np.sqrt(0.5))))


def sigmoid(x):
    """The logistic function in its overflow-free tanh form, in ``x``'s dtype."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _sigmoid(x):
    return sigmoid(x).astype(x.dtype, copy=False)


#: In-place (where possible) NumPy twins of :data:`skadv._torch.mlp.ACTIVATIONS`.
ACTIVATIONS = {"relu": _relu, "tanh": _tanh, "gelu": _gelu, "sigmoid": _sigmoid}


def linear(x, state, name):
    """``torch.nn.Linear`` named ``name`` in ``state``, applied to the rows of ``x``."""
    return x @ state[name + ".weight"].T + state[name + ".bias"]


def linear_names(state, prefix):
    """Names of the ``nn.Linear`` layers of the ``nn.Sequential`` ``prefix``, in order.

    Examples
    --------
    >>> state = {"tower.0.weight": 0, "tower.0.bias": 0, "tower.3.weight": 0, "head.weight": 0}
    >>> linear_names(state, "tower")
    ['tower.0', 'tower.3']
    """
    start = len(prefix) + 1 if prefix else 0
    positions = sorted(
        int(key[start:].split(".")[0])
        for key in state
        if key.startswith(prefix + "." if prefix else "") and key.endswith(".weight")
    )
    return [f"{prefix}.{j}" if prefix else str(j) for j in positions]


def mlp_forward(state, x, activation, prefix=""):
    """The :func:`~skadv._torch.mlp.mlp` stack ``prefix`` of ``state`` applied to ``x``
    (eval mode: dropout off; no activation after the last layer).

    Examples
    --------
    >>> state = {"0.weight": np.eye(2, dtype=np.float32), "0.bias": np.zeros(2, np.float32),
    ...          "2.weight": np.ones((1, 2), np.float32), "2.bias": np.zeros(1, np.float32)}
    >>> mlp_forward(state, np.array([[1.0, -2.0]], np.float32), "relu")
    array([[1.]], dtype=float32)
    """
    names = linear_names(state, prefix)
    act = ACTIVATIONS[activation]
    for n, name in enumerate(names):
        x = linear(x, state, name)
        if n < len(names) - 1:
            x = act(x)
    return x
