"""Rules of ``skadv.base.BaseRecommender`` that every recommender inherits.

Ids of the wrong type, DataFrame columns, ``positive_threshold`` without ``y``, finite
``predict`` scores for unknown items.
"""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline

from skadv import AdversarialMFRecommender, PopularityRecommender
from skadv.base import UNKNOWN_ITEM_SCORE

X = np.array([[0, 0], [0, 1], [1, 0], [2, 0], [2, 2], [3, 1]])
X_STR = X.astype(str).astype(object)


def _mf():
    return AdversarialMFRecommender(n_factors=4, n_epochs=2, random_state=0)


ESTIMATORS = [PopularityRecommender, _mf]


# ----------------------------------------------------------------- id types
@pytest.mark.parametrize("make", ESTIMATORS, ids=["popularity", "mf"])
@pytest.mark.parametrize(
    "call",
    [
        lambda m: m.recommend(["0", "1"]),
        lambda m: m.predict([["0", "1"]]),
        lambda m: m.score([["0", "1"]]),
    ],
    ids=["recommend", "predict", "score"],
)
def test_string_ids_on_int_model_name_the_cast(make, call):
    model = make().fit(X)
    with pytest.raises(TypeError, match=r"str ids .* fitted on int ids: cast them to int"):
        call(model)


def test_string_items_on_int_model_name_the_item_column():
    model = PopularityRecommender().fit(X)
    with pytest.raises(TypeError, match=r"X \(item column\) holds str ids"):
        model.predict([[0, "1"]])


@pytest.mark.parametrize(
    "call",
    [lambda m: m.recommend([0]), lambda m: m.predict([[0, 1]]), lambda m: m.score([[0, 1]])],
    ids=["recommend", "predict", "score"],
)
def test_int_ids_on_string_model_name_the_cast(call):
    model = PopularityRecommender().fit(X_STR)
    with pytest.raises(TypeError, match=r"int ids .* fitted on str ids: cast them to str"):
        call(model)


def test_dataframe_of_string_ids_on_int_model():
    model = PopularityRecommender().fit(X)
    frame = pd.DataFrame({"user": ["196"], "item": ["1"]})
    with pytest.raises(TypeError, match="cast"):
        model.predict(frame)


def test_mixed_type_unknown_ids_follow_handle_unknown():
    model = PopularityRecommender().fit(X)
    items, _ = model.recommend([0, "new user"], n=2)  # mixed: "new user" is unknown
    assert items[1].tolist() == [0, 1]  # popularity
    strict = PopularityRecommender(handle_unknown="error").fit(X)
    with pytest.raises(ValueError, match="handle_unknown='error'"):
        strict.recommend([0, "new user"])


def test_mixed_type_model_accepts_either_type():
    model = PopularityRecommender().fit([[0, "a"], ["u", "b"], [1, "a"]])
    assert model.recommend([0, "u", "unknown"], n=1)[0].shape == (3, 1)


# ----------------------------------------------------------------- DataFrame columns
def test_dataframe_with_other_column_names_is_rejected():
    frame = pd.DataFrame({"movie_id": [10, 20], "user_id": [1, 2]})
    with pytest.raises(ValueError, match="rename the user and item columns to 'user' and 'item'"):
        PopularityRecommender().fit(frame)


def test_dataframe_with_user_and_item_columns_is_read_by_name():
    frame = pd.DataFrame({"item": [10, 20, 10], "user": [1, 2, 2], "rating": [5, 3, 4]})
    model = PopularityRecommender().fit(frame)
    assert model.user_ids_.tolist() == [1, 2] and model.item_ids_.tolist() == [10, 20]


# ----------------------------------------------------------------- positive_threshold
@pytest.mark.parametrize("make", ESTIMATORS, ids=["popularity", "mf"])
def test_positive_threshold_without_y_raises_in_fit(make):
    model = make().set_params(positive_threshold=4)
    with pytest.raises(ValueError, match="positive_threshold=4 needs the ratings: pass them as y"):
        model.fit(X)


def test_positive_threshold_without_y_raises_in_partial_fit():
    model = _mf().set_params(positive_threshold=4).fit(X, np.full(len(X), 5.0))
    with pytest.raises(ValueError, match="pass them as y"):
        model.partial_fit([[9, 0]])


def test_positive_threshold_applies_with_y():
    y = np.array([5, 5, 1, 5, 5, 5.0])
    model = PopularityRecommender(positive_threshold=4).fit(X, y)
    assert model.interactions_.nnz == 5  # (1, 0) rated 1 dropped


# ----------------------------------------------------------------- predict
def test_unknown_items_get_the_lowest_finite_score():
    model = PopularityRecommender().fit(X)
    scores = model.predict([[0, 0], [0, 99], [99, 99], [99, 2]])
    assert np.isfinite(scores).all()
    assert scores[1] == scores[2] == UNKNOWN_ITEM_SCORE == np.finfo(np.float64).min
    assert scores[1] < scores[[0, 3]].min()


def test_predict_with_unknown_items_works_with_roc_auc_score():
    model = _mf().fit(X)
    pairs = np.array([[0, 0], [1, 1], [2, 2], [0, 98], [3, 99], [1, 2]])
    y_true = np.array([1, 0, 1, 0, 0, 1])
    scores = model.predict(pairs)
    assert np.isfinite(scores).all()
    # The unknown items (rows 3 and 4, irrelevant) rank below every known one.
    known = model.predict(pairs[[0, 1, 2, 5]])
    expected = roc_auc_score(
        y_true, np.r_[scores[:3], [known.min() - 1, known.min() - 1], scores[5]]
    )
    assert roc_auc_score(y_true, scores) == pytest.approx(expected)


# ----------------------------------------------------------------- Pipeline
def test_pipeline_score_on_training_data():
    pipe = Pipeline([("rec", _mf())]).fit(X)
    assert 0 < pipe.score(X) <= 1
    assert pipe.score(X) == pipe.named_steps["rec"].score(X)


# ----------------------------------------------------------------- argument checks
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n": 0}, r"'n' parameter of PopularityRecommender.recommend .* \[1, inf\); got 0"),
        ({"n": 2.0}, "'n' parameter"),
        ({"exclude_seen": 1}, "'exclude_seen' parameter .* a bool"),
    ],
)
def test_recommend_names_bad_arguments(kwargs, match):
    model = PopularityRecommender().fit(X)
    with pytest.raises(ValueError, match=match):
        model.recommend([0], **kwargs)
