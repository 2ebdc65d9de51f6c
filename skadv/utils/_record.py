"""The reproducibility record of a fit: ``fit_record_`` on every skadv estimator."""

import datetime
import numbers
import platform
import sys

import numpy as np

from skadv._version import __version__

__all__ = ["fit_record"]

_OPTIONAL = ("torch", "transformers")


def _plain(value):
    """``value`` as plain Python data (what JSON, pickle and skops all keep), else its repr."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str(value)  # a str subclass (torch's TorchVersion) would pickle its class
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (tuple, list)):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, type) and issubclass(value, np.generic):
        return np.dtype(value).name  # dtype=np.float32 -> "float32"
    return repr(value)


def fit_record(estimator):
    """The settings that reproduce ``estimator``'s latest fit, as a dict of plain data.

    Keys: ``estimator`` (class name), ``params`` (``get_params(deep=False)``; values that are
    not plain data, such as a ``RandomState`` or a wrapped estimator, as their repr),
    ``backend`` and ``device`` (as resolved by the fit), ``versions`` (Python, skadv, NumPy,
    SciPy, scikit-learn, and torch / transformers when they are loaded) and ``fitted_at`` (UTC,
    ISO 8601). With an int ``random_state`` and ``n_jobs=1``,
    ``type(est)(**record["params"])`` refits the same model on the same data (where a param
    holds a repr, rebuild that object by hand).

    Examples
    --------
    >>> from skadv import PopularityRecommender
    >>> record = fit_record(PopularityRecommender().fit([[0, 1], [1, 1]]))
    >>> record["estimator"], sorted(record["versions"])[:3]
    ('PopularityRecommender', ['numpy', 'python', 'scikit-learn'])
    """
    import scipy
    import sklearn

    versions = {
        "python": platform.python_version(),
        "skadv": __version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
    }
    for name in _OPTIONAL:  # versions of what the fit actually used, never an import here
        module = sys.modules.get(name)
        if module is not None:
            # str(): torch.__version__ is a TorchVersion, which unpickles only with torch.
            versions[name] = str(getattr(module, "__version__", "unknown"))
    return {
        "estimator": type(estimator).__name__,
        "params": {k: _plain(v) for k, v in estimator.get_params(deep=False).items()},
        "backend": getattr(estimator, "backend_", None),
        "device": getattr(estimator, "device_", None),
        "versions": versions,
        "fitted_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
