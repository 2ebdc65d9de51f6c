"""Resolve an estimator's ``backend`` and ``device`` parameters, once, in ``fit``.

Every training backend is described by one ``_Backend`` entry in ``_BACKENDS``: whether it can
run here (checked without importing anything heavy) and which devices it accepts. This version
ships only the compiled ``"cython"`` backend (CPU). ``"torch"`` is a known name reserved for the
PyTorch backend of a later version: asking for it raises a ``ValueError`` that says so, and
``"auto"`` resolves to ``"cython"``. Adding the torch backend means adding its entry (with an
``importlib.util.find_spec("torch")`` availability check, so that resolving never imports
torch) and a rule for ``"auto"`` with a GPU ``device``; estimators do not change.
"""

from dataclasses import dataclass

__all__ = ["BACKENDS", "resolve_backend"]


@dataclass(frozen=True)
class _Backend:
    name: str
    available: bool
    devices: tuple  # accepted device names ("cpu", "cuda", ...); "cuda:0" matches "cuda"
    reason: str = ""  # why it is not available, when it is not


_BACKENDS = {
    "cython": _Backend("cython", True, ("cpu",)),
    "torch": _Backend(
        "torch",
        False,
        ("cpu", "cuda", "mps"),
        reason="the PyTorch backend is not available in this version of skadv; "
        "use backend='cython' (or 'auto')",
    ),
}

#: Names accepted by the ``backend`` parameter of skadv estimators.
BACKENDS = ("auto", *_BACKENDS)


def _device_kind(device):
    return device.split(":", 1)[0].strip().lower()


def resolve_backend(backend, device):
    """Turn ``backend`` and ``device`` parameters into the pair a fit will use.

    Parameters
    ----------
    backend : {"auto", "cython", "torch"}
        ``"auto"`` picks the best available backend for ``device`` (today always
        ``"cython"``).
    device : str or None
        ``None`` means the backend's default device (``"cpu"`` for ``"cython"``).

    Returns
    -------
    backend : str
        The backend that trains, e.g. ``"cython"``.
    device : str
        The device it trains on, e.g. ``"cpu"``.

    Raises
    ------
    ValueError
        Unknown ``backend``; a backend that is not available in this version (``"torch"``);
        a ``device`` the chosen backend cannot use.

    Examples
    --------
    >>> resolve_backend("auto", None)
    ('cython', 'cpu')
    >>> resolve_backend("cython", "cpu")
    ('cython', 'cpu')
    >>> resolve_backend("torch", None)
    Traceback (most recent call last):
    ...
    ValueError: backend='torch': the PyTorch backend is not available in this version of skadv...
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}.")
    if device is not None and (not isinstance(device, str) or not device.strip()):
        raise ValueError(f"device must be None or a non-empty str such as 'cpu', got {device!r}.")
    if backend == "auto":
        wanted = None if device is None else _device_kind(device)
        for entry in _BACKENDS.values():
            if entry.available and (wanted is None or wanted in entry.devices):
                backend = entry.name
                break
        else:
            raise ValueError(
                f"device={device!r} needs a backend that is not available in this version of "
                "skadv (only backend='cython', on device='cpu', is); use device=None or 'cpu'."
            )
    entry = _BACKENDS[backend]
    if not entry.available:
        raise ValueError(f"backend={backend!r}: {entry.reason}.")
    if device is None:
        return entry.name, entry.devices[0]
    if _device_kind(device) not in entry.devices:
        raise ValueError(
            f"device={device!r} is not supported by backend={backend!r}, which runs on "
            f"{', '.join(repr(d) for d in entry.devices)}."
        )
    return entry.name, device.strip().lower()
