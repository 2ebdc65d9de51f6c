"""The PyTorch backend of AdversarialMFRecommender: step math, sampling, fit, errors, parity."""

import pickle
import subprocess
import sys

import numpy as np
import pytest
from _kernel import step, testing
from _reference import reference_step
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning

from skadv.baseline import PopularityRecommender
from skadv.datasets import make_interactions
from skadv.mf import AdversarialMFRecommender
from skadv.model_selection import train_test_split_interactions
from skadv.training import FactorState
from skadv.utils import _backend
from skadv.utils._backend import resolve_backend

torch = pytest.importorskip("torch")

from skadv._torch.adversary import normalize  # noqa: E402
from skadv._torch.sampling import sample_negatives  # noqa: E402
from skadv.mf import _torch_backend as tb  # noqa: E402  (imports torch)

pytestmark = pytest.mark.torch

N_USERS, N_ITEMS, K = 5, 9, 6  # K is not a multiple of 8, like the kernel tests
HYPER = dict(lr=0.1, reg=0.05, adv_reg=0.7, eps_user=0.3, eps_item=0.2)
# Float32 rows are updated in single precision and summed in another order than NumPy's.
RTOL = {np.float32: 2e-5, np.float64: 1e-11}
ATOL = {np.float32: 1e-6, np.float64: 1e-13}
TRIPLES = np.array(
    [[0, 1, 2], [1, 3, 0], [2, 4, 6], [3, 0, 5], [4, 6, 1], [0, 2, 3], [1, 5, 4], [2, 0, 1],
     [3, 6, 2], [4, 3, 5], [0, 8, 7]],
    dtype=np.int64,
)  # fmt: skip
FAST = dict(n_factors=8, n_epochs=4, random_state=0, backend="torch", batch_size=32)
NAMES = ("user", "item", "bias", "user_acc", "item_acc", "bias_acc")


@pytest.fixture(scope="module")
def X():
    return make_interactions(n_users=60, n_items=40, density=0.1, random_state=0)


def _state(dtype, optimizer="adagrad", seed=0):
    rng = np.random.RandomState(seed)
    P = rng.normal(0, 0.5, (N_USERS, K))
    Q = rng.normal(0, 0.5, (N_ITEMS, K))
    b = rng.normal(0, 0.1, N_ITEMS)
    acc = [rng.uniform(0, 0.5, a.shape) for a in (P, Q, b)]
    arrays = [np.ascontiguousarray(a, dtype=dtype) for a in (P, Q, b, *acc)]
    return FactorState(*arrays[:3], *(arrays[3:] if optimizer == "adagrad" else []))


def _arrays(state):
    return [getattr(state, name) for name in NAMES]


def _step(state, triples, *, adversary, use_bias, item_start=0, generator=None):
    """batch_step on CPU views of ``state`` (updated in place); returns the loss
    (clean + adv_reg * perturbed)."""
    t = torch.from_numpy(np.ascontiguousarray(triples, dtype=np.int64))
    clean, adv = tb.batch_step(
        tb.on_device(state, "cpu"), t[:, 0], t[:, 1], t[:, 2],
        adversary=adversary, use_bias=use_bias, item_start=item_start, generator=generator,
        **HYPER,
    )  # fmt: skip
    return (clean + HYPER["adv_reg"] * adv).item()


def _assert_states_close(got, want, dtype):
    differ = [
        name for name, g, w in zip(NAMES, _arrays(got), _arrays(want), strict=True)
        if (g is None) != (w is None)
        or (g is not None and not np.allclose(g, w, rtol=RTOL[dtype], atol=ATOL[dtype]))
    ]  # fmt: skip
    assert differ == []


def _float64_copy(state):
    return FactorState(*(None if a is None else a.astype(np.float64) for a in _arrays(state)))


# ------------------------------------------------------------------------------ one step
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("optimizer", ["sgd", "adagrad"])
@pytest.mark.parametrize("adversary", ["none", "fgsm"])
@pytest.mark.parametrize("use_bias", [False, True])
@pytest.mark.parametrize("item_start", [0, 2])
def test_batches_of_one_match_reference(dtype, optimizer, adversary, use_bias, item_start):
    # batch_size=1: every triple gets its own perturbation, as in the per-sample math.
    state = _state(dtype, optimizer)
    ref = _float64_copy(state)
    loss = sum(
        _step(state, TRIPLES[t : t + 1], adversary=adversary, use_bias=use_bias,
              item_start=item_start)
        for t in range(len(TRIPLES))
    )  # fmt: skip
    accs = (ref.user_acc, ref.item_acc, ref.bias_acc)
    if optimizer == "sgd":  # the reference wants arrays it will not use
        accs = (np.zeros_like(ref.user), np.zeros_like(ref.item), np.zeros_like(ref.bias))
    ref_loss = sum(
        reference_step(
            ref.user,
            ref.item,
            ref.bias,
            *accs,
            u,
            i,
            j,
            adversary=adversary,
            optimizer=optimizer,
            use_bias=use_bias,
            item_start=item_start,
            **HYPER,
        )  # fmt: skip
        for u, i, j in TRIPLES
    )
    assert loss == pytest.approx(ref_loss, rel=RTOL[dtype])
    _assert_states_close(state, ref, dtype)


@pytest.mark.parametrize("optimizer", ["sgd", "adagrad"])
def test_random_adversary_batch_of_one_matches_reference(optimizer):
    state = _state(np.float64, optimizer)
    ref = _float64_copy(state)
    u, i, j = TRIPLES[0]
    # The step draws its directions exactly as row_perturbation does from the same seed.
    ones = torch.ones((1, K), dtype=torch.float64)
    zero = torch.zeros(1, dtype=torch.int64)
    delta = tb.row_perturbation(
        ones, ones, zero, zero, zero + 1, 1, 2, eps_user=HYPER["eps_user"],
        eps_item=HYPER["eps_item"], adversary="random",
        generator=torch.Generator().manual_seed(7),
    )  # fmt: skip
    loss = _step(state, TRIPLES[:1], adversary="random", use_bias=True,
                 generator=torch.Generator().manual_seed(7))  # fmt: skip
    accs = (ref.user_acc, ref.item_acc, ref.bias_acc) if optimizer == "adagrad" else (None,) * 3
    ref_loss = reference_step(
        ref.user, ref.item, ref.bias, *accs, u, i, j, adversary="random", optimizer=optimizer,
        use_bias=True, delta=[d[0].numpy() for d in delta], **HYPER,
    )  # fmt: skip
    assert loss == pytest.approx(ref_loss, rel=1e-11)
    _assert_states_close(state, ref, np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("adversary", ["none", "fgsm"])
def test_batch_without_shared_rows_equals_the_kernel(dtype, adversary):
    # Triples that share no row do not interact: one batch = the kernel's sequential steps.
    disjoint = np.array([[0, 0, 1], [1, 2, 3], [2, 4, 5], [3, 6, 7]], dtype=np.int64)
    state, kernel = _state(dtype), _state(dtype)
    loss = _step(state, disjoint, adversary=adversary, use_bias=True)
    t = [np.ascontiguousarray(disjoint[:, c], dtype=np.int32) for c in range(3)]
    clean, adv = testing.sgd_triples(
        *_arrays(kernel), *t, step(**HYPER, adversary=adversary, adagrad=True, use_bias=True), 0
    )
    kernel_loss = clean + HYPER["adv_reg"] * adv
    assert loss == pytest.approx(kernel_loss, rel=RTOL[dtype])
    _assert_states_close(state, kernel, dtype)


@pytest.mark.parametrize("optimizer", ["sgd", "adagrad"])
@pytest.mark.parametrize("item_start", [0, 3])
def test_minibatch_step_matches_autograd(optimizer, item_start):
    # Shared rows: user 0 thrice, item 1 as a positive and as a negative, item 3 twice. The
    # reference takes Δ from autograd's gradient of the batch's clean BPR loss, normalized
    # per row, then the gradient of the summed APR loss with Δ held fixed (dense, float64).
    batch = np.array([[0, 1, 2], [0, 3, 1], [1, 3, 4], [0, 5, 6], [2, 1, 3]], dtype=np.int64)
    state = _state(np.float64, optimizer, seed=1)
    P, Q, b = (torch.tensor(a, requires_grad=True) for a in (state.user, state.item, state.bias))
    u, i, j = (torch.from_numpy(batch[:, c]) for c in range(3))

    def scores(P, Q):
        return (P[u] * (Q[i] - Q[j])).sum(1) + b[i] - b[j]

    clean = torch.nn.functional.softplus(-scores(P, Q)).sum()
    gP, gQ = torch.autograd.grad(clean, [P, Q], retain_graph=True)  # no create_graph: Δ is fixed

    def delta(g, eps):
        norm = g.norm(dim=1, keepdim=True)
        return torch.where(norm > 0, eps * g / norm.clamp_min(1e-300), 0.0)

    dP, dQ = delta(gP, HYPER["eps_user"]), delta(gQ, HYPER["eps_item"])
    adv = torch.nn.functional.softplus(-scores(P + dP, Q + dQ)).sum()
    l2 = sum((rows**2).sum() for rows in (P[u], Q[i], Q[j], b[i], b[j]))
    total = clean + HYPER["adv_reg"] * adv + HYPER["reg"] / 2 * l2
    grads = torch.autograd.grad(total, [P, Q, b])
    frozen = torch.arange(N_ITEMS) < item_start
    expected = []
    for name, param, grad in zip(NAMES, (P, Q, b), grads, strict=False):
        grad = grad.clone()
        if name != "user":
            grad[frozen] = 0.0
        acc = getattr(state, f"{name}_acc")
        if acc is None:
            expected.append(param.detach() - HYPER["lr"] * grad)
        else:
            new_acc = torch.from_numpy(acc) + grad * grad
            expected.append(param.detach() - HYPER["lr"] * grad / (new_acc.sqrt() + 1e-8))

    loss = _step(state, batch, adversary="fgsm", use_bias=True, item_start=item_start)
    assert loss == pytest.approx((clean + HYPER["adv_reg"] * adv).item(), rel=1e-12)
    for got, want in zip((state.user, state.item, state.bias), expected, strict=True):
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-11, atol=1e-13)


@settings(max_examples=30, deadline=None)
@given(
    triples=st.lists(
        st.tuples(
            st.integers(0, N_USERS - 1), st.integers(0, N_ITEMS - 1), st.integers(1, N_ITEMS - 1)
        ),
        min_size=1,
        max_size=12,
    ),  # fmt: skip
    adversary=st.sampled_from(["fgsm", "random"]),
    seed=st.integers(0, 2**16),
)
def test_perturbed_rows_have_norm_epsilon(triples, adversary, seed):
    # Law: each distinct row of a batch moves by exactly ε (users) or ε (items), and in the
    # gradient case along its summed clean-loss gradient.
    t = np.array([(u, i, (i + j) % N_ITEMS) for u, i, j in triples], dtype=np.int64)
    state = _state(np.float64, seed=seed % 100)
    P, Q = torch.from_numpy(state.user), torch.from_numpy(state.item)
    u, i, j = (torch.from_numpy(t[:, c]) for c in range(3))
    p, d = P[u], Q[i] - Q[j]
    s = torch.sigmoid(-(p * d).sum(1))
    rows_u, inv_u = torch.unique(u, return_inverse=True)
    rows_q, inv_q = torch.unique(torch.cat([i, j]), return_inverse=True)
    du, di, dj = tb.row_perturbation(
        s[:, None] * d, s[:, None] * p, inv_u, inv_q[: len(t)], inv_q[len(t) :],
        len(rows_u), len(rows_q), eps_user=0.3, eps_item=0.2, adversary=adversary,
        generator=torch.Generator().manual_seed(seed),
    )  # fmt: skip
    np.testing.assert_allclose(du.norm(dim=1), 0.3, rtol=1e-12)
    np.testing.assert_allclose(torch.cat([di, dj]).norm(dim=1), 0.2, rtol=1e-12)
    if adversary == "fgsm":
        g_user = torch.zeros_like(P).index_add_(0, u, -s[:, None] * d)
        cos = (du * g_user[u]).sum(1) / (0.3 * g_user[u].norm(dim=1))
        np.testing.assert_allclose(cos, 1.0, rtol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_tiny_gradients_keep_their_direction(dtype):
    g = torch.tensor([[3e-30, 4e-30], [0.0, 0.0]], dtype=dtype)
    out = normalize(g, 0.5, "per-example")
    np.testing.assert_allclose(out.numpy(), [[0.3, 0.4], [0.0, 0.0]], rtol=1e-6)


# ------------------------------------------------------------------------------ sampling
def test_negatives_are_never_positives():
    # User 0 has every item but 9 (the loop must find it); user 1 has item 0 only.
    positives = {0: set(range(9)), 1: {0}}
    keys = torch.tensor(sorted(u * 10 + i for u, items in positives.items() for i in items))
    users = torch.tensor([0, 1] * 2000)
    neg = sample_negatives(users, keys, 10, torch.Generator().manual_seed(0)).numpy()
    assert (neg[0::2] == 9).all()
    counts = np.bincount(neg[1::2], minlength=10)
    # User 1: uniform over items 1..9 (2000 draws, ~222 each; 4 sigma is ~56).
    assert counts[0] == 0 and counts[1:].min() > 222 - 60 and counts[1:].max() < 222 + 60


def test_default_batch_size_keeps_small_data_trainable():
    assert tb.default_batch_size(10**7) == tb.DEFAULT_BATCH_SIZE
    assert tb.default_batch_size(1000) * tb.MIN_STEPS >= 1000


# ------------------------------------------------------------------------------ fit
def _fit(X, **params):
    return AdversarialMFRecommender(**{**FAST, **params}).fit(X)


def test_fitted_state_is_numpy(X):
    model = _fit(X, item_bias=True, dtype=np.float64)
    assert (model.backend_, model.device_) == ("torch", "cpu")
    for array in (model.user_factors_, model.item_factors_, model.item_bias_):
        assert type(array) is np.ndarray and array.dtype == np.float64
        assert array.flags.c_contiguous
        # NumPy memory (the factor rows are views of a cache-line-aligned NumPy buffer), not
        # a view of a tensor's storage.
        owner = array
        while isinstance(owner.base, np.ndarray):
            owner = owner.base
        assert owner.flags.owndata and owner.base is None
    assert len(model.loss_curve_) == model.n_iter_ == 4


@pytest.mark.parametrize("optimizer", ["adagrad", "sgd", "adam"])
@pytest.mark.parametrize("adversary", ["fgsm", "random"])
def test_same_seed_same_factors(X, optimizer, adversary):
    params = dict(optimizer=optimizer, adversary=adversary, adv_start=1)
    a, b = _fit(X, **params), _fit(X, **params)
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)
    np.testing.assert_array_equal(a.item_factors_, b.item_factors_)
    assert not np.allclose(_fit(X, **params, random_state=1).user_factors_, a.user_factors_)


@pytest.mark.parametrize(
    "name, value",
    [
        ("batch_size", 8),
        ("adversary", "random"),
        ("epsilon_mode", "absolute"),
        ("item_bias", False),
        ("optimizer", "adam"),
        ("lr_schedule", "linear"),
        ("warmup_epochs", 1),
    ],
)
def test_parameters_have_an_effect(X, name, value):
    assert not np.allclose(_fit(X, **{name: value}).item_factors_, _fit(X).item_factors_)


def test_threads_are_restored(X):
    before = torch.get_num_threads()
    _fit(X, n_jobs=1)
    assert torch.get_num_threads() == before


def test_learns_block_structure(tiny_interactions):
    data = tiny_interactions
    model = AdversarialMFRecommender(n_factors=4, n_epochs=30, random_state=0, backend="torch")
    items, _ = model.fit(data.X).recommend(np.arange(data.n_users), n=1)
    np.testing.assert_array_equal(items[:, 0], data.held_out)


@pytest.mark.parametrize("optimizer", ["adagrad", "sgd", "adam"])
def test_partial_fit_keeps_known_items_fixed(X, optimizer):
    model = _fit(X, item_bias=True, optimizer=optimizer)
    Q, b = model.item_factors_.copy(), model.item_bias_.copy()
    model.partial_fit(np.array([[-7, X[0, 1]], [-7, 999], [X[0, 0], 999]]))
    np.testing.assert_array_equal(model.item_factors_[: len(Q)], Q)
    np.testing.assert_array_equal(model.item_bias_[: len(b)], b)
    assert model.item_factors_.shape[0] == len(Q) + 1


def test_early_stopping_sees_each_epoch(X):
    model = _fit(X, early_stopping=True, n_epochs=6, adv_start=0, n_iter_no_change=6)
    assert len(model.validation_scores_) == 6 and len(set(model.validation_scores_)) > 1


def test_verbose_prints_each_epoch(X, capsys):
    _fit(X, verbose=1, n_epochs=3, adv_start=1)
    out = capsys.readouterr()
    assert "epoch 1/3 [clean]: loss" in out.out + out.err
    assert "epoch 3/3 [adversarial: fgsm]" in out.out + out.err


def test_divergence_names_learning_rate(X):
    with pytest.raises(ValueError, match="learning_rate"):
        _fit(X, optimizer="sgd", learning_rate=1e20, init_std=1.0)


def test_collapse_warning_points_at_the_caller(X, monkeypatch):
    real_step = tb.batch_step

    def shrinking_step(factors, *args, **kwargs):
        loss = real_step(factors, *args, **kwargs)
        factors.user *= 1e-3
        factors.item *= 1e-3
        return loss

    monkeypatch.setattr(tb, "batch_step", shrinking_step)
    with pytest.warns(ConvergenceWarning, match="collapsed in epoch 1") as record:
        _fit(X)
    assert record[0].filename == __file__


def test_pickled_model_predicts_without_torch(X, tmp_path):
    model = _fit(X, item_bias=True)
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(model))
    users = np.unique(X[:, 0])[:5]
    # A fresh interpreter where importing torch fails, as on a machine without it.
    code = (
        "import pickle, sys\n"
        "class NoTorch:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'torch':\n"
        "            raise ImportError('torch is not installed here')\n"
        "sys.meta_path.insert(0, NoTorch())\n"
        f"model = pickle.loads(open({str(path)!r}, 'rb').read())\n"
        f"print(model.recommend({users.tolist()!r}, n=3)[0].tolist())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(model.recommend(users, n=3)[0].tolist())


def test_cython_fit_does_not_import_torch():
    code = (
        "import sys, numpy as np; from skadv.mf import AdversarialMFRecommender\n"
        "X = np.array([[0, 0], [0, 1], [1, 1], [1, 2], [2, 0]])\n"
        "m = AdversarialMFRecommender(n_factors=2, n_epochs=1, device='cpu').fit(X)\n"
        "print(m.backend_, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "cython False"


# ------------------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    "backend, device, expected",
    [("auto", None, ("cython", "cpu")), ("auto", "cpu", ("cython", "cpu")),
     ("torch", " CPU ", ("torch", "cpu")), ("cython", None, ("cython", "cpu"))],
)  # fmt: skip
def test_resolve_backend(backend, device, expected):
    assert resolve_backend(backend, device) == expected


def test_torch_default_device_follows_cuda():
    expected = "cuda:0" if torch.cuda.is_available() else "cpu"
    assert resolve_backend("torch", None) == ("torch", expected)


def test_torch_backend_without_torch_names_the_extra(X, monkeypatch):
    monkeypatch.setattr(_backend, "_has_torch", lambda: False)
    with pytest.raises(ImportError, match=r"pip install 'skadv\[torch\]'"):
        _fit(X, backend="torch")
    # "auto" with a CUDA device falls back to cython, which cannot use it.
    with pytest.raises(ValueError, match="device='cuda'.*backend='torch'"):
        _fit(X, backend="auto", device="cuda")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("backend", ["auto", "torch"])
def test_cuda_without_cuda(X, backend):
    with pytest.raises(ValueError, match="device='cuda:1'.*cuda.is_available"):
        _fit(X, backend=backend, device="cuda:1")


@pytest.mark.parametrize(
    "params, match",
    [(dict(backend="cython", device="cuda"), "device='cuda'.*backend='cython'"),
     (dict(backend="torch", device="tpu"), "device='tpu'"),
     (dict(backend="torch", device="cuda:x"), "device='cuda:x'"),
     (dict(backend="cython", batch_size=8), "batch_size=8"),
     (dict(backend="torch", batch_size=0), "batch_size")],
)  # fmt: skip
def test_bad_device_or_batch_size(X, params, match):
    if "cuda:x" in params.values() and not torch.cuda.is_available():
        match = "device='cuda:x'.*cuda.is_available"
    with pytest.raises(ValueError, match=match):
        _fit(X, **params)


# ------------------------------------------------------------------------------ parity
def test_ranking_quality_matches_cython():
    # 1000 users x 400 items, ~16,000 training pairs: 16 steps of 1,000 triples per epoch.
    # With the defaults (4 negative candidates, relative ε) and 20 epochs, model seeds 0-2:
    # NDCG@10 0.384 / 0.383 / 0.387 (cython), 0.380 / 0.380 / 0.380 (torch); popularity 0.22.
    # (Under a large absolute ε, 0.5, per-sample and mini-batch APR part with hard
    # negatives: 0.297 against 0.374; with uniform ones both stay near 0.33.)
    X = make_interactions(n_users=1000, n_items=400, density=0.05, random_state=0)
    X_train, X_test = train_test_split_interactions(X, random_state=0)
    params = dict(n_factors=16, n_epochs=20, random_state=0)
    cython = AdversarialMFRecommender(backend="cython", **params).fit(X_train).score(X_test)
    torch_ = AdversarialMFRecommender(backend="torch", **params).fit(X_train).score(X_test)
    assert torch_ == pytest.approx(cython, abs=0.02)
    assert torch_ > PopularityRecommender().fit(X_train).score(X_test) + 0.05


@pytest.mark.slow
@pytest.mark.movielens
def test_movielens_quality_matches_cython(movielens_path):
    # The target of the torch backend: NDCG@10 within 2 % of the cython backend on the
    # ml100k-holdout protocol, default parameters (torch: 20 steps of 4096 per epoch), mean
    # of 3 seeds for each (one fit varies by about 0.5 %).
    data = np.loadtxt(movielens_path / "u.data", dtype=np.int64)[:, :2]
    X_train, X_test = train_test_split_interactions(
        data, test_size=0.2, min_interactions=5, random_state=0
    )

    # The defaults (4 negative candidates, relative ε) with 100 epochs. (Under the absolute
    # ε 0.5 this was first measured with, per-sample and mini-batch APR part once the
    # negatives are hard: see test_ranking_quality_matches_cython.)
    MEASURED = dict(n_epochs=100)

    def ndcg(backend):
        return np.mean([
            AdversarialMFRecommender(backend=backend, random_state=seed, **MEASURED)
            .fit(X_train).score(X_test)
            for seed in range(3)
        ])  # fmt: skip

    cython, torch_ = ndcg("cython"), ndcg("torch")
    print(f"ml-100k NDCG@10: cython {cython:.4f}, torch {torch_:.4f}")
    assert torch_ == pytest.approx(cython, rel=0.02)


# ------------------------------------------------------------------------------ GPU
@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("adversary", ["none", "fgsm"])
def test_cuda_step_equals_cpu_step(adversary):
    batch = np.array([[0, 1, 2], [0, 3, 1], [1, 3, 4], [0, 5, 6], [2, 1, 3]], dtype=np.int64)
    cpu, gpu = _state(np.float64), _state(np.float64)
    cpu_loss = _step(cpu, batch, adversary=adversary, use_bias=True)
    factors = tb.on_device(gpu, "cuda")
    t = torch.from_numpy(batch).cuda()
    gpu_clean, gpu_adv = tb.batch_step(
        factors, t[:, 0], t[:, 1], t[:, 2], adversary=adversary, use_bias=True, **HYPER
    )
    gpu_loss = (gpu_clean + HYPER["adv_reg"] * gpu_adv).item()
    tb.write_back(factors, gpu)
    assert gpu_loss == pytest.approx(cpu_loss, rel=1e-12)
    _assert_states_close(gpu, cpu, np.float64)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_fit_is_numpy_and_as_good_as_cpu():
    X = make_interactions(n_users=1000, n_items=400, density=0.05, random_state=0)
    X_train, X_test = train_test_split_interactions(X, random_state=0)
    params = dict(n_factors=16, random_state=0, backend="torch")
    gpu = AdversarialMFRecommender(device="cuda", **params).fit(X_train)
    cpu = AdversarialMFRecommender(device="cpu", **params).fit(X_train)
    assert gpu.device_.startswith("cuda:") and type(gpu.user_factors_) is np.ndarray
    assert gpu.score(X_test) == pytest.approx(cpu.score(X_test), abs=0.02)


def test_no_negative_item_raises():
    everything = np.array([[u, i] for u in range(3) for i in range(2)])
    with pytest.raises(ValueError, match="did not interact"):
        _fit(everything)
