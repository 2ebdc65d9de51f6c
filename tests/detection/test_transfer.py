"""Detection that transfers: co-rating and combined detectors, the training mixture,
leave-one-family-out scoring on planted data (make_interactions)."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from skadv import PopularityRecommender
from skadv.attacks import AverageAttack, BandwagonAttack, RandomAttack, SegmentAttack
from skadv.datasets import make_interactions
from skadv.detection import (
    CamouflageAttack,
    CombinedDetector,
    CoRatingDetector,
    FakeUserFilter,
    PCADetector,
    ShillingDetector,
    training_attacks,
)
from skadv.detection._combined import _calibrate

FAMILIES = {
    "random": RandomAttack,
    "average": AverageAttack,
    "bandwagon": BandwagonAttack,
    "segment": SegmentAttack,
    "camouflage": CamouflageAttack,
}


@pytest.fixture(scope="module")
def planted():
    """500 users, 400 items, about 12 items per user: unpopular targets are rare items."""
    return make_interactions(n_users=500, n_items=400, density=0.03, random_state=0)


def _poison(X, family, size, ratings=False):
    y = np.random.RandomState(0).randint(1, 6, len(X)).astype(float) if ratings else None
    params = {} if family == "camouflage" else {"filler_size": 10}
    attack = FAMILIES[family](attack_size=size, random_state=1, **params)
    X_p, y_p = attack.fit_resample(X, y)
    return X_p, y_p, attack


# ----------------------------------------------------------------- co-rating, auto cut
@pytest.mark.parametrize("family", list(FAMILIES))
def test_co_rating_auto_threshold_flags_a_1_percent_attack(planted, family):
    X_p, _, attack = _poison(planted, family, 0.01)
    detector = CoRatingDetector().fit(X_p)
    flagged = detector.predict(detector.user_ids_).astype(bool)
    is_fake = np.isin(detector.user_ids_, attack.fake_user_ids_)
    assert is_fake.sum() == 5
    assert flagged[is_fake].all()
    assert flagged[~is_fake].sum() <= 0.01 * 500


def test_co_rating_scores_by_hand():
    # Users 0-3 share items 0, 1, 2 (each rated by the same 4 of the 10 users: Jaccard 1,
    # less the 4 * 4 / 10 co-raters of independent items: (4 - 1.6) / 4 = 0.6 with the other
    # two); users 4-9 rate items 3-6 in overlapping pairs, co-rated by fewer than 4.
    X = np.array([[u, i] for u in range(4) for i in range(3)]
                 + [[4 + k, 3 + k % 4] for k in range(6)] + [[4 + k, 3 + (k + 1) % 4]
                                                               for k in range(6)])  # fmt: skip
    detector = CoRatingDetector(min_support=4, n_shared=3).fit(X)
    np.testing.assert_allclose(detector.item_suspicion_, [0.6, 0.6, 0.6, 0, 0, 0, 0])
    np.testing.assert_allclose(detector.proba_, [0.6, 0.6, 0.6, 0.6, 0, 0, 0, 0, 0, 0])
    # 4 of 10 users are no outliers for the automatic cut: a fixed one flags them.
    assert detector.predict([0, 4]).tolist() == [0, 0]
    fixed = CoRatingDetector(min_support=4, n_shared=3, threshold=0.5).fit(X)
    assert fixed.predict([0, 4]).tolist() == [1, 0]
    n_shared_4 = CoRatingDetector(min_support=4, n_shared=4).fit(X)
    assert not n_shared_4.proba_.any()  # nobody holds 4 suspicious items
    with pytest.raises(ValueError, match="min_support"):
        CoRatingDetector(min_support=0).fit(X)


# ----------------------------------------------------------------- the default filter
@pytest.mark.parametrize("ratings", [False, True], ids=["implicit", "ratings"])
@pytest.mark.parametrize("size", [0.01, 0.05])
@pytest.mark.parametrize("family", list(FAMILIES))
def test_default_filter_removes_the_attack_and_few_genuine_users(planted, family, size,
                                                                  ratings):  # fmt: skip
    X_p, y_p, attack = _poison(planted, family, size, ratings)
    filt = FakeUserFilter(random_state=0)
    filt.fit_resample(X_p, y_p)
    assert isinstance(filt.detector_, CombinedDetector)
    removed = set(filt.removed_user_ids_.tolist())
    fake = set(attack.fake_user_ids_.tolist())
    assert fake <= removed
    assert len(removed - fake) <= 0.01 * 500


def test_combined_detector_flags_what_any_component_flags(planted):
    X_p, _, _ = _poison(planted, "random", 0.05)
    combined = CombinedDetector(random_state=0).fit(X_p)
    alone = [CoRatingDetector().fit(X_p), combined.detectors_[1]]
    either = np.zeros(len(combined.user_ids_), dtype=bool)
    for detector in alone:
        either |= detector.predict(combined.user_ids_).astype(bool)
    np.testing.assert_array_equal(combined.predict(combined.user_ids_), either)
    again = CombinedDetector(random_state=0).fit(X_p)
    np.testing.assert_array_equal(combined.proba_, again.proba_)
    share = CombinedDetector(contamination=0.01, random_state=0).fit(X_p)
    flagged = share.predict(share.user_ids_).astype(bool)
    assert flagged.sum() >= round(0.01 * len(share.user_ids_))  # more only through ties
    assert share.proba_[flagged].min() > share.proba_[~flagged].max()


def test_calibration_puts_each_cut_at_one_half():
    proba = np.array([0.0, 0.1, 0.2, 0.6, 1.0])
    np.testing.assert_allclose(_calibrate(proba, 0.2), [0.0, 0.25, 0.5, 0.75, 1.0])
    assert ((_calibrate(proba, 0.2) > 0.5) == (proba > 0.2)).all()


def test_combined_detector_errors(planted):
    with pytest.raises(TypeError, match="'detectors'"):
        CombinedDetector([PopularityRecommender()]).fit(planted)
    with pytest.raises(ValueError, match="'detectors'.*empty"):
        CombinedDetector([]).fit(planted)
    with pytest.raises(TypeError, match="'detectors'"):
        CombinedDetector(PCADetector()).fit(planted)


def test_pca_max_participation_decides_the_attack_components(planted):
    X_p, _, _ = _poison(planted, "random", 0.05)
    none = PCADetector(n_components=5, max_participation=1e-6, random_state=0).fit(X_p)
    assert not none.attack_components_.any() and (none.proba_ <= 0.5).all()
    with pytest.raises(ValueError, match="max_participation"):
        PCADetector(max_participation=0.0).fit(X_p)


# ----------------------------------------------------------------- the training mixture
def test_training_mixture_covers_every_family_and_leaves_one_out():
    batches = training_attacks()
    kinds = {type(a) for a in batches}
    assert kinds == set(FAMILIES.values())
    assert {a.target_popularity for a in batches} == {"unpopular", "popular", "any"}
    assert len({(type(a), a.attack_size) for a in batches}) == len(batches)
    left = training_attacks(exclude=["bandwagon"])
    assert BandwagonAttack not in {type(a) for a in left} and len(left) == len(batches) - 2
    assert len(training_attacks(exclude="segment")) == len(batches) - 2
    with pytest.raises(ValueError, match="exclude"):
        training_attacks(exclude=["sybil"])


def test_camouflaged_profiles_have_genuine_lengths_and_popular_fillers(planted):
    attack = CamouflageAttack(attack_size=0.1, n_targets=2, random_state=0)
    X_p, _ = attack.fit_resample(planted)
    lengths = np.unique(planted[:, 0], return_counts=True)[1]
    fake_rows = X_p[attack.sample_mask_]
    fake_lengths = np.unique(fake_rows[:, 0], return_counts=True)[1]
    assert fake_lengths.min() >= 3 and fake_lengths.max() <= max(lengths.max(), 3)
    assert len(set(fake_lengths.tolist())) > 1  # one length per profile, not one per batch
    popularity = np.bincount(planted[:, 1], minlength=400)
    fillers = fake_rows[~np.isin(fake_rows[:, 1], attack.target_items_), 1]
    assert popularity[fillers].mean() > 1.5 * popularity.mean()


def test_detector_trains_on_the_mixture_and_checks_the_list(planted):
    detector = ShillingDetector(training_attacks(exclude=["segment", "camouflage"])[:2], cv=2,
                                random_state=0).fit(planted)  # fmt: skip
    assert len(detector.attacks_) == 2
    assert len(detector.training_fake_ids_) == sum(a.n_fake_users_ for a in detector.attacks_)
    default = ShillingDetector(cv=2, random_state=0).fit(planted)
    assert len(default.attacks_) == len(training_attacks())
    with pytest.raises(TypeError, match="'attack'"):
        ShillingDetector([RandomAttack(), "bandwagon"]).fit(planted)
    with pytest.raises(ValueError, match="'attack'.*empty"):
        ShillingDetector([]).fit(planted)


# ----------------------------------------------------------------- leave one family out
_NO_TRANSFER = pytest.mark.xfail(
    strict=True,
    reason="implicit average-attack fillers are drawn by popularity and look genuine to the "
    "profile features: ranked near chance although left out of the genuine training users",
)


@pytest.mark.parametrize(
    "family",
    ["random", "bandwagon", "segment", pytest.param("average", marks=_NO_TRANSFER),
     "camouflage"],
)  # fmt: skip
def test_supervised_detector_ranks_a_family_it_never_trained_on(planted, family):
    X_p, _, attack = _poison(planted, family, 0.05)
    detector = ShillingDetector(training_attacks(exclude=[family]), cv=3, random_state=0)
    detector.fit(X_p)
    trained_on = {type(a) for a in detector.attacks_}
    assert FAMILIES[family] not in trained_on
    is_fake = np.isin(detector.user_ids_, attack.fake_user_ids_)
    assert roc_auc_score(is_fake, detector.proba_) > 0.75
