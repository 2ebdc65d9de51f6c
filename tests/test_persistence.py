"""Persistence of the recommenders: pickle, joblib, and skops with ``skadv.io.trusted_types``.

The text model and encoder are tested in ``tests/neural/test_text_persistence.py`` (next to
the tiny BERT fixture); every other fitted estimator in ``tests/test_io.py``. The types to
trust are computed from the package (``skadv.io.trusted_types``): no list is kept by hand,
in the documentation or here.
"""

import pickle

import joblib
import numpy as np
import pytest
from numpy.testing import assert_array_equal

from skadv import AdversarialMFRecommender, PopularityRecommender
from skadv.datasets import make_interactions
from skadv.io import trusted_types

TRUSTED = trusted_types()
X = make_interactions(n_users=40, n_items=30, random_state=0)


def _mf():
    return AdversarialMFRecommender(n_factors=4, n_epochs=3, item_bias=True, early_stopping=True,
                                    random_state=0).fit(X)  # fmt: skip


def _popularity():
    return PopularityRecommender().fit(X)


def _neural(architecture):
    def make():
        pytest.importorskip("torch")
        from skadv.neural import AdversarialNeuralRecommender

        return AdversarialNeuralRecommender(
            architecture=architecture, n_epochs=1, random_state=0
        ).fit(X)

    return make


FACTORIES = {
    "mf": _mf,
    "popularity": _popularity,
    "two-tower": _neural("two-tower"),
    "neumf": _neural("neumf"),
}


@pytest.fixture(params=list(FACTORIES))
def fitted(request):
    return FACTORIES[request.param]()


def same_recommendations(a, b):
    users = a.user_ids_[:5]
    items_a, scores_a = a.recommend(users, n=5)
    items_b, scores_b = b.recommend(users, n=5)
    assert_array_equal(items_a, items_b)
    assert_array_equal(scores_a, scores_b)


def test_the_computed_list_holds_the_recommenders():
    for name in ("skadv.mf._adversarial_mf.AdversarialMFRecommender",
                 "skadv.baseline._popularity.PopularityRecommender",
                 "skadv.neural._neural.AdversarialNeuralRecommender"):  # fmt: skip
        assert name in TRUSTED


def test_pickle_round_trip(fitted):
    same_recommendations(fitted, pickle.loads(pickle.dumps(fitted)))


def test_joblib_round_trip(fitted, tmp_path):
    joblib.dump(fitted, tmp_path / "model.joblib")
    same_recommendations(fitted, joblib.load(tmp_path / "model.joblib"))


def test_skops_round_trip_with_the_computed_types(fitted, tmp_path):
    sio = pytest.importorskip("skops.io")
    path = tmp_path / "model.skops"
    sio.dump(fitted, path)
    assert set(sio.get_untrusted_types(file=path)) <= set(TRUSTED)
    loaded = sio.load(path, trusted=TRUSTED)
    assert type(loaded) is type(fitted)
    same_recommendations(fitted, loaded)
    np.testing.assert_array_equal(loaded.interactions_.toarray(), fitted.interactions_.toarray())


class Payload:
    """A type no one listed: what a tampered file would smuggle in."""


def test_skops_refuses_an_untrusted_type(tmp_path):
    sio = pytest.importorskip("skops.io")
    from skops.io.exceptions import UntrustedTypesFoundException

    model = _mf()
    model.payload_ = Payload()
    sio.dump(model, tmp_path / "tampered.skops")
    with pytest.raises(UntrustedTypesFoundException, match="Payload"):
        sio.load(tmp_path / "tampered.skops", trusted=TRUSTED)
