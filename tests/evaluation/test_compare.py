"""compare and paired_test on synthetic data."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from skadv import (
    AdversarialMFRecommender,
    ImplicitALSRecommender,
    ItemKNNRecommender,
    PopularityRecommender,
)
from skadv.datasets import make_interactions
from skadv.evaluation import compare, paired_test
from skadv.evaluation._compare import _adjust
from skadv.metrics import get_ranking_scorer, per_user_scores
from skadv.model_selection import train_test_split_interactions


@pytest.fixture(scope="module")
def split():
    X = make_interactions(200, 100, density=0.08, random_state=0)
    return train_test_split_interactions(X, random_state=0)


def test_compare_is_tidy_and_matches_the_scorers(split):
    X_train, X_test = split
    results = compare(
        {"pop": PopularityRecommender(), "ials": ImplicitALSRecommender(8, n_iter=3)},
        X_train, X_test, metrics=("ndcg@10", "recall@5"), n_seeds=2,
    )  # fmt: skip
    assert results.columns.tolist() == ["estimator", "seed", "metric", "value", "fit_time"]
    assert len(results) == 2 * 2 * 2
    for seed in (0, 1):
        model = ImplicitALSRecommender(8, n_iter=3, random_state=seed).fit(X_train)
        row = results.query("estimator == 'ials' and seed == @seed and metric == 'recall@5'")
        assert row["value"].item() == get_ranking_scorer("recall@5")(model, X_test)
    # seeds differ for a seeded model, not for a deterministic one
    ials = results.query("estimator == 'ials' and metric == 'ndcg@10'")["value"]
    pop = results.query("estimator == 'pop' and metric == 'ndcg@10'")["value"]
    assert ials.nunique() == 2 and pop.nunique() == 1


def test_compare_names_and_nested_random_state(split):
    X_train, X_test = split
    from sklearn.pipeline import Pipeline

    pipe = Pipeline([("mf", AdversarialMFRecommender(4, n_epochs=2))])
    results = compare(
        [ItemKNNRecommender(), ItemKNNRecommender(5), ("mf", pipe)], X_train, X_test,
        metrics=("ndcg@10",), n_seeds=2,
    )  # fmt: skip
    assert list(pd.unique(results["estimator"])) == [
        "ItemKNNRecommender", "ItemKNNRecommender-2", "mf",
    ]  # fmt: skip
    mf = results.query("estimator == 'mf'")["value"]
    assert mf.nunique() == 2  # mf__random_state was set per seed
    again = compare({"mf": pipe}, X_train, X_test, metrics=("ndcg@10",), seeds=[1, 5])
    assert again["seed"].tolist() == [1, 5]
    assert again["value"].iloc[0] == mf.iloc[1]


def test_compare_parallel_equals_serial(split):
    X_train, X_test = split
    estimators = {"knn": ItemKNNRecommender(), "ials": ImplicitALSRecommender(8, n_iter=2)}
    serial = compare(estimators, X_train, X_test)
    parallel = compare(estimators, X_train, X_test, n_jobs=2)
    pd.testing.assert_frame_equal(
        serial.drop(columns="fit_time"), parallel.drop(columns="fit_time")
    )


def test_per_user_scores_average_to_the_scorer(split):
    X_train, X_test = split
    model = ItemKNNRecommender().fit(X_train)
    values = per_user_scores(model, X_test, metric="ndcg@10")
    assert values.index.name == "user" and values.name == "ndcg@10"
    assert values.index.is_monotonic_increasing
    assert values.mean() == pytest.approx(model.score(X_test), rel=1e-12)
    # an unknown test user is kept, scored by popularity
    X_more = np.vstack([np.asarray(X_test), [[10_000, 3]]])
    assert 10_000 in per_user_scores(model, X_more).index


def test_paired_test_matches_scipy(split):
    X_train, X_test = split
    estimators = {"pop": PopularityRecommender(), "knn": ItemKNNRecommender(),
                  "ials": ImplicitALSRecommender(8, n_iter=3, random_state=0)}  # fmt: skip
    per_user = compare(estimators, X_train, X_test, metrics=("ndcg@10",), per_user=True)
    assert {"user", "value"} <= set(per_user.columns)
    for test, scipy_test in [("t", stats.ttest_rel), ("wilcoxon", stats.wilcoxon)]:
        tests = paired_test(per_user, test=test, correction="bonferroni")
        assert tests[["estimator", "baseline"]].values.tolist() == [
            ["knn", "pop"], ["ials", "pop"], ["ials", "knn"],
        ]  # fmt: skip
        wide = per_user.pivot(index="user", columns="estimator", values="value").dropna()
        expected = scipy_test(wide["knn"], wide["pop"])
        row = tests.iloc[0]
        assert row["p_value"] == pytest.approx(expected.pvalue)
        assert row["p_adjusted"] == pytest.approx(min(1.0, 3 * expected.pvalue))
        assert row["mean_difference"] == pytest.approx((wide["knn"] - wide["pop"]).mean())
    # fitting inside gives the same as from per-user results
    direct = paired_test(estimators, X_train, X_test, baseline="pop")
    assert direct["estimator"].tolist() == ["knn", "ials"]
    assert direct["significant"].all()  # both beat popularity on planted structure


def test_identical_models_are_not_significant(split):
    X_train, X_test = split
    tests = paired_test(
        {"a": ItemKNNRecommender(), "b": ItemKNNRecommender()}, X_train, X_test,
        test="wilcoxon",
    )  # fmt: skip
    assert tests["p_value"].item() == 1.0 and not tests["significant"].item()


def test_holm_adjustment():
    p = np.array([0.01, 0.04, 0.03, 0.005])
    # sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> running max 0.06
    np.testing.assert_allclose(_adjust(p, "holm"), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(_adjust(p, "bonferroni"), [0.04, 0.16, 0.12, 0.02])
    np.testing.assert_allclose(_adjust(p, None), p)


def test_errors(split):
    X_train, X_test = split
    with pytest.raises(ValueError, match="n_seeds"):
        compare([PopularityRecommender()], X_train, X_test, n_seeds=0)
    with pytest.raises(ValueError, match="Unknown ranking scorer"):
        compare([PopularityRecommender()], X_train, X_test, metrics=("ndcg@x",))
    with pytest.raises(ValueError, match="duplicate names"):
        compare([("a", PopularityRecommender()), ("a", ItemKNNRecommender())], X_train, X_test)
    with pytest.raises(TypeError, match="estimators"):
        compare({"a": "not a model"}, X_train, X_test)
    with pytest.raises(ValueError, match="at least two"):
        paired_test([PopularityRecommender()], X_train, X_test)
    with pytest.raises(ValueError, match="baseline='x'"):
        paired_test([PopularityRecommender(), ItemKNNRecommender()], X_train, X_test,
                    baseline="x")  # fmt: skip
    with pytest.raises(ValueError, match="test"):
        paired_test([PopularityRecommender()], X_train, X_test, test="z")
    with pytest.raises(ValueError, match="X_train and X_test"):
        paired_test([PopularityRecommender(), ItemKNNRecommender()])
    with pytest.raises(ValueError, match="per-user columns"):
        paired_test(pd.DataFrame({"estimator": ["a"], "value": [1.0]}))
