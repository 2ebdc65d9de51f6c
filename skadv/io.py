"""Saving and loading fitted skadv objects safely, with skops (``pip install skops``).

:func:`dump` writes any fitted skadv object (recommenders, detectors, ``FakeUserFilter``,
``GANAugmenter``, attacks, ``imblearn`` pipelines of them) in the skops format, and
:func:`load` reads it back trusting exactly :func:`trusted_types`: every class defined in the
skadv package, found by reading its source (so a new class is trusted without anyone keeping
a list), and the few NumPy, SciPy, scikit-learn and imbalanced-learn types that fitted skadv
objects hold beyond those skops trusts by default. A file holding any other type is refused
(``skops.io.exceptions.UntrustedTypesFoundException``): unlike pickle, loading never runs
code that the file names.
"""

import ast
import os
from functools import lru_cache
from pathlib import Path

__all__ = ["dump", "load", "trusted_types"]

#: Types beyond skadv's own that fitted skadv objects hold and skops does not trust by
#: default: the training matrix ``interactions_`` (CSR) and its COO/CSC siblings, the NumPy
#: random state a ``random_state=RandomState(...)`` parameter holds, imbalanced-learn's
#: pipeline (sampler steps are skipped at predict time there) and the trees of the forest
#: in ``ShillingDetector``. tests/test_io.py dumps every fitted estimator and fails when one
#: holds a type outside ``trusted_types()``.
_OTHER_TYPES = (
    "scipy.sparse._csr.csr_matrix",
    "scipy.sparse._csc.csc_matrix",
    "scipy.sparse._coo.coo_matrix",
    "scipy.sparse._csr.csr_array",
    "numpy.random._generator.Generator",
    "numpy.random._pcg64.PCG64",
    "numpy.random._mt19937.MT19937",
    "numpy.random.mtrand.RandomState",
    "imblearn.pipeline.Pipeline",
    "sklearn.tree._tree.Tree",
    "sklearn.utils._bunch.Bunch",
    "collections.OrderedDict",
    "collections.defaultdict",
    "builtins.slice",
)


def _skops():
    try:
        import skops.io as sio
    except ImportError:
        raise ImportError(
            "skadv.io needs skops: pip install 'skadv[serve]' (or pip install skops)."
        ) from None
    return sio


@lru_cache(maxsize=1)
def _skadv_classes():
    """``skadv.<module>.<Class>`` of every class defined at the top level of a skadv module
    (public and private), read from the source without importing anything."""
    root = Path(__file__).resolve().parent
    names = []
    for path in sorted(root.rglob("*.py")):
        module = ".".join(("skadv",) + path.relative_to(root).with_suffix("").parts)
        module = module.removesuffix(".__init__")
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                names.append(f"{module}.{node.name}")
    return tuple(names)


def trusted_types():
    """The type names :func:`load` trusts: every skadv class and what fitted skadv objects hold.

    Computed from the package (its class definitions), not kept by hand: a class added to
    skadv is trusted as soon as it exists.

    Returns
    -------
    list of str
        Sorted fully qualified names, as ``skops.io.get_untrusted_types`` reports them.

    Examples
    --------
    >>> names = trusted_types()
    >>> "skadv.mf._adversarial_mf.AdversarialMFRecommender" in names
    True
    >>> "scipy.sparse._csr.csr_matrix" in names
    True
    """
    return sorted(set(_skadv_classes()) | set(_OTHER_TYPES))


def dump(obj, file):
    """Save a (fitted) skadv object in the skops format.

    Parameters
    ----------
    obj : object
        A skadv estimator, sampler, detector, or a pipeline of them. Its state must be
        NumPy/SciPy/Python data (every skadv estimator keeps torch weights as NumPy).
    file : str, path-like or file object
        Where to write (``.skops`` by convention).

    Examples
    --------
    >>> import tempfile, os
    >>> from skadv import PopularityRecommender
    >>> from skadv.datasets import make_interactions
    >>> model = PopularityRecommender().fit(make_interactions(20, 10, random_state=0))
    >>> path = os.path.join(tempfile.mkdtemp(), "model.skops")
    >>> dump(model, path)
    >>> load(path).recommend([0], n=2)[0].shape
    (1, 2)
    """
    sio = _skops()
    if isinstance(file, (str, os.PathLike)):
        sio.dump(obj, file)
    else:
        file.write(sio.dumps(obj))


def load(file, trusted=None):
    """Load an object saved with :func:`dump` (or ``skops.io.dump``), trusting skadv's types.

    Parameters
    ----------
    file : str, path-like, bytes or file object
        A skops file, or its content as bytes.
    trusted : list of str, default=None
        Extra type names to trust on top of :func:`trusted_types` (e.g. a custom estimator
        in a pipeline). None trusts :func:`trusted_types` only.

    Returns
    -------
    obj : object

    Raises
    ------
    skops.io.exceptions.UntrustedTypesFoundException
        When the file holds a type outside the trusted ones: nothing is constructed.
    """
    sio = _skops()
    names = trusted_types() + [str(t) for t in (trusted or ())]
    if isinstance(file, bytes):
        return sio.loads(file, trusted=names)
    if isinstance(file, (str, os.PathLike)):
        return sio.load(file, trusted=names)
    return sio.loads(file.read(), trusted=names)
