"""Seeds for kernels, drawn from a ``random_state`` the way scikit-learn does."""

import numpy as np
from sklearn.utils import check_random_state as sklearn_check_random_state

_SEED_MAX = np.iinfo(np.uint32).max


def draw_seeds(rng, n):
    """Draw ``n`` 32-bit seeds from a ``numpy.random.RandomState``.

    Kernels seed one RNG stream per thread from these, so a fit is reproducible for a
    fixed ``random_state`` and a fixed thread count.

    Examples
    --------
    >>> draw_seeds(np.random.RandomState(0), 2).shape
    (2,)
    """
    return rng.randint(1, _SEED_MAX, size=n, dtype=np.int64).astype(np.uint64)


def normal_matrix(rng, shape, scale, dtype):
    """An array of ``shape`` and float ``dtype`` drawn from N(0, ``scale``²), seeded by ``rng``.

    ``RandomState.normal`` draws float64 only, by the polar method: for the factor matrices of
    a large model that takes longer than a training epoch. One 32-bit seed drawn from ``rng``
    starts a ``Generator`` (PCG64, ziggurat) that draws in ``dtype`` directly, several times
    faster and with no conversion copy; the result is still fixed by ``rng``'s state.

    Examples
    --------
    >>> a = normal_matrix(np.random.RandomState(0), (1000, 4), 0.1, np.float32)
    >>> a.dtype, a.shape, bool(0.09 < a.std() < 0.11)
    (dtype('float32'), (1000, 4), True)
    >>> b = normal_matrix(np.random.RandomState(0), (1000, 4), 0.1, np.float32)
    >>> bool((a == b).all())
    True
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dtype}.")
    seed = rng.randint(1, _SEED_MAX, dtype=np.int64)
    out = np.random.Generator(np.random.PCG64(seed)).standard_normal(shape, dtype=dtype)
    out *= dtype.type(scale)
    return out


def check_random_state(random_state):
    """A ``numpy.random.RandomState`` from None, an int, a RandomState or a Generator.

    scikit-learn's ``check_random_state`` plus numpy ``Generator`` support: the RandomState
    runs on the Generator's bit generator, so drawing advances the caller's generator.

    Examples
    --------
    >>> check_random_state(0).randint(10) == check_random_state(0).randint(10)
    True
    >>> isinstance(check_random_state(np.random.default_rng(0)), np.random.RandomState)
    True
    """
    if isinstance(random_state, np.random.Generator):
        return np.random.RandomState(random_state.bit_generator)
    return sklearn_check_random_state(random_state)
