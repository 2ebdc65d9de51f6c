"""End-to-end use inside scikit-learn's model selection, as users write it."""

import pickle
import warnings

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from skadv import AdversarialMFRecommender, PopularityRecommender
from skadv.datasets import make_interactions
from skadv.metrics import get_ranking_scorer, make_ranking_scorer, ndcg_scorer
from skadv.model_selection import UserHoldoutSplit, train_test_split_interactions


@pytest.fixture(scope="module")
def X():
    return make_interactions(n_users=80, n_items=60, density=0.1, random_state=0)


def test_grid_search_popularity_parallel(X):
    search = GridSearchCV(
        PopularityRecommender(),
        {"weighted": [False, True]},
        cv=UserHoldoutSplit(3, random_state=0),
        scoring=make_ranking_scorer("ndcg", k=10),
        n_jobs=2,
    )
    search.fit(X)
    scores = search.cv_results_["mean_test_score"]
    assert scores.shape == (2,) and np.all((scores > 0) & (scores <= 1))
    # Without weights both settings rank identically.
    assert scores[0] == pytest.approx(scores[1])


def test_grid_search_adversarial_weight_and_epsilon_parallel(X):
    search = GridSearchCV(
        AdversarialMFRecommender(n_factors=8, n_epochs=6, random_state=0),
        {"adv_reg": [0.0, 1.0], "epsilon": [0.1, 0.5]},
        cv=UserHoldoutSplit(n_splits=2, random_state=0),
        n_jobs=2,
    )
    X_train, X_test = train_test_split_interactions(X, random_state=0)
    search.fit(X_train)
    assert set(search.best_params_) == {"adv_reg", "epsilon"}
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    # the refit model is usable and GridSearchCV.score is the estimator's NDCG@10
    assert search.score(X_test) == pytest.approx(search.best_estimator_.score(X_test))


@pytest.mark.parametrize(
    "estimator",
    [PopularityRecommender(), AdversarialMFRecommender(n_factors=8, n_epochs=4, random_state=0)],
    ids=["popularity", "mf"],
)
def test_cross_validate_with_several_ranking_scorers(X, estimator):
    scoring = {
        "ndcg": ndcg_scorer,
        "recall@5": get_ranking_scorer("recall@5"),
        "mrr": get_ranking_scorer("mrr"),
        "auc": get_ranking_scorer("auc"),
    }
    result = cross_validate(estimator, X, cv=UserHoldoutSplit(2, random_state=1), scoring=scoring)
    for name in scoring:
        values = result[f"test_{name}"]
        assert values.shape == (2,) and np.all((values >= 0) & (values <= 1))


def _train_and_test_scores(estimator, X):
    search = GridSearchCV(
        estimator,
        {"adv_reg": [0.0, 1.0], "epsilon": [0.05, 0.2]},
        cv=UserHoldoutSplit(n_splits=2, random_state=0),
        return_train_score=True,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search.fit(X)
    messages = [str(w.message) for w in caught]
    assert not [m for m in messages if "non-finite" in m or "Scoring failed" in m], messages
    return search.cv_results_["mean_train_score"], search.cv_results_["mean_test_score"]


def test_grid_search_train_scores_are_finite_and_measure_fit(X):
    train, test = _train_and_test_scores(
        AdversarialMFRecommender(n_factors=8, n_epochs=10, random_state=0), X
    )
    assert np.isfinite(train).all() and np.isfinite(test).all()
    assert train.mean() > test.mean()


@pytest.mark.torch
def test_grid_search_train_scores_neural(X):
    pytest.importorskip("torch")
    from skadv.neural import AdversarialNeuralRecommender

    estimator = AdversarialNeuralRecommender(
        n_factors=8, hidden_layers=(8,), n_epochs=3, batch_size=64, random_state=0
    )
    train, test = _train_and_test_scores(estimator, X)
    assert np.isfinite(train).all() and np.isfinite(test).all()
    assert train.mean() > test.mean()


def test_pipeline_fit_then_score_on_training_data(X):
    pipe = Pipeline([("rec", AdversarialMFRecommender(n_factors=8, n_epochs=4, random_state=0))])
    assert 0 < pipe.fit(X).score(X) <= 1


def test_recommender_as_last_pipeline_step(X):
    pipe = Pipeline(
        [
            ("ids", FunctionTransformer()),
            ("rec", AdversarialMFRecommender(n_factors=8, n_epochs=4)),
        ]
    )
    search = GridSearchCV(pipe, {"rec__epsilon": [0.1, 0.5]}, cv=UserHoldoutSplit(2))
    search.fit(X)
    assert search.best_params_["rec__epsilon"] in (0.1, 0.5)


@pytest.mark.parametrize("dump", ["pickle", "joblib"])
def test_round_trip_keeps_recommendations(X, dump, tmp_path):
    model = clone(AdversarialMFRecommender(n_factors=8, n_epochs=4, random_state=0)).fit(X)
    if dump == "pickle":
        loaded = pickle.loads(pickle.dumps(model))
    else:
        joblib.dump(model, tmp_path / "model.joblib")
        loaded = joblib.load(tmp_path / "model.joblib")
    users = np.unique(X[:, 0])[:20]
    for a, b in zip(model.recommend(users, n=5), loaded.recommend(users, n=5), strict=True):
        np.testing.assert_array_equal(a, b)
