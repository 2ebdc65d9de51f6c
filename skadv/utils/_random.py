"""Seeds for kernels, drawn from a ``random_state`` the way scikit-learn does."""

import numpy as np
from sklearn.utils import check_random_state as sklearn_check_random_state

from skadv.utils._memory import aligned_empty

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


#: Arrays of more elements than this are drawn by the compiled kernel (see
#: :func:`normal_matrix`); smaller ones keep NumPy's stream.
KERNEL_DRAW_MIN = 1 << 20
#: Elements per stream of the compiled kernel: the result does not depend on the threads.
KERNEL_DRAW_CHUNK = 1 << 16


def normal_matrix(rng, shape, scale, dtype, n_threads=1):
    """An array of ``shape`` and float ``dtype`` drawn from N(0, ``scale``²), seeded by ``rng``.

    One 32-bit seed drawn from ``rng`` fixes the result. Arrays of up to
    :data:`KERNEL_DRAW_MIN` elements are drawn by NumPy (PCG64, ziggurat, in ``dtype``
    directly), the numbers of earlier versions. Larger ones, the factor matrices of large
    models, by the compiled kernel ``src_ext/_normal.pyx`` (the same ziggurat method, 3x
    faster on one thread, and ``n_threads`` threads): one stream per
    :data:`KERNEL_DRAW_CHUNK` elements, so the numbers do not depend on ``n_threads``.

    Examples
    --------
    >>> a = normal_matrix(np.random.RandomState(0), (1000, 4), 0.1, np.float32)
    >>> a.dtype, a.shape, bool(0.09 < a.std() < 0.11)
    (dtype('float32'), (1000, 4), True)
    >>> b = normal_matrix(np.random.RandomState(0), (1000, 4), 0.1, np.float32)
    >>> bool((a == b).all())
    True
    >>> big = normal_matrix(np.random.RandomState(0), (2 * KERNEL_DRAW_MIN,), 1.0, np.float32)
    >>> same = normal_matrix(np.random.RandomState(0), (2 * KERNEL_DRAW_MIN,), 1.0,
    ...                      np.float32, n_threads=2)
    >>> bool((big == same).all()), bool(0.99 < big.std() < 1.01)
    (True, True)
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dtype}.")
    seed = rng.randint(1, _SEED_MAX, dtype=np.int64)
    if np.prod(shape, dtype=np.int64) <= KERNEL_DRAW_MIN:
        out = np.random.Generator(np.random.PCG64(seed)).standard_normal(shape, dtype=dtype)
        out *= dtype.type(scale)
        return out
    from skadv._ext._normal import fill_normal

    out = aligned_empty(shape, dtype)  # factor matrices: rows on cache lines
    fill_normal(out.reshape(-1), np.uint64(seed), float(scale), KERNEL_DRAW_CHUNK,
                int(n_threads))  # fmt: skip
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
