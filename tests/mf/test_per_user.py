"""epsilon_mode="per-user" (PamaCF's personalized magnitude) on both MF backends.

The radii of a triple are the relative radii times ``c_u = 2 sigmoid(|p_u| / mean - 1)`` of
its user's current row: checked on hand-computed cases, against the NumPy reference step,
between the two backends, and on whole fits.
"""

import numpy as np
import pytest
from _kernel import step, testing
from _reference import reference_step
from sklearn.base import clone

from skadv.datasets import make_interactions
from skadv.mf import AdversarialMFRecommender
from skadv.mf._cython_backend import KERNEL_ADVERSARY_CODES as ADVERSARIES
from skadv.training import FactorState, per_user_scale

HYPER = dict(lr=0.1, reg=0.05, adv_reg=0.7, eps_user=0.3, eps_item=0.2)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def test_scale_by_hand():
    # |p| = 5: mean 5 gives 1 (the relative radius), mean 2.5 gives 2 sigmoid(1).
    assert per_user_scale(5.0, 5.0) == pytest.approx(1.0)
    assert per_user_scale(5.0, 2.5) == pytest.approx(2 * _sigmoid(1.0))
    assert per_user_scale(0.0, 1.0) == pytest.approx(2 * _sigmoid(-1.0))
    assert per_user_scale(np.array([1e9]), 1.0)[0] == pytest.approx(2.0)
    assert per_user_scale(3.0, 0.0) == 1.0


@pytest.mark.parametrize("adversary", ["fgsm", "random"])
@pytest.mark.parametrize("mean_norm", [5.0, 2.5, 20.0])
def test_kernel_radius_follows_the_user_row_norm(adversary, mean_norm):
    # p = (3, 4, 0, ...) has norm 5: the user row moves by eps_user * c, both items by
    # eps_item * c, with c = 2 sigmoid(5 / mean - 1).
    k = 6
    p = np.zeros(k)
    p[:2] = (3.0, 4.0)
    rng = np.random.RandomState(0)
    qi, qj = rng.normal(size=k), rng.normal(size=k)
    c = 2 * _sigmoid(5.0 / mean_norm - 1.0)
    du, di, dj = testing.perturbation(
        p, qi, qj, 0.3, 0.2, ADVERSARIES[adversary], 3, inv_user_norm=1.0 / mean_norm
    )
    np.testing.assert_allclose(np.linalg.norm(du), 0.3 * c, rtol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(di), 0.2 * c, rtol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(dj), 0.2 * c, rtol=1e-12)
    # The direction is the one of the other modes: only the radius changes.
    plain = testing.perturbation(p, qi, qj, 0.3 * c, 0.2 * c, ADVERSARIES[adversary], 3)
    np.testing.assert_allclose(np.concatenate([du, di, dj]), np.concatenate(plain), rtol=1e-12)


def _params(seed=0, n_users=3, n_items=5, k=6):
    rng = np.random.RandomState(seed)
    arrays = (rng.normal(0, 0.5, (n_users, k)), rng.normal(0, 0.5, (n_items, k)),
              rng.normal(0, 0.1, n_items), rng.uniform(0, 0.5, (n_users, k)),
              rng.uniform(0, 0.5, (n_items, k)), rng.uniform(0, 0.5, n_items))  # fmt: skip
    return [np.ascontiguousarray(a) for a in arrays]


@pytest.mark.parametrize("optimizer", ["sgd", "adagrad"])
def test_kernel_step_matches_the_reference_with_scaled_radii(optimizer):
    # Three triples in order, each radius from its user's row *at its update*.
    triples = np.array([[0, 1, 2], [1, 3, 0], [0, 4, 1]], dtype=np.int32)
    mean_norm = 1.3
    kernel = _params()
    ref = [a.copy() for a in kernel]
    testing.sgd_triples(
        *kernel, *(np.ascontiguousarray(triples[:, c]) for c in range(3)),
        step(**HYPER, adversary="fgsm", adagrad=optimizer == "adagrad", use_bias=True,
             inv_user_norm=1 / mean_norm), 0,
    )  # fmt: skip
    P, Q, b, aP, aQ, ab = ref
    for u, i, j in triples:
        c = per_user_scale(np.linalg.norm(P[u]), mean_norm)
        hyper = {**HYPER, "eps_user": HYPER["eps_user"] * c, "eps_item": HYPER["eps_item"] * c}
        reference_step(P, Q, b, aP, aQ, ab, u, i, j, adversary="fgsm", optimizer=optimizer,
                       use_bias=True, **hyper)  # fmt: skip
    for got, want in zip(kernel, ref, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-13)


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_backends_agree_on_a_batch_without_shared_rows(dtype):
    # Triples sharing no row do not interact: one torch batch = the kernel's steps in turn.
    torch = pytest.importorskip("torch")
    from skadv.mf import _torch_backend as tb

    disjoint = np.array([[0, 0, 1], [1, 2, 3], [2, 4, 5]], dtype=np.int64)
    arrays = [a.astype(dtype) for a in _params(n_items=6)]
    kernel = [a.copy() for a in arrays]
    state = FactorState(*arrays)
    t = torch.from_numpy(disjoint)
    clean, adv = tb.batch_step(
        tb.on_device(state, "cpu"), t[:, 0], t[:, 1], t[:, 2], adversary="fgsm",
        use_bias=True, mean_user_norm=1.3, **HYPER,
    )  # fmt: skip
    k_clean, k_adv = testing.sgd_triples(
        *kernel, *(np.ascontiguousarray(disjoint[:, c], dtype=np.int32) for c in range(3)),
        step(**HYPER, adversary="fgsm", adagrad=True, use_bias=True, inv_user_norm=1 / 1.3), 0,
    )  # fmt: skip
    rtol = 2e-5 if dtype == np.float32 else 1e-11
    assert adv.item() == pytest.approx(k_adv, rel=rtol)
    assert clean.item() == pytest.approx(k_clean, rel=rtol)
    for name, got, want in zip(("user", "item", "bias"), arrays, kernel, strict=False):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-6, err_msg=name)


@pytest.fixture(scope="module")
def X():
    return make_interactions(n_users=60, n_items=40, density=0.1, random_state=0)


FIT = dict(n_factors=8, n_epochs=6, epsilon=0.3, epsilon_mode="per-user", random_state=0)
BACKENDS = [
    pytest.param(dict(backend="cython"), id="cython"),
    pytest.param(dict(backend="torch", device="cpu", batch_size=16), id="torch",
                 marks=pytest.mark.torch),
]  # fmt: skip


@pytest.mark.parametrize("backend", BACKENDS)
def test_per_user_fits_are_deterministic_and_differ_from_relative(backend, X):
    if backend["backend"] == "torch":
        pytest.importorskip("torch")
    first = AdversarialMFRecommender(**FIT, **backend).fit(X)
    second = AdversarialMFRecommender(**FIT, **backend).fit(X)
    np.testing.assert_array_equal(first.user_factors_, second.user_factors_)
    np.testing.assert_array_equal(first.item_factors_, second.item_factors_)
    relative = AdversarialMFRecommender(**{**FIT, "epsilon_mode": "relative"}, **backend).fit(X)
    assert not np.allclose(first.user_factors_, relative.user_factors_)
    # Clean pre-training is the same: the modes differ from the first adversarial epoch on.
    assert first.loss_curve_[:3] == relative.loss_curve_[:3]


@pytest.mark.parametrize("backend", BACKENDS)
def test_per_user_partial_fit_runs(backend, X):
    if backend["backend"] == "torch":
        pytest.importorskip("torch")
    half = len(X) // 2
    model = AdversarialMFRecommender(**FIT, **backend).fit(X[:half])
    model.partial_fit(X[half:])
    assert np.isfinite(model.user_factors_).all() and len(model.loss_curve_) == 12


def test_clone_and_get_params_keep_the_mode():
    model = AdversarialMFRecommender(epsilon_mode="per-user", epsilon=0.2)
    assert model.get_params()["epsilon_mode"] == "per-user"
    assert clone(model).get_params() == model.get_params()


def test_an_unknown_mode_names_the_parameter(X):
    with pytest.raises(ValueError, match="epsilon_mode"):
        AdversarialMFRecommender(epsilon_mode="per-item", n_epochs=2).fit(X)
