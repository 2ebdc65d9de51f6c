"""Tests of robustness_report and of make_robustness_scorer with poisoning attacks."""

import numpy as np
import pandas as pd
import pytest
from imblearn.pipeline import Pipeline as ImbPipeline
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_validate

from skadv.attacks import AverageAttack, BandwagonAttack, EmbeddingAttack, RandomAttack
from skadv.baseline import PopularityRecommender
from skadv.datasets import make_interactions
from skadv.detection import FakeUserFilter, ShillingDetector
from skadv.evaluation import make_robustness_scorer, robustness_report
from skadv.evaluation._report import _training_data
from skadv.metrics import average_rank_shift, get_ranking_scorer, target_hit_rate_at_k
from skadv.mf import AdversarialMFRecommender
from skadv.model_selection import UserHoldoutSplit, train_test_split_interactions

COLUMNS = ["attack", "setting", "strength", "threat", "metric", "clean", "attacked", "change",
           "relative_change"]  # fmt: skip


@pytest.fixture(scope="module")
def split():
    X = make_interactions(n_users=150, n_items=80, density=0.08, random_state=0)
    return train_test_split_interactions(X, test_size=0.2, random_state=0)


def mf(**kwargs):
    return AdversarialMFRecommender(n_factors=8, n_epochs=15, random_state=0, **kwargs)


class RecordingAttack(RandomAttack):
    """A RandomAttack that records the users of every dataset it poisons."""

    seen = []

    def fit_resample(self, X, y=None):
        RecordingAttack.seen.append(set(np.asarray(X)[:, 0].tolist()))
        return super().fit_resample(X, y)


def test_report_has_one_row_per_attack_and_metric(split):
    attacks = [BandwagonAttack(attack_size=0.1, random_state=0),
               ("big", BandwagonAttack(attack_size=0.2, random_state=0)),
               EmbeddingAttack("fgsm", 0.5, random_state=0)]  # fmt: skip
    metrics = ["ndcg@10", "target_hr@20", "target_rank"]
    report = robustness_report(mf(), *split, attacks, metrics=metrics)
    assert list(report.columns) == COLUMNS
    # Poisoning attacks get every metric, the model attack only the ranking one.
    assert report.shape[0] == 3 + 3 + 1
    assert report["attack"].tolist()[:6] == ["BandwagonAttack"] * 3 + ["big"] * 3
    assert report["threat"].tolist() == ["poisoning"] * 6 + ["model"]
    assert report.loc[0, "setting"] == "attack_size=0.1, random_state=0"
    assert report["strength"].tolist() == [0.1] * 3 + [0.2] * 3 + [0.5]
    np.testing.assert_allclose(report["change"], report["attacked"] - report["clean"])
    # One clean model: the ranking metric's clean value is shared by every attack.
    assert report.loc[report.metric == "ndcg@10", "clean"].nunique() == 1


def test_report_matches_the_direct_computation(split):
    X_train, X_test = split
    attack = AverageAttack(attack_size=0.1, filler_size=0.1, random_state=3)
    report = robustness_report(mf(), X_train, X_test, [attack],
                               metrics=["ndcg@10", "target_hr@20", "target_rank"])  # fmt: skip
    clean = mf().fit(X_train)
    fitted = clone(attack)
    poisoned = mf().fit(*fitted.fit_resample(X_train))
    users = np.unique(np.asarray(X_train)[:, 0])
    targets = fitted.target_items_
    values = report.set_index("metric")
    assert values.loc["ndcg@10", "clean"] == pytest.approx(clean.score(X_test))
    assert values.loc["ndcg@10", "attacked"] == pytest.approx(poisoned.score(X_test))
    assert values.loc["target_hr@20", "attacked"] == pytest.approx(
        target_hit_rate_at_k(poisoned, users, targets, k=20)
    )
    # Fake users never change a real user's seen items: the valid pairs agree, and the
    # change of the mean rank is minus the average rank shift.
    assert values.loc["target_rank", "change"] == pytest.approx(
        -average_rank_shift(clean, poisoned, users, targets)
    )


def test_a_push_attack_raises_the_targets(split):
    report = robustness_report(
        PopularityRecommender(), *split, [BandwagonAttack(attack_size=0.2, random_state=0)],
        metrics=["target_hr@10", "target_rank"],
    )  # fmt: skip
    values = report.set_index("metric")
    assert values.loc["target_hr@10", "change"] > 0
    assert values.loc["target_rank", "change"] < 0


def test_report_is_deterministic_and_leaves_inputs_alone(split):
    X_train, X_test = split
    before = (X_train.copy(), X_test.copy())
    attacks = [RandomAttack(random_state=0),
               EmbeddingAttack("pgd", 0.3, n_steps=2, random_state=0)]  # fmt: skip
    first = robustness_report(mf(), X_train, X_test, attacks)
    second = robustness_report(mf(), X_train, X_test, attacks)
    pd.testing.assert_frame_equal(first, second)
    np.testing.assert_array_equal(np.asarray(X_train), np.asarray(before[0]))
    np.testing.assert_array_equal(np.asarray(X_test), np.asarray(before[1]))
    assert attacks[0].get_params() == RandomAttack(random_state=0).get_params()
    assert not hasattr(attacks[0], "target_items_")  # the attack given is never fitted


def test_report_never_poisons_the_test_data(split):
    X_train, X_test = split
    RecordingAttack.seen.clear()
    robustness_report(mf(), X_train, X_test, [RecordingAttack(random_state=0)])
    assert RecordingAttack.seen == [set(np.asarray(X_train)[:, 0].tolist())]


def test_a_filtering_defence_runs_inside_the_report(split):
    training_fakes = RandomAttack(attack_size=0.1, filler_size=0.1)
    detector = ShillingDetector(attack=training_fakes, random_state=0)
    defended = ImbPipeline([("filter", FakeUserFilter(detector, random_state=0)),
                            ("model", PopularityRecommender())])  # fmt: skip
    attack = RandomAttack(attack_size=0.1, filler_size=0.1, random_state=1)
    plain = robustness_report(PopularityRecommender(), *split, [attack], metrics=["target_rank"])
    filtered = robustness_report(defended, *split, [attack], metrics=["target_rank"])
    # The detector removes most of the fake users: the targets gain fewer places.
    assert plain.loc[0, "change"] < filtered.loc[0, "change"] <= 0


def test_report_with_ratings(split):
    X_train, X_test = split
    rng = np.random.default_rng(0)
    y_train = rng.integers(1, 6, len(X_train)).astype(float)
    report = robustness_report(
        mf(), X_train, X_test, [AverageAttack(attack_size=0.1, random_state=0)],
        y_train=y_train, metrics=["target_score", "target_ndcg@20"],
    )  # fmt: skip
    assert np.isfinite(report[["clean", "attacked"]].to_numpy()).all()


@pytest.mark.parametrize(
    "attacks, kwargs, error, match",
    [
        ([], {}, ValueError, "attacks is empty"),
        ([PopularityRecommender()], {}, TypeError, "fit_resample"),
        ("RandomAttack", {}, TypeError, "fit_resample"),
        ([RandomAttack()], {"metrics": ["ndcg@ten"]}, ValueError, "Unknown ranking scorer"),
        ([RandomAttack()], {"metrics": [3]}, TypeError, "metric names"),
        ([RandomAttack()], {"users": 5}, TypeError, "users"),
    ],
)
def test_report_rejects_bad_input(split, attacks, kwargs, error, match):
    with pytest.raises(error, match=match):
        robustness_report(PopularityRecommender(), *split, attacks, **kwargs)


# ----------------------------------------------------------------- the poisoning scorer
def test_training_data_round_trips(split):
    model = PopularityRecommender().fit(split[0])
    X, y = _training_data(model)
    assert y is None
    refit = PopularityRecommender().fit(X)
    assert (refit.interactions_ != model.interactions_).nnz == 0


def test_poisoning_scorer_matches_a_manual_refit(split):
    X_train, X_test = split
    attack = BandwagonAttack(attack_size=0.1, random_state=0)
    model = mf().fit(X_train)
    fitted = clone(attack)
    poisoned = mf().fit(*fitted.fit_resample(_training_data(model)[0]))
    users = np.unique(np.asarray(X_test)[:, 0])
    hr = make_robustness_scorer(attack, metric="target_hr@20")
    assert hr(model, X_test) == pytest.approx(
        -target_hit_rate_at_k(poisoned, users, fitted.target_items_, k=20)
    )
    shift = make_robustness_scorer(attack, metric="target_rank", kind="drop")
    assert shift(model, X_test) == pytest.approx(
        -average_rank_shift(model, poisoned, users, fitted.target_items_)
    )
    ndcg = make_robustness_scorer(attack, metric="ndcg@10")
    assert ndcg(model, X_test) == pytest.approx(poisoned.score(X_test))


def test_grid_search_tunes_for_robustness_under_poisoning(split):
    X_train = split[0]
    attack = RecordingAttack(attack_size=0.1, random_state=0)
    cv = UserHoldoutSplit(n_splits=2, test_size=0.25, random_state=0)
    scoring = {
        "clean": get_ranking_scorer("ndcg@10"),
        "robust": make_robustness_scorer(attack, metric="target_rank", kind="drop"),
    }
    RecordingAttack.seen.clear()
    search = GridSearchCV(mf(), {"adv_reg": [0.0, 1.0]}, scoring=scoring, refit="clean",
                          cv=cv).fit(X_train)  # fmt: skip
    assert np.isfinite(search.cv_results_["mean_test_robust"]).all()
    # Only training folds were poisoned: every poisoned dataset is one fold's training part.
    train_folds = [set(np.asarray(X_train)[tr, 0].tolist()) for tr, _ in cv.split(X_train)]
    assert len(RecordingAttack.seen) == 2 * 2
    assert all(any(s == users for users in train_folds) for s in RecordingAttack.seen)


def test_poisoning_inside_an_imblearn_pipeline_keeps_test_folds_clean(split):
    # The other protocol: the attack is a pipeline step, applied in fit only.
    X_train = split[0]
    pipe = ImbPipeline([("attack", RandomAttack(attack_size=0.1, random_state=0)),
                        ("model", PopularityRecommender())])  # fmt: skip
    seen = []

    def test_users(estimator, X, y=None):
        seen.append(set(np.asarray(X)[:, 0].tolist()))
        return 0.0

    cv = UserHoldoutSplit(n_splits=2, test_size=0.25, random_state=0)
    cross_validate(pipe, X_train, cv=cv, scoring=test_users)
    fakes = set(clone(pipe[0]).fit(X_train).fake_user_ids_.tolist())
    assert seen and all(not (users & fakes) for users in seen)


def test_poisoning_scorer_rejects_bad_arguments():
    with pytest.raises(ValueError, match="Unknown ranking scorer"):
        make_robustness_scorer(RandomAttack(), metric="ndcg@ten")
    with pytest.raises(TypeError, match="fit_resample"):
        make_robustness_scorer(PopularityRecommender())
    with pytest.raises(ValueError, match="kind"):
        make_robustness_scorer(RandomAttack(), kind="gain")
