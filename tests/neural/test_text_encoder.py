"""Tests of skadv.neural.TextEncoder."""

import copy
import importlib.util
import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from skadv.neural import TextEncoder, _encoders  # noqa: E402

TEXTS = ["star wars", "a love story of the space war", "comedy", "the empire returns!"]


@pytest.fixture(scope="module")
def fitted(tiny_bert_path):
    return TextEncoder(tiny_bert_path, max_length=32).fit(TEXTS)


@pytest.fixture
def restore_threads():
    previous = torch.get_num_threads()
    yield
    torch.set_num_threads(previous)


def test_import_leaves_torch_unloaded():
    code = (
        "import sys, skadv.neural, skadv.neural._text_encoder; "
        "print('torch' in sys.modules, 'transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_init_stores_parameters_untouched(tiny_bert_path):
    params = dict(
        encoder=tiny_bert_path, max_length=7, batch_size=3, normalize=True, pooling="cls",
        device="cpu", n_jobs=-1,
    )  # fmt: skip
    encoder = TextEncoder(**params)
    assert encoder.get_params() == params
    assert encoder.get_params()["encoder"] is tiny_bert_path
    assert clone(encoder).get_params() == params


def test_defaults():
    assert TextEncoder().get_params() == dict(
        encoder="sentence-transformers/all-MiniLM-L6-v2",
        max_length=64,
        batch_size=64,
        normalize=False,
        pooling="mean",
        device=None,
        n_jobs=None,
    )


def test_fit_sets_attributes(fitted, tiny_bert_path):
    assert fitted.embedding_dim_ == 32
    assert fitted.device_ == "cpu"
    assert fitted.encoder_path_ == str(tiny_bert_path)
    assert list(fitted.get_feature_names_out()[[0, -1]]) == ["textencoder0", "textencoder31"]
    assert len(fitted.get_feature_names_out()) == 32


def test_transform_equals_encode_texts(fitted, tiny_bert_path):
    model, tokenizer = _encoders.load_encoder(tiny_bert_path)
    expected = _encoders.encode_texts(model, tokenizer, TEXTS, max_length=32)
    got = fitted.transform(TEXTS)
    assert got.shape == (4, 32)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize(
    ("param", "value", "changes"),
    [("normalize", True, True), ("max_length", 4, True), ("batch_size", 1, False)],
)
def test_parameters_have_their_effect(tiny_bert_path, param, value, changes):
    texts = ["the star wars saga of the space empire", "comedy"]
    base = TextEncoder(tiny_bert_path).fit_transform(texts)
    other = TextEncoder(tiny_bert_path, **{param: value}).fit_transform(texts)
    assert (not np.allclose(base, other, atol=1e-4)) == changes
    if param == "normalize":
        np.testing.assert_allclose(np.linalg.norm(other, axis=1), 1.0, rtol=1e-5)


def test_transform_is_deterministic_and_fit_is_repeatable(fitted, tiny_bert_path):
    first = fitted.transform(TEXTS)
    np.testing.assert_array_equal(fitted.transform(TEXTS), first)
    refit = TextEncoder(tiny_bert_path, max_length=32).fit(TEXTS[:1])
    np.testing.assert_array_equal(refit.transform(TEXTS), first)


def test_pipeline_with_logistic_regression(tiny_bert_path):
    texts = [
        "star wars",
        "space war",
        "star trek",
        "the space empire",
        "a love story",
        "romantic comedy",
        "love and romance",
        "the romance of a day",
    ]
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    pipe = make_pipeline(
        TextEncoder(tiny_bert_path, normalize=True), LogisticRegression(C=1e4, max_iter=5000)
    )
    pipe.fit(texts, y)
    # 8 points in 32 dimensions are separable: the pipeline fits its training data.
    assert pipe.score(texts, y) == 1.0
    assert pipe.predict_proba(texts[:2]).shape == (2, 2)


def test_set_output_pandas(fitted):
    out = (
        clone(fitted)
        .set_output(transform="pandas")
        .fit(TEXTS)
        .transform(pd.Series(TEXTS, index=[10, 11, 12, 13]))
    )
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns[:2]) == ["textencoder0", "textencoder1"]
    assert list(out.index) == [10, 11, 12, 13]


# ------------------------------------------------------------------------------ pickling
def test_pickle_drops_model_and_reloads_lazily(fitted):
    expected = fitted.transform(TEXTS)
    data = pickle.dumps(fitted)
    # Parameters and fitted attributes only: no weights in the pickle.
    assert len(data) < 4000
    restored = pickle.loads(data)
    assert "_model" not in vars(restored)
    assert "_tokenizer" not in vars(restored)
    assert restored.embedding_dim_ == 32
    np.testing.assert_array_equal(restored.transform(TEXTS), expected)
    assert "_model" in vars(restored)
    # Pickling does not unload the original.
    assert fitted._model is not None


def test_deepcopy_and_clone_of_fitted(fitted):
    expected = fitted.transform(TEXTS)
    np.testing.assert_array_equal(copy.deepcopy(fitted).transform(TEXTS), expected)
    unfitted = clone(fitted)
    with pytest.raises(NotFittedError):
        unfitted.transform(TEXTS)


def test_reload_with_other_model_size_raises(fitted, tmp_path):
    config = _encoders.load_encoder(fitted.encoder)[0].config
    config.hidden_size, config.intermediate_size = 16, 20
    import transformers

    transformers.BertModel(config).save_pretrained(tmp_path)
    _encoders.load_encoder(fitted.encoder)[1].save_pretrained(tmp_path)
    restored = pickle.loads(pickle.dumps(fitted))
    restored.encoder = tmp_path
    with pytest.raises(ValueError, match="refit"):
        restored.transform(TEXTS)


# -------------------------------------------------------------------------------- n_jobs
@pytest.mark.parametrize("n_jobs", [None, 1])
def test_n_jobs_sets_threads_during_transform_only(fitted, monkeypatch, restore_threads, n_jobs):
    torch.set_num_threads(2)
    seen = []
    original = _encoders.encode_texts

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return original(*args, **kwargs)

    monkeypatch.setattr(_encoders, "encode_texts", spy)
    encoder = clone(fitted).set_params(n_jobs=n_jobs).fit(TEXTS)
    encoder.transform(TEXTS)
    assert seen == [1]
    assert torch.get_num_threads() == 2


def test_threads_restored_after_error(fitted, monkeypatch, restore_threads):
    torch.set_num_threads(2)

    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(_encoders, "encode_texts", boom)
    with pytest.raises(RuntimeError, match="boom"):
        fitted.transform(TEXTS)
    assert torch.get_num_threads() == 2


# ------------------------------------------------------------------------------- inputs
@pytest.mark.parametrize(
    "make",
    [
        list,
        tuple,
        lambda t: iter(t),
        lambda t: np.array(t),
        lambda t: np.array(t, dtype=object),
        lambda t: np.array(t).reshape(-1, 1),
        lambda t: pd.Series(t, index=[5, 3, 1, 0]),
        lambda t: pd.Series(t, dtype="string"),
        lambda t: pd.DataFrame({"title": t}),
    ],
    ids=[
        "list",
        "tuple",
        "iterator",
        "str-array",
        "object-array",
        "column",
        "series",
        "string-series",
        "dataframe",
    ],
)
def test_accepted_inputs(fitted, make):
    np.testing.assert_array_equal(fitted.transform(make(TEXTS)), fitted.transform(TEXTS))


def test_empty_input(fitted):
    assert fitted.transform([]).shape == (0, 32)


@pytest.mark.parametrize(
    ("X", "error", "match"),
    [
        ("star wars", ValueError, "X must be an iterable"),
        (b"star wars", ValueError, "X must be an iterable"),
        (np.array([["a", "b"], ["c", "d"]]), ValueError, r"X must be 1-d .* shape \(2, 2\)"),
        (np.array("star wars"), ValueError, "X must be 1-d"),
        (np.empty((2, 1, 1), dtype=object), ValueError, "X must be 1-d"),
        (pd.DataFrame({"a": ["x"], "b": ["y"]}), ValueError, "X as a DataFrame"),
        (5, TypeError, "X must be an iterable of str"),
        (["star wars", 3], TypeError, r"X\[1\] must be a str, got int 3"),
        (["star wars", None], TypeError, r"X\[1\] must be a str, got NoneType"),
        (["a", "b", float("nan")], TypeError, r"X\[2\] must be a str, got float nan"),
        ([b"bytes"], TypeError, r"X\[0\] must be a str, got bytes"),
        ([["star wars"]], TypeError, r"X\[0\] must be a str, got list"),
        (pd.Series(["a", None], dtype="string"), TypeError, r"X\[1\] must be a str"),
    ],
)
def test_bad_inputs_name_X(fitted, X, error, match):
    with pytest.raises(error, match=match):
        fitted.transform(X)


def test_fit_checks_X_too(tiny_bert_path):
    with pytest.raises(TypeError, match=r"X\[0\]"):
        TextEncoder(tiny_bert_path).fit([1, 2])


# ---------------------------------------------------------------------------- parameters
@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("encoder", 3),
        ("encoder", None),
        ("max_length", 0),
        ("max_length", 2.0),
        ("batch_size", 0),
        ("normalize", "yes"),
        ("device", 0),
        ("n_jobs", 0),
        ("n_jobs", 1.5),
    ],
)
def test_bad_parameters(tiny_bert_path, param, value):
    encoder = TextEncoder(tiny_bert_path).set_params(**{param: value})
    with pytest.raises(ValueError, match=f"'{param}' parameter"):
        encoder.fit(TEXTS)


def test_max_length_beyond_positions(tiny_bert_path):
    with pytest.raises(ValueError, match="max_length=65 exceeds the 64 positions"):
        TextEncoder(tiny_bert_path, max_length=65).fit(TEXTS)


def test_missing_encoder_directory(tmp_path):
    with pytest.raises(ValueError, match="not an existing directory"):
        TextEncoder(tmp_path / "missing").fit(TEXTS)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a CPU-only machine")
def test_cuda_device_without_cuda(tiny_bert_path):
    with pytest.raises(ValueError, match="device='cuda'"):
        TextEncoder(tiny_bert_path, device="cuda").fit(TEXTS)


@pytest.mark.parametrize("missing", ["torch", "transformers"])
def test_missing_dependencies(monkeypatch, tiny_bert_path, missing):
    find_spec = importlib.util.find_spec

    def fake_find_spec(name, *args, **kwargs):
        return None if name == missing else find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", fake_find_spec)
    with pytest.raises(
        ImportError, match=rf"{missing} not installed\): pip install 'skadv\[text\]'"
    ):
        TextEncoder(tiny_bert_path).fit(TEXTS)


# --------------------------------------------------------------------- real MiniLM weights
@pytest.mark.minilm
def test_minilm_titles(minilm_path):
    titles = ["star wars", "star trek", "romantic comedy"]
    X = TextEncoder(normalize=True).fit_transform(titles)
    assert X.shape == (3, 384)
    cosine = X @ X.T
    assert cosine[0, 1] > cosine[0, 2]
