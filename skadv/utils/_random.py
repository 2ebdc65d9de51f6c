"""Seeds for kernels, drawn from a ``random_state`` the way scikit-learn does."""

import numpy as np

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
