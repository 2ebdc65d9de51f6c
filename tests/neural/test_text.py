"""AdversarialTextRecommender on a tiny random BERT (and once on MiniLM)."""

import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import GridSearchCV

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

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


def _model(path, texts, **params):
    base = dict(encoder=path, item_texts=texts, n_factors=8, n_epochs=3, batch_size=16,
                learning_rate=0.01, epsilon=0.05, random_state=0)  # fmt: skip
    return AdversarialTextRecommender(**{**base, **params})


@pytest.mark.parametrize("adversary", ["none", "fgsm", "pgd", "freelb", "random"])
@pytest.mark.parametrize("norm", ["per-example", "global", "per-token"])
def test_fits_with_every_adversary_and_norm(tiny_bert_path, texts, blocks, adversary, norm):
    model = _model(tiny_bert_path, texts, adversary=adversary, norm=norm, pgd_steps=2)
    model.fit(blocks)
    assert model.item_embeddings_.shape == (model.n_items_, 8)
    assert model.user_embeddings_.shape == (model.n_users_, 8)
    assert np.all(np.isfinite(model.loss_curve_)) and model.n_iter_ == 3
    items, scores = model.recommend([0, 15], n=3)
    assert items.shape == (2, 3) and np.all(np.isfinite(scores))


@pytest.mark.parametrize("user_tower", ["id", "history", "both"])
def test_learns_which_texts_a_user_likes(tiny_bert_path, texts, blocks, user_tower):
    # The tiny BERT's token embeddings have norms ~0.1: a larger epsilon makes the
    # history-only tower collapse its item vectors to a constant (loss stuck at 2 log 2).
    model = _model(tiny_bert_path, texts, user_tower=user_tower, n_epochs=30,
                   adversary="fgsm", epsilon=0.01, learning_rate=0.01)  # fmt: skip
    model.fit(blocks)
    scores = model._user_item_scores(np.arange(model.n_users_))
    space_cols = np.isin(model.item_ids_, list(SPACE))
    space_users = np.isin(model.user_ids_, np.arange(10))
    prefers_space = scores[:, space_cols].mean(1) > scores[:, ~space_cols].mean(1)
    assert np.mean(prefers_space == space_users) >= 0.9


def test_adversary_changes_the_fit_and_same_seed_repeats(tiny_bert_path, texts, blocks):
    a = _model(tiny_bert_path, texts, adversary="fgsm").fit(blocks)
    b = _model(tiny_bert_path, texts, adversary="fgsm").fit(blocks)
    np.testing.assert_array_equal(a.item_embeddings_, b.item_embeddings_)
    clean = _model(tiny_bert_path, texts, adversary="none").fit(blocks)
    assert not np.allclose(a.item_embeddings_, clean.item_embeddings_)


def test_frozen_encoder_keeps_its_weights(tiny_bert_path, texts, blocks):
    from skadv.neural._encoders import load_encoder

    model = _model(tiny_bert_path, texts, trainable_layers=0).fit(blocks)
    original, _ = load_encoder(tiny_bert_path)
    for name, value in original.state_dict().items():
        np.testing.assert_array_equal(
            model.encoder_state_["encoder"]["state_dict"][name], value.numpy()
        )
    tuned = _model(tiny_bert_path, texts, trainable_layers=1).fit(blocks)
    weights = tuned.encoder_state_["encoder"]["state_dict"]
    top = [k for k in weights if k.startswith("encoder.layer.1.")]
    bottom = [k for k in weights if k.startswith("encoder.layer.0.")]
    assert any(not np.array_equal(weights[k], original.state_dict()[k].numpy()) for k in top)
    assert all(np.array_equal(weights[k], original.state_dict()[k].numpy()) for k in bottom)


def test_encoder_learning_rate_is_used(tiny_bert_path, texts, blocks):
    slow = _model(tiny_bert_path, texts, encoder_learning_rate=1e-9).fit(blocks)
    fast = _model(tiny_bert_path, texts).fit(blocks)
    w_slow = slow.encoder_state_["encoder"]["state_dict"]["encoder.layer.1.output.dense.weight"]
    w_fast = fast.encoder_state_["encoder"]["state_dict"]["encoder.layer.1.output.dense.weight"]
    assert not np.allclose(w_slow, w_fast)


def test_cold_items_are_scored_from_their_text(tiny_bert_path, texts, blocks):
    # Items 5 ("war of the worlds") and 11 ("romance in the city") never appear in training.
    train = blocks[~np.isin(blocks[:, 1], [5, 11])]
    model = _model(tiny_bert_path, texts, n_epochs=30).fit(train)
    assert 5 not in model.item_ids_
    assert model.predict([[0, 5]])[0] == -np.inf  # unknown until added
    model.add_items([5, 11])
    assert model.n_items_ == 12 and model.interactions_.shape == (model.n_users_, 12)
    # The vector of an added item is exactly what the trained towers give its text.
    np.testing.assert_allclose(model.item_embeddings_[-2:],
                               model.encode_items([texts[5], texts[11]]), rtol=1e-5)  # fmt: skip
    items, _ = model.recommend(np.arange(20), n=model.n_items_, exclude_seen=False)
    rank = {i: np.argmax(items == i, axis=1) for i in (5, 11)}
    # Space users rank the new space item above the new romance item, and vice versa.
    assert np.mean(rank[5][:10] < rank[11][:10]) >= 0.7
    assert np.mean(rank[11][10:] < rank[5][10:]) >= 0.7


def test_add_items_validates(tiny_bert_path, texts, blocks):
    model = _model(tiny_bert_path, texts).fit(blocks[blocks[:, 1] != 3])
    with pytest.raises(ValueError, match="already"):
        model.add_items([0])
    with pytest.raises(ValueError, match="entries"):
        model.add_items([3], texts=["a", "b"])
    with pytest.raises(ValueError, match="no text"):
        model.add_items([99])
    model.add_items(["new"], texts=["space"])
    assert model.item_ids_.dtype == object and model.item_ids_[-1] == "new"


def test_pickle_keeps_recommendations_and_cold_start(tiny_bert_path, texts, blocks):
    model = _model(tiny_bert_path, texts).fit(blocks[blocks[:, 1] != 4])
    loaded = pickle.loads(pickle.dumps(model))
    users = np.arange(20)
    np.testing.assert_array_equal(model.recommend(users, n=4)[0], loaded.recommend(users, n=4)[0])
    model.add_items([4])
    loaded.add_items([4])
    np.testing.assert_allclose(model.item_embeddings_, loaded.item_embeddings_, rtol=1e-5)


def test_fitted_model_ranks_without_torch(tiny_bert_path, texts, blocks, tmp_path):
    model = _model(tiny_bert_path, texts).fit(blocks)
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
        _model(tiny_bert_path, texts, n_epochs=1),
        {"epsilon": [0.01, 0.1], "adv_reg": [0.0, 1.0]},
        cv=UserHoldoutSplit(n_splits=2, random_state=0),
    )
    search.fit(blocks)
    assert len(search.cv_results_["mean_test_score"]) == 4
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))


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
        _model(tiny_bert_path, item_texts).fit(blocks)


def test_series_and_callable_texts_are_accepted(tiny_bert_path, texts, blocks):
    by_series = _model(tiny_bert_path, pd.Series(texts)).fit(blocks)
    by_callable = _model(tiny_bert_path, texts.__getitem__).fit(blocks)
    np.testing.assert_array_equal(by_series.item_embeddings_, by_callable.item_embeddings_)


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
        _model(tiny_bert_path, texts, **params).fit(blocks)


@pytest.mark.minilm
def test_minilm_fine_tunes_offline(minilm_path, texts, blocks):
    model = _model(minilm_path, texts, trainable_layers=1, n_epochs=1, epsilon=1.0,
                   n_factors=16)  # fmt: skip
    model.fit(blocks)
    assert model.encoder_state_["encoder"]["config"]["hidden_size"] == 384
    assert model.item_embeddings_.shape == (12, 16)
    assert np.all(np.isfinite(model.loss_curve_))


@pytest.mark.gpu
def test_trains_on_cuda_and_adds_items_on_cpu(tiny_bert_path, texts, blocks):
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    model = _model(tiny_bert_path, texts, device="cuda").fit(blocks[blocks[:, 1] != 2])
    assert model.device_.startswith("cuda")
    loaded = pickle.loads(pickle.dumps(model))
    loaded.add_items([2])  # rebuilt on CPU from the NumPy state
    assert loaded.item_embeddings_.shape == (12, 8)
