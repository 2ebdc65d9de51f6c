"""Tests of the ranking scorers in ``skadv.metrics._scorer``."""

import math
import pickle

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from skadv import PopularityRecommender
from skadv.metrics import (
    auc_scorer,
    get_ranking_scorer,
    hit_rate_scorer,
    make_ranking_scorer,
    map_scorer,
    mrr_scorer,
    ndcg_at_k,
    ndcg_scorer,
    precision_scorer,
    recall_at_k,
    recall_scorer,
)

# Popularity in TRAIN: a 3, b 2, c 1, d 1 (c and d tie).
TRAIN = [[0, "a"], [1, "a"], [2, "a"], [0, "b"], [1, "b"], [1, "c"], [2, "d"]]
# user 0: candidates c, d (tied): d ranks 2nd, after the irrelevant c (pessimistic ties)
# user 1: candidate d only: rank 1
# user 2: candidates b (rank 1), c; plus "z", unknown to the model: relevant, never retrieved
# user 3: unknown user, ranked by popularity over all items: a at rank 1
TEST = [[0, "d"], [1, "d"], [2, "b"], [2, "z"], [3, "a"]]


@pytest.fixture
def model():
    return PopularityRecommender().fit(TRAIN)


def test_ndcg_scorer_hand_computed(model):
    per_user = [1 / math.log2(3), 1.0, 1 / (1 + 1 / math.log2(3)), 1.0]
    value = make_ranking_scorer(ndcg_at_k, k=2)(model, TEST)
    assert value == pytest.approx(np.mean(per_user), rel=1e-12)


@pytest.mark.parametrize(("k", "per_user"), [(1, [0, 1, 0.5, 1]), (10, [1, 1, 0.5, 1])])
def test_unknown_items_count_as_misses(model, k, per_user):
    # with k=10 every known candidate is retrieved, yet "z" stays a miss for user 2
    value = make_ranking_scorer(recall_at_k, k=k)(model, TEST)
    assert value == pytest.approx(np.mean(per_user), rel=1e-12)


def test_weights_are_graded_gains_for_ndcg(model):
    # user 2 only: b (gain 3) at rank 1, z (gain 1) never retrieved
    value = make_ranking_scorer(ndcg_at_k, k=2)(model, [[2, "b"], [2, "z"]], [3.0, 1.0])
    assert value == pytest.approx(3 / (3 + 1 / math.log2(3)), rel=1e-12)


def test_scorer_equals_metric_on_explicit_matrices(model):
    # no unknown ids: the scorer is the metric on (test users x items) matrices
    test = [[0, "c"], [0, "d"], [2, "b"], [2, "c"], [1, "d"]]
    y_true = np.array([[0, 0, 1, 1], [0, 0, 0, 1], [0, 1, 1, 0]])
    exclude = model.interactions_.toarray() > 0
    y_score = np.tile(model.item_scores_, (3, 1))
    expected = ndcg_at_k(y_true, y_score, k=2, exclude=exclude)
    scorer = make_ranking_scorer(ndcg_at_k, k=2, batch_size=2)
    assert scorer(model, test) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("batch_size", [1, 2, 3])
@pytest.mark.parametrize(
    "metric", ["ndcg", "recall", "precision", "hit_rate", "map", "mrr", "auc"]
)
def test_batch_size_does_not_change_the_score(model, metric, batch_size):
    one_batch = make_ranking_scorer(metric, k=2)(model, TEST)
    assert make_ranking_scorer(metric, k=2, batch_size=batch_size)(model, TEST) == (
        pytest.approx(one_batch, rel=1e-12)
    )


def test_auc_scorer_hand_computed(model):
    # user 0: d vs c tied -> 0; user 1: no irrelevant candidate -> skipped;
    # user 2: b beats c, z (unknown) beats nothing -> 1/2; user 3: a beats b, c, d -> 1
    assert auc_scorer(model, TEST) == pytest.approx((0 + 0.5 + 1) / 3, rel=1e-12)


def test_score_method_is_ndcg_at_10(model):
    assert model.score(TEST) == ndcg_scorer(model, TEST)


def test_training_items_in_X_stay_candidates(model):
    # User 1 trained on a, b, c. Scoring X = {(1, a), (1, c)} excludes only b (a training
    # item not in X): candidates a (3), c (1), d (1). a is at rank 1; c ties with the
    # irrelevant d and ranks 3rd (pessimistic ties), outside the top 2.
    value = make_ranking_scorer(ndcg_at_k, k=2)(model, [[1, "a"], [1, "c"]])
    assert value == pytest.approx(1 / (1 + 1 / math.log2(3)), rel=1e-12)
    # The same pairs as held-out data of a model that never saw them: the usual protocol.
    held_out = PopularityRecommender().fit([[0, "a"], [2, "a"], [0, "b"], [1, "b"], [2, "d"]])
    # user 1 trained on b only: candidates a (2), d (1), c (unknown: never retrieved)
    value = make_ranking_scorer(ndcg_at_k, k=2)(held_out, [[1, "a"], [1, "c"]])
    assert value == pytest.approx(1 / (1 + 1 / math.log2(3)), rel=1e-12)


def test_score_on_the_training_data_measures_the_fit(model):
    # Every training item is relevant and ranked: popularity ranks a, b, then c/d.
    assert 0 < model.score(TRAIN) <= 1
    assert recall_scorer(model, TRAIN) == pytest.approx(1.0)  # <= 3 items each, k=10


def test_no_relevant_pair_is_undefined(model):
    with pytest.raises(ValueError, match="undefined for every test user"):
        recall_scorer(model, [[1, "a"]], [0.0])


def test_threshold_without_y_counts_every_pair_as_relevant():
    model = PopularityRecommender(positive_threshold=4).fit(TRAIN, [5, 5, 5, 5, 5, 5, 5])
    # With y the threshold applies: (2, "b") rated 1 is not relevant, only (0, "d") is.
    with_y = recall_scorer(model, [[0, "d"], [2, "b"]], [5, 1])
    assert with_y == pytest.approx(recall_scorer(model, [[0, "d"]]))
    # Without y both pairs are relevant.
    assert recall_scorer(model, [[0, "d"], [2, "b"]]) == pytest.approx(
        np.mean([recall_scorer(model, [[0, "d"]]), recall_scorer(model, [[2, "b"]])])
    )


def test_handle_unknown_error_raises():
    model = PopularityRecommender(handle_unknown="error").fit(TRAIN)
    with pytest.raises(ValueError, match="handle_unknown='error'"):
        ndcg_scorer(model, TEST)


def upper_items(X):
    """Module-level (picklable) transform that renames every item id."""
    X = np.asarray(X, dtype=object).copy()
    X[:, 1] = [str(i).upper() for i in X[:, 1]]
    return X


def test_pipeline_passes_X_through_transformers(model):
    pipe = Pipeline(
        [("rename", FunctionTransformer(upper_items)), ("rec", PopularityRecommender())]
    ).fit(TRAIN)
    assert pipe[-1].item_ids_.tolist() == ["A", "B", "C", "D"]
    # without transforming the test ids every item would be unknown (score 0)
    assert ndcg_scorer(pipe, TEST) == pytest.approx(ndcg_scorer(model, TEST), rel=1e-12)
    identity = Pipeline([("id", FunctionTransformer()), ("rec", PopularityRecommender())])
    assert ndcg_scorer(identity.fit(TRAIN), TEST) == ndcg_scorer(model, TEST)


class ResampleOnly:
    """A training-time resampler (as in imbalanced-learn): it has no ``transform``."""

    def fit_resample(self, X, y=None):
        raise AssertionError("a scorer must never resample test data")


def test_pipeline_skips_steps_without_transform_and_passthrough(model):
    # assembled from fitted parts: sklearn's Pipeline would refuse to fit ResampleOnly
    pipe = Pipeline([("resample", ResampleOnly()), ("skip", "passthrough"), ("rec", model)])
    assert ndcg_scorer(pipe, TEST) == ndcg_scorer(model, TEST)


def test_non_recommender_is_rejected():
    with pytest.raises(TypeError, match="skadv recommender"):
        ndcg_scorer(FunctionTransformer().fit(TRAIN), TEST)


def _interactions(seed):
    rng = np.random.default_rng(seed)
    pairs = np.column_stack([rng.integers(0, 30, 400), rng.zipf(1.5, 400) % 50])
    return np.unique(pairs, axis=0)


def test_cross_validate_with_index_pairs_and_scorer_dict():
    X = _interactions(0)
    perm = np.random.default_rng(1).permutation(len(X))
    cut = len(X) // 4
    folds = [
        (np.sort(perm[cut:]), np.sort(perm[:cut])),
        (np.sort(perm[:-cut]), np.sort(perm[-cut:])),
    ]
    recall_5 = get_ranking_scorer("recall@5")
    result = cross_validate(
        PopularityRecommender(),
        X,
        cv=folds,
        scoring={"ndcg": ndcg_scorer, "recall": recall_5},
        error_score="raise",
    )
    for fold, (train, test) in enumerate(folds):
        fitted = PopularityRecommender().fit(X[train])
        assert result["test_ndcg"][fold] == pytest.approx(ndcg_scorer(fitted, X[test]))
        assert result["test_recall"][fold] == pytest.approx(recall_5(fitted, X[test]))
    assert np.all((result["test_ndcg"] > 0) & (result["test_ndcg"] <= 1))


def test_grid_search_selects_with_a_ranking_scorer():
    X = _interactions(2)
    folds = [(np.arange(0, len(X), 2), np.arange(1, len(X), 2))]
    search = GridSearchCV(
        PopularityRecommender(),
        {"weighted": [False, True]},
        cv=folds,
        scoring=map_scorer,
        error_score="raise",
    ).fit(X)
    assert search.cv_results_["mean_test_score"].shape == (2,)
    assert 0 < search.best_score_ <= 1


@pytest.mark.parametrize(
    "scorer",
    [
        ndcg_scorer,
        recall_scorer,
        precision_scorer,
        hit_rate_scorer,
        map_scorer,
        mrr_scorer,
        auc_scorer,
        get_ranking_scorer("recall@3"),
    ],
)
def test_scorers_pickle(model, scorer):
    clone = pickle.loads(pickle.dumps(scorer))
    assert repr(clone) == repr(scorer)
    assert clone(model, TEST) == scorer(model, TEST)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ndcg@10", "make_ranking_scorer(ndcg_at_k, k=10, batch_size=None)"),
        ("recall@20", "make_ranking_scorer(recall_at_k, k=20, batch_size=None)"),
        ("precision@5", "make_ranking_scorer(precision_at_k, k=5, batch_size=None)"),
        ("hit_rate@1", "make_ranking_scorer(hit_rate_at_k, k=1, batch_size=None)"),
        ("MAP@3", "make_ranking_scorer(map_at_k, k=3, batch_size=None)"),
        ("ndcg", "make_ranking_scorer(ndcg_at_k, k=10, batch_size=None)"),
        ("mrr", "make_ranking_scorer(mrr, batch_size=None)"),
        ("auc", "make_ranking_scorer(auc, batch_size=None)"),
    ],
)
def test_get_ranking_scorer_parses_names(name, expected):
    assert repr(get_ranking_scorer(name)) == expected


@pytest.mark.parametrize("name", ["ndcg@0", "mrr@10", "auc@5", "foo", "ndcg@", "recall@x", ""])
def test_get_ranking_scorer_rejects_unknown_names(name):
    with pytest.raises(ValueError, match=r"valid names: 'ndcg@K'.*'mrr', 'auc'"):
        get_ranking_scorer(name)


def test_get_ranking_scorer_needs_a_string():
    with pytest.raises(TypeError, match="'name' parameter of get_ranking_scorer must be a str"):
        get_ranking_scorer(ndcg_at_k)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((len,), {}, TypeError, "'metric' .* ranking functions .*; got <built-in"),
        (("ndgc",), {}, ValueError, r"'metric' .* one of 'ndcg', .*; got 'ndgc'"),
        ((ndcg_at_k, 0), {}, ValueError, r"'k' .* int in the range \[1, inf\); got 0"),
        ((ndcg_at_k, 2.0), {}, TypeError, "'k' .*; got 2.0"),
        ((ndcg_at_k,), {"batch_size": 0}, ValueError, "batch_size"),
        ((ndcg_at_k,), {"batch_size": 1.5}, TypeError, "batch_size"),
    ],
)
def test_make_ranking_scorer_rejects_bad_arguments(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        make_ranking_scorer(*args, **kwargs)
