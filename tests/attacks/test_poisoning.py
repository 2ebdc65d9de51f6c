"""Shilling attacks: fake rows marked, targets and budgets respected, seeds, inputs, errors."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.model_selection import GridSearchCV

from skadv import PopularityRecommender
from skadv.attacks import AverageAttack, BandwagonAttack, RandomAttack, SegmentAttack
from skadv.model_selection import UserHoldoutSplit

ATTACKS = [RandomAttack, AverageAttack, BandwagonAttack, SegmentAttack]


@pytest.fixture
def X(synthetic_interactions):
    return synthetic_interactions


@pytest.mark.parametrize("Attack", ATTACKS)
def test_fake_rows_are_marked_and_appended(Attack, X):
    attack = Attack(attack_size=0.05, filler_size=6, random_state=0)
    X_res, y_res = attack.fit_resample(X)
    assert y_res is None and X_res.dtype == np.int64
    np.testing.assert_array_equal(X_res[: len(X)], X)
    assert not attack.sample_mask_[: len(X)].any() and attack.sample_mask_[len(X) :].all()
    fake = X_res[attack.sample_mask_]
    n_real = len(np.unique(X[:, 0]))
    assert attack.n_fake_users_ == round(0.05 * n_real) == len(attack.fake_user_ids_)
    np.testing.assert_array_equal(np.unique(fake[:, 0]), attack.fake_user_ids_)
    assert attack.fake_user_ids_.min() > X[:, 0].max()  # fresh ids
    assert set(fake[:, 1]) <= set(X[:, 1])
    assert not pd.DataFrame(fake).duplicated().any()


@pytest.mark.parametrize("Attack", ATTACKS)
def test_every_profile_holds_the_targets_and_respects_the_budget(Attack, X, ratings):
    attack = Attack(target_items=[3, 17], filler_size=5, random_state=0)
    X_res, y_res = attack.fit_resample(X, ratings)
    np.testing.assert_array_equal(attack.target_items_, [3, 17])
    fake, r = X_res[attack.sample_mask_], y_res[attack.sample_mask_]
    n_selected = len(getattr(attack, "selected_items_", []))
    for user in attack.fake_user_ids_:
        items = fake[fake[:, 0] == user, 1]
        assert {3, 17} <= set(items.tolist())
        assert len(items) == 2 + n_selected + 5
    assert (r[np.isin(fake[:, 1], [3, 17])] == 5.0).all()  # push: r_max
    assert r.min() >= 1.0 and r.max() <= 5.0 and np.all(r == np.round(r))
    np.testing.assert_array_equal(y_res[: len(X)], ratings)


def test_default_targets_are_five_unpopular_items(X):
    attack = RandomAttack(random_state=0).fit(X)
    popularity = pd.Series(X[:, 1]).value_counts()
    assert len(attack.target_items_) == 5
    third = np.sort(popularity.to_numpy())[int(np.ceil(len(popularity) / 3)) - 1]
    assert (popularity[attack.target_items_] <= third).all()
    popular = RandomAttack(target_popularity="popular", random_state=0).fit(X)
    assert popularity[popular.target_items_].min() >= third


def test_nuke_rates_targets_lowest(X, ratings):
    attack = AverageAttack(target_items=[5], goal="nuke", random_state=0)
    X_res, y_res = attack.fit_resample(X, ratings)
    fake = attack.sample_mask_
    assert (y_res[fake][X_res[fake, 1] == 5] == 1.0).all()


@settings(max_examples=20)
@given(attack_index=st.integers(0, len(ATTACKS) - 1),
       value=st.floats(0.0, 100.0, allow_nan=False, allow_infinity=False))  # fmt: skip
def test_nuke_refuses_ratings_that_all_tie(attack_index, value):
    # Every rating equal: r_min == r_max, so a "nuke" would rate the targets like every
    # other item and, by adding interactions, push them.
    X = np.array([[u, i] for u in range(12) for i in range(8) if (u + i) % 3], dtype=np.int64)
    y = np.full(len(X), value)
    attack = ATTACKS[attack_index](target_items=[1], filler_size=2, goal="nuke", random_state=0)
    with pytest.raises(ValueError, match="every rating y equals"):
        attack.fit_resample(X, y)
    # A push, or a nuke on a scale given by rating_range, is fine.
    attack.set_params(goal="push").fit_resample(X, y)
    nuke = attack.set_params(goal="nuke", rating_range=(value - 1.0, value))
    X_res, y_res = nuke.fit_resample(X, y)
    targets = nuke.sample_mask_ & (X_res[:, 1] == 1)
    assert targets.any() and np.all(y_res[targets] == value - 1.0)


def test_average_attack_rates_fillers_near_item_means(X):
    y = np.where(X[:, 1] % 2 == 0, 5.0, 1.0)  # even items always 5, odd always 1
    attack = AverageAttack(target_items=[0], filler_size=0.5, random_state=0)
    X_res, y_res = attack.fit_resample(X, y)
    fake = attack.sample_mask_ & (X_res[:, 1] != 0)
    np.testing.assert_array_equal(y_res[fake], np.where(X_res[fake, 1] % 2 == 0, 5.0, 1.0))


def test_bandwagon_selects_most_popular_and_segment_fillers_are_minimal(X, ratings):
    popularity = pd.Series(X[:, 1]).value_counts()
    band = BandwagonAttack(target_items=[1], n_selected=2, random_state=0).fit(X)
    assert set(band.selected_items_) == set(popularity.index[:2])
    seg = SegmentAttack(target_items=[1], filler_size=4, random_state=0)
    X_res, y_res = seg.fit_resample(X, ratings)
    fake = seg.sample_mask_
    filler = fake & ~np.isin(X_res[:, 1], np.r_[seg.selected_items_, [1]])
    assert filler.sum() == 4 * seg.n_fake_users_ and (y_res[filler] == 1.0).all()
    assert SegmentAttack(target_items=[1], random_state=0).fit(X).n_filler_ == 0  # implicit


@pytest.mark.parametrize("Attack", ATTACKS)
def test_same_seed_same_profiles_and_inputs_untouched(Attack, X, ratings):
    X_copy, y_copy = X.copy(), ratings.copy()
    a = Attack(filler_size=4, random_state=3).fit_resample(X, ratings)
    b = Attack(filler_size=4, random_state=3).fit_resample(X, ratings)
    c = Attack(filler_size=4, random_state=4).fit_resample(X, ratings)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0]) or not np.array_equal(a[1], c[1])
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(ratings, y_copy)


def test_string_ids_and_dataframe_container(X):
    frame = pd.DataFrame({"user": [f"u{u}" for u in X[:, 0]], "item": X[:, 1]})
    attack = BandwagonAttack(filler_size=3, random_state=0)
    X_res, _ = attack.fit_resample(frame)
    assert isinstance(X_res, pd.DataFrame)
    pd.testing.assert_frame_equal(X_res.iloc[: len(frame)], frame)
    assert attack.fake_user_ids_[0] == "synthetic-0"
    assert set(X_res["user"][attack.sample_mask_]) == set(attack.fake_user_ids_)


def test_imblearn_pipeline_poisons_training_folds_only_in_grid_search(X):
    imblearn_pipeline = pytest.importorskip("imblearn.pipeline")
    seen = []

    class Recording(PopularityRecommender):
        def fit(self, X, y=None):
            self.fit_rows_ = np.asarray(X)
            return super().fit(X, y)

    def scoring(estimator, X_test, y=None):
        seen.append(np.asarray(X_test))
        return estimator.score(X_test)

    pipe = imblearn_pipeline.Pipeline(
        [("attack", RandomAttack(filler_size=5, random_state=0)), ("rec", Recording())]
    )
    cv = UserHoldoutSplit(n_splits=2, random_state=0)
    search = GridSearchCV(pipe, {"attack__attack_size": [0.02, 0.1]}, cv=cv, scoring=scoring,
                          refit=False)  # fmt: skip
    search.fit(X)
    tests = [X[test] for _, test in cv.split(X)]
    for batch in seen:  # test folds reach the scorer unpoisoned
        assert max(len(batch) == len(t) and np.array_equal(batch, t) for t in tests)
    pipe.fit(X)
    rows = pipe.named_steps["rec"].fit_rows_
    assert len(rows) == len(X) + pipe.named_steps["attack"].sample_mask_.sum()
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


@pytest.mark.parametrize(
    "params, match",
    [
        ({"attack_size": 0.0}, "attack_size"),
        ({"attack_size": 2.0}, "attack_size"),
        ({"filler_size": -1}, "filler_size"),
        ({"filler_size": 10_000}, "filler_size"),
        ({"goal": "sink"}, "goal"),
        ({"target_items": [999_999]}, "target_items"),
        ({"target_items": 3}, "target_items"),
        ({"target_popularity": "rare"}, "target_popularity"),
        ({"n_targets": 0}, "n_targets"),
        ({"rating_range": (5, 1)}, "rating_range"),
        ({"goal": "nuke"}, "y"),
    ],
)
def test_bad_parameters_name_the_argument(X, params, match):
    with pytest.raises(ValueError, match=match):
        RandomAttack(**params).fit_resample(X)


def test_bad_input_is_rejected(X):
    with pytest.raises(ValueError, match="shape"):
        RandomAttack().fit_resample(np.column_stack([X, X[:, :1]]))
    with pytest.raises(ValueError, match="inconsistent"):
        RandomAttack().fit_resample(X, np.ones(3))
    with pytest.raises(ValueError, match="selected_items"):
        BandwagonAttack(selected_items=["nope"]).fit_resample(X)
