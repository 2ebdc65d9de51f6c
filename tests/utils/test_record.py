"""fit_record_: the settings that reproduce a fit, on every estimator, through persistence."""

import pickle

import numpy as np
import pytest

from skadv import AdversarialMFRecommender, PopularityRecommender
from skadv.datasets import make_interactions

X = make_interactions(n_users=40, n_items=30, random_state=0)


def test_the_record_reproduces_a_fit():
    model = AdversarialMFRecommender(8, n_epochs=4, epsilon=0.2, random_state=3, dtype=np.float32)
    record = model.fit(X).fit_record_
    assert record["estimator"] == "AdversarialMFRecommender"
    assert (record["backend"], record["device"]) == ("cython", "cpu")
    assert record["params"]["epsilon"] == 0.2 and record["params"]["dtype"] == "float32"
    assert {"python", "skadv", "numpy", "scipy", "scikit-learn"} <= set(record["versions"])
    params = dict(record["params"], dtype=np.dtype(record["params"]["dtype"]).type)
    again = AdversarialMFRecommender(**params).fit(X)
    np.testing.assert_array_equal(again.user_factors_, model.user_factors_)


def test_the_record_is_plain_data_that_survives_persistence():
    model = PopularityRecommender().fit(X)
    model.set_params(handle_unknown="error")  # the record keeps the fit's settings
    loaded = pickle.loads(pickle.dumps(model))
    assert loaded.fit_record_ == model.fit_record_
    assert loaded.fit_record_["params"]["handle_unknown"] == "popularity"

    def plain(value):
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        if isinstance(value, (list, tuple)):
            return all(plain(v) for v in value)
        return value is None or isinstance(value, (bool, int, float, str))

    assert plain(model.fit_record_)


def test_partial_fit_records_the_latest_call():
    model = AdversarialMFRecommender(8, n_epochs=2, random_state=0).fit(X)
    model.set_params(n_epochs=3)
    model.partial_fit(np.array([[1000, 1]]))
    assert model.fit_record_["params"]["n_epochs"] == 3


def test_non_plain_params_are_kept_as_their_repr():
    rng = np.random.RandomState(0)
    record = AdversarialMFRecommender(8, n_epochs=1, random_state=rng).fit(X).fit_record_
    assert record["params"]["random_state"].startswith("RandomState")


@pytest.mark.torch
def test_torch_models_record_torch():
    pytest.importorskip("torch")
    from skadv.neural import AdversarialNeuralRecommender

    model = AdversarialNeuralRecommender(n_factors=4, hidden_layers=(), n_epochs=1,
                                         batch_size=64, random_state=0).fit(X)  # fmt: skip
    version = model.fit_record_["versions"]["torch"]
    assert model.fit_record_["backend"] == "torch" and type(version) is str  # not TorchVersion


def test_the_record_names_the_package_version():
    import re
    from pathlib import Path

    import skadv

    record = PopularityRecommender().fit(X).fit_record_
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    declared = re.search(r'^version = "([^"]+)"', pyproject, re.MULTILINE).group(1)
    assert record["versions"]["skadv"] == skadv.__version__ == declared
