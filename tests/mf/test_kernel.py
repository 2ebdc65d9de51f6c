"""The compiled BPR/APR kernel (src_ext/_mf_sgd.pyx) against a NumPy reference."""

import functools

import numpy as np
import pytest
from _kernel import step, testing
from _reference import apr_loss, bpr_terms, gradient_perturbation, reference_step
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import sparse

from skadv._ext import _mf_sgd, _openmp_helpers
from skadv.mf import AdversarialMFRecommender, _cython_backend
from skadv.mf._cython_backend import KERNEL_ADVERSARY_CODES as ADVERSARIES
from skadv.mf._cython_backend import ItemStrata, sampling_block, thread_offsets

N_USERS, N_ITEMS, K = 5, 7, 6  # K is not a multiple of 8: the kernels' tail loops run too
# Float32 rows are updated in single precision and summed in another order than NumPy's:
# one step agrees to ~1e-6 relative; float64 to rounding.
RTOL = {np.float32: 2e-5, np.float64: 1e-11}
ATOL = {np.float32: 1e-6, np.float64: 1e-13}

# Given triples on 5 users x 7 items: every user, both frozen (< 2) and trainable items.
TRIPLES = np.array(
    [[0, 1, 2], [1, 3, 0], [2, 4, 6], [3, 0, 5], [4, 6, 1], [0, 2, 3], [1, 5, 4], [2, 0, 1],
     [3, 6, 2], [4, 3, 5], [0, 1, 6], [2, 4, 3]],
    dtype=np.int32,
)  # fmt: skip
HYPER = dict(lr=0.1, reg=0.05, adv_reg=0.7, eps_user=0.3, eps_item=0.2)


def _params(dtype, seed=0):
    rng = np.random.RandomState(seed)
    P = rng.normal(0, 0.5, (N_USERS, K))
    Q = rng.normal(0, 0.5, (N_ITEMS, K))
    b = rng.normal(0, 0.1, N_ITEMS)
    acc = [rng.uniform(0, 0.5, a.shape) for a in (P, Q, b)]
    return [np.ascontiguousarray(a, dtype=dtype) for a in (P, Q, b, *acc)]


def _assert_all_close(kernel, ref, dtype):
    """Compare all six arrays, reporting every one that differs (not only the first)."""
    names = ["P", "Q", "bias", "acc_P", "acc_Q", "acc_bias"]
    differ = [
        name for name, got, want in zip(names, kernel, ref, strict=True)
        if not np.allclose(got, want, rtol=RTOL[dtype], atol=ATOL[dtype])
    ]  # fmt: skip
    assert differ == []


def _kernel_triples(arrays, triples, *, adversary, optimizer, use_bias, item_start=0, seed=1):
    """The kernel's update of ``triples``; returns its loss, clean + adv_reg * perturbed."""
    P, Q, b, aP, aQ, ab = arrays
    clean, adv = testing.sgd_triples(
        P, Q, b, aP, aQ, ab, np.ascontiguousarray(triples[:, 0]),
        np.ascontiguousarray(triples[:, 1]), np.ascontiguousarray(triples[:, 2]),
        step(**HYPER, adversary=adversary, adagrad=optimizer == "adagrad", use_bias=use_bias,
             item_start=item_start), seed,
    )  # fmt: skip
    return clean + HYPER["adv_reg"] * adv


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("optimizer", ["sgd", "adagrad"])
@pytest.mark.parametrize("adversary", ["none", "fgsm"])
@pytest.mark.parametrize("use_bias", [False, True])
@pytest.mark.parametrize("item_start", [0, 2])
def test_kernel_matches_reference(dtype, optimizer, adversary, use_bias, item_start):
    kernel = _params(dtype)
    ref = [a.astype(np.float64) for a in kernel]
    loss = _kernel_triples(
        kernel, TRIPLES, adversary=adversary, optimizer=optimizer, use_bias=use_bias,
        item_start=item_start,
    )  # fmt: skip
    ref_loss = sum(
        reference_step(
            *ref,
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
    _assert_all_close(kernel, ref, dtype)


@pytest.mark.parametrize("adversary", ["none", "fgsm"])
def test_loss_sum_over_many_triples(adversary):
    # 600 triples: the kernel's loss accumulator flushes its products every 256 samples.
    kernel = _params(np.float64)
    ref = [a.copy() for a in kernel]
    triples = np.tile(TRIPLES, (50, 1))
    loss = _kernel_triples(
        kernel, triples, adversary=adversary, optimizer="adagrad", use_bias=True
    )
    ref_loss = sum(
        reference_step(
            *ref, u, i, j, adversary=adversary, optimizer="adagrad", use_bias=True, **HYPER
        )  # fmt: skip
        for u, i, j in triples
    )
    assert loss == pytest.approx(ref_loss, rel=1e-10)
    _assert_all_close(kernel, ref, np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("optimizer", ["sgd", "adagrad"])
def test_random_adversary_matches_reference(dtype, optimizer):
    # One triple: the kernel draws its perturbation from the RNG that `perturbation` reuses.
    kernel = _params(dtype)
    ref = [a.astype(np.float64) for a in kernel]
    u, i, j = TRIPLES[0]
    P, Q = kernel[0], kernel[1]
    delta = testing.perturbation(
        P[u].copy(), Q[i].copy(), Q[j].copy(), HYPER["eps_user"], HYPER["eps_item"],
        ADVERSARIES["random"], 7,
    )  # fmt: skip
    loss = _kernel_triples(
        kernel, TRIPLES[:1], adversary="random", optimizer=optimizer, use_bias=True, seed=7
    )
    delta = [d.astype(np.float64) for d in delta]
    ref_loss = reference_step(
        *ref, u, i, j, adversary="random", optimizer=optimizer, use_bias=True, delta=delta,
        **HYPER,
    )  # fmt: skip
    assert loss == pytest.approx(ref_loss, rel=RTOL[dtype])
    _assert_all_close(kernel, ref, dtype)


def test_adversarial_gradient_matches_finite_differences():
    # With SGD, lr=1 and reg=0 the step is exactly minus the gradient of the APR loss
    # BPR(Θ) + λ BPR(Θ + Δ) with Δ held fixed at its value in Θ.
    P, Q, b, aP, aQ, ab = _params(np.float64, seed=3)
    u, i, j = 1, 3, 0
    theta = np.concatenate([P[u], Q[i], Q[j]])
    delta = gradient_perturbation(P[u], Q[i], Q[j], b[i], b[j], 0.4, 0.25)

    def loss(t):
        return apr_loss(t[:K], t[K : 2 * K], t[2 * K :], b[i], b[j], delta, 0.8)

    h = 1e-6
    numeric = np.array(
        [(loss(theta + h * e) - loss(theta - h * e)) / (2 * h) for e in np.eye(3 * K)]
    )
    testing.sgd_triples(
        P, Q, b, aP, aQ, ab, np.array([u], np.int32), np.array([i], np.int32),
        np.array([j], np.int32), step(1.0, 0.0, 0.8, 0.4, 0.25, "fgsm", False, True), 0,
    )  # fmt: skip
    analytic = theta - np.concatenate([P[u], Q[i], Q[j]])
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


def test_gradient_perturbation_increases_the_loss():
    # The adversary moves along the gradient: to first order the loss grows by ε |g|.
    P, Q, b, *_ = _params(np.float64, seed=4)
    p, qi, qj = P[0], Q[1], Q[2]
    delta = testing.perturbation(p, qi, qj, 1e-4, 1e-4, ADVERSARIES["fgsm"], 0)
    zero = [np.zeros(K)] * 3
    assert apr_loss(p, qi, qj, 0.0, 0.0, delta, 1.0) > apr_loss(p, qi, qj, 0.0, 0.0, zero, 1.0)


# Embedding values: zero or of magnitude 1e-3..10 (a row whose squared norm underflows, near
# 1e-154 in float64, counts as a zero row in the kernel: no direction).
_values = st.one_of(st.just(0.0), st.floats(1e-3, 10), st.floats(-10, -1e-3))
_rows = arrays(np.float64, K, elements=_values)


@settings(max_examples=60, deadline=None)
@given(
    p=_rows, qi=_rows, qj=_rows,
    eps_user=st.floats(0, 5), eps_item=st.floats(0, 5),
    adversary=st.sampled_from(["fgsm", "random"]), seed=st.integers(0, 2**32 - 1),
)  # fmt: skip
def test_perturbation_rows_have_norm_epsilon(p, qi, qj, eps_user, eps_item, adversary, seed):
    du, di, dj = testing.perturbation(p, qi, qj, eps_user, eps_item, ADVERSARIES[adversary], seed)
    # A zero row gradient has no direction: its perturbation is zero (gradient adversary).
    has_direction = adversary == "random" or np.linalg.norm(qi - qj) > 0
    expected_u = eps_user if has_direction else 0.0
    expected_i = eps_item if adversary == "random" or np.linalg.norm(p) > 0 else 0.0
    assert np.linalg.norm(du) == pytest.approx(expected_u, rel=1e-9, abs=1e-12)
    assert np.linalg.norm(di) == pytest.approx(expected_i, rel=1e-9, abs=1e-12)
    assert np.linalg.norm(dj) == pytest.approx(expected_i, rel=1e-9, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(p=_rows, qi=_rows, qj=_rows, eps=st.floats(0.01, 5))
def test_gradient_perturbation_is_the_normalized_gradient(p, qi, qj, eps):
    kernel = testing.perturbation(p, qi, qj, eps, 2 * eps, ADVERSARIES["fgsm"], 0)
    reference = gradient_perturbation(p, qi, qj, 0.0, 0.0, eps, 2 * eps)
    np.testing.assert_allclose(np.stack(kernel), np.stack(reference), rtol=1e-9, atol=1e-12)


@settings(max_examples=100, deadline=None)
@given(x=st.floats(-800, 800))
def test_bpr_loss_is_stable_softplus(x):
    loss, s = testing.bpr_loss(x)
    ref_loss, ref_s = bpr_terms(x)
    assert np.isfinite(loss) and 0.0 <= s <= 1.0
    # The kernel takes logs of products of (1 + exp(-|x|)), not log1p: each sample's loss is
    # exact to a few ulps of 1, in absolute terms.
    assert loss == pytest.approx(ref_loss, rel=1e-12, abs=1e-15)
    assert s == pytest.approx(ref_s, rel=1e-12, abs=1e-300)
    # softplus(-x) - softplus(x) = -x
    assert loss - testing.bpr_loss(-x)[0] == pytest.approx(-x, rel=1e-9, abs=1e-9)


@settings(max_examples=100, deadline=None)
@given(
    row=st.lists(st.integers(0, 50), unique=True, max_size=20).map(sorted),
    pad=st.integers(0, 3),
    j=st.integers(-1, 52),
)
def test_row_contains_is_membership(row, pad, j):
    # The row sits inside a larger indices array, as a CSR row does.
    indices = np.array([-5] * pad + row + [99] * pad, dtype=np.int32)
    assert testing.row_contains(indices, pad, pad + len(row), j) == (j in row)


def _epoch(P, Q, matrix, *, lr, n_threads=1, adversary="none", adagrad=False, item_start=0,
           seed=0, n_draws=None, block_pairs=0, item_stratum=None, phase=0,
           n_candidates=1):  # fmt: skip
    """One sgd_epoch call; ``item_stratum`` (stratum of each item) makes it one phase."""
    matrix = sparse.csr_matrix(matrix)
    matrix.sort_indices()
    coo = matrix.tocoo()
    b = np.zeros(Q.shape[0], dtype=P.dtype)
    accs = (np.zeros_like(P), np.zeros_like(Q), np.zeros_like(b))
    seeds = np.arange(1, n_threads + 1, dtype=np.uint64) + seed
    users = coo.row.astype(np.int32)
    strata = None
    if item_stratum is not None:
        item_stratum = np.asarray(item_stratum, dtype=np.uint8)
        offsets = np.zeros(item_stratum.max() + 2, dtype=np.int64)
        np.cumsum(np.bincount(item_stratum), out=offsets[1:])
        stratum_items = np.argsort(item_stratum, kind="stable").astype(np.int32)
        strata = (item_stratum, stratum_items, offsets, phase)
    pairs = dict(
        indptr=matrix.indptr.astype(np.int64), indices=matrix.indices.astype(np.int32),
        users=users, items=coo.col.astype(np.int32), offsets=thread_offsets(users, n_threads),
        n_draws=coo.nnz if n_draws is None else n_draws, block_pairs=block_pairs,
    )  # fmt: skip
    clean, adv = _mf_sgd.sgd_epoch(
        P, Q, b, *accs, pairs, seeds,
        step(lr, 0.0, 1.0, 0.1, 0.1, adversary, adagrad, False, item_start,
             n_candidates=n_candidates),
        strata,
    )  # fmt: skip
    return clean + adv  # adv_reg is 1


@pytest.mark.parametrize("n_candidates", [1, 4])
def test_negatives_are_never_positives(n_candidates):
    # Each user lacks exactly one item, so its only valid negative is known. With P rows the
    # unit vectors, Q = 0 and a tiny step (sigmoid(-x) stays 0.5), a draw of user u moves
    # Q[negative_u, u] down by lr / 2: the moves add up to n_draws * lr / 2 only if every
    # draw picked the valid negative (every candidate of dynamic sampling, too).
    negative = np.array([7, 3, 0])
    matrix = np.ones((3, 8))
    matrix[np.arange(3), negative] = 0
    P, Q = np.eye(3), np.zeros((8, 3))
    n_draws, lr = 2000, 1e-9
    _epoch(P, Q, matrix, lr=lr, n_draws=n_draws, n_candidates=n_candidates)
    moved = -Q[negative, np.arange(3)]
    assert (moved > 0).all()
    assert moved.sum() == pytest.approx(n_draws * lr / 2, rel=1e-5)


def test_users_without_negatives_are_skipped():
    # User 1 interacted with every item: the kernel must not loop forever nor touch its row.
    matrix = np.array([[1, 0, 0, 1], [1, 1, 1, 1]])
    P = np.random.RandomState(0).normal(size=(2, 4))
    Q = np.random.RandomState(1).normal(size=(4, 4))
    before = P[1].copy()
    _epoch(P, Q, matrix, lr=0.1, n_draws=50)
    np.testing.assert_array_equal(P[1], before)


@pytest.mark.parametrize("adversary", ["none", "fgsm", "random"])
@pytest.mark.parametrize("adagrad", [False, True])
def test_frozen_items_stay_fixed_in_epochs(adversary, adagrad):
    rng = np.random.RandomState(0)
    matrix = (rng.rand(6, 9) < 0.4).astype(float)
    matrix[:, 0] = 1
    P, Q = rng.normal(size=(6, 5)), rng.normal(size=(9, 5))
    Q0 = Q.copy()
    _epoch(P, Q, matrix, lr=0.1, adversary=adversary, adagrad=adagrad, item_start=4)
    np.testing.assert_array_equal(Q[:4], Q0[:4])
    assert not np.allclose(Q[4:], Q0[4:])


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("block_pairs", [0, 7])
def test_epoch_lowers_the_loss(n_threads, block_pairs):
    rng = np.random.RandomState(0)
    matrix = (rng.rand(30, 20) < 0.3).astype(float)
    P = rng.normal(0, 0.1, (30, 8)).astype(np.float32)
    Q = rng.normal(0, 0.1, (20, 8)).astype(np.float32)
    losses = [
        _epoch(P, Q, matrix, lr=0.05, n_threads=n_threads, seed=s, block_pairs=block_pairs)
        for s in range(15)
    ]
    assert losses[-1] < 0.8 * losses[0]


@pytest.mark.parametrize("block_pairs", [0, 5])
def test_same_seeds_same_epoch(block_pairs):
    rng = np.random.RandomState(0)
    matrix = (rng.rand(10, 12) < 0.3).astype(float)
    P, Q = rng.normal(size=(10, 4)), rng.normal(size=(12, 4))
    P2, Q2 = P.copy(), Q.copy()
    kw = dict(lr=0.1, adversary="random", block_pairs=block_pairs)
    _epoch(P, Q, matrix, seed=5, **kw)
    _epoch(P2, Q2, matrix, seed=5, **kw)
    np.testing.assert_array_equal(P, P2)
    np.testing.assert_array_equal(Q, Q2)
    _epoch(P2, Q2, matrix, seed=6, **kw)
    _epoch(P, Q, matrix, seed=7, **kw)
    assert not np.array_equal(P, P2)


# ----------------------------------------------------------------------------- sampling blocks
def _draw_counts(matrix, n_draws, block_pairs, seed=0, item_stratum=None, phases=(0,)):
    """How often one epoch drew each positive pair (in CSR order), read off the factors.

    P is the identity and Q starts at 0, with a tiny step (sigmoid(-x) stays 1/2): a draw of
    pair (u, i) adds lr / 2 to Q[i, u]. Negatives of u are never positives of u, so Q[i, u]
    of a pair moves only when that pair is drawn. One thread: no Hogwild race on Q. With
    ``item_stratum``, the epoch is the given phases.
    """
    n_users = matrix.shape[0]
    P, Q = np.eye(n_users), np.zeros((matrix.shape[1], n_users))
    lr = 1e-9
    for phase in phases:
        _epoch(P, Q, matrix, lr=lr, n_draws=n_draws, block_pairs=block_pairs,
               seed=seed + 100 * phase, item_stratum=item_stratum, phase=phase)  # fmt: skip
    coo = sparse.csr_matrix(matrix).tocoo()
    return Q[coo.col, coo.row] / (lr / 2)


def _matrix(n_users=40, n_items=25, seed=0):
    matrix = (np.random.RandomState(seed).rand(n_users, n_items) < 0.3).astype(float)
    matrix[:, 0] = 1  # no user without pairs
    return matrix


@pytest.mark.parametrize("n_draws_per_pair", [1.0, 2.5, 0.4])
@pytest.mark.parametrize("block_pairs", [1, 13, 64])
def test_blocks_get_their_share_of_draws(n_draws_per_pair, block_pairs):
    # Stratification: each block of consecutive pairs gets exactly its share of the draws
    # (rounded at cumulative counts), not only in expectation.
    matrix = _matrix()
    n_pairs = int(matrix.sum())
    n_draws = int(n_draws_per_pair * n_pairs)
    counts = _draw_counts(matrix, n_draws, block_pairs)
    n_blocks = -(-n_pairs // block_pairs)
    edges = np.arange(n_blocks + 1) * n_pairs // n_blocks
    per_block = np.add.reduceat(counts, edges[:-1])
    share = np.floor(n_draws / n_pairs * edges + 0.5)
    share[-1] = n_draws
    np.testing.assert_allclose(per_block, np.diff(share), rtol=1e-6, atol=1e-6)
    assert counts.sum() == pytest.approx(n_draws, rel=1e-6)


@pytest.mark.parametrize("block_pairs", [0, 10, 100])
def test_blocked_draws_are_uniform_over_pairs(block_pairs):
    # 300 draws per pair: each pair's count is about Poisson(300), whatever the blocks.
    matrix = _matrix()
    n_pairs = int(matrix.sum())
    counts = np.rint(_draw_counts(matrix, 300 * n_pairs, block_pairs))
    chi2 = ((counts - 300) ** 2 / 300).sum()
    # n_pairs - 1 degrees of freedom (~300): 5.5 standard deviations above the mean.
    assert chi2 < n_pairs + 5.5 * np.sqrt(2 * n_pairs)
    assert counts.min() > 200


@pytest.mark.parametrize("block_pairs", [0, 337, 10**9])
def test_one_block_is_plain_uniform_sampling(block_pairs):
    # block_pairs 0 or >= the pairs: the same samples (and factors) as no blocks at all.
    matrix = _matrix()
    assert matrix.sum() == 337  # 337 pairs: one block of exactly all of them too
    rng = np.random.RandomState(1)
    P, Q = rng.normal(size=(40, 4)), rng.normal(size=(25, 4))
    P2, Q2 = P.copy(), Q.copy()
    _epoch(P, Q, matrix, lr=0.1, adversary="random", adagrad=True, seed=3)
    _epoch(P2, Q2, matrix, lr=0.1, adversary="random", adagrad=True, seed=3,
           block_pairs=block_pairs)  # fmt: skip
    np.testing.assert_array_equal(P, P2)
    np.testing.assert_array_equal(Q, Q2)


def test_blocks_change_the_order():
    matrix = _matrix()
    assert not np.array_equal(_draw_counts(matrix, 200, 0), _draw_counts(matrix, 200, 20))


@settings(max_examples=100, deadline=None)
@given(
    counts=st.lists(st.integers(1, 60), min_size=1, max_size=40),
    n_threads=st.integers(1, 4),
    row_bytes=st.sampled_from([16, 256, 512]),
    budget=st.integers(0, 20_000),
)
def test_sampling_block_fits_the_budget(counts, n_threads, row_bytes, budget):
    users = np.repeat(np.arange(len(counts)), counts).astype(np.int32)
    block = sampling_block(users, n_threads, row_bytes, budget)
    bytes_per_pair = 12 + (row_bytes + 8) * len(counts) / users.shape[0]
    thread_bytes = users.shape[0] / n_threads * bytes_per_pair
    if budget == 0 or thread_bytes <= budget:
        assert block == 0  # one block: plain uniform sampling
    else:
        assert block >= 1
        assert block == 1 or block * bytes_per_pair <= budget


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_estimator_samples_in_blocks(monkeypatch, n_jobs):
    # A budget small enough to cut 1,000 pairs into blocks: train() must pass a block size to
    # every epoch, and with one thread a seed still gives identical factors.
    rng = np.random.RandomState(0)
    X = np.column_stack([rng.randint(0, 50, 1000), rng.randint(0, 40, 1000)])
    monkeypatch.setattr(
        _cython_backend, "train", functools.partial(_cython_backend.train, block_bytes=2048)
    )
    blocks = []
    real = _cython_backend._mf_sgd.sgd_epoch

    def spy(*args, **kwargs):
        blocks.append(args[6]["block_pairs"])  # sgd_epoch(P, Q, b, 3 accumulators, pairs, ...)
        return real(*args, **kwargs)

    monkeypatch.setattr(_cython_backend._mf_sgd, "sgd_epoch", spy)
    model = AdversarialMFRecommender(8, n_epochs=4, n_jobs=n_jobs, random_state=0)
    first = model.fit(X).user_factors_.copy()
    # One call per epoch: 40 items are too few for item strata (one chunk of 128 rows).
    assert len(blocks) == 4 and 0 < min(blocks) and max(blocks) < 1000 / n_jobs
    if n_jobs == 1:
        np.testing.assert_array_equal(model.fit(X).user_factors_, first)


@settings(max_examples=100, deadline=None)
@given(
    counts=st.lists(st.integers(1, 20), min_size=0, max_size=15),
    n_threads=st.integers(1, 6),
)
def test_thread_offsets_split_at_user_boundaries(counts, n_threads):
    users = np.repeat(np.arange(len(counts)), counts).astype(np.int32)
    offsets = thread_offsets(users, n_threads)
    n = users.shape[0]
    assert offsets.shape == (n_threads + 1,) and offsets[0] == 0 and offsets[-1] == n
    assert (np.diff(offsets) >= 0).all()
    inner = offsets[(offsets > 0) & (offsets < n)]
    assert (users[inner - 1] != users[inner]).all()  # no user is split between threads


# ----------------------------------------------------------------------------- item strata
def _strata_matrix():
    # 40 users x 64 items, every user with positives in both halves of the items.
    matrix = _matrix(n_users=40, n_items=64, seed=3)
    matrix[:, 32] = 1
    return matrix


HALVES = np.repeat([0, 1], 32)  # stratum of each of the 64 items


@pytest.mark.parametrize("phase", [0, 1])
@pytest.mark.parametrize("block_pairs", [0, 50])
def test_phase_draws_only_its_stratum(phase, block_pairs):
    # One thread, phase p: stratum p. Pairs with a positive item of the other stratum are
    # never drawn, those of its own stratum at the epoch's rate (here 100 per pair), and
    # negatives come from its stratum only: the other stratum's item rows do not move.
    matrix = _strata_matrix()
    n_pairs = int(matrix.sum())
    n_users = matrix.shape[0]
    P, Q = np.eye(n_users), np.zeros((64, n_users))
    _epoch(P, Q, matrix, lr=1e-9, n_draws=100 * n_pairs, block_pairs=block_pairs,
           item_stratum=HALVES, phase=phase)  # fmt: skip
    other = HALVES != phase
    assert not Q[other].any()
    counts = _draw_counts(matrix, 100 * n_pairs, block_pairs, item_stratum=HALVES, phases=[phase])
    in_stratum = HALVES[sparse.csr_matrix(matrix).tocoo().col] == phase
    assert not counts[~in_stratum].any()
    assert counts[in_stratum].mean() == pytest.approx(100, rel=0.02)


@pytest.mark.parametrize("block_pairs", [0, 10, 100])
def test_phases_draw_every_pair_uniformly(block_pairs):
    # The phases of an epoch together: 300 draws per pair, each about Poisson(300), and as
    # many draws as one unstratified epoch (up to rounding in each phase).
    matrix = _strata_matrix()
    n_pairs = int(matrix.sum())
    stratum = np.random.RandomState(0).randint(0, 2, 64)
    counts = np.rint(
        _draw_counts(matrix, 300 * n_pairs, block_pairs, item_stratum=stratum, phases=[0, 1])
    )
    chi2 = ((counts - 300) ** 2 / 300).sum()
    assert chi2 < n_pairs + 5.5 * np.sqrt(2 * n_pairs)
    assert abs(counts.sum() - 300 * n_pairs) <= 2


def test_phase_threads_write_disjoint_items():
    # Two threads, phase 0: thread 0 (the first users) trains stratum 0, thread 1 stratum 1;
    # phase 1 swaps them. Q[:, u] moves only through user u's samples.
    matrix = _strata_matrix()
    users = sparse.csr_matrix(matrix).tocoo().row.astype(np.int32)
    first_thread = np.arange(40) < users[thread_offsets(users, 2)[1]]
    for phase in (0, 1):
        P, Q = np.eye(40), np.zeros((64, 40))
        _epoch(P, Q, matrix, lr=1e-3, n_threads=2, item_stratum=HALVES, phase=phase)
        for thread, columns in ((0, first_thread), (1, ~first_thread)):
            stratum = (thread + phase) % 2
            assert Q[HALVES == stratum][:, columns].any()
            assert not Q[HALVES != stratum][:, columns].any()


def test_stratum_without_negatives_falls_back_to_all_items():
    # Each user lacks exactly one item, in stratum 1; phase 0 draws the stratum-0 pairs, whose
    # negatives must then come from outside the stratum: the rejection loop must end, and
    # every negative must still be the user's one valid item (see
    # test_negatives_are_never_positives).
    negative = np.array([5, 6, 7])
    matrix = np.ones((3, 8))
    matrix[np.arange(3), negative] = 0
    stratum = np.repeat([0, 1], 4)
    P, Q = np.eye(3), np.zeros((8, 3))
    n_draws, lr = 2000, 1e-9
    _epoch(P, Q, matrix, lr=lr, n_draws=n_draws, item_stratum=stratum, phase=0)
    moved = -Q[negative, np.arange(3)]
    assert (moved > 0).all()
    # Half of each user's pairs (items 0-3 of its 7) are in stratum 0: 4/7 of the draws.
    assert moved.sum() == pytest.approx(n_draws * 4 / 7 * lr / 2, rel=1e-3)


@settings(max_examples=60, deadline=None)
@given(
    counts=st.lists(st.integers(0, 50), min_size=1, max_size=120),
    n_strata=st.integers(1, 4),
    chunk=st.integers(1, 5),
    seed=st.integers(0, 2**31 - 1),
)
def test_item_strata_partition_the_items_in_chunks(counts, n_strata, chunk, seed):
    n_items = len(counts)
    sample_items = np.repeat(np.arange(n_items), counts).astype(np.int32)
    strata = ItemStrata(sample_items, n_items, n_strata, chunk)
    item_stratum, items, offsets = strata.draw(np.random.RandomState(seed))
    assert item_stratum.dtype == np.uint8 and items.dtype == np.int32
    assert offsets.dtype == np.int64
    assert ((0 <= item_stratum) & (item_stratum < n_strata)).all()
    assert offsets[0] == 0 and offsets[-1] == n_items and (np.diff(offsets) >= 0).all()
    assert sorted(items.tolist()) == list(range(n_items))
    for s in range(n_strata):
        assert (item_stratum[items[offsets[s] : offsets[s + 1]]] == s).all()
    # Strata change only at chunk boundaries, which all lie one chunk apart, or next to a
    # hot item (a chunk of its own).
    changes = np.flatnonzero(np.diff(item_stratum)) + 1
    hot = strata.hot
    changes = changes[~(hot[changes] | hot[changes - 1])]
    assert len(np.unique(changes % chunk)) <= 1
    # Each group of n_strata chunks (by popularity) feeds every stratum once: interaction
    # counts of the strata are within twice the largest chunk's of each other.
    per_stratum = np.bincount(item_stratum, weights=np.asarray(counts, float), minlength=n_strata)
    largest_chunk = max(counts) * chunk
    assert per_stratum.max() - per_stratum.min() <= 2 * largest_chunk


def test_hot_items_are_chunks_of_their_own():
    # 40 items in chunks of 8, ids by popularity: items 0 and 1 hold most pairs. Alone in
    # their chunks they can go to different strata: the strata's pair counts get closer.
    counts = np.r_[400, 300, np.full(38, 10)]
    sample_items = np.repeat(np.arange(40), counts).astype(np.int32)
    strata = ItemStrata(sample_items, 40, 2, chunk=8)
    assert strata.hot.tolist() == [True, True] + [False] * 38
    lumped = ItemStrata(sample_items, 40, 2, chunk=8)
    lumped.hot[:] = False  # the chunks of fixed size only

    def mean_gap(s):
        gaps = []
        for seed in range(50):
            item_stratum = s.draw(np.random.RandomState(seed))[0]
            per_stratum = np.bincount(item_stratum, weights=counts, minlength=2)
            gaps.append(abs(per_stratum[0] - per_stratum[1]))
        return np.mean(gaps)

    # Items 0 and 1 share a fixed chunk unless the shift separates them: gap >= 320 then.
    assert mean_gap(strata) < 0.75 * mean_gap(lumped)


def test_item_strata_are_redrawn_every_epoch():
    # Every pair of items shares a stratum in some epochs and not in others, about half of
    # the time with 2 strata (items in one chunk share it more often).
    rng = np.random.RandomState(0)
    strata = ItemStrata(rng.randint(0, 30, 500).astype(np.int32), 30, 2, chunk=2)
    together = np.zeros((30, 30))
    for _ in range(400):
        item_stratum = strata.draw(rng)[0]
        together += item_stratum[:, None] == item_stratum[None, :]
    share = together[~np.eye(30, dtype=bool)] / 400
    assert share.min() > 0.2 and share.max() < 1
    assert np.median(share) == pytest.approx(0.5, abs=0.05)


@pytest.mark.skipif(_openmp_helpers.max_threads() < 2, reason="one OpenMP thread")
@pytest.mark.parametrize("enabled", [True, False])
def test_threaded_epochs_run_in_phases(monkeypatch, enabled):
    X = np.column_stack([np.repeat(np.arange(30), 20), np.tile(np.arange(200), 3)])
    monkeypatch.setattr(
        _cython_backend,
        "train",  # chunks of 2 items
        functools.partial(_cython_backend.train, item_strata=enabled, chunk_bytes=64),
    )
    phases = []
    real = _cython_backend._mf_sgd.sgd_epoch

    def spy(*args, **kwargs):
        strata = args[9] if len(args) > 9 else None  # (..., pairs, seeds, step, strata)
        phases.append(None if strata is None else strata[3])
        return real(*args, **kwargs)

    monkeypatch.setattr(_cython_backend._mf_sgd, "sgd_epoch", spy)
    AdversarialMFRecommender(8, n_epochs=3, n_jobs=2, random_state=0).fit(X)
    assert phases == ([0, 1] * 3 if enabled else [None] * 3)


def test_thread_seconds_are_reported_per_thread():
    # Benchmarks pass thread_seconds to tell load imbalance from slow sampling.
    rng = np.random.RandomState(0)
    matrix = sparse.csr_matrix((rng.rand(40, 30) < 0.3).astype(float))
    coo = matrix.tocoo()
    users = coo.row.astype(np.int32)
    P = rng.normal(0, 0.1, (40, 8)).astype(np.float32)
    Q = rng.normal(0, 0.1, (30, 8)).astype(np.float32)
    b = np.zeros(30, dtype=np.float32)
    pairs = dict(
        indptr=matrix.indptr.astype(np.int64), indices=matrix.indices.astype(np.int32),
        users=users, items=coo.col.astype(np.int32), offsets=thread_offsets(users, 2),
        n_draws=coo.nnz, block_pairs=0,
    )  # fmt: skip
    seconds = np.full(2, -1.0)
    clean, _ = _mf_sgd.sgd_epoch(
        P, Q, b, np.zeros((1, 1), np.float32), np.zeros((1, 1), np.float32),
        np.zeros(1, np.float32), pairs, np.array([1, 2], dtype=np.uint64),
        step(0.05, 0.0, 1.0, 0.1, 0.1, "none", False, False), thread_seconds=seconds,
    )  # fmt: skip
    assert clean > 0 and (seconds >= 0).all()
