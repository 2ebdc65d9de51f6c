"""ProfileFeatures, ShillingDetector and FakeUserFilter, alone and in pipelines."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from skadv import PopularityRecommender
from skadv.attacks import AverageAttack, RandomAttack
from skadv.detection import FakeUserFilter, PCADetector, ProfileFeatures, ShillingDetector


@pytest.fixture
def X(synthetic_interactions):
    return synthetic_interactions


def test_features_by_hand():
    X = np.array([[0, 0], [0, 1], [1, 0], [2, 1], [2, 2]])
    y = np.array([5.0, 1.0, 3.0, 3.0, 4.0])
    pf = ProfileFeatures(n_neighbors=1).fit(X, y)
    F = pf.transform(X, y)
    names = list(pf.get_feature_names_out())
    assert names == ["length", "LengthVar", "DegSim", "MeanPop", "RDMA", "WDMA", "WDA",
                     "MeanVar", "FMTD"]  # fmt: skip
    col = dict(zip(names, F.T, strict=True))
    np.testing.assert_array_equal(col["length"], [2, 1, 2])
    # item means: 0 -> 4, 1 -> 2, 2 -> 4; popularity 2, 2, 1. User 0: |5-4|/2 + |1-2|/2;
    # user 2: |3-2|/2 + |4-4|/1.
    np.testing.assert_allclose(col["WDA"], [1.0, 0.5, 0.5])
    np.testing.assert_allclose(col["RDMA"], [0.5, 0.5, 0.25])
    np.testing.assert_allclose(col["WDMA"], [0.25, 0.25, 0.125])
    np.testing.assert_allclose(col["FMTD"], [4.0, 0.0, 1.0])  # user 1 has no filler
    np.testing.assert_allclose(col["MeanVar"], [1.0, 0.0, 1.0])
    np.testing.assert_allclose(col["LengthVar"], np.abs([2, 1, 2] - np.mean([2, 1, 2])) / (2 / 3))
    # user 1's only neighbour: user 0 (cosine 5*3 / (|(5,1)| * 3)).
    assert col["DegSim"][1] == pytest.approx(5 / np.sqrt(26))
    implicit = ProfileFeatures().fit(X)
    assert implicit.transform(X).shape == (3, 4)
    with pytest.raises(ValueError, match="ratings y"):
        pf.transform(X)


@pytest.mark.parametrize("Attack", [RandomAttack, AverageAttack])
def test_detector_separates_injected_profiles(Attack, X, ratings):
    attack = Attack(attack_size=0.1, filler_size=0.1, random_state=1)
    X_p, y_p = attack.fit_resample(X, ratings)
    detector = ShillingDetector(Attack(attack_size=0.1, filler_size=0.1), random_state=0)
    detector.fit(X_p, y_p)
    is_fake = np.isin(detector.user_ids_, attack.fake_user_ids_)
    assert roc_auc_score(is_fake, detector.decision_function(detector.user_ids_)) > 0.9
    proba = detector.predict_proba(detector.user_ids_)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(detector.predict(detector.user_ids_),
                                  (proba[:, 1] > detector.threshold_).astype(int))  # fmt: skip


def test_detector_seed_classifier_and_errors(X):
    a = ShillingDetector(random_state=0).fit(X)
    b = ShillingDetector(random_state=0).fit(X)
    np.testing.assert_array_equal(a.scores_, b.scores_)
    lr = ShillingDetector(classifier=LogisticRegression(max_iter=500), random_state=0).fit(X)
    assert lr.scores_.shape == (len(np.unique(X[:, 0])),)
    with pytest.raises(ValueError, match="user_ids"):
        a.predict([10**9])
    with pytest.raises(TypeError, match="'classifier'"):
        ShillingDetector(classifier="rf").fit(X)
    with pytest.raises(TypeError, match="'attack'"):
        ShillingDetector(attack=PopularityRecommender()).fit(X)
    with pytest.raises(ValueError, match="cv"):
        ShillingDetector(cv=1).fit(X)
    with pytest.raises(ValueError, match="threshold"):
        ShillingDetector(threshold="high").fit(X)
    with pytest.raises(ValueError, match="contamination"):
        ShillingDetector(contamination=0.9).fit(X)


def test_filter_drops_flagged_users_only(X):
    attack = RandomAttack(attack_size=0.1, filler_size=0.1, random_state=1)
    X_p, _ = attack.fit_resample(X)
    X_copy = X_p.copy()
    filt = FakeUserFilter(ShillingDetector(RandomAttack(attack_size=0.1, filler_size=0.1)),
                          random_state=0)  # fmt: skip
    X_f, y_f = filt.fit_resample(X_p)
    np.testing.assert_array_equal(X_p, X_copy)
    assert y_f is None and not filt.sample_mask_.any()
    np.testing.assert_array_equal(X_f, X_p[filt.kept_mask_])
    assert not set(X_f[:, 0]) & set(filt.removed_user_ids_)
    assert set(filt.removed_user_ids_) & set(attack.fake_user_ids_)


def test_filter_keeps_dataframe_and_ratings(X, ratings):
    frame = pd.DataFrame({"user": X[:, 0], "item": X[:, 1], "r": ratings})
    filt = FakeUserFilter(ShillingDetector(threshold=0.0), random_state=0)
    X_f, y_f = filt.fit_resample(frame, ratings)
    assert isinstance(X_f, pd.DataFrame) and len(X_f) == len(y_f) == filt.kept_mask_.sum()
    np.testing.assert_array_equal(y_f, ratings[filt.kept_mask_])


def test_attack_filter_recommender_imblearn_pipeline(X):
    imblearn_pipeline = pytest.importorskip("imblearn.pipeline")
    pipe = imblearn_pipeline.Pipeline([
        ("attack", RandomAttack(attack_size=0.1, filler_size=0.1, random_state=1)),
        ("filter", FakeUserFilter(ShillingDetector(RandomAttack(attack_size=0.1,
                                                                 filler_size=0.1)),
                                  random_state=0)),
        ("rec", PopularityRecommender()),
    ])  # fmt: skip
    pipe.fit(X)
    removed = set(pipe.named_steps["filter"].removed_user_ids_)
    fake = set(pipe.named_steps["attack"].fake_user_ids_)
    assert removed & fake
    assert not removed & set(pipe.named_steps["rec"].user_ids_)
    assert 0.0 <= pipe.score(X[:100]) <= 1.0


def test_filter_rejects_a_non_detector(X):
    with pytest.raises(TypeError, match="'detector'"):
        FakeUserFilter(PopularityRecommender()).fit_resample(X)


def test_filter_accepts_an_unsupervised_detector(X):
    filt = FakeUserFilter(PCADetector(contamination=0.05), random_state=0)
    X_f, _ = filt.fit_resample(X)
    n_users = len(np.unique(X[:, 0]))
    assert len(filt.removed_user_ids_) == round(0.05 * n_users)
    assert not set(X_f[:, 0]) & set(filt.removed_user_ids_)
