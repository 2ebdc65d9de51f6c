"""The contamination tie rule, the automatic outlier cut and FakeUserFilter's refusals."""

import numpy as np
import pytest

from skadv.datasets import make_interactions
from skadv.detection import FakeUserFilter, PCADetector
from skadv.detection._base import contamination_threshold


@pytest.mark.parametrize("n_positive", [0, 1, 3, 20])
def test_contamination_on_mostly_zero_scores_never_flags_everyone(n_positive):
    # 200 users, 5 % asked (10); all but n_positive tie at 0.
    proba = np.zeros(200)
    proba[:n_positive] = np.linspace(0.9, 0.2, n_positive)
    flagged = proba > contamination_threshold(proba, 0.05)
    assert flagged.sum() == min(n_positive, 10)
    assert not flagged[proba == 0].any()


def test_contamination_flags_ties_above_zero_together():
    proba = np.r_[np.full(5, 0.8), np.full(12, 0.3), np.zeros(183)]
    flagged = proba > contamination_threshold(proba, 0.05)  # 10 asked: cut inside the 0.3 tie
    assert flagged.sum() == 17  # the fraction plus the ties above zero, no zero
    assert not flagged[proba == 0].any()


@pytest.mark.parametrize("value", [0.0, 0.7])
def test_contamination_with_every_score_tied_flags_nobody(value):
    proba = np.full(50, value)
    assert not (proba > contamination_threshold(proba, 0.5)).any()


def test_contamination_rule_is_the_detectors_rule():
    X = make_interactions(n_users=120, n_items=60, random_state=0)
    detector = PCADetector(n_components=3, contamination=0.05, random_state=0).fit(X)
    assert detector.threshold_ == contamination_threshold(detector.proba_, 0.05)


def test_filter_refuses_an_empty_training_set():
    X = make_interactions(n_users=60, n_items=40, random_state=0)
    # Every proba of PCADetector is >= 0 and almost surely > 0 somewhere below 1: a
    # threshold of 0 flags every user with a positive score; make them all positive.
    detector = PCADetector(n_components=2, threshold=0.0, random_state=0)
    fitted = detector.fit(X)
    assert (fitted.proba_ > 0).all()
    with pytest.raises(ValueError, match=r"FakeUserFilter.*threshold=0\.0"):
        FakeUserFilter(detector).fit_resample(X)
