"""Tests of robustness_curve and make_robustness_scorer."""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from skadv.attacks import EmbeddingAttack
from skadv.base import BaseRecommender
from skadv.baseline import PopularityRecommender
from skadv.datasets import make_interactions
from skadv.evaluation import make_robustness_scorer, robustness_curve
from skadv.metrics import get_ranking_scorer, ndcg_at_k
from skadv.mf import AdversarialMFRecommender
from skadv.model_selection import UserHoldoutSplit, train_test_split_interactions

COLUMNS = [
    "epsilon",
    "epsilon_mode",
    "clean",
    "attacked",
    "relative_drop",
    "user_norm",
    "item_norm",
]


class SVDModel(BaseRecommender):
    """Dot-product recommender fitted by truncated SVD: a model without a trainer."""

    def __init__(self, n_factors=4, *, handle_unknown="popularity", positive_threshold=None):
        self.n_factors = n_factors
        self.handle_unknown = handle_unknown
        self.positive_threshold = positive_threshold

    def fit(self, X, y=None):
        self._fit_interactions(X, y)
        U, S, Vt = np.linalg.svd(self.interactions_.toarray(), full_matrices=False)
        k = self.n_factors
        self.user_factors_ = U[:, :k] * np.sqrt(S[:k])
        self.item_factors_ = Vt[:k].T * np.sqrt(S[:k])
        return self

    def _user_item_scores(self, user_codes):
        return self.user_factors_[user_codes] @ self.item_factors_.T


@pytest.fixture(scope="module")
def split():
    X = make_interactions(n_users=200, n_items=100, density=0.08, random_state=0)
    return train_test_split_interactions(X, test_size=0.2, random_state=0)


@pytest.fixture(scope="module")
def svd_model(split):
    return SVDModel(n_factors=6).fit(split[0])


@pytest.fixture(scope="module")
def mf_model(split):
    # Plain BPR (adv_reg=0) without item biases: the model whose fragility the attacks must
    # reveal. (With the default item biases, 20 epochs on this data leave FGSM at relative
    # 0.5 level with random noise: 0.204 against 0.199; at 100 epochs 0.191 against 0.205.)
    model = AdversarialMFRecommender(
        n_factors=8, n_epochs=20, adv_reg=0.0, item_bias=False, random_state=0
    )
    return model.fit(split[0])


def _mean_norm(M):
    return float(np.linalg.norm(M, axis=1).mean())


# --------------------------------------------------------------------- robustness_curve
def test_curve_has_one_row_per_epsilon_and_the_documented_columns(svd_model, split):
    curve = robustness_curve(svd_model, split[1], [0.0, 0.1, 1.0], random_state=0)
    assert isinstance(curve, pd.DataFrame)
    assert curve.columns.tolist() == COLUMNS
    assert curve["epsilon"].tolist() == [0.0, 0.1, 1.0]
    assert (curve["epsilon_mode"] == "absolute").all()
    clean = get_ranking_scorer("ndcg@10")(svd_model, split[1])
    np.testing.assert_allclose(curve["clean"], clean)


def test_curve_norm_columns_are_mean_row_norms(svd_model, split):
    curve = robustness_curve(svd_model, split[1], [0.5], epsilon_mode="relative", random_state=0)
    assert curve["user_norm"].iloc[0] == pytest.approx(_mean_norm(svd_model.user_factors_))
    assert curve["item_norm"].iloc[0] == pytest.approx(_mean_norm(svd_model.item_factors_))
    assert curve["epsilon_mode"].iloc[0] == "relative"


def test_epsilon_zero_reproduces_the_clean_model(svd_model, split):
    row = robustness_curve(svd_model, split[1], [0.0], random_state=0).iloc[0]
    assert row["attacked"] == row["clean"]
    assert row["relative_drop"] == 0.0


def test_attacked_and_drop_match_the_attack_and_the_scorer(svd_model, split):
    curve = robustness_curve(svd_model, split[1], [0.3], metric="recall@5", random_state=1)
    attacked_model = EmbeddingAttack("fgsm", 0.3, random_state=1).perturb(svd_model)
    scorer = get_ranking_scorer("recall@5")
    row = curve.iloc[0]
    assert row["attacked"] == pytest.approx(scorer(attacked_model, split[1]))
    assert row["relative_drop"] == pytest.approx((row["clean"] - row["attacked"]) / row["clean"])


@pytest.mark.parametrize("method", ["fgsm", "pgd"])
def test_a_large_attack_hurts_a_trained_model(mf_model, split, method):
    curve = robustness_curve(
        mf_model, split[1], [0.0, 2.0], adversary=method, epsilon_mode="relative", random_state=0
    )
    assert curve["clean"].iloc[0] > 0.1
    assert curve["attacked"].iloc[1] < 0.8 * curve["clean"].iloc[1]
    assert curve["relative_drop"].iloc[1] > 0.2


def test_fgsm_hurts_more_than_random_noise(mf_model, split):
    kwargs = {"epsilon_mode": "relative", "random_state": 0}
    fgsm = robustness_curve(mf_model, split[1], [0.5], adversary="fgsm", **kwargs)
    noise = robustness_curve(mf_model, split[1], [0.5], adversary="random", **kwargs)
    assert fgsm["attacked"].iloc[0] < noise["attacked"].iloc[0]


def test_curve_is_deterministic_with_random_state(mf_model, split):
    first = robustness_curve(mf_model, split[1], [0.2, 0.8], adversary="random", random_state=3)
    second = robustness_curve(mf_model, split[1], [0.2, 0.8], adversary="random", random_state=3)
    pd.testing.assert_frame_equal(first, second)


def test_curve_leaves_the_model_untouched(mf_model, split):
    users, items = mf_model.user_factors_.copy(), mf_model.item_factors_.copy()
    robustness_curve(mf_model, split[1], [0.5, 1.0], adversary="pgd", n_steps=3, random_state=0)
    np.testing.assert_array_equal(mf_model.user_factors_, users)
    np.testing.assert_array_equal(mf_model.item_factors_, items)


def test_target_reaches_the_attack(svd_model, split):
    def user_norm_scorer(estimator, X, y=None):
        return _mean_norm(estimator.user_factors_)

    curve = robustness_curve(
        svd_model, split[1], [0.5], metric=user_norm_scorer, target="items", random_state=0
    )
    assert curve["attacked"].iloc[0] == curve["clean"].iloc[0]


def test_metric_may_be_a_scorer_or_a_metric_function(svd_model, split):
    def item_norm_scorer(estimator, X, y=None):
        return _mean_norm(estimator.item_factors_)

    custom = robustness_curve(svd_model, split[1], [0.5], metric=item_norm_scorer, random_state=0)
    assert custom["clean"].iloc[0] == pytest.approx(_mean_norm(svd_model.item_factors_))
    assert custom["attacked"].iloc[0] != custom["clean"].iloc[0]
    by_function = robustness_curve(svd_model, split[1], [0.5], metric=ndcg_at_k, random_state=0)
    by_name = robustness_curve(svd_model, split[1], [0.5], metric="ndcg@10", random_state=0)
    pd.testing.assert_frame_equal(by_function, by_name)


def test_curve_accepts_a_pipeline(svd_model, split):
    pipe = Pipeline([("identity", FunctionTransformer()), ("model", SVDModel(6))]).fit(split[0])
    from_pipe = robustness_curve(pipe, split[1], [0.0, 0.5], random_state=0)
    bare = robustness_curve(svd_model, split[1], [0.0, 0.5], random_state=0)
    pd.testing.assert_frame_equal(from_pipe, bare)


def test_zero_clean_score_gives_nan_drop(svd_model, split):
    def zero(estimator, X, y=None):
        return 0.0

    assert np.isnan(robustness_curve(svd_model, split[1], [0.5], metric=zero)["relative_drop"][0])


@pytest.mark.parametrize("epsilons", [[], [-0.1], [float("nan")], [[0.1, 0.2]], "0.5"], ids=str)
def test_bad_epsilons_raise(svd_model, split, epsilons):
    with pytest.raises((ValueError, TypeError), match="epsilons"):
        robustness_curve(svd_model, split[1], epsilons)


def test_scalar_epsilon_is_one_row(svd_model, split):
    assert robustness_curve(svd_model, split[1], 0.5, random_state=0).shape[0] == 1


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"adversary": "cw"}, "adversary"),
        ({"epsilon_mode": "x"}, "epsilon_mode"),
        ({"n_steps": 0}, "n_steps"),
    ],
)
def test_bad_attack_options_raise_naming_them(svd_model, split, kwargs, name):
    with pytest.raises(ValueError, match=name):
        robustness_curve(svd_model, split[1], [0.5], **kwargs)


def test_bad_metric_raises(svd_model, split):
    with pytest.raises(ValueError, match="ndcg@ten"):
        robustness_curve(svd_model, split[1], [0.5], metric="ndcg@ten")
    with pytest.raises(TypeError, match="metric"):
        robustness_curve(svd_model, split[1], [0.5], metric=10)


def test_curve_rejects_non_mf_and_unfitted_models(split):
    with pytest.raises(TypeError, match="PopularityRecommender"):
        robustness_curve(PopularityRecommender().fit(split[0]), split[1], [0.5])
    with pytest.raises(NotFittedError):
        robustness_curve(SVDModel(), split[1], [0.5])


# --------------------------------------------------------------------- make_robustness_scorer
def test_attacked_scorer_matches_the_curve(mf_model, split):
    attack = EmbeddingAttack("fgsm", 0.4, random_state=0)
    curve = robustness_curve(mf_model, split[1], [0.4], random_state=0)
    attacked = make_robustness_scorer(attack)(mf_model, split[1])
    drop = make_robustness_scorer(attack, kind="drop")(mf_model, split[1])
    assert attacked == pytest.approx(curve["attacked"].iloc[0])
    assert drop == pytest.approx(-curve["relative_drop"].iloc[0])


def test_scorer_metric_is_used(mf_model, split):
    attack = EmbeddingAttack("fgsm", 0.4, random_state=0)
    recall = make_robustness_scorer(attack, metric="recall@5")(mf_model, split[1])
    expected = get_ranking_scorer("recall@5")(attack.perturb(mf_model), split[1])
    assert recall == pytest.approx(expected)


def test_scorer_works_with_pipelines(split):
    pipe = Pipeline([("identity", FunctionTransformer()), ("model", SVDModel(6))]).fit(split[0])
    bare = SVDModel(6).fit(split[0])
    scorer = make_robustness_scorer(EmbeddingAttack("pgd", 0.5, n_steps=3, random_state=0))
    assert scorer(pipe, split[1]) == pytest.approx(scorer(bare, split[1]))


def test_grid_search_selects_by_robustness(split):
    X_train = split[0]
    attack = EmbeddingAttack("fgsm", 0.5, epsilon_mode="relative", random_state=0)
    scoring = {
        "clean": get_ranking_scorer("ndcg@10"),
        "attacked": make_robustness_scorer(attack),
        "drop": make_robustness_scorer(attack, kind="drop"),
    }
    search = GridSearchCV(
        AdversarialMFRecommender(n_factors=8, n_epochs=5, random_state=0),
        {"adv_reg": [0.0, 1.0]},
        scoring=scoring,
        refit="attacked",
        cv=UserHoldoutSplit(n_splits=1, test_size=0.25, random_state=0),
    ).fit(X_train)
    results = search.cv_results_
    assert np.isfinite(results["mean_test_attacked"]).all()
    assert search.best_index_ == int(np.argmax(results["mean_test_attacked"]))


def test_cross_validate_runs_the_scorer_per_fold(split):
    scorer = make_robustness_scorer(EmbeddingAttack("random", 0.5, random_state=0))
    cv = UserHoldoutSplit(n_splits=2, test_size=0.25, random_state=0)
    result = cross_validate(SVDModel(6), split[0], cv=cv, scoring={"robust": scorer})
    assert result["test_robust"].shape == (2,)
    assert np.isfinite(result["test_robust"]).all()


def test_scorer_pickles_and_has_a_repr(mf_model, split):
    scorer = make_robustness_scorer(EmbeddingAttack("fgsm", 0.4, random_state=0), kind="drop")
    assert "kind='drop'" in repr(scorer) and "EmbeddingAttack" in repr(scorer)
    clone = pickle.loads(pickle.dumps(scorer))
    assert clone(mf_model, split[1]) == scorer(mf_model, split[1])


def test_scorer_rejects_bad_arguments():
    with pytest.raises(TypeError, match="attack"):
        make_robustness_scorer("fgsm")
    with pytest.raises(ValueError, match="kind"):
        make_robustness_scorer(EmbeddingAttack(), kind="ratio")
    with pytest.raises(ValueError, match="epsilon"):
        make_robustness_scorer(EmbeddingAttack(epsilon=-1.0))
    with pytest.raises(ValueError, match="ndcg@ten"):
        make_robustness_scorer(EmbeddingAttack(), metric="ndcg@ten")
