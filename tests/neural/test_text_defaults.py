"""AdversarialTextRecommender's defaults: frozen encoder with cached text vectors, an item id
embedding beside the text, adversarial training of the factors (tiny random BERT; MiniLM once)."""

import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from skadv.baseline import PopularityRecommender  # noqa: E402
from skadv.metrics import get_ranking_scorer  # noqa: E402
from skadv.model_selection import train_test_split_interactions  # noqa: E402
from skadv.neural import AdversarialTextRecommender  # noqa: E402
from skadv.training import resolve_adv_start  # noqa: E402

TOPICS = [
    ["star", "space", "war", "empire", "trek"],
    ["love", "romance", "romantic", "story", "woman"],
    ["horror", "night", "lost", "thriller", "man"],
    ["comedy", "city", "life", "day", "new"],
]
N_TOPICS, PER_TOPIC, N_USERS = len(TOPICS), 10, 80


def _planted_texts():
    """Item ``i`` of topic ``i % 4``: three words of its topic (and nothing else)."""
    rng = np.random.RandomState(0)
    return {i: " ".join(rng.choice(TOPICS[i % N_TOPICS], 3, replace=False))
            for i in range(N_TOPICS * PER_TOPIC)}  # fmt: skip


def _planted_interactions(random_state=0):
    """User ``u`` likes topic ``u % 4``: 70 % of its items, plus 5 % of the others."""
    rng = np.random.RandomState(random_state)
    n_items = N_TOPICS * PER_TOPIC
    pairs = [(u, i) for u in range(N_USERS) for i in range(n_items)
             if rng.rand() < (0.7 if i % N_TOPICS == u % N_TOPICS else 0.05)]  # fmt: skip
    return np.array(pairs)


@pytest.fixture(scope="module")
def planted():
    X = _planted_interactions()
    X_train, X_test = train_test_split_interactions(X, test_size=0.25, random_state=0)
    return X_train, X_test, _planted_texts()


def test_init_stores_the_new_defaults_untouched():
    params = AdversarialTextRecommender().get_params()
    expected = dict(trainable_layers=0, item_id_embedding=True, adv_target="factors",
                    epsilon=0.3, epsilon_mode="relative", adversary="fgsm")  # fmt: skip
    assert {k: params[k] for k in expected} == expected
    # Half the epochs clean, then adversarial: the rule of every family.
    assert params["adv_start"] == "auto" and resolve_adv_start("auto", params["n_epochs"]) > 0


def test_default_encodes_the_catalogue_once(tiny_bert_path, planted, monkeypatch):
    # The frozen encoder's text vectors are cached: no training step runs the encoder.
    from skadv.neural import _text_modules

    calls = []
    original = _text_modules.encode_embeds

    def counting(model, embeds, *args, **kwargs):
        calls.append(embeds.shape[0])
        return original(model, embeds, *args, **kwargs)

    monkeypatch.setattr(_text_modules, "encode_embeds", counting)
    X_train, _, texts = planted
    model = AdversarialTextRecommender(tiny_bert_path, n_epochs=3, random_state=0)
    model.fit(X_train, item_texts=texts)
    assert sum(calls) == model.n_items_  # one pass over the catalogue, nothing per step
    before = len(calls)
    AdversarialTextRecommender(tiny_bert_path, n_epochs=1, adv_target="text",
                               random_state=0).fit(X_train, item_texts=texts)  # fmt: skip
    assert sum(calls[before:]) == model.n_items_
    # Token-level adversarial training runs the (frozen) encoder in every step.
    before = len(calls)
    AdversarialTextRecommender(tiny_bert_path, n_epochs=1, adv_target="tokens",
                               random_state=0).fit(X_train, item_texts=texts)  # fmt: skip
    assert sum(calls[before:]) > 2 * model.n_items_


def test_default_beats_popularity_on_planted_tastes(tiny_bert_path, planted):
    X_train, X_test, texts = planted
    ndcg = get_ranking_scorer("ndcg@10")
    model = AdversarialTextRecommender(tiny_bert_path, random_state=0)
    model.fit(X_train, item_texts=texts)
    popularity = PopularityRecommender().fit(X_train)
    assert model.n_iter_ == 100 and np.all(np.isfinite(model.loss_curve_))
    assert ndcg(model, X_test) > ndcg(popularity, X_test) + 0.2


def test_default_is_deterministic(tiny_bert_path, planted):
    X_train, _, texts = planted
    a = AdversarialTextRecommender(tiny_bert_path, n_epochs=4, adv_start=2, random_state=0)
    b = AdversarialTextRecommender(tiny_bert_path, n_epochs=4, adv_start=2, random_state=0)
    a.fit(X_train, item_texts=texts)
    b.fit(X_train, item_texts=texts)
    np.testing.assert_array_equal(a.item_factors_, b.item_factors_)
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)


def test_item_vector_is_text_part_plus_id_part(tiny_bert_path, planted):
    X_train, _, texts = planted
    model = AdversarialTextRecommender(tiny_bert_path, n_epochs=2, random_state=0)
    model.fit(X_train, item_texts=texts)
    text_part = model.encode_items([texts[i] for i in model.item_ids_])
    np.testing.assert_allclose(model.item_factors_ - model.item_id_factors_, text_part,
                               rtol=1e-4, atol=1e-5)  # fmt: skip
    assert np.abs(model.item_id_factors_).sum() > 0
    plain = AdversarialTextRecommender(tiny_bert_path, n_epochs=2, item_id_embedding=False,
                                       random_state=0).fit(X_train, item_texts=texts)  # fmt: skip
    np.testing.assert_array_equal(plain.item_id_factors_, 0.0)
    np.testing.assert_allclose(plain.item_factors_,
                               plain.encode_items([texts[i] for i in plain.item_ids_]),
                               rtol=1e-4, atol=1e-5)  # fmt: skip


@pytest.mark.parametrize("adv_target", ["factors", "text", "tokens"])
def test_every_adv_target_trains_and_changes_the_fit(tiny_bert_path, planted, adv_target):
    X_train, _, texts = planted
    params = dict(n_epochs=2, adv_start=0, epsilon=0.5, random_state=0)
    model = AdversarialTextRecommender(tiny_bert_path, adv_target=adv_target, **params)
    model.fit(X_train, item_texts=texts)
    clean = AdversarialTextRecommender(tiny_bert_path, adversary="none", **params)
    clean.fit(X_train, item_texts=texts)
    assert np.all(np.isfinite(model.adv_loss_curve_)) and model.adv_loss_curve_[-1] > 0
    assert not np.allclose(model.item_factors_, clean.item_factors_)


def test_adv_start_delays_the_adversarial_term(tiny_bert_path, planted):
    X_train, _, texts = planted
    model = AdversarialTextRecommender(tiny_bert_path, n_epochs=3, adv_start=2, random_state=0)
    model.fit(X_train, item_texts=texts)
    np.testing.assert_array_equal(np.asarray(model.adv_loss_curve_[:2]) > 0, [False, False])
    assert model.adv_loss_curve_[2] > 0


def test_cold_items_get_the_text_part_only(tiny_bert_path, planted):
    X_train, _, texts = planted
    cold = [0, 1, 2, 3]  # one item per topic, never seen in training
    model = AdversarialTextRecommender(tiny_bert_path, n_epochs=3, random_state=0)
    model.fit(X_train[~np.isin(X_train[:, 1], cold)], item_texts=texts)
    model.add_items(cold, texts)
    np.testing.assert_array_equal(model.item_id_factors_[-4:], 0.0)
    cold_vectors = model.encode_items([texts[i] for i in cold])
    np.testing.assert_allclose(model.item_factors_[-4:], cold_vectors, rtol=1e-5)
    assert model.item_id_factors_.shape == model.item_factors_.shape


def test_pickle_round_trip_of_the_default(tiny_bert_path, planted):
    X_train, _, texts = planted
    model = AdversarialTextRecommender(tiny_bert_path, n_epochs=3, random_state=0)
    model.fit(X_train[X_train[:, 1] != 5], item_texts=texts)
    loaded = pickle.loads(pickle.dumps(model))
    users = np.arange(10)
    np.testing.assert_array_equal(model.recommend(users, n=5)[0], loaded.recommend(users, n=5)[0])
    model.add_items([5], texts)
    loaded.add_items([5], texts)
    np.testing.assert_allclose(model.item_factors_, loaded.item_factors_, rtol=1e-5)
    np.testing.assert_array_equal(model.item_id_factors_, loaded.item_id_factors_)


def test_id_dropout_changes_the_fit_and_is_seeded(tiny_bert_path, planted):
    X_train, _, texts = planted
    params = dict(n_epochs=3, random_state=0)
    plain = AdversarialTextRecommender(tiny_bert_path, **params).fit(X_train, item_texts=texts)
    drop = [AdversarialTextRecommender(tiny_bert_path, id_dropout=0.5, **params)
            .fit(X_train, item_texts=texts) for _ in range(2)]  # fmt: skip
    np.testing.assert_array_equal(drop[0].item_factors_, drop[1].item_factors_)
    assert not np.allclose(drop[0].item_factors_, plain.item_factors_)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"id_dropout": 1.0}, "id_dropout"),
        ({"adv_target": "embeddings"}, "adv_target"),
        ({"item_id_embedding": "yes"}, "item_id_embedding"),
        ({"epsilon_mode": "per-user"}, "epsilon_mode"),
    ],
)
def test_bad_new_parameters_raise(tiny_bert_path, planted, params, match):
    X_train, _, texts = planted
    with pytest.raises(ValueError, match=match):
        AdversarialTextRecommender(tiny_bert_path, **params).fit(X_train, item_texts=texts)


@pytest.mark.minilm
def test_minilm_default_ranks_cold_items_from_text(minilm_path, planted):
    # MiniLM's frozen text vectors carry the topics: a projection learned on the warm items
    # ranks never-seen items of a user's topic above the others.
    X_train, _, texts = planted
    cold = list(range(8))  # two items per topic
    model = AdversarialTextRecommender(minilm_path, random_state=0)
    model.fit(X_train[~np.isin(X_train[:, 1], cold)], item_texts=texts)
    model.add_items(cold, texts)
    scores = model.predict(np.array([(u, i) for u in range(N_USERS) for i in cold]))
    scores = scores.reshape(N_USERS, len(cold))
    own = np.array([[i % N_TOPICS == u % N_TOPICS for i in cold] for u in range(N_USERS)])
    best = np.array(cold)[scores.argmax(axis=1)]
    assert np.mean(best % N_TOPICS == np.arange(N_USERS) % N_TOPICS) >= 0.8
    assert scores[own].mean() > scores[~own].mean()
