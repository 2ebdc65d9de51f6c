"""Map scikit-learn's ``n_jobs`` convention onto OpenMP thread counts."""

import os

from skadv.utils._params import NONE, Interval, check_params


def _cpu_count():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS / Windows
        return os.cpu_count() or 1


def effective_n_threads(n_jobs):
    """Number of OpenMP threads a kernel should use for ``n_jobs``.

    Follows scikit-learn: ``None`` means 1; ``-1`` means all cores, ``-2`` all but one, and
    so on. The result never exceeds what the OpenMP runtime allows (1 inside joblib/loky
    workers, which prevents oversubscription when GridSearchCV runs folds in parallel).

    Parameters
    ----------
    n_jobs : int or None
        Requested number of threads.

    Returns
    -------
    n_threads : int
        At least 1.

    Examples
    --------
    >>> effective_n_threads(1)
    1
    """
    from skadv._ext._openmp_helpers import max_threads

    check_params(
        {"n_jobs": (n_jobs, [NONE, Interval("int", 1, None), Interval("int", None, -1)])},
        caller="effective_n_threads",
    )
    n_jobs = 1 if n_jobs is None else int(n_jobs)
    n_cpu = _cpu_count()
    n_threads = n_jobs if n_jobs > 0 else max(1, n_cpu + 1 + n_jobs)
    return max(1, min(n_threads, max_threads()))
