"""Declarative checks of parameters: one mechanism for estimators and public functions.

scikit-learn's own ``_param_validation`` is private, so skadv keeps a small public-API
equivalent. A parameter is checked against a list of constraints (:class:`Interval`,
:class:`Options`, :class:`TypeOf`, :class:`HasMethods`, ``BOOL``, ``NONE``, ``STRING``,
``RANDOM_STATE``, ``SEQUENCE``, ``PATH``) and is valid when it satisfies any one of them.

Estimators and splitters
    List ``_parameter_constraints = {name: [constraint, ...]}`` on the class and call
    ``validate_params(self)`` at the start of ``fit`` (``__init__`` only stores values).
Public functions
    Call ``check_params({name: (value, [constraint, ...]), ...}, caller="function_name")``
    first thing; bounds that depend on another argument are built at call time
    (``Interval("int", 0, total_steps, closed="left")``).

Both raise :class:`InvalidParameterError`, a subclass of ``ValueError`` and ``TypeError`` (as
scikit-learn's), with one message format naming the parameter and its owner::

    The 'k' parameter of ndcg_at_k must be an int in the range [1, inf); got 0.
"""

import numbers
import os

import numpy as np

__all__ = [
    "BOOL",
    "NONE",
    "PATH",
    "RANDOM_STATE",
    "SEQUENCE",
    "TupleOf",
    "STRING",
    "HasMethods",
    "Interval",
    "InvalidParameterError",
    "Options",
    "TypeOf",
    "check_params",
    "validate_params",
]


class InvalidParameterError(ValueError, TypeError):
    """A parameter satisfies none of its constraints.

    Both a ``ValueError`` and a ``TypeError``: a wrong type and a wrong value are one kind of
    mistake here, and callers may catch either.
    """


class Interval:
    """Numbers of ``kind`` (``"int"`` or ``"real"``) within ``[low, high]``.

    ``closed`` is one of ``"both"``, ``"left"``, ``"right"``, ``"neither"``; ``None`` bounds are
    unbounded.
    """

    def __init__(self, kind, low=None, high=None, closed="both"):
        self.kind, self.low, self.high, self.closed = kind, low, high, closed

    def is_satisfied_by(self, value):
        if isinstance(value, bool):
            return False
        if self.kind == "int" and not isinstance(value, numbers.Integral):
            return False
        if self.kind == "real" and not isinstance(value, numbers.Real):
            return False
        if self.kind == "real" and not np.isfinite(value):
            return False
        lo_ok = self.low is None or (
            value >= self.low if self.closed in ("both", "left") else value > self.low
        )
        hi_ok = self.high is None or (
            value <= self.high if self.closed in ("both", "right") else value < self.high
        )
        return lo_ok and hi_ok

    def __str__(self):
        left = "[" if self.closed in ("both", "left") else "("
        right = "]" if self.closed in ("both", "right") else ")"
        lo = "-inf" if self.low is None else self.low
        hi = "inf" if self.high is None else self.high
        noun = "an int" if self.kind == "int" else "a float"
        return f"{noun} in the range {left}{lo}, {hi}{right}"


class Options:
    """One of a fixed set of values (compared by identity, or by type and equality).

    ``description`` replaces the default ``"one of 'a', 'b'"`` in messages, for options whose
    repr reads badly (functions).
    """

    def __init__(self, *options, description=None):
        self.options, self.description = options, description

    def is_satisfied_by(self, value):
        return any(value is o or (type(value) is type(o) and value == o) for o in self.options)

    def __str__(self):
        if self.description is not None:
            return self.description
        return "one of " + ", ".join(repr(o) for o in self.options)


class TypeOf:
    """An instance of one of ``types`` (a bool only when ``bool`` is listed), e.g.
    ``TypeOf(tuple, list, np.ndarray, description="a list, tuple or ndarray of item ids")``."""

    def __init__(self, *types, description):
        self.types, self.description = types, description

    def is_satisfied_by(self, value):
        return isinstance(value, self.types) and not (
            isinstance(value, bool) and bool not in self.types
        )

    def __str__(self):
        return self.description


class HasMethods:
    """An object with every one of ``methods`` (callable attributes), e.g. an estimator
    parameter that must be a classifier: ``HasMethods("fit", "predict_proba")``.

    ``description`` replaces the default ``"an object with fit and predict_proba"``.
    """

    def __init__(self, *methods, description=None):
        self.methods, self.description = methods, description

    def is_satisfied_by(self, value):
        return not isinstance(value, type) and all(
            callable(getattr(value, m, None)) for m in self.methods
        )

    def __str__(self):
        if self.description is not None:
            return self.description
        return "an object with " + " and ".join(self.methods)


class TupleOf:
    """A tuple or list (``min_length`` elements at least) whose elements all satisfy
    ``element`` (a constraint), e.g. ``TupleOf(Interval("int", 1, None))``."""

    def __init__(self, element, min_length=0):
        self.element, self.min_length = element, min_length

    def is_satisfied_by(self, value):
        return (
            isinstance(value, (tuple, list))
            and len(value) >= self.min_length
            and all(self.element.is_satisfied_by(v) for v in value)
        )

    def __str__(self):
        size = f"at least {self.min_length} " if self.min_length else ""
        return f"a tuple or list of {size}elements each {self.element}"


NONE = Options(None)
BOOL = TypeOf(bool, np.bool_, description="a bool")
RANDOM_STATE = TypeOf(
    numbers.Integral,
    np.random.RandomState,
    np.random.Generator,
    description="an int, a numpy RandomState/Generator or None",
)
STRING = TypeOf(str, description="a str")
SEQUENCE = TypeOf(tuple, list, description="a tuple or list")
PATH = TypeOf(str, os.PathLike, description="a str or path")


def check_params(params, *, caller):
    """Check the arguments of a public function against their constraints.

    Parameters
    ----------
    params : dict
        ``{name: (value, [constraint, ...])}``, checked in order; a value is valid when it
        satisfies any of its constraints.
    caller : str
        Name of the function (or ``Class.method``), shown in the message.

    Raises
    ------
    InvalidParameterError
        Naming the first argument whose value satisfies none of its constraints.

    Examples
    --------
    >>> check_params({"k": (10, [Interval("int", 1, None)])}, caller="ndcg_at_k")
    >>> check_params({"k": (0, [Interval("int", 1, None)])}, caller="ndcg_at_k")
    Traceback (most recent call last):
    ...
    skadv.utils._params.InvalidParameterError: The 'k' parameter of ndcg_at_k must be an int ...
    """
    for name, (value, constraints) in params.items():
        if any(c.is_satisfied_by(value) for c in constraints):
            continue
        expected = " or ".join(str(c) for c in constraints)
        raise InvalidParameterError(
            f"The {name!r} parameter of {caller} must be {_fix_open(expected)}; got {value!r}."
        )


def validate_params(estimator):
    """Check every parameter of ``estimator`` against its ``_parameter_constraints``.

    Raises
    ------
    InvalidParameterError
        Naming the first parameter whose value satisfies none of its constraints.

    Examples
    --------
    >>> class Est:
    ...     _parameter_constraints = {"alpha": [Interval("real", 0, None)]}
    ...     alpha = -1.0
    >>> validate_params(Est())
    Traceback (most recent call last):
    ...
    skadv.utils._params.InvalidParameterError: The 'alpha' parameter of Est must be a float in ...
    """
    # Parameters are read as attributes: estimators store them untouched in __init__, and
    # the splitters of skadv.model_selection (which have no get_params) do the same.
    check_params(
        {
            name: (getattr(estimator, name), constraints)
            for name, constraints in estimator._parameter_constraints.items()
        },
        caller=type(estimator).__name__,
    )


def _fix_open(text):
    # "[0, inf]" reads wrong for an unbounded side: show infinity as open.
    return text.replace(", inf]", ", inf)").replace("[-inf,", "(-inf,")
