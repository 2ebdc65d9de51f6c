"""AdversarialTextRecommender on a tiny random BERT (and once on MiniLM)."""

import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from skadv.base import UNKNOWN_ITEM_SCORE  # noqa: E402
from skadv.model_selection import UserHoldoutSplit  # noqa: E402
from skadv.neural import AdversarialTextRecommender  # noqa: E402

TITLES = [
    "star wars", "star trek", "space war", "space adventure", "lost empire",
    "war of the worlds", "love story", "romantic comedy", "love drama", "comedy night",
    "new hope", "romance in the city",
]  # fmt: skip
SPACE = set(range(6))  # items 0-5 are "space", 6-11 "romance"


@pytest.fixture
def texts():
    return dict(enumerate(TITLES))


@pytest.fixture
def blocks():
    """Users 0-9 like space items, 10-19 romance items (each misses a few)."""
    rng = np.random.RandomState(0)
    pairs = [(u, i) for u in range(20) for i in range(12)
             if (i in SPACE) == (u < 10) and rng.rand() < 0.7]  # fmt: skip
    return np.array(pairs)


# The earlier defaults: the whole encoder fine-tuned, text-only item vectors, token-level
# adversarial training with an absolute epsilon from the first epoch (the defaults of
# today are tested in test_text_defaults.py).
FINE_TUNING = dict(trainable_layers=None, item_id_embedding=False, adv_target="tokens",
                   epsilon_mode="absolute", adv_start=0)  # fmt: skip


def _model(path, **params):
    base = dict(encoder=path, n_factors=8, n_epochs=3, batch_size=16, learning_rate=0.01,
                epsilon=0.05, random_state=0, **FINE_TUNING)  # fmt: skip
    return AdversarialTextRecommender(**{**base, **params})


@pytest.mark.parametrize("adversary", ["none", "fgsm", "pgd", "freelb", "random"])
@pytest.mark.parametrize("norm", ["per-example", "global", "per-token"])
def test_fits_with_every_adversary_and_norm(tiny_bert_path, texts, blocks, adversary, norm):
    model = _model(tiny_bert_path, adversary=adversary, norm=norm, pgd_steps=2)
    model.fit(blocks, item_texts=texts)
    assert model.item_factors_.shape == (model.n_items_, 8)
    assert model.user_factors_.shape == (model.n_users_, 8)
    assert np.all(np.isfinite(model.loss_curve_)) and model.n_iter_ == 3
    items, scores = model.recommend([0, 15], n=3)
    assert items.shape == (2, 3) and np.all(np.isfinite(scores))


@pytest.mark.parametrize("user_tower", ["id", "history", "both"])
def test_learns_which_texts_a_user_likes(tiny_bert_path, texts, blocks, user_tower):
    # The tiny BERT's token embeddings have norms ~0.1: a larger epsilon makes the
    # history-only tower collapse its item vectors to a constant (loss stuck at 2 log 2).
    model = _model(tiny_bert_path, user_tower=user_tower, n_epochs=30,
                   adversary="fgsm", epsilon=0.01, learning_rate=0.01)  # fmt: skip
    model.fit(blocks, item_texts=texts)
    scores = model._user_item_scores(np.arange(model.n_users_))
    space_cols = np.isin(model.item_ids_, list(SPACE))
    space_users = np.isin(model.user_ids_, np.arange(10))
    prefers_space = scores[:, space_cols].mean(1) > scores[:, ~space_cols].mean(1)
    assert np.mean(prefers_space == space_users) >= 0.9


def test_adversary_changes_the_fit_and_same_seed_repeats(tiny_bert_path, texts, blocks):
    a = _model(tiny_bert_path, adversary="fgsm").fit(blocks, item_texts=texts)
    b = _model(tiny_bert_path, adversary="fgsm").fit(blocks, item_texts=texts)
    np.testing.assert_array_equal(a.item_factors_, b.item_factors_)
    clean = _model(tiny_bert_path, adversary="none").fit(blocks, item_texts=texts)
    assert not np.allclose(a.item_factors_, clean.item_factors_)


def test_frozen_encoder_keeps_its_weights(tiny_bert_path, texts, blocks):
    from skadv.neural._encoders import load_encoder

    model = _model(tiny_bert_path, trainable_layers=0).fit(blocks, item_texts=texts)
    original, _ = load_encoder(tiny_bert_path)
    for name, value in original.state_dict().items():
        np.testing.assert_array_equal(
            model.encoder_state_["encoder"]["state_dict"][name], value.numpy()
        )
    tuned = _model(tiny_bert_path, trainable_layers=1).fit(blocks, item_texts=texts)
    weights = tuned.encoder_state_["encoder"]["state_dict"]
    top = [k for k in weights if k.startswith("encoder.layer.1.")]
    bottom = [k for k in weights if k.startswith("encoder.layer.0.")]
    assert any(not np.array_equal(weights[k], original.state_dict()[k].numpy()) for k in top)
    assert all(np.array_equal(weights[k], original.state_dict()[k].numpy()) for k in bottom)


def test_encoder_learning_rate_is_used(tiny_bert_path, texts, blocks):
    slow = _model(tiny_bert_path, encoder_learning_rate=1e-9).fit(blocks, item_texts=texts)
    fast = _model(tiny_bert_path).fit(blocks, item_texts=texts)
    w_slow = slow.encoder_state_["encoder"]["state_dict"]["encoder.layer.1.output.dense.weight"]
    w_fast = fast.encoder_state_["encoder"]["state_dict"]["encoder.layer.1.output.dense.weight"]
    assert not np.allclose(w_slow, w_fast)


def test_cold_items_are_scored_from_their_text(tiny_bert_path, texts, blocks):
    # Items 2 ("space war") and 8 ("love drama") never appear in training, but their words
    # do, in texts of their own group: only what was learned about words can carry over to
    # a new text. A small encoder learning rate keeps the random tiny BERT from memorizing
    # the training items (with 1e-2 the ranking of new texts is a coin toss decided by the
    # seed and the CPU's float rounding).
    cold = [2, 8]
    train = blocks[~np.isin(blocks[:, 1], cold)]
    model = _model(tiny_bert_path, n_epochs=30, encoder_learning_rate=1e-4)
    model.fit(train, item_texts=texts)
    assert 2 not in model.item_ids_
    assert model.predict([[0, 2]])[0] == UNKNOWN_ITEM_SCORE  # unknown until added
    # The towers rebuilt for cold start give the training items their trained vectors.
    np.testing.assert_allclose(
        model.encode_items([texts[i] for i in model.item_ids_]), model.item_factors_,
        rtol=1e-5, atol=1e-6,
    )  # fmt: skip
    model.add_items(cold, texts)
    assert model.n_items_ == 12 and model.interactions_.shape == (model.n_users_, 12)
    new_vectors = model.encode_items([texts[i] for i in cold])
    np.testing.assert_allclose(model.item_factors_[-2:], new_vectors, rtol=1e-5)
    items, _ = model.recommend(np.arange(20), n=model.n_items_, exclude_seen=False)
    rank = {i: np.argmax(items == i, axis=1) for i in cold}
    # Space users rank the new space item above the new romance item, and vice versa.
    assert np.mean(rank[2][:10] < rank[8][:10]) >= 0.7
    assert np.mean(rank[8][10:] < rank[2][10:]) >= 0.7


def test_add_items_validates(tiny_bert_path, texts, blocks):
    model = _model(tiny_bert_path).fit(blocks[blocks[:, 1] != 3], item_texts=texts)
    with pytest.raises(ValueError, match="already"):
        model.add_items([0], texts)
    with pytest.raises(ValueError, match="entries"):
        model.add_items([3], texts=["a", "b"])
    with pytest.raises(ValueError, match="no text"):
        model.add_items([99], texts)
    with pytest.raises(TypeError, match="texts must be a sequence of str"):
        model.add_items([3], "space")
    with pytest.raises(TypeError, match="texts"):
        model.add_items([3])
    model.add_items(["new"], texts=["space"])
    assert model.item_ids_.dtype == object and model.item_ids_[-1] == "new"


def test_pickle_keeps_recommendations_and_cold_start(tiny_bert_path, texts, blocks):
    model = _model(tiny_bert_path).fit(blocks[blocks[:, 1] != 4], item_texts=texts)
    loaded = pickle.loads(pickle.dumps(model))
    users = np.arange(20)
    np.testing.assert_array_equal(model.recommend(users, n=4)[0], loaded.recommend(users, n=4)[0])
    model.add_items([4], texts)
    loaded.add_items([4], [texts[4]])
    np.testing.assert_allclose(model.item_factors_, loaded.item_factors_, rtol=1e-5)


def test_fitted_model_ranks_without_torch(tiny_bert_path, texts, blocks, tmp_path):
    model = _model(tiny_bert_path).fit(blocks, item_texts=texts)
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(model))
    expected = model.recommend([0, 12], n=3)[0].tolist()
    # A fresh interpreter where importing torch fails, as on a machine without it.
    code = (
        "import pickle, sys\n"
        "class NoTorch:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('torch', 'transformers'):\n"
        "            raise ImportError(name + ' is not installed here')\n"
        "sys.meta_path.insert(0, NoTorch())\n"
        f"m = pickle.loads(open({str(path)!r}, 'rb').read())\n"
        "print(m.recommend([0, 12], n=3)[0].tolist())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(expected)


def test_grid_search_over_epsilon_and_adv_reg(tiny_bert_path, texts, blocks):
    search = GridSearchCV(
        _model(tiny_bert_path, n_epochs=1),
        {"epsilon": [0.01, 0.1], "adv_reg": [0.0, 1.0]},
        cv=UserHoldoutSplit(n_splits=2, random_state=0),
    )
    search.fit(blocks, item_texts=texts)
    assert len(search.cv_results_["mean_test_score"]) == 4
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))


def test_pipeline_routes_item_texts_to_fit(tiny_bert_path, texts, blocks):
    pipe = Pipeline([("rec", _model(tiny_bert_path, n_epochs=1))])
    pipe.fit(blocks, rec__item_texts=texts)
    direct = _model(tiny_bert_path, n_epochs=1).fit(blocks, item_texts=texts)
    np.testing.assert_array_equal(pipe[-1].item_factors_, direct.item_factors_)


def _as_long_as(X, texts):
    """``texts`` padded with unused ids to ``len(X)`` entries."""
    extra = {100 + k: "filler" for k in range(len(X) - len(texts))}
    return {**texts, **extra}


def test_grid_search_slices_texts_as_long_as_X_and_callables_avoid_it(
    tiny_bert_path, texts, blocks
):
    # GridSearchCV indexes a fit parameter of length len(X) by the rows of each training
    # fold: a Series loses texts (a dict fails inside scikit-learn); a callable is untouched.
    padded = _as_long_as(blocks, texts)
    assert len(padded) == len(blocks)

    def search():
        return GridSearchCV(
            _model(tiny_bert_path, n_epochs=1), {"epsilon": [0.01]},
            cv=UserHoldoutSplit(n_splits=2, random_state=0), error_score="raise",
        )  # fmt: skip

    with pytest.raises(ValueError, match="no text.*GridSearchCV"):
        search().fit(blocks, item_texts=pd.Series(padded))
    fitted = search().fit(blocks, item_texts=padded.get)
    assert np.isfinite(fitted.best_score_)


def test_item_texts_is_a_fit_argument_only(tiny_bert_path, texts, blocks):
    model = _model(tiny_bert_path, n_epochs=1)
    assert "item_texts" not in model.get_params()
    with pytest.raises(TypeError, match="item_texts"):
        model.fit(blocks)
    model.fit(blocks, item_texts=texts)
    assert all(value is not texts for value in vars(model).values())
    assert model.item_texts_.tolist() == [texts[i] for i in model.item_ids_]
    assert clone(model).get_params() == model.get_params()


@pytest.mark.parametrize(
    "make_texts",
    [
        lambda texts: [texts[3], texts[7]],
        lambda texts: texts,
        lambda texts: pd.Series(texts),
        lambda texts: texts.__getitem__,
    ],
    ids=["sequence", "mapping", "series", "callable"],
)
def test_add_items_takes_every_form_of_texts(tiny_bert_path, texts, blocks, make_texts):
    model = _model(tiny_bert_path, n_epochs=1)
    model.fit(blocks[~np.isin(blocks[:, 1], [3, 7])], item_texts=texts)
    model.add_items([3, 7], make_texts(texts))
    assert model.item_texts_[-2:].tolist() == [texts[3], texts[7]]
    np.testing.assert_array_equal(
        model.item_factors_[-2:], model.encode_items([texts[3], texts[7]])
    )


def test_relative_epsilon_and_random_adversary_train(tiny_bert_path, texts, blocks):
    fit = dict(item_texts=texts)
    absolute = _model(tiny_bert_path, n_epochs=1, epsilon=0.5).fit(blocks, **fit)
    relative = _model(tiny_bert_path, n_epochs=1, epsilon=0.5, epsilon_mode="relative")
    relative.fit(blocks, **fit)
    random = _model(tiny_bert_path, n_epochs=1, epsilon=0.5, adversary="random")
    random.fit(blocks, **fit)
    clean = _model(tiny_bert_path, n_epochs=1, adversary="none").fit(blocks, **fit)
    for model in (relative, random):
        assert np.all(np.isfinite(model.loss_curve_)) and model.n_iter_ == 1
    assert not np.allclose(relative.item_factors_, absolute.item_factors_)
    assert not np.allclose(random.item_factors_, clean.item_factors_)
    assert not np.allclose(random.item_factors_, absolute.item_factors_)


def test_embedding_attack_reads_the_factors(tiny_bert_path, texts, blocks):
    from skadv.attacks import EmbeddingAttack

    model = _model(tiny_bert_path, n_epochs=2).fit(blocks, item_texts=texts)
    attack = EmbeddingAttack("fgsm", epsilon=0.5, random_state=0)
    attacked = attack.perturb(model)
    assert attacked.item_factors_.shape == model.item_factors_.shape
    assert attack.bpr_loss(attacked) > attack.bpr_loss(model)


@pytest.mark.parametrize(
    "item_texts, error, match",
    [
        (None, ValueError, "item_texts is required"),
        (["a", "b"], TypeError, "item_texts must be"),
        ({0: "a"}, ValueError, "no text"),
        (lambda i: i, TypeError, "str per item"),
        (pd.Series(["a", "b"], index=[0, 0]), ValueError, "duplicate"),
    ],
)
def test_bad_item_texts_raise(tiny_bert_path, blocks, item_texts, error, match):
    with pytest.raises(error, match=match):
        _model(tiny_bert_path).fit(blocks, item_texts=item_texts)


def test_series_and_callable_texts_are_accepted(tiny_bert_path, texts, blocks):
    by_series = _model(tiny_bert_path).fit(blocks, item_texts=pd.Series(texts))
    by_callable = _model(tiny_bert_path).fit(blocks, item_texts=texts.__getitem__)
    np.testing.assert_array_equal(by_series.item_factors_, by_callable.item_factors_)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"trainable_layers": 5}, "trainable_layers"),
        ({"max_length": 1}, "max_length"),
        ({"user_tower": "mean"}, "user_tower"),
        ({"encoder": 3}, "encoder"),
        ({"norm": "l2"}, "norm"),
    ],
)
def test_bad_parameters_raise(tiny_bert_path, texts, blocks, params, match):
    with pytest.raises((ValueError, TypeError), match=match):
        _model(tiny_bert_path, **params).fit(blocks, item_texts=texts)


@pytest.mark.minilm
def test_minilm_fine_tunes_offline(minilm_path, texts, blocks):
    model = _model(minilm_path, trainable_layers=1, n_epochs=1, epsilon=1.0,
                   n_factors=16)  # fmt: skip
    model.fit(blocks, item_texts=texts)
    assert model.encoder_state_["encoder"]["config"]["hidden_size"] == 384
    assert model.item_factors_.shape == (12, 16)
    assert np.all(np.isfinite(model.loss_curve_))


@pytest.mark.gpu
def test_trains_on_cuda_and_adds_items_on_cpu(tiny_bert_path, texts, blocks):
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    model = _model(tiny_bert_path, device="cuda").fit(blocks[blocks[:, 1] != 2], item_texts=texts)
    assert model.device_.startswith("cuda")
    loaded = pickle.loads(pickle.dumps(model))
    loaded.add_items([2], texts)  # rebuilt on CPU from the NumPy state
    assert loaded.item_factors_.shape == (12, 8)
