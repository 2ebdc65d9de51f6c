import pickle

import joblib
import numpy as np
import pytest

from skadv import PopularityRecommender

X = np.array([[0, 0], [0, 1], [1, 0], [2, 0], [2, 2], [3, 1]])


def test_ranks_by_number_of_users():
    model = PopularityRecommender().fit(X)
    np.testing.assert_array_equal(model.item_scores_, [3, 2, 1])
    items, scores = model.recommend([5], n=3)  # unknown user: plain popularity
    assert items.tolist() == [[0, 1, 2]] and scores.tolist() == [[3, 2, 1]]


def test_weighted_uses_y():
    y = np.array([1, 10, 1, 1, 50, 1.0])
    model = PopularityRecommender(weighted=True).fit(X, y)
    assert model.item_ids_[np.argmax(model.item_scores_)] == 2


def test_recommend_excludes_seen_and_pads_with_minus_inf():
    model = PopularityRecommender().fit(X)
    items, scores = model.recommend([0], n=3)
    assert items[0, 0] == 2 and np.isneginf(scores[0, 1:]).all()
    items, _ = model.recommend([0], n=3, exclude_seen=False)
    assert items.tolist() == [[0, 1, 2]]


def test_predict_handles_unknown_ids():
    model = PopularityRecommender().fit(X)
    scores = model.predict([[0, 0], [99, 1], [0, 99]])
    assert scores[0] == 3 and scores[1] == 2 and scores[2] == np.finfo(np.float64).min


def test_handle_unknown_error():
    model = PopularityRecommender(handle_unknown="error").fit(X)
    with pytest.raises(ValueError, match="users not seen in fit"):
        model.recommend([99])
    with pytest.raises(ValueError, match="items not seen in fit"):
        model.predict([[0, 99]])


def test_score_is_ndcg_at_10():
    model = PopularityRecommender().fit(X)
    # user 1 held out item 1: candidates 1 (pop 2) and 2 (pop 1) -> item 1 ranked first.
    assert model.score([[1, 1]]) == pytest.approx(1.0)
    # user 1 held out item 2: ranked second -> 1 / log2(3).
    assert model.score([[1, 2]]) == pytest.approx(1 / np.log2(3))


@pytest.mark.parametrize("dump", ["pickle", "joblib"])
def test_persistence_keeps_recommendations(dump, tmp_path):
    model = PopularityRecommender().fit(X)
    if dump == "pickle":
        loaded = pickle.loads(pickle.dumps(model))
    else:
        joblib.dump(model, tmp_path / "m.joblib")
        loaded = joblib.load(tmp_path / "m.joblib")
    np.testing.assert_array_equal(loaded.recommend([0, 1, 7])[0], model.recommend([0, 1, 7])[0])


@pytest.mark.parametrize(
    "params,match",
    [({"handle_unknown": "ignore"}, "handle_unknown"), ({"weighted": 1}, "weighted")],
)
def test_invalid_params(params, match):
    with pytest.raises(ValueError, match=match):
        PopularityRecommender(**params).fit(X)
