"""imbalanced-learn-style common checks for every sampler, detector and model attack.

The classes are found by walking the public subpackages of skadv (as
:func:`sklearn.utils.discovery.all_estimators` does), so a new sampler or detector is checked
without editing a list here: it is built with its defaults unless ``TINY`` gives a smaller
configuration. The checks themselves are public, in :mod:`skadv.utils.estimator_checks`.
The text models (``AdversarialTextRecommender``, ``TextAttack``, ``TextEncoder``) are checked
on the tiny random BERT of ``tests/conftest.py`` and, marked ``minilm``, on MiniLM-L6.
"""

import copy
import pickle
import sys

import numpy as np
import pytest
from _discovery import HAS_TORCH, NEEDS_TORCH, public_classes
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier

from skadv import AdversarialMFRecommender, PopularityRecommender
from skadv.detection import BaseShillingDetector, FakeUserFilter
from skadv.utils.estimator_checks import (
    check_detectors_empty_input,
    check_model_attack,
    check_samplers_empty_input,
    detector_checks,
    interaction_data,
    sampler_checks,
)

CLASSES = public_classes()


def _tiny_gan():
    from skadv.augmentation import CFGANRecommender

    return CFGANRecommender((4,), (4,), noise_dim=2, n_epochs=2, random_state=0)


#: Small configurations (fast on 40 users x 30 items); other classes use their defaults.
TINY = {
    "RandomAttack": lambda: {"filler_size": 3, "random_state": 0},
    "AverageAttack": lambda: {"filler_size": 3, "random_state": 0},
    "BandwagonAttack": lambda: {"filler_size": 3, "random_state": 0},
    "SegmentAttack": lambda: {"filler_size": 3, "random_state": 0},
    "SurrogateAttack": lambda: {"n_factors": 2, "n_epochs": 2, "n_iter": 2, "random_state": 0},
    "GANAttack": lambda: {"gan": _tiny_gan(), "random_state": 0},
    "GANAugmenter": lambda: {
        "gan": _tiny_gan(),
        "estimator": PopularityRecommender(),
        "min_interactions": 3,
        "n_synthetic_users": 2,
        "random_state": 0,
    },
    "ShillingDetector": lambda: {
        "attack": CLASSES["RandomAttack"](attack_size=0.1, filler_size=3),
        "classifier": RandomForestClassifier(n_estimators=10, random_state=0),
        "n_neighbors": 5,
        "cv": 2,
        "random_state": 0,
    },
    "PCADetector": lambda: {"n_components": 2, "random_state": 0},
    "DiscriminatorDetector": lambda: {"gan": _tiny_gan(), "random_state": 0},
    "CombinedDetector": lambda: {"random_state": 0},
}


def _build(name):
    return CLASSES[name](**TINY.get(name, dict)())


def _is_sampler(cls):
    return hasattr(cls, "fit_resample")


def _is_detector(cls):
    return issubclass(cls, BaseShillingDetector) and cls is not BaseShillingDetector


SAMPLERS = sorted(name for name, cls in CLASSES.items() if _is_sampler(cls))
DETECTORS = sorted(name for name, cls in CLASSES.items() if _is_detector(cls))
MODEL_ATTACKS = sorted(
    name
    for name, cls in CLASSES.items()
    if hasattr(cls, "perturb") and not _is_sampler(cls) and not _is_detector(cls)
)


def _torch_mark(name):
    return pytest.mark.skipif(
        name in NEEDS_TORCH and not HAS_TORCH, reason=f"{name} needs PyTorch to fit"
    )


def _check_params(names, checks_of):
    params = []
    for name in names:
        for check in checks_of(name):
            params.append(
                pytest.param(
                    name,
                    check,
                    id=f"{name}-{check.func.__name__}"
                    + ("-no_y" if check.keywords.get("with_y") is False else ""),
                    marks=_torch_mark(name),
                )  # fmt: skip
            )
    return params


def test_discovery_finds_the_known_classes():
    # Guards the walk itself: if it broke, the parametrized tests below would silently
    # check nothing.
    assert {"RandomAttack", "BandwagonAttack", "FakeUserFilter", "CamouflageAttack"} <= set(
        SAMPLERS
    )
    assert {"ShillingDetector", "PCADetector", "CoRatingDetector"} <= set(DETECTORS)
    assert "EmbeddingAttack" in MODEL_ATTACKS
    assert "GANAugmenter" in SAMPLERS and "DiscriminatorDetector" in DETECTORS


# ---------------------------------------------------------------------------- samplers
@pytest.mark.parametrize(
    "name, check",
    _check_params(
        SAMPLERS,
        lambda name: sampler_checks(CLASSES[name](), recommender=PopularityRecommender()),
    ),
)
def test_sampler(name, check):
    check(_build(name))


# FakeUserFilter in front of every detector: the filter is a sampler whatever it wraps.
@pytest.mark.parametrize(
    "detector_name, check",
    _check_params(
        DETECTORS,
        lambda name: sampler_checks(FakeUserFilter(), recommender=PopularityRecommender()),
    ),
)
def test_fake_user_filter_with_each_detector(detector_name, check):
    check(FakeUserFilter(_build(detector_name), random_state=0))


# ---------------------------------------------------------------------------- detectors
@pytest.mark.parametrize(
    "name, check", _check_params(DETECTORS, lambda name: detector_checks(CLASSES[name]()))
)
def test_detector(name, check):
    check(_build(name))


def test_empty_output_checks_fail_on_a_sampler_that_accepts_empty_data():
    class Lenient(FakeUserFilter):
        def fit_resample(self, X, y=None):
            return np.asarray(X), y

    with pytest.raises(AssertionError, match="accepted empty X"):
        check_samplers_empty_input("Lenient", Lenient())


def test_detector_checks_fail_on_a_detector_that_accepts_empty_data():
    class Lenient(CLASSES["CoRatingDetector"]):
        def fit(self, X, y=None):
            return self

    with pytest.raises(AssertionError, match="accepted empty X"):
        check_detectors_empty_input("Lenient", Lenient())


def test_sampler_checks_catch_a_mutating_sampler():
    from skadv.utils.estimator_checks import check_samplers_no_mutation

    class Mutating(CLASSES["RandomAttack"]):
        def fit_resample(self, X, y=None):
            out = super().fit_resample(X, y)
            if y is not None:
                y[0] = -1.0
            return out

    with pytest.raises(AssertionError, match="changed y"):
        check_samplers_no_mutation("Mutating", Mutating(filler_size=3, random_state=0))


def test_user_written_sampler_passes_the_checks():
    # A sampler outside skadv, written against the documented base: the checks are public
    # so that its author can run them.
    from skadv.base import BaseInteractionSampler
    from skadv.utils.estimator_checks import check_sampler

    class DuplicateHeaviest(BaseInteractionSampler):
        """Adds one more interaction of the most active user with its first item."""

        def _fit_resample(self, user_codes, item_codes, weights):
            u = np.bincount(user_codes).argmax()
            i = item_codes[user_codes == u][0]
            return np.array([u]), np.array([i]), np.array([weights.max()])

    check_sampler(DuplicateHeaviest(), recommender=PopularityRecommender())


# ---------------------------------------------------------------------------- model attacks
@pytest.fixture(scope="module")
def fitted_mf():
    X, _ = interaction_data()
    return AdversarialMFRecommender(n_factors=4, n_epochs=2, random_state=0).fit(X)


@pytest.mark.parametrize("adversary", ["fgsm", "pgd", "random"])
def test_embedding_attack_common_checks(fitted_mf, adversary):
    attack = CLASSES["EmbeddingAttack"](adversary, 0.5, n_steps=2, random_state=0)
    attacked = check_model_attack("EmbeddingAttack", attack, fitted_mf)
    assert attacked.user_factors_.shape == fitted_mf.user_factors_.shape
    assert clone(attack).get_params() == attack.get_params()


@pytest.mark.parametrize("name", MODEL_ATTACKS)
def test_model_attack_has_estimator_api(name):
    # get_params / set_params / clone round-trip on the defaults; pickling the unfitted one.
    attack = CLASSES[name]()
    params = attack.get_params()
    assert clone(attack).get_params().keys() == params.keys()
    assert type(pickle.loads(pickle.dumps(attack))).__name__ == name


# ---------------------------------------------------------------------------- text models
TITLES = [
    "star wars", "star trek", "space war", "space adventure", "lost empire",
    "war of the worlds", "love story", "romantic comedy", "love drama", "comedy night",
]  # fmt: skip


def _text_blocks():
    rng = np.random.RandomState(0)
    return np.array([(u, i) for u in range(16) for i in range(10)
                     if (i < 5) == (u < 8) and rng.rand() < 0.8])  # fmt: skip


def _text_model(path, **params):
    from skadv.neural import AdversarialTextRecommender

    base = dict(encoder=path, n_factors=4, n_epochs=2, batch_size=16, adversary="none",
                n_jobs=1, random_state=0)  # fmt: skip
    return AdversarialTextRecommender(**{**base, **params})


@pytest.fixture(scope="module")
def text_model(tiny_bert_path):
    return _text_model(tiny_bert_path).fit(_text_blocks(), item_texts=dict(enumerate(TITLES)))


def test_text_recommender_common(tiny_bert_path, text_model):
    X = _text_blocks()
    texts = dict(enumerate(TITLES))
    X_copy, texts_copy = X.copy(), dict(texts)
    model = _text_model(tiny_bert_path)
    params = copy.deepcopy(model.get_params())
    again = clone(model).fit(X, item_texts=texts)
    # Deterministic, no mutation of X, the texts or the parameters.
    np.testing.assert_array_equal(again.recommend(np.arange(4), n=3)[0],
                                  text_model.recommend(np.arange(4), n=3)[0])  # fmt: skip
    np.testing.assert_array_equal(X, X_copy)
    assert texts == texts_copy
    assert repr(model.get_params()) == repr(params)
    items, scores = text_model.recommend(np.arange(4), n=3)
    assert items.shape == scores.shape == (4, 3) and np.all(np.isfinite(scores))
    restored = pickle.loads(pickle.dumps(text_model))
    np.testing.assert_array_equal(restored.recommend([0], n=3)[0],
                                  text_model.recommend([0], n=3)[0])  # fmt: skip
    with pytest.raises(ValueError):
        clone(model).fit(np.empty((0, 2), dtype=np.int64), item_texts=texts)


def test_text_attack_common(text_model):
    attack = CLASSES["TextAttack"](max_edits=1, n_candidates=4, random_state=0)
    check_model_attack("TextAttack", attack, text_model, items=[4], users=np.arange(8))


def _check_text_encoder(path):
    from skadv.neural import TextEncoder

    texts = ["star wars", "love story", "space adventure"]
    texts_copy = list(texts)
    encoder = TextEncoder(path, max_length=16, n_jobs=1)
    params = copy.deepcopy(encoder.get_params())
    assert encoder.fit(texts) is encoder
    Z = encoder.transform(texts)
    assert Z.shape == (3, encoder.embedding_dim_) and Z.dtype.kind == "f"
    assert np.all(np.isfinite(Z))
    np.testing.assert_allclose(clone(encoder).fit_transform(texts), Z, rtol=1e-5, atol=1e-6)
    assert texts == texts_copy and encoder.get_params() == params
    np.testing.assert_allclose(pickle.loads(pickle.dumps(encoder)).transform(texts), Z,
                               rtol=1e-5, atol=1e-6)  # fmt: skip
    # No texts: an empty block of the right width (a feature extractor, not a model).
    assert encoder.transform([]).shape == (0, encoder.embedding_dim_)
    with pytest.raises(ValueError, match="single str"):
        encoder.transform("one string is not a list of texts")
    with pytest.raises(TypeError, match=r"X\[1\] must be a str"):
        encoder.transform(["a title", None])


def test_text_encoder_common(tiny_bert_path):
    _check_text_encoder(tiny_bert_path)


@pytest.mark.minilm
def test_text_encoder_common_minilm(minilm_path):
    pytest.importorskip("transformers")
    _check_text_encoder(minilm_path)


def test_pipeline_check_without_imblearn_is_skipped_with_a_warning(monkeypatch):
    from skadv.utils.estimator_checks import check_sampler

    monkeypatch.setitem(sys.modules, "imblearn.pipeline", None)  # import raises ImportError
    sampler = CLASSES["RandomAttack"](filler_size=3, random_state=0)
    with pytest.warns(UserWarning, match="check_samplers_pipeline skipped"):
        check_sampler(sampler, recommender=PopularityRecommender())
