"""Lazy Adam in the PyTorch backend of AdversarialMFRecommender: step math, laws, fitting."""

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import skadv.metrics
from skadv.baseline import PopularityRecommender
from skadv.datasets import make_interactions
from skadv.mf import AdversarialMFRecommender
from skadv.model_selection import train_test_split_interactions
from skadv.training import FactorState

torch = pytest.importorskip("torch")
from skadv.mf import _torch_backend as tb  # noqa: E402  (imports torch)

pytestmark = pytest.mark.torch

N_USERS, N_ITEMS, K = 5, 9, 6
HYPER = dict(lr=0.1, reg=0.05, adv_reg=0.7, eps_user=0.3, eps_item=0.2)
BETA1, BETA2 = 0.9, 0.999
ADAM_EPS = 1e-8
# Three batches with shared rows inside a batch (user 0, items 1 and 3) and rows that the
# later batches leave alone (user 2 after batch 0, items 6-8 at times): lazy Adam must not
# move those, dense Adam would.
BATCHES = [
    np.array([[0, 1, 2], [0, 3, 1], [1, 3, 4], [2, 5, 6], [0, 8, 7]]),
    np.array([[0, 1, 3], [3, 2, 1], [1, 4, 0], [3, 5, 2]]),
    np.array([[4, 3, 5], [0, 1, 2], [4, 0, 8]]),
]
# Against float64 references computed by other routes (autograd for the gradient; Adam in the
# paper's bias-corrected form, or torch.optim.SparseAdam). Measured over the 3 steps: float64
# within 6e-13 relative (rounding, the worst on first moments where gradients cancel);
# float32 (the step in single precision) within 9e-8 absolute, 2.5e-5 relative on the factors.
RTOL = {np.float64: 1e-10, np.float32: 1e-4}
ATOL = {np.float64: 1e-13, np.float32: 2e-7}
FAST = dict(n_factors=8, n_epochs=4, random_state=0, backend="torch", batch_size=32)


@pytest.fixture(scope="module")
def X():
    return make_interactions(n_users=60, n_items=40, density=0.1, random_state=0)


def _adam_state(dtype, seed=0, moments="zero"):
    """Factors with Adam moments: zero (a fresh fit) or random (a state mid-training)."""
    rng = np.random.RandomState(seed)
    params = [rng.normal(0, 0.5, (N_USERS, K)), rng.normal(0, 0.5, (N_ITEMS, K)),
              rng.normal(0, 0.1, N_ITEMS)]  # fmt: skip
    if moments == "zero":
        v = [np.zeros_like(a) for a in params]
        m = [np.zeros_like(a) for a in params]
    else:
        v = [rng.uniform(0.01, 0.5, a.shape) for a in params]
        m = [rng.normal(0, 0.1, a.shape) for a in params]
    arrays = [np.ascontiguousarray(a, dtype=dtype) for a in (*params, *v, *m)]
    return FactorState(*arrays, n_steps=0 if moments == "zero" else 7)


def _step(state, batch, *, adversary, item_start=0, lr=HYPER["lr"]):
    """batch_step on CPU views of ``state`` (arrays updated in place; n_steps written back)."""
    factors = tb.on_device(state, "cpu")
    t = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.int64))
    clean, adv = tb.batch_step(
        factors, t[:, 0], t[:, 1], t[:, 2], adversary=adversary, use_bias=True,
        item_start=item_start, **{**HYPER, "lr": lr},
    )  # fmt: skip
    tb.write_back(factors, state)
    return (clean + HYPER["adv_reg"] * adv).item()


def _autograd_gradients(P, Q, b, batch, adversary):
    """Dense float64 gradients of a batch's summed loss: BPR + λ·BPR(Θ + Δ) + reg/2 ‖rows‖²
    per occurrence, Δ the per-row normalized clean-loss gradient held fixed (autograd)."""
    P, Q, b = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (P, Q, b))
    u, i, j = (torch.from_numpy(batch[:, c]) for c in range(3))

    def scores(P, Q):
        return (P[u] * (Q[i] - Q[j])).sum(1) + b[i] - b[j]

    loss = torch.nn.functional.softplus(-scores(P, Q)).sum()
    if adversary == "fgsm":
        gP, gQ = torch.autograd.grad(loss, [P, Q], retain_graph=True)

        def delta(g, eps):
            norm = g.norm(dim=1, keepdim=True)
            return torch.where(norm > 0, eps * g / norm.clamp_min(1e-300), 0.0)

        dP, dQ = delta(gP, HYPER["eps_user"]), delta(gQ, HYPER["eps_item"])
        adv = torch.nn.functional.softplus(-scores(P + dP, Q + dQ)).sum()
        loss = loss + HYPER["adv_reg"] * adv
    l2 = sum((rows**2).sum() for rows in (P[u], Q[i], Q[j], b[i], b[j]))
    grads = torch.autograd.grad(loss + HYPER["reg"] / 2 * l2, [P, Q, b])
    return [g.numpy() for g in grads]


def _touched(batch, item_start):
    """Rows a lazy optimizer updates: the batch's users, its trainable items."""
    items = np.unique(batch[:, 1:])
    return np.unique(batch[:, 0]), items[items >= item_start]


def _paper_adam(params, m, v, grads, rows, t, lr):
    """Lazy Adam from Kingma & Ba (2015), Algorithm 1, on ``rows`` only, in float64.

    Written in the bias-corrected form m̂ / (√v̂ + ε̂) with ε̂ = ε / √(1 - β₂ᵗ): the same step as
    θ -= lr √(1 - β₂ᵗ) / (1 - β₁ᵗ) · m / (√v + ε) (the paper's "efficient" ordering, and
    SparseAdam's), computed another way.
    """
    for param, m_, v_, g, r in zip(params, m, v, grads, rows, strict=True):
        m_[r] = BETA1 * m_[r] + (1 - BETA1) * g[r]
        v_[r] = BETA2 * v_[r] + (1 - BETA2) * g[r] ** 2
        m_hat = m_[r] / (1 - BETA1**t)
        v_hat = v_[r] / (1 - BETA2**t)
        param[r] -= lr * m_hat / (np.sqrt(v_hat) + ADAM_EPS / np.sqrt(1 - BETA2**t))


def _reference_run(initial, adversary, item_start, optimizer):
    """Parameters and moments after BATCHES: autograd gradients + lazy Adam, in float64."""
    params = [initial.user.astype(np.float64), initial.item.astype(np.float64),
              initial.bias.astype(np.float64)]  # fmt: skip
    m = [np.zeros_like(a) for a in params]
    v = [np.zeros_like(a) for a in params]
    leaves = [torch.from_numpy(a) for a in params]  # views: SparseAdam updates `params`
    sparse_adam = torch.optim.SparseAdam(
        leaves, lr=HYPER["lr"], betas=(BETA1, BETA2), eps=ADAM_EPS
    )
    for t, batch in enumerate(BATCHES, start=1):
        grads = _autograd_gradients(*params, batch, adversary)
        users, items = _touched(batch, item_start)
        rows = (users, items, items)
        if optimizer == "paper":
            _paper_adam(params, m, v, grads, rows, t, HYPER["lr"])
            continue
        for leaf, g, r in zip(leaves, grads, rows, strict=True):
            values = torch.from_numpy(g[r])
            leaf.grad = torch.sparse_coo_tensor(
                torch.from_numpy(r)[None], values, leaf.shape, check_invariants=True
            )
        sparse_adam.step()
    if optimizer == "sparse_adam":
        states = [sparse_adam.state[leaf] for leaf in leaves]
        m = [s["exp_avg"].numpy() for s in states]
        v = [s["exp_avg_sq"].numpy() for s in states]
    return params, m, v


# ------------------------------------------------------------------------------ step math
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("adversary", ["none", "fgsm"])
@pytest.mark.parametrize("item_start", [0, 3])
@pytest.mark.parametrize("reference", ["paper", "sparse_adam"])
def test_adam_steps_match_lazy_adam_reference(dtype, adversary, item_start, reference):
    state = _adam_state(dtype)
    params, m, v = _reference_run(state, adversary, item_start, reference)
    for batch in BATCHES:
        _step(state, batch, adversary=adversary, item_start=item_start)
    assert state.n_steps == len(BATCHES)
    got = [state.user, state.item, state.bias, state.user_mom, state.item_mom,
           state.bias_mom, state.user_acc, state.item_acc, state.bias_acc]  # fmt: skip
    names = ["user", "item", "bias", "m_user", "m_item", "m_bias", "v_user", "v_item", "v_bias"]
    differ = [
        name for name, g, w in zip(names, got, [*params, *m, *v], strict=True)
        if not np.allclose(g, w, rtol=RTOL[dtype], atol=ATOL[dtype])
    ]  # fmt: skip
    assert differ == []


def test_adam_step_size():
    # t = 1: sqrt(1 - 0.999) / (1 - 0.9); large t: the bias corrections vanish.
    assert tb.adam_step_size(0.1, 1) == pytest.approx(0.1 * np.sqrt(0.001) / 0.1, rel=1e-15)
    assert tb.adam_step_size(0.1, 10**6) == pytest.approx(0.1, rel=1e-12)


batches = st.lists(
    st.tuples(
        st.integers(0, N_USERS - 1), st.integers(0, N_ITEMS - 1), st.integers(1, N_ITEMS - 1)
    ),
    min_size=1,
    max_size=8,
).map(lambda ts: np.array([(u, i, (i + j) % N_ITEMS) for u, i, j in ts], dtype=np.int64))


@settings(max_examples=40, deadline=None)
@given(batch=batches, item_start=st.integers(0, 4), seed=st.integers(0, 50))
def test_untouched_rows_do_not_move(batch, item_start, seed):
    # Law (lazy Adam): rows outside the batch, and frozen items, keep their parameters and
    # both moments bitwise, although their moments are not zero (dense Adam would move them).
    state = _adam_state(np.float64, seed=seed, moments="random")
    before = state.copy()
    _step(state, batch, adversary="fgsm", item_start=item_start)
    users, items = _touched(batch, item_start)
    still_users = np.setdiff1d(np.arange(N_USERS), users)
    still_items = np.setdiff1d(np.arange(N_ITEMS), items)
    pairs = [("user", still_users), ("user_mom", still_users), ("user_acc", still_users)] + [
        (name, still_items)
        for name in ("item", "bias", "item_mom", "bias_mom", "item_acc", "bias_acc")  # fmt: skip
    ]
    moved = [
        name for name, rows in pairs
        if not np.array_equal(getattr(state, name)[rows], getattr(before, name)[rows])
    ]  # fmt: skip
    assert moved == []
    assert state.n_steps == before.n_steps + 1
    assert not np.array_equal(state.user[users], before.user[users])


@settings(max_examples=40, deadline=None)
@given(batch=batches, seed=st.integers(0, 50), lr=st.floats(1e-4, 1.0))
def test_first_adam_step_moves_each_coordinate_by_at_most_lr(batch, seed, lr):
    # Law: from zero moments, Adam's first update is lr * g / (|g| + ε / sqrt(1 - β₂)): no
    # coordinate moves by more than lr, whatever the scale of its gradient g.
    state = _adam_state(np.float64, seed=seed)
    before = state.copy()
    _step(state, batch, adversary="none", lr=lr)
    moves = [np.abs(getattr(state, n) - getattr(before, n)) for n in ("user", "item", "bias")]
    assert max(a.max() for a in moves) <= lr * (1 + 1e-12)
    users = np.unique(batch[:, 0])
    g = np.abs(state.user_mom[users]) / (1 - BETA1)  # m = (1 - β₁) g after one step
    expected = lr * g / (g + ADAM_EPS / np.sqrt(1 - BETA2))
    np.testing.assert_allclose(moves[0][users], expected, rtol=1e-9, atol=1e-15)


# ------------------------------------------------------------------------------ fitting
def _fit(X, **params):
    return AdversarialMFRecommender(**{**FAST, "optimizer": "adam", **params}).fit(X)


def test_adam_loss_decreases(X):
    losses = _fit(X, adv_reg=0.0, n_epochs=10).loss_curve_
    assert losses[-1] < 0.7 * losses[0]


def test_adam_beats_popularity(synthetic_interactions):
    X_train, X_test = train_test_split_interactions(synthetic_interactions, random_state=0)
    # Mean over three model seeds. Measured on this data (seed 0) with these settings: Adam
    # 0.274 (0.269-0.276 per seed), popularity 0.259; on data seeds 1-3 Adam led popularity
    # by 0.025-0.07.
    params = dict(n_factors=16, n_epochs=30, learning_rate=0.01, reg=0.01, adv_reg=1.0,
                  n_negative_candidates=1)  # fmt: skip
    adam = np.mean([
        AdversarialMFRecommender(optimizer="adam", backend="torch", random_state=seed, **params)
        .fit(X_train).score(X_test)
        for seed in range(3)
    ])  # fmt: skip
    assert adam > PopularityRecommender().fit(X_train).score(X_test) + 0.005


def test_fitted_adam_state_is_numpy(X):
    model = _fit(X, item_bias=True, dtype=np.float64)
    state = model._optimizer_state
    assert state["optimizer"] == "adam"
    # One step per batch of 32 over the distinct interactions, every epoch.
    assert state["n_steps"] == 4 * -(-model.interactions_.nnz // 32)
    for arrays in (state["acc"], state["mom"]):
        shapes = [a.shape for a in arrays]
        assert shapes == [model.user_factors_.shape, model.item_factors_.shape,
                          model.item_bias_.shape]  # fmt: skip
        assert all(type(a) is np.ndarray and a.dtype == np.float64 for a in arrays)
    assert (state["acc"][0] > 0).any() and (state["mom"][1] != 0).any()


@pytest.mark.parametrize("adversary", ["fgsm", "random"])
def test_same_seed_same_factors(X, adversary):
    params = dict(adversary=adversary, adv_start=1, item_bias=True)
    a, b = _fit(X, **params), _fit(X, **params)
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)
    np.testing.assert_array_equal(a.item_factors_, b.item_factors_)
    np.testing.assert_array_equal(a._optimizer_state["mom"][1], b._optimizer_state["mom"][1])
    assert not np.allclose(_fit(X, **params, random_state=1).user_factors_, a.user_factors_)


def test_adam_differs_from_adagrad(X):
    adagrad = AdversarialMFRecommender(**FAST).fit(X)
    assert not np.allclose(_fit(X).user_factors_, adagrad.user_factors_)


def _without_optimizer_state(model):
    copy = pickle.loads(pickle.dumps(model))
    copy._optimizer_state = None
    return copy


def test_warm_start_continues_the_moments(X):
    model = _fit(X)
    n_steps = model._optimizer_state["n_steps"]
    reset = _without_optimizer_state(model)
    model.set_params(warm_start=True).fit(X)
    reset.set_params(warm_start=True).fit(X)
    # The step count goes on (bias correction), and the kept moments change the updates.
    assert model._optimizer_state["n_steps"] == 2 * n_steps
    assert reset._optimizer_state["n_steps"] == n_steps
    assert not np.allclose(model.user_factors_, reset.user_factors_)


def test_warm_start_with_another_optimizer_starts_its_state_afresh(X):
    # AdaGrad's sums of squares must not be read as Adam's second moments (and back).
    adam = _fit(X)
    reset = _without_optimizer_state(adam)
    adam.set_params(warm_start=True, optimizer="adagrad").fit(X)
    reset.set_params(warm_start=True, optimizer="adagrad").fit(X)
    assert adam._optimizer_state["optimizer"] == "adagrad"
    np.testing.assert_array_equal(adam.user_factors_, reset.user_factors_)


def test_partial_fit_with_adam_keeps_known_items_and_counts_on(X):
    model = _fit(X, item_bias=True)
    Q, b = model.item_factors_.copy(), model.item_bias_.copy()
    m_item, v_item = (a.copy() for a in (model._optimizer_state["mom"][1],
                                         model._optimizer_state["acc"][1]))  # fmt: skip
    n_steps = model._optimizer_state["n_steps"]
    model.partial_fit(np.array([[-7, X[0, 1]], [-7, 999], [X[0, 0], 999]]))
    n_items = len(Q)
    state = model._optimizer_state
    # Frozen items: parameters and moments unchanged (a zero gradient alone would decay the
    # moments and move the rows by their momentum).
    np.testing.assert_array_equal(model.item_factors_[:n_items], Q)
    np.testing.assert_array_equal(model.item_bias_[:n_items], b)
    np.testing.assert_array_equal(state["mom"][1][:n_items], m_item)
    np.testing.assert_array_equal(state["acc"][1][:n_items], v_item)
    assert (state["acc"][1][n_items:] > 0).all()  # the new item trained
    assert state["n_steps"] > n_steps


def test_pickle_keeps_recommendations_and_adam_state(X):
    model = _fit(X, item_bias=True)
    loaded = pickle.loads(pickle.dumps(model))
    users = np.unique(X[:, 0])[:10]
    items, scores = model.recommend(users, n=5)
    loaded_items, loaded_scores = loaded.recommend(users, n=5)
    np.testing.assert_array_equal(loaded_items, items)
    np.testing.assert_array_equal(loaded_scores, scores)
    # The moments and the step count travel: a warm refit continues identically.
    model.set_params(warm_start=True).fit(X)
    loaded.set_params(warm_start=True).fit(X)
    np.testing.assert_array_equal(model.user_factors_, loaded.user_factors_)


def test_early_stopping_keeps_the_adam_state_of_the_best_epoch(X, monkeypatch):
    # The last value is the popularity baseline scored after training (no warning).
    scores = iter([0.1, 0.5, 0.2, 0.3, 0.25, 0.1, 0.1, 0.0])
    monkeypatch.setattr(skadv.metrics, "get_ranking_scorer", lambda name: lambda *a: next(scores))
    params = dict(early_stopping=True, n_epochs=8, adv_start=0, n_iter_no_change=3, tol=0.0)
    model = _fit(X, **params)
    assert model.n_iter_ == 5 and model.best_validation_score_ == 0.5
    # The best epoch is the 2nd: the kept state equals a 2-epoch run's, step count included.
    scores = iter([0.1, 0.5, 0.0])
    two_epochs = _fit(X, **{**params, "n_epochs": 2})
    assert model._optimizer_state["n_steps"] == two_epochs._optimizer_state["n_steps"]
    np.testing.assert_array_equal(model.item_factors_, two_epochs.item_factors_)
    np.testing.assert_array_equal(
        model._optimizer_state["mom"][0], two_epochs._optimizer_state["mom"][0]
    )


# ------------------------------------------------------------------------------ GPU
@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_adam_steps_equal_cpu_steps():
    cpu, gpu = _adam_state(np.float64), _adam_state(np.float64)
    factors = tb.on_device(gpu, "cuda")
    for batch in BATCHES:
        _step(cpu, batch, adversary="fgsm", item_start=3)
        t = torch.from_numpy(batch).cuda()
        tb.batch_step(
            factors, t[:, 0], t[:, 1], t[:, 2], adversary="fgsm", use_bias=True,
            item_start=3, **HYPER,
        )  # fmt: skip
    tb.write_back(factors, gpu)
    assert gpu.n_steps == cpu.n_steps == len(BATCHES)
    for name in ("user", "item", "bias", "user_mom", "item_mom", "bias_acc"):
        np.testing.assert_allclose(getattr(gpu, name), getattr(cpu, name), rtol=1e-11, atol=1e-14)
