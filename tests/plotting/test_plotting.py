"""skadv.plotting: figures are produced, axes labelled, the artists hold the inputs."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.model_selection import GridSearchCV

from skadv import AdversarialMFRecommender, PopularityRecommender
from skadv.metrics import robustness_curve
from skadv.model_selection import UserHoldoutSplit
from skadv.plotting import (
    GridSearchHeatmapDisplay,
    InteractionDistributionDisplay,
    RobustnessCurveDisplay,
    TrainingCurveDisplay,
)

plt = pytest.importorskip("matplotlib.pyplot")


@pytest.fixture(scope="module")
def models(small_split):
    X_train, _ = small_split
    common = dict(n_factors=8, n_epochs=6, random_state=0)
    return {
        "BPR": AdversarialMFRecommender(adv_reg=0.0, **common).fit(X_train),
        "APR": AdversarialMFRecommender(adv_start=2, early_stopping=True, **common).fit(X_train),
    }


def test_import_skadv_does_not_import_matplotlib():
    code = "import sys, skadv, skadv.plotting; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_training_curves_hold_the_fitted_curves(models):
    model = models["APR"]
    display = TrainingCurveDisplay.from_estimator(model, name="APR")
    assert set(display.lines_) == {"loss", "adv_loss", "validation"}
    epochs = np.arange(1, model.n_iter_ + 1)
    assert_array_equal(display.lines_["loss"].get_xdata(), epochs)
    assert_allclose(display.lines_["loss"].get_ydata(), model.loss_curve_)
    assert_allclose(display.lines_["adv_loss"].get_ydata(), model.adv_loss_curve_)  # NaN too
    assert_allclose(display.lines_["validation"].get_ydata(), model.validation_scores_)
    assert display.ax_.get_xlabel() == "epoch"
    assert display.ax_.get_ylabel() == "mean loss per sample"
    assert display.validation_ax_.get_ylabel() == "validation NDCG@10"
    labels = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert labels == ["APR: clean loss", "APR: adversarial loss", "APR: validation NDCG@10"]
    assert display.figure_ is display.ax_.figure


def test_training_curves_of_plain_bpr_have_no_adversarial_line(models):
    display = TrainingCurveDisplay.from_estimator(models["BPR"])
    assert set(display.lines_) == {"loss"}
    assert display.validation_ax_ is None


def test_training_curves_of_the_gan_show_both_players(small_split):
    pytest.importorskip("torch")
    from skadv.augmentation import CFGANRecommender

    gan = CFGANRecommender((16,), (16,), n_epochs=3, random_state=0).fit(small_split[0])
    display = TrainingCurveDisplay.from_estimator(gan)
    assert_allclose(display.lines_["loss"].get_ydata(), gan.loss_curve_)
    assert_allclose(display.lines_["adv_loss"].get_ydata(), gan.discriminator_loss_curve_)
    labels = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert labels == ["generator loss", "discriminator loss"]


def test_training_curves_draw_on_given_axes():
    _, ax = plt.subplots()
    display = TrainingCurveDisplay.from_curves([3.0, 2.0, 1.0], ax=ax)
    assert display.ax_ is ax
    assert_allclose(display.lines_["loss"].get_ydata(), [3.0, 2.0, 1.0])


def test_training_curves_need_a_fitted_estimator():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        TrainingCurveDisplay.from_estimator(AdversarialMFRecommender())


@pytest.mark.parametrize("mode", ["absolute", "relative"])
def test_robustness_curves_of_several_models(small_split, models, mode):
    _, X_test = small_split
    eps = [0.0, 0.2, 0.5]
    display = RobustnessCurveDisplay.from_estimators(
        models, X_test, eps, epsilon_mode=mode, random_state=0
    )
    for name, model in models.items():
        expected = robustness_curve(model, X_test, eps, epsilon_mode=mode, random_state=0)
        assert_allclose(display.lines_[name].get_xdata(), eps)
        assert_allclose(display.lines_[name].get_ydata(), expected["attacked"])
    assert display.epsilon_mode_ == mode
    assert display.ax_.get_xlabel().startswith(f"ε ({mode}: ")
    assert display.ax_.get_ylabel() == "NDCG@10"
    assert [t.get_text() for t in display.ax_.get_legend().get_texts()] == ["BPR", "APR"]


def test_robustness_relative_drop_from_curves():
    curve = pd.DataFrame(
        {
            "epsilon": [0.0, 1.0],
            "epsilon_mode": "absolute",
            "clean": 0.4,
            "attacked": [0.4, 0.3],
            "relative_drop": [0.0, 0.25],
        }  # fmt: skip
    )
    display = RobustnessCurveDisplay.from_curves({"m": curve}, y="relative_drop")
    assert_allclose(display.lines_["m"].get_ydata(), [0.0, 0.25])
    assert display.ax_.get_ylabel() == "relative drop of NDCG@10"


def test_robustness_curves_refuse_mixed_epsilon_modes():
    base = {"epsilon": [0.1], "clean": 0.4, "attacked": 0.3, "relative_drop": 0.25}
    curves = {
        "a": pd.DataFrame({**base, "epsilon_mode": "absolute"}),
        "b": pd.DataFrame({**base, "epsilon_mode": "relative"}),
    }
    with pytest.raises(ValueError, match="mix epsilon modes"):
        RobustnessCurveDisplay.from_curves(curves)


def test_robustness_curve_needs_a_dot_product_model(small_split):
    X_train, X_test = small_split
    with pytest.raises((TypeError, ValueError, AttributeError)):
        RobustnessCurveDisplay.from_estimator(PopularityRecommender().fit(X_train), X_test, [0.1])


def test_heatmap_from_grid_search(small_split):
    X_train, _ = small_split
    grid = [{"adv_reg": [0.0]}, {"adv_reg": [0.5, 1.0], "epsilon": [0.05, 0.1, 0.2]}]
    search = GridSearchCV(
        AdversarialMFRecommender(n_factors=4, n_epochs=2, random_state=0),
        grid,
        cv=UserHoldoutSplit(n_splits=2, random_state=0),
    ).fit(X_train)
    display = GridSearchHeatmapDisplay.from_estimator(search)
    results = pd.DataFrame(search.cv_results_)
    assert display.scores.shape == (2, 3)
    for row, lam in enumerate([0.5, 1.0]):
        for col, eps in enumerate([0.05, 0.1, 0.2]):
            match = (results["param_adv_reg"] == lam) & (results["param_epsilon"] == eps)
            expected = results.loc[match, "mean_test_score"].item()
            assert display.scores[row, col] == pytest.approx(expected)
            assert display.text_[row, col].get_text() == f"{expected:.3f}"
    assert_allclose(display.image_.get_array(), display.scores)
    assert display.ax_.get_xlabel() == "epsilon"
    assert display.ax_.get_ylabel() == "adv_reg"
    assert [t.get_text() for t in display.ax_.get_xticklabels()] == ["0.05", "0.1", "0.2"]
    assert display.colorbar_.ax.get_ylabel() == "mean_test_score"


def test_heatmap_leaves_missing_cells_empty():
    cv_results = {
        "param_adv_reg": [0.5, 1.0, 1.0],
        "param_epsilon": [0.1, 0.1, 0.2],
        "mean_test_score": [0.3, 0.2, 0.1],
    }
    display = GridSearchHeatmapDisplay.from_cv_results(cv_results)
    assert np.isnan(display.scores[0, 1])
    assert display.text_[0, 1] is None
    assert display.image_.get_array().mask[0, 1]


def test_heatmap_refuses_shared_cells_and_unknown_columns():
    cv_results = {
        "param_adv_reg": [0.5, 0.5],
        "param_epsilon": [0.1, 0.1],
        "param_reg": [0.0, 0.1],
        "mean_test_score": [0.3, 0.2],
    }
    with pytest.raises(ValueError, match="another parameter varies"):
        GridSearchHeatmapDisplay.from_cv_results(cv_results)
    with pytest.raises(ValueError, match="param_n_factors"):
        GridSearchHeatmapDisplay.from_cv_results(cv_results, x="n_factors")


def test_distributions_hold_the_counts():
    real = np.array([[0, 0], [0, 1], [0, 1], [1, 1], [2, 0], [2, 1], [2, 2]])
    fake = np.array([[10, 2], [10, 3], [11, 2]])
    display = InteractionDistributionDisplay.from_interactions(
        real, np.vstack([real, fake]), labels=("clean", "poisoned"), n_bins=4
    )
    # profile lengths (repeated pair counted once): real 2, 1, 3; poisoned also 2, 1
    assert_allclose(display.lines_["clean"].get_ydata(), [3, 2, 1])  # items 1, 0, 2
    assert_allclose(display.lines_["poisoned"].get_ydata(), [3, 3, 2, 1])
    expected, _ = np.histogram([2, 1, 3], bins=display.bins_)
    assert_allclose(display.histograms_["clean"], expected / 3)
    drawn = display.axes_[0].patches[0].get_data().values
    assert_allclose(drawn, display.histograms_["clean"])
    assert display.axes_[0].get_xlabel() == "profile length (distinct items per user)"
    assert display.axes_[1].get_ylabel() == "distinct users per item"
    legend = [t.get_text() for t in display.axes_[1].get_legend().get_texts()]
    assert legend == ["clean (3 items)", "poisoned (4 items)"]


def test_distributions_accept_dataframes_with_string_ids():
    X = pd.DataFrame({"user": ["a", "a", "b"], "item": ["x", "y", "x"]})
    display = InteractionDistributionDisplay.from_interactions(X, X.iloc[:2])
    assert_allclose(display.lines_["real"].get_ydata(), [2, 1])
    assert_allclose(display.lines_["generated"].get_ydata(), [1, 1])


def test_distributions_need_two_labels():
    X = np.array([[0, 0]])
    with pytest.raises(ValueError, match="two distinct"):
        InteractionDistributionDisplay.from_interactions(X, X, labels=("a", "a"))


# ----------------------------------------------------------------- poisoning curves
def _poisoning_reports(small_split):
    from skadv.attacks import BandwagonAttack, RandomAttack
    from skadv.baseline import PopularityRecommender
    from skadv.metrics import robustness_report

    attacks = [(type(a).__name__, a) for size in (0.05, 0.15, 0.1)
               for a in (BandwagonAttack(attack_size=size, random_state=0),
                         RandomAttack(attack_size=size, random_state=0))]  # fmt: skip
    model = AdversarialMFRecommender(n_factors=8, n_epochs=5, random_state=0)
    return {
        name: robustness_report(est, *small_split, attacks, metrics=["target_rank", "ndcg@10"])
        for name, est in {"MF": model, "popularity": PopularityRecommender()}.items()
    }


def test_poisoning_curves_hold_one_line_per_model_and_attack(small_split):
    from skadv.plotting import PoisoningCurveDisplay

    reports = _poisoning_reports(small_split)
    display = PoisoningCurveDisplay.from_reports(reports, metric="target_rank", y="change")
    assert set(display.lines_) == {(m, a) for m in ("MF", "popularity")
                                   for a in ("BandwagonAttack", "RandomAttack")}  # fmt: skip
    x, y = display.lines_[("popularity", "RandomAttack")].get_data()
    np.testing.assert_array_equal(x, [0.05, 0.1, 0.15])  # sorted by strength
    rows = reports["popularity"].query("metric == 'target_rank' and attack == 'RandomAttack'")
    np.testing.assert_allclose(y, rows.sort_values("strength")["change"])
    assert "attack size" in display.ax_.get_xlabel()
    assert "change of target_rank" in display.ax_.get_ylabel()


def test_poisoning_curves_refuse_bad_reports(small_split):
    from skadv.plotting import PoisoningCurveDisplay

    reports = _poisoning_reports(small_split)
    with pytest.raises(ValueError, match="no 'target_hr@50' rows"):
        PoisoningCurveDisplay.from_reports(reports)
    with pytest.raises(ValueError, match="lacks the columns"):
        PoisoningCurveDisplay.from_reports({"x": pd.DataFrame({"metric": ["ndcg@10"]})})
    with pytest.raises(ValueError, match="y must be one of"):
        PoisoningCurveDisplay.from_reports(reports, metric="ndcg@10", y="drop")
