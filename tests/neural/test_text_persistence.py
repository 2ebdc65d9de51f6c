"""The text model and encoder through pickle and skops (trusted types: skadv.io.trusted_types)."""

import pickle

import pytest
from numpy.testing import assert_array_equal

from skadv.datasets import make_interactions
from skadv.io import trusted_types

pytest.importorskip("torch")
pytest.importorskip("transformers")
sio = pytest.importorskip("skops.io")

TRUSTED = trusted_types()
X = make_interactions(n_users=40, n_items=30, random_state=0)


def same_recommendations(a, b):
    items_a, scores_a = a.recommend(a.user_ids_[:5], n=5)
    items_b, scores_b = b.recommend(a.user_ids_[:5], n=5)
    assert_array_equal(items_a, items_b)
    assert_array_equal(scores_a, scores_b)


@pytest.fixture(scope="module")
def text_model(tiny_bert_path):
    from skadv.neural import AdversarialTextRecommender

    texts = {i: f"star wars {i} love story" for i in range(30)}
    model = AdversarialTextRecommender(encoder=str(tiny_bert_path), n_epochs=1, random_state=0)
    return model.fit(X, item_texts=texts)


def test_text_model_pickle_round_trip(text_model):
    same_recommendations(text_model, pickle.loads(pickle.dumps(text_model)))


def test_text_model_skops_round_trip(text_model, tmp_path):
    sio.dump(text_model, tmp_path / "text.skops")
    assert set(sio.get_untrusted_types(file=tmp_path / "text.skops")) <= set(TRUSTED)
    loaded = sio.load(tmp_path / "text.skops", trusted=TRUSTED)
    same_recommendations(text_model, loaded)
    assert_array_equal(loaded.item_texts_, text_model.item_texts_)


def test_text_encoder_skops_round_trip(tiny_bert_path, tmp_path):
    from skadv.neural import TextEncoder

    encoder = TextEncoder(str(tiny_bert_path)).fit(["star wars"])
    sio.dump(encoder, tmp_path / "encoder.skops")
    loaded = sio.load(tmp_path / "encoder.skops", trusted=TRUSTED)
    assert_array_equal(loaded.transform(["love story"]), encoder.transform(["love story"]))
