"""``skadv.io``: every fitted skadv object round-trips through skops with the computed list.

The estimators are those ``tests/test_common.py`` runs through scikit-learn's checks (fitted
here on ratings), an ``imblearn`` pipeline of a filter and a recommender, and the attacks
that are not estimators of that list. No type list is kept by hand anywhere.
"""

import importlib.util
import warnings

import numpy as np
import pytest
from sklearn.base import clone

from skadv import AdversarialMFRecommender, PopularityRecommender
from skadv.datasets import make_interactions

sio = pytest.importorskip("skops.io")
from test_common import ESTIMATORS  # noqa: E402  (tests/ is on sys.path under pytest)

from skadv.io import dump, load, trusted_types  # noqa: E402

X = make_interactions(n_users=60, n_items=40, density=0.15, random_state=0)
Y = np.random.default_rng(0).integers(1, 6, len(X)).astype(float)


def _fitted_arrays(obj):
    return {k: v for k, v in vars(obj).items() if k.endswith("_") and isinstance(v, np.ndarray)}


def assert_same_state(a, b):
    assert type(a) is type(b)
    arrays_a, arrays_b = _fitted_arrays(a), _fitted_arrays(b)
    assert arrays_a.keys() == arrays_b.keys()
    for key, value in arrays_a.items():
        assert value.dtype == arrays_b[key].dtype, key
        if value.dtype == object:
            assert value.tolist() == arrays_b[key].tolist(), key
        else:
            np.testing.assert_array_equal(value, arrays_b[key], err_msg=key)


def _fit(estimator):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return clone(estimator).fit(X, Y)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_every_fitted_estimator_round_trips(estimator, tmp_path):
    fitted = _fit(estimator)
    path = tmp_path / "obj.skops"
    dump(fitted, path)
    assert set(sio.get_untrusted_types(file=path)) <= set(trusted_types())
    loaded = load(path)
    assert_same_state(fitted, loaded)
    if hasattr(fitted, "recommend"):
        users = np.unique(X[:, 0])[:5]
        np.testing.assert_array_equal(fitted.recommend(users, n=4)[0],
                                      loaded.recommend(users, n=4)[0])  # fmt: skip


def test_imblearn_pipeline_round_trips(tmp_path):
    pipeline = pytest.importorskip("imblearn.pipeline")
    from skadv.detection import FakeUserFilter

    pipe = pipeline.Pipeline([
        ("filter", FakeUserFilter(random_state=0)),
        ("rec", AdversarialMFRecommender(4, n_epochs=2, random_state=0)),
    ]).fit(X)  # fmt: skip
    dump(pipe, tmp_path / "pipe.skops")
    loaded = load(tmp_path / "pipe.skops")
    assert pipe.score(X) == loaded.score(X)
    assert_same_state(pipe[-1], loaded[-1])


def test_embedding_attack_round_trips(tmp_path):
    from skadv.attacks import EmbeddingAttack

    model = AdversarialMFRecommender(4, n_epochs=2, random_state=0).fit(X)
    attack = EmbeddingAttack(epsilon=0.1)
    attacked = attack.perturb(model)  # a perturbed copy of the model: also savable
    dump(attack, tmp_path / "attack.skops")
    dump(attacked, tmp_path / "attacked.skops")
    assert load(tmp_path / "attack.skops").get_params() == attack.get_params()
    assert_same_state(attacked, load(tmp_path / "attacked.skops"))


def test_file_objects_and_bytes(tmp_path):
    model = PopularityRecommender().fit(X)
    with open(tmp_path / "m.skops", "wb") as handle:
        dump(model, handle)
    with open(tmp_path / "m.skops", "rb") as handle:
        assert_same_state(model, load(handle))
    assert_same_state(model, load((tmp_path / "m.skops").read_bytes()))


def test_trusted_types_come_from_the_package():
    names = trusted_types()
    assert len(names) == len(set(names))
    for name in ("skadv.mf._adversarial_mf.AdversarialMFRecommender",
                 "skadv.detection._detector.FakeUserFilter",
                 "skadv.augmentation._augmenter.GANAugmenter",
                 "skadv.attacks._poisoning._ShillingAttack",  # private classes too
                 "skadv.neural._text_encoder.TextEncoder",
                 "scipy.sparse._csr.csr_matrix"):  # fmt: skip
        assert name in names
    assert not any(name.startswith("skadv.tests") for name in names)


def test_trusted_types_import_nothing_heavy():
    import subprocess
    import sys

    code = "import sys, skadv.io; skadv.io.trusted_types(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


class Payload:
    """A type no one trusts: what a tampered file would smuggle in."""


def test_an_untrusted_type_is_refused(tmp_path):
    from skops.io.exceptions import UntrustedTypesFoundException

    model = PopularityRecommender().fit(X)
    model.payload_ = Payload()
    dump(model, tmp_path / "tampered.skops")
    with pytest.raises(UntrustedTypesFoundException, match="Payload"):
        load(tmp_path / "tampered.skops")
    extra = [f"{Payload.__module__}.Payload"]
    assert isinstance(load(tmp_path / "tampered.skops", trusted=extra).payload_, Payload)


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch")
def test_gan_augmenter_with_a_recommender_round_trips(tmp_path):
    from skadv import GANAugmenter
    from skadv.augmentation import CFGANRecommender

    aug = _fit(GANAugmenter(CFGANRecommender((4,), (4,), noise_dim=2, n_epochs=2, random_state=0),
                            AdversarialMFRecommender(4, n_epochs=2, random_state=0),
                            min_interactions=3, random_state=0))  # fmt: skip
    dump(aug, tmp_path / "aug.skops")
    loaded = load(tmp_path / "aug.skops")
    users = aug.estimator_.user_ids_[:3]
    np.testing.assert_array_equal(aug.recommend(users, n=3)[0], loaded.recommend(users, n=3)[0])
