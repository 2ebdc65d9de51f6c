"""AdversarialTextRecommender.input_embeddings: the fine-tuned token embedding matrix."""

import pickle

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from skadv.neural import AdversarialTextRecommender


def test_input_embeddings_are_a_copy_of_the_fitted_encoders(tiny_bert_path):
    X = np.array([[0, 0], [0, 1], [1, 2], [1, 3], [2, 0], [2, 2]])
    texts = {0: "star wars", 1: "star trek", 2: "love story", 3: "love comedy"}
    model = AdversarialTextRecommender(encoder=tiny_bert_path, n_factors=4, n_epochs=1,
                                       random_state=0).fit(X, item_texts=texts)  # fmt: skip
    embeddings = model.input_embeddings()
    n_tokens = len(pickle.loads(model.tokenizer_state_))
    assert embeddings.shape == (n_tokens, 32) and embeddings.dtype == np.float32  # hidden 32
    state = model.encoder_state_["encoder"]["state_dict"]
    np.testing.assert_array_equal(embeddings, state["embeddings.word_embeddings.weight"])
    vectors = model.encode_items(["star wars"])
    embeddings[:] = 0.0  # a copy: the model still encodes as before
    np.testing.assert_array_equal(model.encode_items(["star wars"]), vectors)
