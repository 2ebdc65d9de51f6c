"""make_robustness_scorer and robustness_report accept any object with fit_resample, as
documented: imbalanced-learn's samplers and user-written ones (no get_params)."""

import numpy as np
import pandas as pd
import pytest

from skadv import PopularityRecommender
from skadv.evaluation import make_robustness_scorer, robustness_report

imblearn = pytest.importorskip("imblearn")
from imblearn import FunctionSampler  # noqa: E402
from imblearn.over_sampling import RandomOverSampler  # noqa: E402


class DuplicateFirstRows:
    """A user-written sampler: no BaseEstimator, no get_params."""

    def __init__(self, n=5):
        self.n = n

    def fit_resample(self, X, y=None):
        X = np.asarray(X, dtype=object)
        y_res = None if y is None else np.r_[y, np.asarray(y)[: self.n]]
        return np.vstack([X, X[: self.n]]), y_res


@pytest.fixture
def data(small_split):
    X_train, X_test = small_split
    y_train = np.random.RandomState(0).randint(1, 6, len(X_train)).astype(np.float64)
    return X_train, X_test, y_train


@pytest.mark.parametrize(
    "sampler",
    [
        RandomOverSampler(random_state=0),
        FunctionSampler(func=lambda X, y: (X[:-3], y[:-3])),
        DuplicateFirstRows(),
    ],
    ids=["RandomOverSampler", "FunctionSampler", "user-written"],
)
@pytest.mark.parametrize("kind", ["attacked", "drop"])
def test_scorer_accepts_any_sampler(data, sampler, kind):
    X_train, X_test, y_train = data
    scorer = make_robustness_scorer(sampler, metric="ndcg@10", kind=kind)
    model = PopularityRecommender().fit(X_train, y_train)
    value = scorer(model, X_test)
    assert np.isfinite(value)
    if kind == "attacked":
        assert 0.0 <= value <= 1.0


def test_user_written_sampler_on_implicit_data(small_split):
    X_train, X_test = small_split
    model = PopularityRecommender().fit(X_train)
    assert np.isfinite(make_robustness_scorer(DuplicateFirstRows())(model, X_test))


def test_label_sampler_on_implicit_data_is_a_clear_error(small_split):
    X_train, X_test = small_split
    model = PopularityRecommender().fit(X_train)
    scorer = make_robustness_scorer(RandomOverSampler(random_state=0))
    with pytest.raises(ValueError, match=r"RandomOverSampler.fit_resample failed on implicit"):
        scorer(model, X_test)


@pytest.mark.parametrize("sampler", [RandomOverSampler(random_state=0), DuplicateFirstRows()])
def test_target_metric_needs_target_items(data, sampler):
    X_train, X_test, y_train = data
    scorer = make_robustness_scorer(sampler, metric="target_rank")
    model = PopularityRecommender().fit(X_train, y_train)
    with pytest.raises(TypeError, match="has no target_items_"):
        scorer(model, X_test)


def test_sklearn_style_constraints_are_not_read_as_skadv_ones():
    # RandomOverSampler declares scikit-learn's _parameter_constraints (strings such as
    # "random_state"); reading them with skadv's validator raised AttributeError.
    make_robustness_scorer(RandomOverSampler(sampling_strategy="all"))


def test_report_with_samplers_without_targets(data):
    X_train, X_test, y_train = data
    attacks = [("ros", RandomOverSampler(random_state=0)), ("mine", DuplicateFirstRows())]
    report = robustness_report(PopularityRecommender(), X_train, X_test, attacks,
                               y_train=y_train, metrics=["ndcg@10", "target_rank"])  # fmt: skip
    # No targets: ranking metrics only, one row per sampler.
    assert report["metric"].tolist() == ["ndcg@10", "ndcg@10"]
    assert report["attack"].tolist() == ["ros", "mine"]
    assert report.loc[report["attack"] == "mine", "setting"].item() == ""
    assert pd.isna(report["strength"]).all()
    assert np.isfinite(report["attacked"]).all()
