"""Fuzzed inputs of the displays: clear TypeError / ValueError naming the argument, never a
KeyError or AttributeError from deep inside pandas or matplotlib."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skadv.plotting import (
    GridSearchHeatmapDisplay,
    InteractionDistributionDisplay,
    PoisoningCurveDisplay,
    RobustnessCurveDisplay,
    TrainingCurveDisplay,
)

CURVE = pd.DataFrame(
    {
        "epsilon": [0.0, 0.5],
        "epsilon_mode": ["absolute", "absolute"],
        "clean": [0.3, 0.3],
        "attacked": [0.3, 0.2],
        "relative_drop": [0.0, 1 / 3],
    }
)
REPORT = pd.DataFrame(
    {
        "attack": ["A", "A"],
        "threat": ["poisoning", "poisoning"],
        "strength": [0.05, 0.1],
        "metric": ["target_rank", "target_rank"],
        "clean": [10.0, 10.0],
        "attacked": [8.0, 5.0],
        "change": [-2.0, -5.0],
        "relative_change": [-0.2, -0.5],
    }
)
CV_RESULTS = {
    "param_epsilon": [0.1, 0.2],
    "param_adv_reg": [1.0, 1.0],
    "mean_test_score": [0.3, 0.2],
}

#: Things that are not tables: lists, strings, numbers, None, arrays.
NOT_A_TABLE = st.one_of(
    st.none(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=4),
    st.builds(np.arange, st.integers(0, 4)),
)
_SETTINGS = settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])


def test_the_valid_inputs_plot():
    # The fixtures above are valid: the refusals below are about what was broken.
    assert RobustnessCurveDisplay.from_curves({"m": CURVE}).lines_
    assert PoisoningCurveDisplay.from_reports({"m": REPORT}, metric="target_rank").lines_
    assert GridSearchHeatmapDisplay.from_cv_results(CV_RESULTS).scores.shape == (1, 2)
    assert TrainingCurveDisplay.from_curves([3.0, 2.0], [np.nan, 2.5]).lines_
    counts = {"a": np.array([1, 2]), "b": np.array([3])}
    assert InteractionDistributionDisplay(counts, counts).plot().lines_


@_SETTINGS
@given(value=NOT_A_TABLE)
def test_robustness_curves_not_a_mapping_of_tables(value):
    with pytest.raises(TypeError, match="curves"):
        RobustnessCurveDisplay.from_curves(value)
    with pytest.raises(TypeError, match=r"curves\['m'\]"):
        RobustnessCurveDisplay.from_curves({"m": value})


@_SETTINGS
@given(value=NOT_A_TABLE)
def test_poisoning_reports_not_a_mapping_of_tables(value):
    with pytest.raises(TypeError, match="reports"):
        PoisoningCurveDisplay.from_reports(value, metric="target_rank")
    with pytest.raises(TypeError, match=r"reports\['m'\]"):
        PoisoningCurveDisplay.from_reports({"m": value}, metric="target_rank")


@_SETTINGS
@given(value=NOT_A_TABLE)
def test_cv_results_not_a_table(value):
    with pytest.raises(TypeError, match="cv_results"):
        GridSearchHeatmapDisplay.from_cv_results(value)


@pytest.mark.parametrize("column", ["epsilon", "epsilon_mode", "attacked", "clean"])
def test_robustness_curve_missing_column(column):
    with pytest.raises(ValueError, match=rf"curves\['m'\] lacks the columns \['{column}'\]"):
        RobustnessCurveDisplay.from_curves({"m": CURVE.drop(columns=column)})


def test_robustness_curves_empty_or_ragged():
    with pytest.raises(ValueError, match="curves is empty"):
        RobustnessCurveDisplay.from_curves({})
    with pytest.raises(ValueError, match=r"curves\['m'\] has no rows"):
        RobustnessCurveDisplay.from_curves({"m": CURVE.iloc[:0]})
    ragged = {"epsilon": [0.0, 1.0], "epsilon_mode": ["absolute"], "attacked": [1.0, 2.0],
              "clean": [1.0, 1.0]}  # fmt: skip
    with pytest.raises(ValueError, match="equal length"):
        RobustnessCurveDisplay.from_curves({"m": ragged})
    with pytest.raises(ValueError, match="'attacked' must hold numbers"):
        RobustnessCurveDisplay.from_curves({"m": CURVE.assign(attacked=["x", "y"])})
    # A dict of equal-length columns is a table.
    assert RobustnessCurveDisplay.from_curves({"m": CURVE.to_dict("list")}).lines_


@pytest.mark.parametrize("column", sorted(REPORT.columns))
def test_poisoning_report_missing_column(column):
    with pytest.raises(ValueError, match=rf"reports\['m'\] lacks the columns \['{column}'\]"):
        PoisoningCurveDisplay.from_reports(
            {"m": REPORT.drop(columns=column)}, metric="target_rank"
        )


def test_poisoning_report_empty_and_metric_type():
    with pytest.raises(ValueError, match=r"reports\['m'\] has no rows"):
        PoisoningCurveDisplay.from_reports({"m": REPORT.iloc[:0]}, metric="target_rank")
    with pytest.raises(ValueError, match="reports is empty"):
        PoisoningCurveDisplay.from_reports({}, metric="target_rank")
    with pytest.raises(TypeError, match="metric must be a metric name"):
        PoisoningCurveDisplay.from_reports({"m": REPORT}, metric=3)


def test_cv_results_missing_ragged_or_not_numeric():
    with pytest.raises(ValueError, match=r"cv_results lacks the columns \['param_epsilon'"):
        GridSearchHeatmapDisplay.from_cv_results({})
    with pytest.raises(ValueError, match="cv_results must hold columns of equal length"):
        GridSearchHeatmapDisplay.from_cv_results({**CV_RESULTS, "param_adv_reg": [1.0]})
    with pytest.raises(ValueError, match="'mean_test_score' must hold numbers"):
        GridSearchHeatmapDisplay.from_cv_results({**CV_RESULTS, "mean_test_score": ["a", "b"]})


@pytest.mark.parametrize(
    "loss, adv, validation, error, match",
    [
        ([], None, None, ValueError, "loss_curve is empty"),
        (None, None, None, TypeError, "loss_curve must be a 1-d sequence"),
        ("abc", None, None, TypeError, "loss_curve must be a 1-d sequence"),
        ({"loss": [1.0]}, None, None, TypeError, "loss_curve must be a 1-d sequence"),
        ([[1.0, 2.0], [3.0, 4.0]], None, None, ValueError, "loss_curve must be 1-d"),
        ([1.0, 2.0, 3.0], [1.0, 2.0], None, ValueError, "adv_loss_curve has 2 values"),
        ([1.0, 2.0], "ab", None, TypeError, "adv_loss_curve must be a 1-d sequence"),
        ([1.0, 2.0], None, "ab", TypeError, "validation_scores must be a 1-d sequence"),
        ([1.0, 2.0], None, [["a"]], TypeError, "validation_scores must be a 1-d sequence"),
    ],
)
def test_training_curves_refuse(loss, adv, validation, error, match):
    with pytest.raises(error, match=match):
        TrainingCurveDisplay.from_curves(loss, adv, validation)


def test_training_curves_without_validation():
    # An empty validation list (a run without validation) plots no validation axis.
    display = TrainingCurveDisplay.from_curves([2.0, 1.0], validation_scores=[])
    assert display.validation_ax_ is None


def test_distribution_refuses_bad_counts_and_labels():
    good = {"a": np.array([1, 2])}
    with pytest.raises(TypeError, match="profile_lengths must be a dict"):
        InteractionDistributionDisplay([1, 2], good).plot()
    with pytest.raises(TypeError, match="item_popularity must be a dict"):
        InteractionDistributionDisplay(good, None).plot()
    with pytest.raises(ValueError, match=r"profile_lengths\['a'\] is empty"):
        InteractionDistributionDisplay({"a": np.array([])}, good).plot()
    with pytest.raises(ValueError, match="profile_lengths is empty"):
        InteractionDistributionDisplay({}, good).plot()
    with pytest.raises(ValueError, match="the same labels"):
        InteractionDistributionDisplay(good, {"b": np.array([1])}).plot()
    X = np.array([[0, 1], [1, 1]])
    with pytest.raises(TypeError, match="labels must be a tuple"):
        InteractionDistributionDisplay.from_interactions(X, X, labels="ab")
    with pytest.raises(ValueError, match="X_reference: X holds no interactions"):
        InteractionDistributionDisplay.from_interactions(np.empty((0, 2)), X)
    with pytest.raises(ValueError, match="X_other"):
        InteractionDistributionDisplay.from_interactions(X, [1, 2, 3])
