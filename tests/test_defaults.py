"""A default is a promise: every recommender built with no arguments beats popularity.

The data set is planted (``make_interactions``) and small, so each fit takes seconds; the
full comparison on MovieLens splits and other shapes is ``benchmarks/bench_defaults.py``.
Also: the one meaning of the shared defaults across families, and the below-popularity
warning of an early-stopped fit.
"""

import importlib.util
import inspect
import warnings

import numpy as np
import pytest

from skadv import AdversarialMFRecommender, PopularityRecommender
from skadv.datasets import make_interactions
from skadv.model_selection import UserHoldoutSplit, train_test_split_interactions
from skadv.training import BelowPopularityWarning, resolve_adv_start

HAS_TORCH = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="needs PyTorch")


def _neural():
    from skadv.neural import AdversarialNeuralRecommender

    return AdversarialNeuralRecommender


def _cfgan():
    from skadv.augmentation import CFGANRecommender

    return CFGANRecommender


def _gan_augmenter():
    from skadv import GANAugmenter

    return GANAugmenter


# (factory of the class, needs torch): each constructed with its defaults and a seed only.
DEFAULT_MODELS = {
    "AdversarialMFRecommender": (lambda: AdversarialMFRecommender, False),
    "AdversarialNeuralRecommender": (_neural, True),
    "CFGANRecommender": (_cfgan, True),
    "GANAugmenter": (_gan_augmenter, True),
}


@pytest.fixture(scope="module")
def planted_split():
    X = make_interactions(n_users=300, n_items=150, density=0.08, random_state=0)
    return train_test_split_interactions(X, random_state=0)


@pytest.fixture(scope="module")
def popularity_ndcg(planted_split):
    X_train, X_test = planted_split
    return PopularityRecommender().fit(X_train).score(X_test)


@pytest.mark.parametrize("name", sorted(DEFAULT_MODELS))
def test_default_beats_popularity(name, planted_split, popularity_ndcg):
    factory, torch_needed = DEFAULT_MODELS[name]
    if torch_needed and not HAS_TORCH:
        pytest.skip("needs PyTorch")
    X_train, X_test = planted_split
    model = factory()(random_state=0).fit(X_train)
    # A clear margin, not a tie: popularity is the bar every default must clear.
    assert model.score(X_test) >= 1.1 * popularity_ndcg


def _default(cls, name):
    return inspect.signature(cls.__init__).parameters[name].default


@needs_torch
# adv_reg is not shared: 0.3 for matrix factorization, whose hard negatives (4 candidates)
# already sharpen the ranking (1.0 there: validation NDCG@10 0.2545 against 0.2762), 1.0 for
# the neural families.
@pytest.mark.parametrize("parameter", ["epsilon_mode", "adv_start", "early_stopping"])
def test_shared_defaults_mean_the_same_across_families(parameter):
    from skadv.neural import AdversarialNeuralRecommender, AdversarialTextRecommender

    families = [AdversarialMFRecommender, AdversarialNeuralRecommender, AdversarialTextRecommender]
    assert len({repr(_default(cls, parameter)) for cls in families}) == 1


def test_holdout_splitters_share_min_interactions():
    assert _default(UserHoldoutSplit, "min_interactions") == 5
    assert inspect.signature(train_test_split_interactions).parameters[
        "min_interactions"
    ].default == _default(UserHoldoutSplit, "min_interactions")


def test_resolve_adv_start_is_half_the_epochs():
    assert resolve_adv_start("auto", 9) == 4
    assert resolve_adv_start(0, 9) == 0


def test_below_popularity_warning_names_numbers_and_parameters(planted_split):
    X_train, _ = planted_split
    # One epoch of a barely initialized model: far below popularity on its validation part.
    model = AdversarialMFRecommender(n_epochs=1, early_stopping=True, random_state=0)
    with pytest.warns(BelowPopularityWarning, match=r"validation NDCG@10 \(0\.\d{4}\).*n_epochs"):
        model.fit(X_train)


def test_no_below_popularity_warning_when_the_model_serves(planted_split):
    X_train, _ = planted_split
    model = AdversarialMFRecommender(n_epochs=100, early_stopping=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", BelowPopularityWarning)
        model.fit(X_train)
    assert np.isfinite(model.best_validation_score_)


@needs_torch
def test_below_popularity_warning_for_torch_models(planted_split):
    X_train, _ = planted_split
    model = _neural()(n_epochs=1, learning_rate=1e-6, early_stopping=True, random_state=0)
    with pytest.warns(BelowPopularityWarning, match="learning_rate"):
        model.fit(X_train)
