"""CFGANRecommender and GANAugmenter: the recommender, sampler and meta-estimator roles."""

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import Pipeline

from skadv import AdversarialMFRecommender, GANAugmenter, PopularityRecommender
from skadv.augmentation import CFGANRecommender
from skadv.datasets import make_interactions
from skadv.model_selection import UserHoldoutSplit
from skadv.training import BelowPopularityWarning

torch = pytest.importorskip("torch")

from skadv._torch.mlp import mlp  # noqa: E402
from skadv.augmentation._gan_modules import discriminator_loss, generator_loss  # noqa: E402


def _gan(**params):
    base = dict(generator_layers=(16,), discriminator_layers=(16,), noise_dim=4, n_epochs=3,
                batch_size=32, random_state=0)  # fmt: skip
    return CFGANRecommender(**{**base, **params})


def _quiet_fit(model, X, y=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # tiny runs are not converged
        warnings.simplefilter("ignore", BelowPopularityWarning)  # nor do they rank well
        return model.fit(X, y)


@pytest.fixture
def X(synthetic_interactions):
    return synthetic_interactions


@pytest.fixture
def fitted(X):
    return _quiet_fit(_gan(), X)


# ------------------------------------------------------------------------ recommender role
def test_recommender_role(fitted, X):
    items, scores = fitted.recommend([0, 1, 2], n=5)
    assert items.shape == (3, 5) and scores.dtype == np.float32
    seen = set(X[X[:, 0] == 0, 1].tolist())
    assert not seen & set(items[0].tolist())
    assert np.isfinite(fitted.predict(X[:20])).all()
    assert 0.0 <= fitted.score(X[:200]) <= 1.0
    assert len(fitted.loss_curve_) == len(fitted.discriminator_loss_curve_) == 3


def test_scores_are_generator_logits_with_zero_noise(fitted):
    """The NumPy forward pass equals the torch generator's (the modules of _gan_modules)."""
    G = mlp(fitted.noise_dim + fitted.n_items_, fitted.generator_layers,
                 fitted.n_items_, fitted.activation)  # fmt: skip
    G.load_state_dict({k: torch.from_numpy(v) for k, v in fitted.generator_state_.items()})
    c = torch.from_numpy((fitted.interactions_[:5].toarray() > 0).astype(np.float32))
    with torch.no_grad():
        expected = G(torch.cat([torch.zeros(5, fitted.noise_dim), c], dim=1)).numpy()
    np.testing.assert_allclose(fitted._user_item_scores(np.arange(5)), expected, rtol=1e-5,
                               atol=1e-6)  # fmt: skip


def test_same_seed_same_model(X):
    a, b = _quiet_fit(_gan(), X), _quiet_fit(_gan(), X)
    for name in a.generator_state_:
        np.testing.assert_array_equal(a.generator_state_[name], b.generator_state_[name])
    assert a.loss_curve_ == b.loss_curve_
    c = _quiet_fit(_gan(random_state=1), X)
    assert not np.array_equal(a.generator_state_["0.weight"], c.generator_state_["0.weight"])


def test_without_discriminator(X):
    model = _quiet_fit(_gan(discriminator=False), X)
    assert model.discriminator_state_ is None and model.discriminator_loss_curve_ is None
    assert model.recommend([0], n=3)[0].shape == (1, 3)
    with pytest.raises(ValueError, match="discriminator=False"):
        model.discriminator_score(X)


def test_early_stopping_keeps_best_epoch(X):
    model = _quiet_fit(_gan(n_epochs=6, early_stopping=True, n_iter_no_change=2), X)
    assert len(model.validation_scores_) == model.n_iter_ <= 6
    assert model.best_validation_score_ == max(model.validation_scores_)
    assert len(model.diagnostics_["condition_overlap"]) == model.n_iter_


def test_verbose_prints_epoch_log(X, capsys):
    _quiet_fit(_gan(n_epochs=2, verbose=1), X)
    out = capsys.readouterr().out
    assert "epoch 1/2" in out and "epoch 2/2" in out


@pytest.mark.parametrize("scheme", ["zr", "pm", "zr+pm"])
@pytest.mark.parametrize("loss", ["non-saturating", "minimax"])
def test_schemes_and_losses_train(X, scheme, loss):
    model = _quiet_fit(_gan(n_epochs=1, scheme=scheme, generator_loss=loss), X)
    assert np.isfinite(model.loss_curve_).all()


def test_parameters_have_an_effect(X):
    base = _quiet_fit(_gan(), X).generator_state_["0.weight"]
    multinomial = {"reconstruction_loss": "multinomial", "reconstruction_weight": 1.0}
    for params in ({"alpha": 1.0}, {"discriminator_steps": 1}, {"zr_ratio": 0.9},
                   {"generator_learning_rate": 1e-2}, {"input_dropout": 0.0},
                   multinomial):  # fmt: skip
        other = _quiet_fit(_gan(**params), X).generator_state_["0.weight"]
        assert not np.array_equal(base, other), params


def test_input_dropout_corrupts_training_only(X):
    """Denoising changes training, not scoring: scores stay the clean-condition logits."""
    model = _quiet_fit(_gan(discriminator=False, input_dropout=0.5, activation="tanh"), X)
    c = (model.interactions_[:4].toarray() > 0).astype(np.float32)
    np.testing.assert_array_equal(model._user_item_scores(np.arange(4)), model._logits(c))
    again = _quiet_fit(_gan(discriminator=False, input_dropout=0.5, activation="tanh"), X)
    np.testing.assert_array_equal(model.generator_state_["0.weight"],
                                  again.generator_state_["0.weight"])  # fmt: skip


# ------------------------------------------------------------------------ losses
def test_losses_match_numpy_reference():
    """G and D losses on a 3 x 5 batch against the formulas of the docstring."""
    rng = np.random.RandomState(0)
    c = (rng.rand(3, 5) < 0.5).astype(np.float64)
    g = rng.uniform(0.05, 0.95, size=(3, 5))
    pm = ((rng.rand(3, 5) < 0.5) & (c == 0)).astype(np.float64)
    zr = ((rng.rand(3, 5) < 0.5) & (c == 0)).astype(np.float64)
    mask = c + pm
    d_real, d_fake = rng.randn(3), rng.randn(3)
    alpha, w = 0.3, 0.7

    def sig(x):
        return 1 / (1 + np.exp(-x))

    zr_term = alpha * np.mean((zr * g**2).sum(axis=1))
    rec_term = w * np.mean((mask * (g - c) ** 2).sum(axis=1))
    expected = {
        "non-saturating": np.mean(-np.log(sig(d_fake))) + zr_term + rec_term,
        "minimax": np.mean(np.log(1 - sig(d_fake))) + zr_term + rec_term,
    }
    t = {k: torch.from_numpy(v) for k, v in dict(g=g, c=c, mask=mask, zr=zr).items()}
    for loss, value in expected.items():
        got = generator_loss(t["g"], t["c"], t["mask"], t["zr"], torch.from_numpy(d_fake),
                             alpha=alpha, reconstruction_weight=w, loss=loss)  # fmt: skip
        np.testing.assert_allclose(got.item(), value, rtol=1e-12)
    d_expected = np.mean(-np.log(sig(d_real)) - np.log(1 - sig(d_fake)))
    got = discriminator_loss(torch.from_numpy(d_real), torch.from_numpy(d_fake))
    np.testing.assert_allclose(got.item(), d_expected, rtol=1e-12)
    no_d = generator_loss(t["g"], t["c"], t["mask"], None, None, alpha=alpha,
                          reconstruction_weight=w, loss="minimax")  # fmt: skip
    np.testing.assert_allclose(no_d.item(), rec_term, rtol=1e-12)
    # Multinomial reconstruction (Mult-DAE): -sum_j c_j log softmax(logits)_j, every item.
    logits = np.log(g / (1 - g))
    log_softmax = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    multinomial = w * np.mean(-(c * log_softmax).sum(axis=1))
    got = generator_loss(t["g"], t["c"], t["mask"], t["zr"], None, alpha=alpha,
                         reconstruction_weight=w, loss="minimax",
                         logits=torch.from_numpy(logits),
                         reconstruction="multinomial")  # fmt: skip
    np.testing.assert_allclose(got.item(), zr_term + multinomial, rtol=1e-12)


# ------------------------------------------------------------------------ collapse diagnostic
def test_forced_identity_collapse_is_detected(tiny_interactions):
    """No noise, no discriminator, reconstruction of every item: the generator copies c_u."""
    gan = CFGANRecommender((64,), noise_dim=0, discriminator=False, scheme="pm", pm_ratio=1.0,
                           alpha=0.0, n_epochs=300, batch_size=6, input_dropout=0.0,
                           generator_learning_rate=0.01, random_state=0)  # fmt: skip
    with pytest.warns(ConvergenceWarning, match="copy of its condition"):
        gan.fit(tiny_interactions.X)
    assert gan.collapse_ == "identity"
    assert gan.condition_overlap_ >= 0.99 and gan.off_condition_mass_ <= 0.05


def test_forced_profile_length_collapse_is_detected(tiny_interactions):
    """Reconstruction of the user's items only (no negatives): every item goes to 1."""
    gan = CFGANRecommender((16,), discriminator=False, scheme="zr", alpha=0.0, n_epochs=200,
                           batch_size=6, generator_learning_rate=0.01,
                           random_state=0)  # fmt: skip
    with pytest.warns(ConvergenceWarning, match="profile lengths"):
        gan.fit(tiny_interactions.X)
    assert gan.collapse_ == "profile-length" and gan.profile_length_distance_ >= 0.5


@pytest.mark.parametrize(
    "params",
    [
        {},  # short run: not judged
        {"n_epochs": 30},
        {"n_epochs": 30, "discriminator": False},
        {"n_epochs": 30, "noise_dim": 0},
        {"n_epochs": 30, "activation": "tanh", "input_dropout": 0.3, "zr_ratio": 0.1,
         "pm_ratio": 0.1, "reconstruction_weight": 1.0},
    ],
)  # fmt: skip
def test_healthy_fits_do_not_warn(X, params):
    """The collapse test is calibrated so that ordinary fits on make_interactions-sized
    data (and short runs, whose outputs are still near 0.5) raise no ConvergenceWarning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = _gan(**params).fit(X)
    assert model.collapse_ is None


def test_collapse_rule_thresholds():
    """The rule of collapse_ on hand-set diagnostics (10 items, real profiles of 4)."""
    from types import SimpleNamespace

    from skadv.augmentation._diagnostics import collapse_kind as _collapse_kind

    def kind(n_iter=20, overlap=0.7, off_mass=0.5, ratio=1.0):
        model = SimpleNamespace(n_iter_=n_iter, condition_overlap_=overlap,
                                off_condition_mass_=off_mass, profile_length_ratio_=ratio,
                                n_items_=10)  # fmt: skip
        return _collapse_kind(model, 4.0)

    assert kind() is None
    assert kind(overlap=1.0, off_mass=0.01) == "identity"
    assert kind(ratio=0.1) == "profile-length"  # towards a few items
    assert kind(ratio=2.5) == "profile-length"  # 10 of 10 items: every item generated
    assert kind(ratio=1.2) is None  # 4.8 items: longer than real, not collapsed
    assert kind(n_iter=5, ratio=0.1) is None  # too early to judge


# ------------------------------------------------------------------------ sampler role
def test_fit_resample_tops_up_sparse_users(X):
    aug = GANAugmenter(_gan(), min_interactions=15, random_state=0)
    X_res, y_res = _quiet_resample(aug, X)
    assert y_res is None
    np.testing.assert_array_equal(X_res[: len(X)], X)
    added = X_res[aug.sample_mask_]
    assert aug.sample_mask_.sum() == len(added) and not aug.sample_mask_[: len(X)].any()
    counts = pd.Series(X[:, 0]).value_counts()
    new_counts = pd.Series(X_res[:, 0]).value_counts()
    sparse_users = counts.index[counts < 15]
    assert (new_counts[sparse_users] == 15).all()
    assert set(added[:, 0]) == set(sparse_users)
    # Added items are new to their user: no duplicate (user, item) pair.
    assert not pd.DataFrame(X_res).duplicated().any()


def _quiet_resample(aug, X, y=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return aug.fit_resample(X, y)


def test_synthetic_users_get_fresh_integer_ids(X):
    aug = GANAugmenter(_gan(), min_interactions=None, n_synthetic_users=7, random_state=0)
    X_res, _ = _quiet_resample(aug, X)
    assert X_res.dtype == np.int64
    np.testing.assert_array_equal(aug.synthetic_user_ids_, X[:, 0].max() + 1 + np.arange(7))
    assert set(X_res[aug.sample_mask_, 0]) == set(aug.synthetic_user_ids_)
    assert set(X_res[aug.sample_mask_, 1]) <= set(X[:, 1])


def test_string_ids_and_dataframe_container(X):
    frame = pd.DataFrame({"user": [f"u{u}" for u in X[:, 0]], "item": X[:, 1],
                          "rating": np.full(len(X), 4.0)})  # fmt: skip
    aug = GANAugmenter(_gan(), min_interactions=10, n_synthetic_users=3, random_state=0)
    X_res, y_res = _quiet_resample(aug, frame, frame["rating"])
    assert isinstance(X_res, pd.DataFrame) and list(X_res.columns) == ["user", "item", "rating"]
    pd.testing.assert_frame_equal(X_res.iloc[: len(frame)], frame)
    assert aug.synthetic_user_ids_.tolist() == ["synthetic-0", "synthetic-1", "synthetic-2"]
    assert X_res["rating"][aug.sample_mask_].isna().all()
    assert y_res.shape == (len(X_res),) and (y_res[aug.sample_mask_] == 4.0).all()


def test_flatten_popularity_draws_less_popular_items(X):
    def mean_popularity(beta):
        aug = GANAugmenter(_gan(), min_interactions=None, n_synthetic_users=100,
                           flatten_popularity=beta, random_state=0)  # fmt: skip
        X_res, _ = _quiet_resample(aug, X)
        popularity = pd.Series(X[:, 1]).value_counts()
        return popularity.reindex(X_res[aug.sample_mask_, 1]).fillna(0).mean()

    assert mean_popularity(2.0) < mean_popularity(0.0)


def test_sample_and_discriminator_score(fitted, X):
    profiles = fitted.sample(5, random_state=0)
    assert set(profiles[:, 0]) <= set(range(5)) and set(profiles[:, 1]) <= set(X[:, 1])
    np.testing.assert_array_equal(profiles, fitted.sample(5, random_state=0))
    assert not pd.DataFrame(profiles).duplicated().any()
    users, scores = fitted.discriminator_score(X)
    assert users.shape == scores.shape == (fitted.n_users_,)
    assert ((scores > 0) & (scores < 1)).all()
    # Sampled profiles are scored like real ones (the detection helpers' use).
    fake_users, fake_scores = fitted.discriminator_score(profiles)
    np.testing.assert_array_equal(fake_users, np.unique(profiles[:, 0]))
    assert ((fake_scores > 0) & (fake_scores < 1)).all()


def test_sample_with_condition_lengths(fitted):
    """length="condition": each profile as long as the real profile it is conditioned on."""
    profiles = fitted.sample(50, random_state=0, length="condition")
    lengths = np.bincount(profiles[:, 0], minlength=50)
    real = set(np.diff(fitted.interactions_.indptr).tolist())
    assert set(lengths.tolist()) <= real and (lengths > 0).all()
    with pytest.raises(ValueError, match="length"):
        fitted.sample(5, length="real")


def test_synthetic_users_have_real_lengths(X):
    aug = GANAugmenter(_gan(), min_interactions=None, n_synthetic_users=30, random_state=0)
    X_res, _ = _quiet_resample(aug, X)
    lengths = pd.Series(X_res[aug.sample_mask_, 0]).value_counts()
    assert set(lengths.tolist()) <= set(pd.Series(X[:, 0]).value_counts().tolist())


def test_imblearn_pipeline_resamples_training_data_only(X):
    imblearn_pipeline = pytest.importorskip("imblearn.pipeline")
    pipe = imblearn_pipeline.Pipeline([
        ("aug", GANAugmenter(_gan(), min_interactions=None, n_synthetic_users=5,
                             random_state=0)),
        ("rec", PopularityRecommender()),
    ])  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe.fit(X)
    rec = pipe.named_steps["rec"]
    assert set(pipe.named_steps["aug"].synthetic_user_ids_) <= set(rec.user_ids_)
    assert rec.n_users_ == len(np.unique(X[:, 0])) + 5
    assert 0.0 <= pipe.score(X[:100]) <= 1.0


# ------------------------------------------------------------------------ meta-estimator role
def _meta(**params):
    return GANAugmenter(_gan(n_epochs=1), AdversarialMFRecommender(4, n_epochs=2,
                                                                   random_state=0),
                        min_interactions=12, random_state=0, **params)  # fmt: skip


def test_meta_estimator_delegates(X):
    model = _quiet_fit(_meta(n_synthetic_users=3), X)
    assert isinstance(model.estimator_, AdversarialMFRecommender)
    assert set(model.synthetic_user_ids_) <= set(model.estimator_.user_ids_)
    np.testing.assert_array_equal(model.recommend([0, 1], n=4)[0],
                                  model.estimator_.recommend([0, 1], n=4)[0])  # fmt: skip
    np.testing.assert_array_equal(model.predict(X[:10]), model.estimator_.predict(X[:10]))
    assert model.score(X[:200]) == model.estimator_.score(X[:200])


def test_without_estimator_recommends_with_the_gan(X):
    model = _quiet_fit(GANAugmenter(_gan(), random_state=0), X)
    assert model.estimator_ is model.gan_
    np.testing.assert_array_equal(model.recommend([3], n=4)[0],
                                  model.gan_.recommend([3], n=4)[0])  # fmt: skip


def test_last_step_of_sklearn_pipeline_and_grid_search(X):
    pipe = Pipeline([("model", _meta())])
    search = GridSearchCV(pipe, {"model__estimator__epsilon": [0.0, 0.5],
                                 "model__n_synthetic_users": [0, 4]},
                          cv=UserHoldoutSplit(n_splits=2, random_state=0))  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X)
    assert len(search.cv_results_["mean_test_score"]) == 4
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


class _RecordingPopularity(PopularityRecommender):
    """Remembers the rows it was fitted on."""

    def fit(self, X, y=None):
        self.fit_rows_ = np.asarray(X)
        return super().fit(X, y)


def test_synthetic_rows_never_reach_a_test_fold(X):
    scored = []

    def scoring(estimator, X_test, y=None):
        scored.append(np.asarray(X_test))
        return estimator.score(X_test)

    cv = UserHoldoutSplit(n_splits=2, random_state=0)
    model = GANAugmenter(_gan(n_epochs=1), _RecordingPopularity(), min_interactions=12,
                         n_synthetic_users=4, random_state=0)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = cross_validate(model, X, cv=cv, scoring=scoring, return_estimator=True)
    for (train, test), fitted, seen in zip(cv.split(X), result["estimator"], scored,
                                           strict=True):  # fmt: skip
        rows = fitted.estimator_.fit_rows_
        np.testing.assert_array_equal(rows[~fitted.sample_mask_], X[train])
        assert fitted.sample_mask_.sum() > 0
        np.testing.assert_array_equal(seen, X[test])  # the test fold, never augmented


# ------------------------------------------------------------------------ persistence, input
def test_fitted_model_ranks_without_torch(tmp_path, X):
    model = _quiet_fit(_meta(n_synthetic_users=2), X)
    gan = model.gan_
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps((model, gan)))
    expected = [model.recommend([0, 5], n=3)[0].tolist(), gan.recommend([0, 5], n=3)[0].tolist(),
                gan.sample(2, random_state=0).tolist(),
                np.round(gan.discriminator_score(X[:30])[1], 6).tolist()]  # fmt: skip
    code = (
        "import pickle, sys\n"
        "import numpy as np\n"
        "class NoTorch:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'torch':\n"
        "            raise ImportError(name + ' is not installed here')\n"
        "sys.meta_path.insert(0, NoTorch())\n"
        f"model, gan = pickle.loads(open({str(path)!r}, 'rb').read())\n"
        f"X = np.array({X[:30].tolist()!r})\n"
        "print([model.recommend([0, 5], n=3)[0].tolist(), gan.recommend([0, 5], n=3)[0].tolist(),"
        " gan.sample(2, random_state=0).tolist(),"
        " np.round(gan.discriminator_score(X)[1], 6).tolist()])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(expected)


def test_import_skadv_leaves_torch_unimported():
    code = (
        "import sys, skadv, skadv.augmentation; from skadv import GANAugmenter; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    "params, match",
    [
        ({"noise_dim": -1}, "noise_dim"),
        ({"scheme": "zp"}, "scheme"),
        ({"zr_ratio": 1.5}, "zr_ratio"),
        ({"generator_layers": (0,)}, "generator_layers"),
        ({"discriminator": "yes"}, "discriminator"),
        ({"generator_loss": "wgan"}, "generator_loss"),
        ({"input_dropout": 1.0}, "input_dropout"),
        ({"reconstruction_loss": "l1"}, "reconstruction_loss"),
    ],
)
def test_bad_gan_parameters_name_the_argument(X, params, match):
    model = _gan(**params)
    before = model.get_params()
    with pytest.raises(ValueError, match=match):
        model.fit(X)
    assert model.get_params() == before


@pytest.mark.parametrize(
    "params, match",
    [
        ({"gan": PopularityRecommender()}, "'gan'"),
        ({"estimator": "mf"}, "'estimator'"),
        ({"min_interactions": 0}, "min_interactions"),
        ({"n_synthetic_users": -2}, "n_synthetic_users"),
        ({"flatten_popularity": -1.0}, "flatten_popularity"),
    ],
)
def test_bad_augmenter_parameters_name_the_argument(X, params, match):
    aug = GANAugmenter(**{"gan": _gan(), **params})
    with pytest.raises((ValueError, TypeError), match=match):
        aug.fit_resample(X)


def test_bad_input_is_rejected_and_not_mutated(X):
    X_bad = np.column_stack([X, X[:, :1]])
    with pytest.raises(ValueError, match="shape"):
        GANAugmenter(_gan()).fit_resample(X_bad)
    frame = pd.DataFrame({"user_id": X[:, 0], "item": X[:, 1]})
    with pytest.raises(ValueError, match="'user'"):
        GANAugmenter(_gan()).fit_resample(frame)
    copy = X.copy()
    _quiet_resample(GANAugmenter(_gan(n_epochs=1), random_state=0), X)
    np.testing.assert_array_equal(X, copy)
    with pytest.raises(ValueError, match="n_users"):
        _quiet_fit(_gan(n_epochs=1), X).sample(0)


def test_clone_keeps_parameters():
    aug = _meta(n_synthetic_users=3)
    params = clone(aug).get_params()
    assert params["n_synthetic_users"] == 3 and params["estimator__n_epochs"] == 2


def test_augmenter_seeds_an_unseeded_gan():
    """GANAugmenter(random_state=0) is deterministic even when its GAN has no seed."""
    X = make_interactions(n_users=40, n_items=30, random_state=0)
    runs = [
        GANAugmenter(CFGANRecommender((8,), (8,), n_epochs=2), random_state=0).fit_resample(X)[0]
        for _ in range(2)
    ]
    np.testing.assert_array_equal(runs[0], runs[1])
