"""AdversarialNeuralRecommender: training, adversaries, tasks, features, persistence."""

import json
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

torch = pytest.importorskip("torch")

from skadv._torch.utils import load_module_state  # noqa: E402
from skadv.attacks import EmbeddingAttack  # noqa: E402
from skadv.base import UNKNOWN_ITEM_SCORE  # noqa: E402
from skadv.baseline import PopularityRecommender  # noqa: E402
from skadv.datasets import make_interactions  # noqa: E402
from skadv.model_selection import UserHoldoutSplit, train_test_split_interactions  # noqa: E402
from skadv.neural import AdversarialNeuralRecommender, _neural  # noqa: E402
from skadv.neural._neural_modules import build_module  # noqa: E402

FAST = dict(n_factors=8, hidden_layers=(16,), n_epochs=4, batch_size=64)


def _model(**params):
    return AdversarialNeuralRecommender(**{**FAST, "random_state": 0, **params})


@pytest.fixture
def split(synthetic_interactions, seed):
    return train_test_split_interactions(synthetic_interactions, test_size=0.2, random_state=seed)


@pytest.fixture
def structured_split(seed):
    """Planted low-rank preferences and no popularity effect: popularity ranks poorly."""
    X = make_interactions(n_users=200, n_items=100, n_factors=4, density=0.1,
                          popularity_skew=0.0, random_state=seed)  # fmt: skip
    return train_test_split_interactions(X, test_size=0.2, random_state=seed)


@pytest.mark.parametrize("architecture", ["two-tower", "neumf"])
def test_learns_the_block_structure(tiny_interactions, architecture):
    data = tiny_interactions
    # Full-batch and a small step: with 24 interactions, noisy steps memorize the held-out
    # items as negatives (they are sampled as such) instead of learning the blocks.
    model = _model(architecture=architecture, hidden_layers=(), n_epochs=300, batch_size=24,
                   learning_rate=0.02, adversary="none", weight_decay=0.0)  # fmt: skip
    model.fit(data.X)
    top, _ = model.recommend(np.arange(6), n=1)
    assert np.all(data.item_block[top[:, 0]] == data.user_block)


@pytest.mark.parametrize("architecture", ["two-tower", "neumf"])
@pytest.mark.parametrize("adversary", ["none", "fgsm", "pgd", "freelb", "random"])
def test_every_adversary_trains_and_beats_popularity(structured_split, architecture, adversary):
    train, test = structured_split
    # epsilon relative to these short rows (k=8, init_std 0.1: norms ~0.3).
    model = _model(architecture=architecture, adversary=adversary, epsilon=0.02, n_epochs=15,
                   learning_rate=0.01)  # fmt: skip
    model.fit(train)
    assert len(model.loss_curve_) == model.n_iter_ == 15
    assert model.loss_curve_[-1] < model.loss_curve_[0]
    assert model.score(test) > 2 * PopularityRecommender().fit(train).score(test)


def test_adversary_changes_the_model_and_none_ignores_epsilon(split):
    train, _ = split
    base = _model(adversary="none").fit(train)
    fgm = _model(adversary="fgsm", epsilon=0.5).fit(train)
    assert not np.allclose(base.item_factors_, fgm.item_factors_)
    eps0 = _model(adversary="fgsm", epsilon=0.0).fit(train)
    np.testing.assert_array_equal(base.item_factors_, eps0.item_factors_)


def test_same_seed_same_model_and_other_seed_differs(split):
    train, _ = split
    a, b = _model(dropout=0.3).fit(train), _model(dropout=0.3).fit(train)
    np.testing.assert_array_equal(a.item_factors_, b.item_factors_)
    c = _model(dropout=0.3, random_state=1).fit(train)
    assert not np.allclose(a.item_factors_, c.item_factors_)


@pytest.mark.parametrize(
    "params",
    [
        {"dropout": 0.5},
        {"weight_decay": 0.1},
        {"optimizer": "sgd"},
        {"optimizer": "adagrad"},
        {"lr_schedule": "cosine"},
        {"warmup_epochs": 2},
        {"clip_grad_norm": 1e-3},
        {"norm": "global"},
        {"adv_start": 0},
        {"activation": "tanh"},
        {"pgd_alpha": 0.01, "adversary": "pgd"},
    ],
)
def test_every_training_parameter_has_an_effect(split, params):
    train, _ = split
    base = _model().fit(train)
    other = _model(**params).fit(train)
    assert not np.allclose(base.item_factors_, other.item_factors_)


@pytest.mark.parametrize("architecture", ["two-tower", "neumf"])
def test_relative_epsilon_and_random_adversary_change_the_model(split, architecture):
    train, _ = split
    clean = _model(architecture=architecture, adversary="none").fit(train)
    absolute = _model(architecture=architecture, epsilon=0.5, epsilon_mode="absolute")
    absolute.fit(train)
    relative = _model(architecture=architecture, epsilon=0.5, epsilon_mode="relative")
    relative.fit(train)
    random = _model(architecture=architecture, adversary="random", epsilon=0.5,
                    epsilon_mode="absolute").fit(train)  # fmt: skip
    for model in (relative, random):
        assert model.n_iter_ == FAST["n_epochs"] and np.isfinite(model.loss_curve_).all()
        assert model.loss_curve_[-1] < model.loss_curve_[0]
    state = "item_emb.weight" if architecture == "two-tower" else "gmf_item.weight"
    item_rows = {name: m.module_state_[state] for name, m in
                 [("clean", clean), ("absolute", absolute), ("relative", relative),
                  ("random", random)]}  # fmt: skip
    assert not np.allclose(item_rows["relative"], item_rows["absolute"])
    assert not np.allclose(item_rows["random"], item_rows["absolute"])
    assert not np.allclose(item_rows["random"], item_rows["clean"])


def test_adam_couples_weight_decay_and_adamw_does_not(split):
    train, _ = split
    adam = _model(optimizer="adam", weight_decay=0.1).fit(train)
    adamw = _model(optimizer="adamw", weight_decay=0.1).fit(train)
    assert not np.allclose(adam.item_factors_, adamw.item_factors_)


def test_rating_task_learns_the_ratings():
    rng = np.random.RandomState(0)
    users, items = rng.randint(0, 30, 600), rng.randint(0, 20, 600)
    X = np.unique(np.column_stack([users, items]), axis=0)
    # Ratings with a user and an item effect: learnable, far from their mean.
    y = 3 + (X[:, 0] % 3 - 1) + (X[:, 1] % 2) * 1.5
    model = _model(tasks=("click", "rating"), task_weights=(0.2, 1.0), hidden_layers=(),
                   n_epochs=40, learning_rate=0.03, adversary="none")  # fmt: skip
    model.fit(X, y)
    pred = model.predict_rating(X)
    assert np.mean((pred - y) ** 2) < 0.3 * np.var(y)
    unknown = model.predict_rating([[999, 0]])
    np.testing.assert_allclose(unknown, y.mean())


def test_rating_task_needs_y_and_click(synthetic_interactions):
    with pytest.raises(ValueError, match="pass y"):
        _model(tasks=("click", "rating")).fit(synthetic_interactions)
    with pytest.raises(ValueError, match="tasks"):
        _model(tasks=("rating",)).fit(synthetic_interactions, np.ones(len(synthetic_interactions)))
    with pytest.raises(ValueError, match="task_weights"):
        _model(task_weights=(1.0, 2.0)).fit(synthetic_interactions)
    with pytest.raises(ValueError, match="predict_rating"):
        _model().fit(synthetic_interactions).predict_rating([[0, 0]])


@pytest.mark.parametrize("architecture", ["two-tower", "neumf"])
def test_features_are_used(split, architecture):
    train, _ = split
    users, items = np.unique(train[:, 0]), np.unique(train[:, 1])
    rng = np.random.RandomState(0)
    user_features = pd.DataFrame(rng.normal(size=(len(users), 3)), index=users)
    item_features = {i: rng.normal(size=2) for i in items[:-5]}  # some items lack features
    model = _model(architecture=architecture)
    model.fit(train, user_features=user_features, item_features=item_features)
    assert model.user_features_.shape == (model.n_users_, 3)
    assert model.item_features_.shape == (model.n_items_, 2)
    np.testing.assert_array_equal(model.item_features_[-5:], 0.0)
    plain = _model(architecture=architecture).fit(train)
    users_q = plain.user_ids_[:5]
    assert not np.allclose(plain.predict(np.column_stack([users_q, users_q * 0])),
                           model.predict(np.column_stack([users_q, users_q * 0])))  # fmt: skip


@pytest.mark.parametrize(
    "features, error, match",
    [
        (np.ones((3, 2)), TypeError, "DataFrame"),
        (pd.DataFrame({"a": [np.nan]}, index=[0]), ValueError, "non-finite"),
        (pd.DataFrame({"a": ["x"]}, index=[0]), ValueError, "numbers"),
        (pd.DataFrame({"a": [1.0, 2.0]}, index=[0, 0]), ValueError, "duplicate"),
    ],
)
def test_bad_features_raise(synthetic_interactions, features, error, match):
    with pytest.raises(error, match=match):
        _model().fit(synthetic_interactions, item_features=features)


def test_early_stopping_keeps_the_best_epoch(synthetic_interactions):
    model = _model(early_stopping=True, n_epochs=30, n_iter_no_change=2, learning_rate=0.05)
    model.fit(synthetic_interactions)
    assert len(model.validation_scores_) == model.n_iter_ <= 30
    assert model.best_validation_score_ == max(model.validation_scores_)
    assert model.interactions_.nnz == len(np.unique(synthetic_interactions, axis=0))


@pytest.mark.parametrize("architecture", ["two-tower", "neumf"])
def test_pickle_keeps_recommendations(split, architecture):
    train, _ = split
    model = _model(architecture=architecture).fit(train)
    loaded = pickle.loads(pickle.dumps(model))
    assert not any(k.startswith("_cache_") for k in vars(loaded))
    users = model.user_ids_[:7]
    np.testing.assert_array_equal(model.recommend(users, n=5)[0], loaded.recommend(users, n=5)[0])
    pairs = np.column_stack([users, model.item_ids_[:7]])
    np.testing.assert_allclose(model.predict(pairs), loaded.predict(pairs), rtol=1e-6)


def _torch_module(model):
    """The trained torch module, rebuilt from ``module_state_`` (the reference of the tests)."""
    module = build_module(model._module_config, model.user_features_, model.item_features_)
    return load_module_state(module, model.module_state_).eval()


def _fit_with_rating(architecture, activation, hidden_layers, features, dropout=0.3):
    X = make_interactions(n_users=40, n_items=30, density=0.15, random_state=0)
    rng = np.random.RandomState(0)
    y = rng.uniform(1, 5, len(X))
    kwargs = {}
    if features:
        users, items = np.unique(X[:, 0]), np.unique(X[:, 1])
        kwargs = {"user_features": pd.DataFrame(rng.normal(size=(len(users), 3)), index=users),
                  "item_features": {i: rng.normal(size=2) for i in items[:-3]}}  # fmt: skip
    model = _model(architecture=architecture, activation=activation, hidden_layers=hidden_layers,
                   tasks=("click", "rating"), n_epochs=3, dropout=dropout)  # fmt: skip
    return model.fit(X, y, **kwargs)


# The NumPy forward pass adds in another order than torch's kernels: the scores (of order 1)
# differ by float32 rounding, large relative to the scores themselves only near zero.
RTOL, ATOL = 1e-5, 1e-6


@pytest.mark.parametrize("architecture", ["two-tower", "neumf"])
@pytest.mark.parametrize("activation", ["relu", "tanh", "gelu"])
@pytest.mark.parametrize("hidden_layers", [(), (16, 8)])
@pytest.mark.parametrize("features", [False, True])
def test_numpy_scores_match_the_torch_module(architecture, activation, hidden_layers, features):
    model = _fit_with_rating(architecture, activation, hidden_layers, features)
    module = _torch_module(model)
    users = np.repeat(np.arange(model.n_users_), model.n_items_)
    items = np.tile(np.arange(model.n_items_), model.n_users_)
    with torch.no_grad():
        u, i = torch.from_numpy(users), torch.from_numpy(items)
        expected_scores = module.score(u, i).double().numpy()
        expected_ratings = module.rating(u, i).double().numpy()
    grid = model._user_item_scores(np.arange(model.n_users_))
    np.testing.assert_allclose(grid.ravel(), expected_scores, rtol=RTOL, atol=ATOL)
    pairs = np.column_stack([model.user_ids_[users], model.item_ids_[items]])
    np.testing.assert_allclose(model.predict(pairs), expected_scores, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(model.predict_rating(pairs), expected_ratings, rtol=RTOL,
                               atol=ATOL)  # fmt: skip


@pytest.mark.parametrize("architecture", ["two-tower", "neumf"])
def test_blocks_do_not_change_the_scores(monkeypatch, architecture):
    whole = _fit_with_rating(architecture, "relu", (16, 8), features=True)
    # Blocks of 7 rows or pairs: shorter than a user's row of items, and not dividing it.
    monkeypatch.setattr(_neural, "_BLOCK_BYTES", 4 * 16 * 7)
    blocked = _fit_with_rating(architecture, "relu", (16, 8), features=True)
    users = np.arange(whole.n_users_)
    np.testing.assert_allclose(blocked._user_item_scores(users), whole._user_item_scores(users),
                               rtol=1e-6, atol=1e-7)  # fmt: skip
    pairs = np.column_stack([whole.user_ids_[users], whole.item_ids_[users % whole.n_items_]])
    np.testing.assert_allclose(blocked.predict_rating(pairs), whole.predict_rating(pairs),
                               rtol=1e-6, atol=1e-7)  # fmt: skip


@pytest.mark.parametrize("architecture", ["two-tower", "neumf"])
def test_fitted_model_scores_without_torch(tmp_path, architecture):
    model = _fit_with_rating(architecture, "gelu", (16,), features=True)
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(model))
    users, items = model.user_ids_[:6], model.item_ids_[:6]
    pairs = np.column_stack([users, items]).tolist()
    expected = [model.recommend(users, n=3)[0].tolist(), model.predict(pairs).tolist(),
                model.score(pairs), model.predict_rating(pairs).tolist()]  # fmt: skip
    # A fresh interpreter where importing torch fails, as on a machine without it.
    code = (
        "import json, pickle, sys\n"
        "class NoTorch:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'torch':\n"
        "            raise ImportError(name + ' is not installed here')\n"
        "sys.meta_path.insert(0, NoTorch())\n"
        f"m = pickle.loads(open({str(path)!r}, 'rb').read())\n"
        f"users, pairs = {users.tolist()!r}, {pairs!r}\n"
        "print(json.dumps([m.recommend(users, n=3)[0].tolist(), m.predict(pairs).tolist(),\n"
        "                  m.score(pairs), m.predict_rating(pairs).tolist()]))\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    result, torch_imported = out.stdout.strip().splitlines()
    assert torch_imported == "False"
    got = json.loads(result)
    assert got[0] == expected[0]
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-12)
    assert got[2] == pytest.approx(expected[2], rel=1e-12)
    np.testing.assert_allclose(got[3], expected[3], rtol=1e-12)


def test_two_tower_factors_are_its_scores_and_attacks_accept_it(split):
    train, _ = split
    model = _model().fit(train)
    pairs = train[:20]
    u, i = np.searchsorted(model.user_ids_, pairs[:, 0]), np.searchsorted(model.item_ids_,
                                                                          pairs[:, 1])  # fmt: skip
    by_hand = np.einsum("ij,ij->i", model.user_factors_[u], model.item_factors_[i])
    np.testing.assert_allclose(model.predict(pairs), by_hand + model.item_bias_[i], rtol=1e-6)
    d_users, d_items = EmbeddingAttack(epsilon=0.1, random_state=0).perturbation(model)
    assert d_users.shape == model.user_factors_.shape
    assert d_items.shape == model.item_factors_.shape


def test_neumf_has_no_factors_and_attacks_refuse_it(split):
    model = _model(architecture="neumf").fit(split[0])
    assert not hasattr(model, "user_factors_") and not hasattr(model, "item_factors_")
    with pytest.raises(TypeError, match="user_factors_"):
        EmbeddingAttack(epsilon=0.1).perturbation(model)


def test_refit_as_neumf_drops_the_factors_of_a_two_tower_fit(split):
    model = _model().fit(split[0])
    model.set_params(architecture="neumf").fit(split[0])
    assert not hasattr(model, "user_factors_") and not hasattr(model, "item_bias_")
    assert np.isfinite(model.predict(split[0][:5])).all()


def _feature_table(X, n_rows, seed=0):
    """Features of every user of ``X``, padded with ids absent from X to ``n_rows`` rows."""
    users = np.unique(X[:, 0])
    ids = np.concatenate([users, X[:, 0].max() + 1 + np.arange(n_rows - len(users))])
    values = np.random.RandomState(seed).normal(size=(n_rows, 3))
    return pd.DataFrame(values, index=ids)


class _RecordingRecommender(AdversarialNeuralRecommender):
    """Records the user features each fit received (the folds of a search, then the refit)."""

    fits = []

    def _prepare(self, fit_params):
        super()._prepare(fit_params)
        type(self).fits.append((self.user_ids_.copy(), self.user_features_.copy()))


def _lost_feature_rows(ids, features, table):
    """Number of users of a fit whose feature row is not the table's."""
    return int(np.sum(~np.isclose(features, table.loc[ids].to_numpy()).all(axis=1)))


def test_pipeline_routes_features(split):
    X, test = split
    table = _feature_table(X, len(np.unique(X[:, 0])) + 5)
    pipe = Pipeline([("rec", _model(n_epochs=2))]).fit(X, rec__user_features=table)
    rec = pipe.named_steps["rec"]
    np.testing.assert_allclose(rec.user_features_, table.loc[rec.user_ids_].to_numpy(),
                               rtol=1e-6)  # fmt: skip
    assert 0.0 <= pipe.score(test) <= 1.0


def _search(X, table):
    _RecordingRecommender.fits = []
    search = GridSearchCV(_RecordingRecommender(**{**FAST, "n_epochs": 2, "random_state": 0}),
                          {"adv_reg": [0.0, 1.0]},
                          cv=UserHoldoutSplit(n_splits=2, random_state=0))  # fmt: skip
    search.fit(X, user_features=table)
    assert len(_RecordingRecommender.fits) == 2 * 2 + 1  # folds x candidates, then the refit
    return [_lost_feature_rows(ids, f, table) for ids, f in _RecordingRecommender.fits]


def test_grid_search_routes_features_to_every_fit(synthetic_interactions):
    X = synthetic_interactions
    # Any length but len(X): sklearn passes the table whole to each fit.
    table = _feature_table(X, len(X) + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lost = _search(X, table)
    assert lost == [0] * 5


def test_grid_search_slices_a_table_of_len_x_rows_and_fit_warns(synthetic_interactions):
    # sklearn slices a fit parameter of len(X) rows per fold like per-interaction data: the
    # folds lose feature rows. fit cannot undo it, so it warns.
    X = synthetic_interactions
    table = _feature_table(X, len(X))
    with pytest.warns(UserWarning, match="as many rows"):
        lost = _search(X, table)
    assert all(n > 0 for n in lost[:4]) and lost[4] == 0


def test_state_is_numpy(split):
    model = _model().fit(split[0])
    assert all(isinstance(v, np.ndarray) for v in model.module_state_.values())
    assert model.backend_ == "torch" and model.device_ == "cpu"


def test_unknown_users_and_items_follow_handle_unknown(split):
    train, _ = split
    model = _model().fit(train)
    scores = model.predict([[10**9, train[0, 1]], [train[0, 0], 10**9]])
    # On the model's scale (issue 21): the average user's scores, handed out by popularity.
    assert scores[0] == model.unknown_user_scores()[model.item_ids_ == train[0, 1]][0]
    assert scores[1] == UNKNOWN_ITEM_SCORE
    strict = _model(handle_unknown="error").fit(train)
    with pytest.raises(ValueError, match="not seen in fit"):
        strict.predict([[10**9, train[0, 1]]])


def test_grid_search_over_epsilon_and_adv_reg(synthetic_interactions):
    search = GridSearchCV(
        _model(n_epochs=2),
        {"epsilon": [0.05, 0.2], "adv_reg": [0.0, 1.0]},
        cv=UserHoldoutSplit(n_splits=2, random_state=0),
    )
    search.fit(synthetic_interactions)
    assert len(search.cv_results_["mean_test_score"]) == 4
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert clone(search.best_estimator_).get_params()["epsilon"] in (0.05, 0.2)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"architecture": "mlp"}, "architecture"),
        ({"hidden_layers": (8, 0)}, "hidden_layers"),
        ({"hidden_layers": 8}, "hidden_layers"),
        ({"dropout": 1.0}, "dropout"),
        ({"epsilon": -1.0}, "epsilon"),
        ({"adversary": "fgm"}, "adversary"),
        ({"norm": "l2"}, "norm"),
        ({"optimizer": "lbfgs"}, "optimizer"),
        ({"warmup_epochs": 4}, "warmup_epochs"),
        ({"batch_size": 0}, "batch_size"),
        ({"device": "tpu"}, "device"),
    ],
)
def test_bad_parameters_raise(synthetic_interactions, params, match):
    with pytest.raises(ValueError, match=match):
        _model(**params).fit(synthetic_interactions)


def test_unexpected_fit_argument_raises(synthetic_interactions):
    with pytest.raises(TypeError, match="sample_weight"):
        _model().fit(synthetic_interactions, sample_weight=np.ones(3))


def test_divergence_raises_naming_learning_rate(synthetic_interactions):
    with pytest.raises(ValueError, match="learning_rate"):
        _model(learning_rate=1e30, optimizer="sgd").fit(synthetic_interactions)


@pytest.mark.gpu
@pytest.mark.parametrize("architecture", ["two-tower", "neumf"])
def test_trains_on_cuda_and_ranks_on_cpu(split, architecture):
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    train, _ = split
    model = _model(architecture=architecture, device="cuda").fit(train)
    assert model.device_.startswith("cuda")
    loaded = pickle.loads(pickle.dumps(model))
    users = model.user_ids_[:5]
    np.testing.assert_array_equal(model.recommend(users, n=5)[0], loaded.recommend(users, n=5)[0])
    assert all(isinstance(v, np.ndarray) for v in loaded.module_state_.values())


def test_fit_without_torch_says_how_to_install(tmp_path):
    code = (
        "import sys\n"
        "class NoTorch:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'torch':\n"
        "            raise ImportError('torch is not installed here')\n"
        "sys.meta_path.insert(0, NoTorch())\n"
        "from skadv.neural import AdversarialNeuralRecommender\n"
        "try:\n"
        "    AdversarialNeuralRecommender().fit([[0, 0], [0, 1], [1, 1]])\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "pip install 'skadv[torch]'" in out.stdout
