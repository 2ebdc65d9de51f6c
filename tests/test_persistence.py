"""Persistence of every estimator: pickle, joblib, and skops with the documented trusted types.

The text model and encoder are tested in ``tests/neural/test_text_persistence.py`` (next to
the tiny BERT fixture). The list of types to trust is read from ``docs/ecosystem.rst`` (between the
``trusted-types-start`` and ``trusted-types-end`` comments), so the documentation and the test
cannot drift apart.
"""

import pickle
import re
from pathlib import Path

import joblib
import numpy as np
import pytest
from numpy.testing import assert_array_equal

from skadv import AdversarialMFRecommender, PopularityRecommender
from skadv.datasets import make_interactions

DOCS = Path(__file__).resolve().parents[1] / "docs" / "ecosystem.rst"


def _documented_trusted_types():
    text = DOCS.read_text(encoding="utf-8")
    block = text.split(".. trusted-types-start", 1)[1].split(".. trusted-types-end", 1)[0]
    return re.findall(r"^\s+((?:skadv|scipy)\.[\w.]+)\s*$", block, flags=re.MULTILINE)


TRUSTED = _documented_trusted_types()
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


def test_documented_list_is_read():
    assert "skadv.mf._adversarial_mf.AdversarialMFRecommender" in TRUSTED
    assert len(TRUSTED) == len(set(TRUSTED)) == 6


def test_pickle_round_trip(fitted):
    same_recommendations(fitted, pickle.loads(pickle.dumps(fitted)))


def test_joblib_round_trip(fitted, tmp_path):
    joblib.dump(fitted, tmp_path / "model.joblib")
    same_recommendations(fitted, joblib.load(tmp_path / "model.joblib"))


def test_skops_round_trip_with_the_documented_types(fitted, tmp_path):
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
