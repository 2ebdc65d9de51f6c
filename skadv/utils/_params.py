"""Declarative checks of estimator hyper-parameters, run at the start of ``fit``.

scikit-learn's own ``_param_validation`` is private, so skadv keeps a small public-API
equivalent: each estimator lists ``_parameter_constraints = {name: [constraint, ...]}`` and
``validate_params(self)`` raises a ``ValueError``/``TypeError`` that names the parameter.
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
    "STRING",
    "Interval",
    "Options",
    "validate_params",
]


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
    """One of a fixed set of values."""

    def __init__(self, *options):
        self.options = options

    def is_satisfied_by(self, value):
        return any(value is o or (type(value) is type(o) and value == o) for o in self.options)

    def __str__(self):
        return "one of " + ", ".join(repr(o) for o in self.options)


class _TypeOf:
    def __init__(self, *types, description):
        self.types, self.description = types, description

    def is_satisfied_by(self, value):
        return isinstance(value, self.types) and not (
            isinstance(value, bool) and bool not in self.types
        )

    def __str__(self):
        return self.description


NONE = Options(None)
BOOL = _TypeOf(bool, np.bool_, description="a bool")
RANDOM_STATE = _TypeOf(
    numbers.Integral,
    np.random.RandomState,
    np.random.Generator,
    description="an int, a numpy RandomState/Generator or None",
)
STRING = _TypeOf(str, description="a str")
SEQUENCE = _TypeOf(tuple, list, description="a tuple or list")
PATH = _TypeOf(str, os.PathLike, description="a str or path")


def validate_params(estimator):
    """Check every parameter of ``estimator`` against its ``_parameter_constraints``.

    Raises
    ------
    ValueError
        Naming the first parameter whose value satisfies none of its constraints.

    Examples
    --------
    >>> class Est:
    ...     _parameter_constraints = {"alpha": [Interval("real", 0, None)]}
    ...     alpha = -1.0
    >>> validate_params(Est())
    Traceback (most recent call last):
    ...
    ValueError: The 'alpha' parameter of Est must be a float in the range [0, inf); got -1.0.
    """
    # Parameters are read as attributes: estimators store them untouched in __init__, and
    # the splitters of skadv.model_selection (which have no get_params) do the same.
    for name, constraints in estimator._parameter_constraints.items():
        value = getattr(estimator, name)
        if any(c.is_satisfied_by(value) for c in constraints):
            continue
        expected = " or ".join(str(c) for c in constraints)
        raise ValueError(
            f"The {name!r} parameter of {type(estimator).__name__} must be {_fix_open(expected)}"
            f"; got {value!r}."
        )


def _fix_open(text):
    # "[0, inf]" reads wrong for an unbounded side: show infinity as open.
    return text.replace(", inf]", ", inf)").replace("[-inf,", "(-inf,")
