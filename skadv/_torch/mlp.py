"""The MLP builder of every torch model of skadv (neural towers, CFGAN's G and D)."""

from torch import nn

__all__ = ["ACTIVATIONS", "mlp"]

#: Hidden-layer activations by name; :mod:`skadv._torch.numpy_twin` mirrors each in NumPy.
ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


def mlp(n_in, hidden_layers, n_out, activation, dropout=None):
    """``Linear -> activation [-> Dropout]`` per hidden layer, then ``Linear(n_out)`` if given.

    Parameters
    ----------
    n_in : int
    hidden_layers : sequence of int
        Width of each hidden layer.
    n_out : int or None
        Width of the output layer (no activation after it); None: no output layer.
    activation : {"relu", "gelu", "tanh", "sigmoid"}
    dropout : float or None, default=None
        Dropout after each hidden activation; None adds no ``Dropout`` module (the layer
        positions, and so the ``state_dict`` keys, then have no gaps for it).

    Returns
    -------
    torch.nn.Sequential

    Examples
    --------
    >>> mlp(4, (8,), 1, "relu")
    Sequential(
      (0): Linear(in_features=4, out_features=8, bias=True)
      (1): ReLU()
      (2): Linear(in_features=8, out_features=1, bias=True)
    )
    """
    layers = []
    for width in hidden_layers:
        layers += [nn.Linear(n_in, width), ACTIVATIONS[activation]()]
        if dropout is not None:
            layers.append(nn.Dropout(dropout))
        n_in = width
    if n_out is not None:
        layers.append(nn.Linear(n_in, n_out))
    return nn.Sequential(*layers)
