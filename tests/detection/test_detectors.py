"""Decision rules, user-grouped scoring, the PCA and discriminator detectors, detection_scores."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.ensemble import IsolationForest, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from skadv import PopularityRecommender
from skadv.attacks import RandomAttack
from skadv.datasets import make_interactions
from skadv.detection import PCADetector, ShillingDetector
from skadv.detection._base import _decision_threshold, f1_threshold
from skadv.metrics._detection import detection_scores


@pytest.fixture(scope="module")
def poisoned():
    """300 users, 200 items, a 5 % random attack with 10 fillers (15 fake users)."""
    X = make_interactions(n_users=300, n_items=200, random_state=0)
    attack = RandomAttack(attack_size=0.05, filler_size=10, random_state=1)
    X_p, _ = attack.fit_resample(X)
    return X_p, attack


# ----------------------------------------------------------------- decision rule
def test_f1_threshold_by_hand():
    # Separated classes: the middle of the gap between 0.2 and 0.7.
    assert f1_threshold(np.array([0.1, 0.2, 0.7, 0.9]), np.array([0, 0, 1, 1])) == pytest.approx(
        0.45
    )
    # Sorted .9(1) .8(0) .7(1) .3(0) .1(0): F1 of the top 1, 2, 3 is 2/3, 1/2, 4/5; the top 3
    # it is, cut midway between .7 and .3.
    scores, labels = np.array([0.1, 0.8, 0.7, 0.9, 0.3]), np.array([0, 0, 1, 1, 0])
    assert f1_threshold(scores, labels) == pytest.approx(0.5)
    # Ties are flagged together: the cut never splits the two 0.6.
    cut = f1_threshold(np.array([0.6, 0.6, 0.2]), np.array([1, 0, 0]))
    assert cut < 0.6


@pytest.mark.parametrize("contamination", [0.1, 0.25, 0.5])
def test_contamination_flags_that_share(contamination):
    proba = np.linspace(0.0, 1.0, 20)
    cut = _decision_threshold(proba, "auto", contamination, 0.5)
    assert (proba > cut).sum() == round(contamination * 20)


def test_contamination_keeps_ties_together():
    proba = np.array([0.1, 0.2, 0.9, 0.9])
    assert (proba > _decision_threshold(proba, "auto", 0.25, 0.5)).sum() == 2


def test_threshold_and_contamination_of_a_detector(poisoned):
    X_p, _ = poisoned
    auto = ShillingDetector(cv=3, random_state=0).fit(X_p)
    fixed = ShillingDetector(cv=3, threshold=0.3, random_state=0).fit(X_p)
    share = ShillingDetector(cv=3, contamination=0.1, random_state=0).fit(X_p)
    np.testing.assert_array_equal(auto.proba_, fixed.proba_)  # the rule only moves the cut
    assert fixed.threshold_ == 0.3
    np.testing.assert_array_equal(fixed.predict(fixed.user_ids_), fixed.proba_ > 0.3)
    flagged = share.predict(share.user_ids_).astype(bool)
    assert flagged.sum() >= round(0.1 * len(share.user_ids_))  # more only through ties
    assert share.proba_[flagged].min() > share.proba_[~flagged].max()
    np.testing.assert_allclose(auto.decision_function(auto.user_ids_),
                               auto.proba_ - auto.threshold_)  # fmt: skip


def test_auto_threshold_finds_the_hidden_attack():
    X = make_interactions(n_users=100, n_items=60, random_state=0)
    attack = RandomAttack(attack_size=0.1, filler_size=10, random_state=1)
    X_p, _ = attack.fit_resample(X)
    detector = ShillingDetector(RandomAttack(attack_size=0.1, filler_size=10), random_state=0)
    scores = detection_scores(detector, X_p, attack.fake_user_ids_)
    assert scores["roc_auc"] > 0.95
    assert scores["f1"] > 0.8  # one batch, one pass and a 0.5 cut flagged 4 of the 10


def test_second_pass_excludes_the_suspects(poisoned):
    X_p, attack = poisoned
    one = ShillingDetector(RandomAttack(attack_size=0.1, filler_size=10), cv=3,
                           exclude_suspects=0.0, random_state=0).fit(X_p)  # fmt: skip
    two = ShillingDetector(RandomAttack(attack_size=0.1, filler_size=10), cv=3,
                           random_state=0).fit(X_p)  # fmt: skip
    assert not one.suspects_.any()
    assert two.suspects_.sum() == round(0.2 * len(two.user_ids_))
    is_fake = np.isin(two.user_ids_, attack.fake_user_ids_)
    # Hidden fakes are trained on as genuine in one pass only: they score lower there.
    assert two.proba_[is_fake].mean() > one.proba_[is_fake].mean()


# ----------------------------------------------------------------- no label leak
_FITS = []


class _SpyForest(RandomForestClassifier):
    """Records the rows every clone is trained on and scores (module-level: clones share it)."""

    def fit(self, X, y, sample_weight=None):
        self._record = {
            "train": {tuple(r) for r in X},
            "labels": list(zip(map(tuple, X), y, strict=True)),
        }
        _FITS.append(self._record)
        self._record["scored"] = set()
        return super().fit(X, y, sample_weight)

    def predict_proba(self, X):
        self._record["scored"] |= {tuple(r) for r in X}
        return super().predict_proba(X)


def test_scored_users_are_never_training_rows(poisoned):
    X_p, attack = poisoned
    _FITS.clear()
    detector = ShillingDetector(RandomAttack(attack_size=0.1, filler_size=10),
                                _SpyForest(n_estimators=10, random_state=0), cv=3,
                                random_state=0).fit(X_p)  # fmt: skip
    # The features of every row the detector saw: X_p plus its own injected batch.
    X_all = X_p
    for batch in detector.attacks_:
        X_all, _ = clone(batch).fit_resample(X_all)
    ids, F = detector.features_.transform_users(X_all)
    # Short profiles of the synthetic data share feature rows: check the unique rows,
    # which include every fake profile (15 items).
    rows = [tuple(r) for r in F]
    counts = {r: rows.count(r) for r in set(rows)}
    row_of = {r: u for r, u in zip(rows, ids, strict=True) if counts[r] == 1}
    unique = set(row_of)
    hidden = set(attack.fake_user_ids_.tolist())
    assert hidden <= set(row_of.values())
    out_of_fold = _FITS[:-1]  # the last fit is classifier_, trained on everything for inspection
    assert len(out_of_fold) == 2 * 3  # two passes of three user-group folds
    for record in out_of_fold:
        assert record["scored"] and not record["scored"] & record["train"] & unique
        positives = {row_of[r] for r, label in record["labels"] if label == 1 and r in unique}
        assert positives <= set(detector.training_fake_ids_.tolist())
        assert not positives & hidden  # the evaluated attack is never a training positive
    assert not set(detector.training_fake_ids_.tolist()) & set(detector.user_ids_.tolist())
    assert len(detector.attacks_) == 3  # batches with their own targets
    assert len({tuple(a.target_items_) for a in detector.attacks_}) == 3


# ----------------------------------------------------------------- PCA
def test_pca_detector_ranks_the_attack_first(poisoned):
    X_p, attack = poisoned
    detector = PCADetector(random_state=0).fit(X_p)
    is_fake = np.isin(detector.user_ids_, attack.fake_user_ids_)
    assert roc_auc_score(is_fake, detector.decision_function(detector.user_ids_)) > 0.95
    assert detector.attack_components_.any()
    assert np.all((detector.proba_ >= 0) & (detector.proba_ <= 1))
    again = PCADetector(random_state=0).fit(X_p)
    np.testing.assert_allclose(detector.proba_, again.proba_)


def test_pca_detector_takes_ratings_and_checks_input(poisoned):
    X_p, _ = poisoned
    y = np.random.RandomState(0).randint(1, 6, len(X_p)).astype(float)
    assert PCADetector(n_components=3, random_state=0).fit(X_p, y).n_components_ == 3
    with pytest.raises(ValueError, match="n_components"):
        PCADetector(n_components=0).fit(X_p)
    with pytest.raises(ValueError, match="2 users"):
        PCADetector().fit(np.array([[0, 0], [0, 1]]))


# ----------------------------------------------------------------- discriminator
@pytest.fixture(scope="module")
def tiny_gan():
    pytest.importorskip("torch")
    from skadv.augmentation import CFGANRecommender

    return CFGANRecommender((8,), (8,), noise_dim=4, n_epochs=2, random_state=0)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_discriminator_detector_reads_the_realism_score(tiny_gan):
    from sklearn.frozen import FrozenEstimator

    from skadv.detection import DiscriminatorDetector

    X = make_interactions(n_users=60, n_items=30, random_state=0)
    detector = DiscriminatorDetector(tiny_gan).fit(X)
    users, realism = detector.gan_.discriminator_score(X)
    np.testing.assert_array_equal(detector.user_ids_, users)
    np.testing.assert_allclose(detector.proba_, 1.0 - realism)
    assert detector.threshold_ == 0.5
    frozen = DiscriminatorDetector(FrozenEstimator(clone(tiny_gan).fit(X))).fit(X)
    np.testing.assert_allclose(frozen.proba_, detector.proba_)
    with pytest.raises(TypeError, match="'gan'"):
        DiscriminatorDetector(PopularityRecommender()).fit(X)


# ----------------------------------------------------------------- detection_scores
def test_detection_scores_values_and_errors(poisoned):
    X_p, attack = poisoned
    scores = detection_scores(PCADetector(random_state=0), X_p, attack.fake_user_ids_)
    assert set(scores) >= {"precision", "recall", "f1", "roc_auc", "average_precision"}
    assert all(0.0 <= scores[k] <= 1.0 for k in ("precision", "recall", "f1", "roc_auc"))
    assert scores["n_fake"] == len(attack.fake_user_ids_)
    with pytest.raises(ValueError, match="not users of X"):
        detection_scores(PCADetector(), X_p, [10**9])
    with pytest.raises(ValueError, match="some but not all"):
        detection_scores(PCADetector(), X_p, [])
    with pytest.raises(TypeError, match="fake_user_ids"):
        detection_scores(PCADetector(), X_p, 3)


class _Unfitted(BaseEstimator):
    """Has the three methods, but fit stores no user_ids_."""

    def fit(self, X, y=None):
        return self

    def predict(self, user_ids):
        return np.zeros(len(user_ids), dtype=np.int64)

    def decision_function(self, user_ids):
        return np.zeros(len(user_ids))


@pytest.mark.parametrize(
    "not_a_detector",
    [
        PopularityRecommender(),  # predict of (user, item) rows, no decision_function
        LogisticRegression(),  # a classifier: predict of feature rows
        IsolationForest(random_state=0),  # an outlier detector of feature rows
        RandomAttack(),  # a sampler
        "ShillingDetector",
        None,
        _Unfitted(),
    ],
    ids=lambda d: type(d).__name__,
)
def test_detection_scores_refuses_what_is_not_a_detector(poisoned, not_a_detector):
    X_p, attack = poisoned
    with pytest.raises(TypeError, match="detector must be a shilling detector"):
        detection_scores(not_a_detector, X_p, attack.fake_user_ids_)
