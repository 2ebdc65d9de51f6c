"""Resolve an estimator's ``backend`` and ``device`` parameters, once, in ``fit``.

Two training backends exist: the compiled ``"cython"`` backend (CPU, always available) and the
optional ``"torch"`` backend (CPU or CUDA, needs PyTorch: ``pip install 'skadv[torch]'``).
Resolving never imports torch unless the answer depends on it: ``backend="torch"`` or a
``"cuda"`` device asks torch whether CUDA is there; ``backend="auto"`` with ``device=None`` or
``"cpu"`` only looks for the package (``importlib.util.find_spec``), so ``import skadv`` and a
CPU fit leave torch unloaded.
"""

import importlib.util

__all__ = ["BACKENDS", "resolve_backend"]

#: Names accepted by the ``backend`` parameter of skadv estimators.
BACKENDS = ("auto", "cython", "torch")

_TORCH_HINT = "pip install 'skadv[torch]'"


def _has_torch():
    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):  # a blocked or half-removed torch counts as absent
        return False


def _split_device(device):
    """``" CUDA:1 "`` -> ``("cuda", "1")``; ``"cpu"`` -> ``("cpu", None)``."""
    kind, _, index = device.strip().lower().partition(":")
    return kind, (index if _ else None)


def _torch_device(device):
    """Check ``device`` against the installed torch; return its canonical name."""
    import torch  # only reached for backend="torch": the caller checked that it is installed

    kind, index = _split_device(device)
    if kind == "cpu":
        return "cpu" if index is None else f"cpu:{index}"
    if kind != "cuda":
        raise ValueError(
            f"device={device!r} is not supported by backend='torch', which runs on 'cpu', "
            "'cuda' or 'cuda:N'."
        )
    if not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} needs a CUDA device, but torch.cuda.is_available() is False "
            f"(torch {torch.__version__}); use device='cpu' or None."
        )
    n_devices = torch.cuda.device_count()
    if index is None:
        return f"cuda:{torch.cuda.current_device()}"
    if not index.isdigit() or int(index) >= n_devices:
        raise ValueError(
            f"device={device!r} is not a CUDA device here: use 'cuda' or 'cuda:N' with N in "
            f"0..{n_devices - 1}."
        )
    return f"cuda:{int(index)}"


def resolve_backend(backend, device):
    """Turn ``backend`` and ``device`` parameters into the pair a fit will use.

    Parameters
    ----------
    backend : {"auto", "cython", "torch"}
        ``"auto"`` picks ``"torch"`` when a CUDA ``device`` is asked for (``"cuda"`` or
        ``"cuda:N"``) and PyTorch is installed, else ``"cython"``. ``device=None`` never
        selects torch, even on a machine with a GPU: the compiled backend is the faster one
        on CPU, and the GPU must be asked for.
    device : str or None
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` (case and surrounding blanks ignored).
        ``None`` means ``"cpu"`` for ``"cython"``, and for ``"torch"`` the current CUDA
        device when CUDA is available, else ``"cpu"``.

    Returns
    -------
    backend : str
        The backend that trains, ``"cython"`` or ``"torch"``.
    device : str
        The device it trains on: ``"cpu"`` (or ``"cpu:N"`` as given) or ``"cuda:N"``.

    Raises
    ------
    ImportError
        ``backend="torch"`` without PyTorch installed (the message has the pip command).
    ValueError
        Unknown ``backend`` or device name; a CUDA device without CUDA (or an index beyond
        the devices present); a CUDA device for the ``"cython"`` backend.

    Examples
    --------
    >>> resolve_backend("auto", None)
    ('cython', 'cpu')
    >>> resolve_backend("auto", " CPU ")
    ('cython', 'cpu')
    >>> resolve_backend("cython", "cuda")
    Traceback (most recent call last):
    ...
    ValueError: device='cuda' is not supported by backend='cython', which runs on 'cpu'...
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}.")
    if device is not None and (not isinstance(device, str) or not device.strip()):
        raise ValueError(f"device must be None or a non-empty str such as 'cpu', got {device!r}.")
    kind = None if device is None else _split_device(device)[0]
    if backend == "auto":
        backend = "torch" if kind == "cuda" and _has_torch() else "cython"
    if backend == "torch":
        if not _has_torch():
            raise ImportError(f"backend='torch' needs PyTorch: {_TORCH_HINT}")
        if device is None:
            import torch

            return "torch", _torch_device("cuda" if torch.cuda.is_available() else "cpu")
        return "torch", _torch_device(device)
    if device is None:
        return "cython", "cpu"
    if kind != "cpu":
        hint = f" (with PyTorch: {_TORCH_HINT})" if kind == "cuda" else ""
        raise ValueError(
            f"device={device!r} is not supported by backend='cython', which runs on 'cpu'; "
            f"CUDA devices need backend='torch' or 'auto'{hint}."
        )
    return "cython", device.strip().lower()
