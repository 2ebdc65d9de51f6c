import numpy as np
import pytest

from skadv.utils._params import (
    BOOL,
    NONE,
    RANDOM_STATE,
    Interval,
    InvalidParameterError,
    Options,
    check_params,
    validate_params,
)
from skadv.utils._random import draw_seeds
from skadv.utils._threads import effective_n_threads


class _Est:
    _parameter_constraints = {
        "alpha": [Interval("real", 0, 1, closed="left")],
        "n": [Interval("int", 1, None)],
        "mode": [Options("a", "b")],
        "flag": [BOOL],
        "seed": [NONE, RANDOM_STATE],
    }

    def __init__(self, **params):
        defaults = {"alpha": 0.5, "n": 3, "mode": "a", "flag": True, "seed": None}
        for name, value in {**defaults, **params}.items():
            setattr(self, name, value)


def test_valid_params_pass():
    validate_params(_Est(seed=np.random.RandomState(0)))


@pytest.mark.parametrize(
    "name,value,match",
    [
        ("alpha", 1.0, r"'alpha' parameter of _Est must be a float in the range \[0, 1\)"),
        ("alpha", np.nan, "alpha"),
        ("n", 0, r"'n' .* an int in the range \[1, inf\)"),
        ("n", 2.0, "'n'"),
        ("n", True, "'n'"),
        ("mode", "c", "one of 'a', 'b'"),
        ("flag", 1, "a bool"),
        ("seed", "zero", "'seed'"),
    ],
)
def test_invalid_params_name_the_parameter(name, value, match):
    with pytest.raises(ValueError, match=match):
        validate_params(_Est(**{name: value}))


def test_check_params_uses_the_estimator_message_format():
    with pytest.raises(InvalidParameterError) as function_error:
        check_params({"n": (0, [Interval("int", 1, None)])}, caller="f")
    with pytest.raises(InvalidParameterError) as estimator_error:
        validate_params(_Est(n=0))
    assert str(function_error.value) == str(estimator_error.value).replace("_Est", "f")
    assert str(function_error.value) == (
        "The 'n' parameter of f must be an int in the range [1, inf); got 0."
    )


@pytest.mark.parametrize("error", [ValueError, TypeError])
def test_invalid_parameter_error_is_a_value_and_a_type_error(error):
    with pytest.raises(error):
        check_params({"flag": ("yes", [BOOL])}, caller="f")


def test_check_params_accepts_any_matching_constraint():
    check_params(
        {"k": (None, [NONE, Interval("int", 1, None)]), "m": ("a", [Options("a")])}, caller="f"
    )


def test_check_params_stops_at_the_first_invalid_argument():
    with pytest.raises(ValueError, match="'a' parameter"):
        check_params({"a": (-1, [Interval("real", 0, None)]), "b": (-1, [BOOL])}, caller="f")


def test_options_description_replaces_the_listing():
    with pytest.raises(ValueError, match="must be a known function; got 3"):
        check_params({"m": (3, [Options(len, description="a known function")])}, caller="f")


@pytest.mark.parametrize("n_jobs,expected", [(None, 1), (1, 1)])
def test_effective_n_threads_defaults(n_jobs, expected):
    assert effective_n_threads(n_jobs) == expected


def test_effective_n_threads_all_cores_is_bounded():
    assert 1 <= effective_n_threads(-1) <= max(1, len(__import__("os").sched_getaffinity(0)))


@pytest.mark.parametrize("n_jobs", [0, 1.5, "2", True])
def test_effective_n_threads_rejects_bad_values(n_jobs):
    with pytest.raises(ValueError, match="n_jobs"):
        effective_n_threads(n_jobs)


def test_draw_seeds_is_deterministic():
    a = draw_seeds(np.random.RandomState(3), 4)
    b = draw_seeds(np.random.RandomState(3), 4)
    np.testing.assert_array_equal(a, b)
    assert (a > 0).all()
