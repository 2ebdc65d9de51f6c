"""The compiled-kernel backend of :class:`~skadv.mf.AdversarialMFRecommender` (CPU).

The thin Python side of ``src_ext/_mf_sgd.pyx``: it fixes dtypes and contiguity, splits the
pairs among threads (user ranges, item strata, sampling blocks), draws one seed per thread and
epoch from the estimator's ``RandomState`` and runs one kernel call per epoch (or per phase)
under :func:`skadv.training.run_epochs`, which owns the schedule, the radii, the checks and
the log. The kernel itself never validates anything and never raises.
"""

import numpy as np

from skadv._ext import _mf_sgd
from skadv.mf._vulnerability import vulnerability_scale
from skadv.training import check_finite, mean_row_norm, run_epochs
from skadv.utils._random import draw_seeds
from skadv.utils._sampling import usable_samples

__all__ = [
    "KERNEL_ADVERSARY_CODES",
    "ItemStrata",
    "sampling_block",
    "step_params",
    "thread_offsets",
    "train",
]

#: The kernel's code of each adversary it implements (the enum in src_ext/_mf_sgd.pyx).
KERNEL_ADVERSARY_CODES = {"none": 0, "fgsm": 1, "random": 2}

# Sampling blocks (see sampling_block): about this many bytes of user-side data per block,
# small enough to stay in a core's L2 cache while a block is sampled. A fixed figure, not the
# machine's cache size, so that a seed gives the same samples on every machine (the
# measurements behind it are in benchmarks/README.md).
SAMPLING_BLOCK_BYTES = 1 << 18

# Bytes of item rows per chunk of consecutive items in a stratum (see ItemStrata).
ITEM_CHUNK_BYTES = 4096


def sampling_block(sorted_users, n_threads, row_bytes, budget=None):
    """Pairs per sampling block of the kernel's stratified sampling; 0 for none.

    Each thread visits its (user-sorted) pairs in blocks of about this many consecutive pairs,
    in random order, drawing each block's share of the epoch's samples uniformly within it:
    the user rows, CSR rows and pair entries of a block then stay in cache while it is
    sampled. A block takes about ``budget`` bytes (default :data:`SAMPLING_BLOCK_BYTES`) of
    those: 12 bytes of pair entries and CSR row per pair, plus ``row_bytes`` (a user's factor
    row, and its AdaGrad row) and 8 bytes of CSR row bounds per user. When a thread's pairs
    fit in one block, or ``budget`` is 0, there are no blocks (0): sampling is uniform over
    all of the thread's pairs, with exactly the samples of the unblocked kernel.

    Examples
    --------
    10,000 users with 50 pairs each, float32 rows of 64 factors (SGD):

    >>> users = np.repeat(np.arange(10_000), 50).astype(np.int32)
    >>> sampling_block(users, 1, row_bytes=256, budget=1 << 18)
    15170
    >>> sampling_block(users, 1, row_bytes=256, budget=16 << 20)
    0
    """
    budget = SAMPLING_BLOCK_BYTES if budget is None else budget
    n_pairs = sorted_users.shape[0]
    if n_pairs == 0 or budget <= 0:
        return 0
    n_users = 1 + int(np.count_nonzero(sorted_users[1:] != sorted_users[:-1]))
    bytes_per_pair = 12 + (row_bytes + 8) * n_users / n_pairs
    if n_pairs / n_threads * bytes_per_pair <= budget:
        return 0
    return max(int(budget / bytes_per_pair), 1)


def thread_offsets(sorted_users, n_threads):
    """Split pairs grouped by user into ``n_threads`` contiguous, about equal, ranges.

    Splits fall on user boundaries so that no two threads update the same user row (only
    item rows are shared, Hogwild), and cache lines of user rows never bounce between cores.

    Examples
    --------
    >>> thread_offsets(np.array([0, 0, 0, 1, 2, 2], dtype=np.int32), 2).tolist()
    [0, 3, 6]
    """
    n = sorted_users.shape[0]
    if n == 0:
        return np.zeros(n_threads + 1, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, sorted_users[1:] != sorted_users[:-1]])
    targets = (np.arange(1, n_threads) * n) // n_threads
    # Each cut moves forward to the first user boundary at or after its target.
    cuts = np.append(starts, n)[np.searchsorted(starts, targets)]
    return np.concatenate([[0], cuts, [n]]).astype(np.int64)


class ItemStrata:
    """Random item strata of about equal interaction counts, one per thread, drawn per epoch.

    Hogwild threads that write the same item rows trade cache lines between cores. An epoch on
    ``n`` threads therefore runs as ``n`` phases: the items are split into ``n`` strata, and
    in phase ``p`` thread ``t`` draws only its pairs whose positive item is in stratum
    ``(t + p) % n``, with negatives among that stratum's items, so that the threads of a
    phase write disjoint item rows (user rows are disjoint already). Over the phases every
    pair is drawn at the usual rate.

    Strata are made of chunks of consecutive items (``chunk`` items, 4 KiB of float32 rows at
    k = 64), not of single items: rows of neighbouring items share cache lines, and strata
    interleaved row by row ran slower than no strata at all. Every epoch the chunk
    boundaries move by a random shift, the chunks are ranked by their interactions, cut into
    groups of ``n`` consecutive ranks (from a random offset) and each group's chunks go to
    the ``n`` strata in a random order: phases get about equal work, and two items share a
    stratum (so one can be the other's negative) with probability about 1 / n per epoch,
    up to 1 for items in the same chunk.

    A hot item, one holding more than ``1 / (HOT_PARTS * n)`` of the pairs, is a chunk of its
    own: on skewed catalogs whose ids follow popularity, the 16 hottest items (one 4 KiB
    chunk) held 49 % of the pairs (Zipf 1.3) and the busiest thread of a phase ran 1.30 times
    the mean (``benchmarks/bench_mf_threads.py --ids popularity``).

    Parameters
    ----------
    sample_items : ndarray of shape (n_pairs,)
        Item of each positive pair (the popularity counts).
    n_items : int
    n_strata : int
    chunk : int, default=1
        Consecutive items per chunk.

    Examples
    --------
    >>> strata = ItemStrata(np.array([0, 0, 0, 1, 1, 2, 3], dtype=np.int32), 4, 2)
    >>> item_stratum, items, offsets = strata.draw(np.random.RandomState(0))
    >>> offsets.tolist()
    [0, 2, 4]
    >>> sorted(items.tolist())
    [0, 1, 2, 3]
    """

    #: A hot item holds more than 1 / (HOT_PARTS * n_strata) of the pairs.
    HOT_PARTS = 32

    def __init__(self, sample_items, n_items, n_strata, chunk=1):
        self.counts = np.bincount(sample_items, minlength=n_items).astype(np.float64)
        self.n_items = n_items
        self.n_strata = n_strata
        self.chunk = chunk
        self.hot = self.counts * (self.HOT_PARTS * n_strata) > self.counts.sum()

    def draw(self, rng):
        """``(item_stratum, stratum_items, stratum_offsets)`` for one epoch, from ``rng``.

        ``item_stratum[i]`` is item ``i``'s stratum, ``stratum_items[stratum_offsets[s]:
        stratum_offsets[s + 1]]`` the items of stratum ``s`` (uint8, int32 and int64 arrays).
        """
        n, n_items = self.n_strata, self.n_items
        # Chunk boundaries moved by a random shift (the first and last chunks may be partial).
        chunk_of = (np.arange(n_items) + rng.randint(self.chunk)) // self.chunk
        if self.chunk > 1 and self.hot.any():  # hot items: chunks of their own
            starts = np.r_[True, (chunk_of[1:] != chunk_of[:-1]) | self.hot[1:] | self.hot[:-1]]
            chunk_of = np.cumsum(starts) - 1
        n_chunks = int(chunk_of[-1]) + 1 if n_items else 0
        by_popularity = np.argsort(
            -np.bincount(chunk_of, weights=self.counts, minlength=n_chunks), kind="stable"
        )
        offset = rng.randint(n)
        n_groups = (offset + n_chunks + n - 1) // n
        # Row g holds a random order of the strata for group g of n consecutive ranks.
        orders = np.argsort(rng.random_sample((n_groups, n)), axis=1).ravel()
        chunk_stratum = np.empty(n_chunks, dtype=np.uint8)
        chunk_stratum[by_popularity] = orders[offset : offset + n_chunks]
        item_stratum = chunk_stratum[chunk_of]
        stratum_items = np.argsort(item_stratum, kind="stable").astype(np.int32)
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(item_stratum, minlength=n), out=offsets[1:])
        return item_stratum, stratum_items, offsets


def train(
    state,
    interactions,
    sample_users,
    sample_items,
    schedule,
    *,
    rng,
    n_threads,
    item_start=0,
    verbose=0,
    early_stopping=None,
    item_strata=True,
    block_bytes=SAMPLING_BLOCK_BYTES,
    chunk_bytes=ITEM_CHUNK_BYTES,
    vulnerability=False,
    item_weight=None,
):
    """Run ``schedule.n_epochs`` epochs of BPR/APR on ``state`` (updated in place).

    Parameters
    ----------
    state : skadv.training.FactorState
        C-contiguous float32 or float64 arrays, all of one dtype.
    interactions : scipy.sparse.csr_matrix of shape (n_users, n_items)
        Positives of every user: negatives are drawn among the other items.
    sample_users, sample_items : ndarray of shape (n_pairs,)
        Positive pairs to sample from (``n_pairs`` draws per epoch).
    schedule : skadv.training.TrainingSchedule
    rng : numpy.random.RandomState
        Source of one seed per thread and epoch (and of the item strata).
    n_threads : int
    item_start : int, default=0
        Items with a smaller code are kept fixed (fold-in of new users and items).
    verbose : int, default=0
        Print one line per epoch (with a tqdm progress bar when installed).
    early_stopping : skadv.training.EarlyStopping, default=None
    item_strata : bool, default=True
        Threaded epochs run one phase per thread over item strata (see :class:`ItemStrata`);
        False lets threads share item rows (the comparison of ``benchmarks/bench_mf.py``).
    block_bytes : int, default=SAMPLING_BLOCK_BYTES
        Budget of a sampling block (see :func:`sampling_block`); 0: no blocks.
    chunk_bytes : int, default=ITEM_CHUNK_BYTES
        Bytes of item rows per chunk of a stratum.
    vulnerability : bool, default=False
        ``epsilon_mode="vulnerability"`` (VAT): the kernel records each user's clean losses
        in every epoch, and the next adversarial epoch scales both radii of a user's
        samples by :func:`skadv.mf._vulnerability.vulnerability_scale` of them (1 in the
        first epoch).
    item_weight : ndarray of shape (n_users,), default=None
        float64 weight of each user's gradients on the item rows and biases (its own row
        trains at full weight); None: 1 for every user.

    Returns
    -------
    log : skadv.training.TrainingLog

    Raises
    ------
    ValueError
        If there is no pair to sample from (every user interacted with every item), or if the
        loss or the factors stop being finite (divergence: lower ``learning_rate``).
    """
    if schedule.optimizer not in ("adagrad", "sgd"):
        # The estimator says so before training; this guards direct callers.
        raise ValueError(
            f"optimizer={schedule.optimizer!r} needs backend='torch' (the compiled kernel "
            "implements 'adagrad' and 'sgd')."
        )
    dtype = state.user.dtype
    n_items = state.item.shape[0]
    interactions.sort_indices()
    indptr = np.ascontiguousarray(interactions.indptr, dtype=np.int64)
    indices = np.ascontiguousarray(interactions.indices, dtype=np.int32)
    sample_users, sample_items = usable_samples(indptr, sample_users, sample_items, n_items)
    offsets = thread_offsets(sample_users, n_threads)
    n_draws = sample_users.shape[0]
    k = state.user.shape[1]
    row_bytes = k * dtype.itemsize * (2 if schedule.optimizer == "adagrad" else 1)
    block = sampling_block(sample_users, n_threads, row_bytes, budget=block_bytes)
    pairs = dict(indptr=indptr, indices=indices, users=sample_users, items=sample_items,
                 offsets=offsets, n_draws=n_draws, block_pairs=block)  # fmt: skip
    strata = None
    chunk = max(1, chunk_bytes // (k * dtype.itemsize))
    # Enough chunks that every stratum gets some items, whatever the shift and offset.
    # (Strata are stored in one byte per item: at most 255 threads use them.)
    if item_strata and 1 < n_threads < 256 and n_items >= (2 * n_threads + 1) * chunk:
        strata = ItemStrata(sample_items, n_items, n_threads, chunk)
    if item_weight is not None:
        item_weight = np.ascontiguousarray(item_weight, dtype=np.float64)
        if item_weight.shape != (state.user.shape[0],):
            raise ValueError(
                f"item_weight needs one weight per user ({state.user.shape[0]}), got shape "
                f"{item_weight.shape}."
            )
    run_epoch = _epoch_runner(
        state, pairs, schedule, rng, n_threads, item_start, strata, item_weight
    )
    if vulnerability:
        run_epoch = _with_vulnerability(run_epoch, state.user.shape[0])

    def check(loss, epoch):
        check_finite(loss, (state.user, state.item, state.bias), epoch, schedule.divergence_hint)

    return run_epochs(
        schedule,
        run_epoch,
        n_draws=n_draws,
        check=check,
        row_norms=lambda: (mean_row_norm(state.user), mean_row_norm(state.item)),
        early_stopping=early_stopping,
        verbose=verbose,
    )


def _epoch_runner(state, pairs, schedule, rng, n_threads, item_start, strata, item_weight=None):
    """``run_epoch(plan)`` for :func:`skadv.training.run_epochs`: one kernel call per epoch,
    or one per phase with item ``strata`` (an :class:`ItemStrata`, drawn each epoch)."""
    if schedule.optimizer == "adagrad":
        acc = (state.user_acc, state.item_acc, state.bias_acc)
    else:  # plain SGD: the kernel never reads them
        dtype = state.user.dtype
        acc = (np.zeros((1, 1), dtype=dtype), np.zeros((1, 1), dtype=dtype), np.zeros(1, dtype))

    weighting = {} if item_weight is None else {"item_weight": item_weight}

    def run_phase(plan, vulnerability, phase_strata=None):
        step = step_params(schedule, plan, item_start=item_start)
        seeds = draw_seeds(rng, n_threads)
        return _mf_sgd.sgd_epoch(
            state.user, state.item, state.bias, *acc, pairs, seeds, step, phase_strata,
            vulnerability, **weighting,
        )  # fmt: skip

    def run_epoch(plan, vulnerability=None):
        if strata is None:
            return run_phase(plan, vulnerability)
        arrays = strata.draw(rng)
        sums = [run_phase(plan, vulnerability, (*arrays, p)) for p in range(n_threads)]
        return sum(c for c, _ in sums), sum(a for _, a in sums)

    return run_epoch


def _with_vulnerability(run_epoch, n_users):
    """``run_epoch`` recording each user's losses and applying VAT's factors from the
    previous epoch's (see :func:`skadv.mf._vulnerability.vulnerability_scale`)."""
    user_scale = np.ones(n_users)
    user_loss = np.zeros((n_users, 2))

    def run(plan):
        user_loss.fill(0.0)
        sums = run_epoch(plan, (user_scale, user_loss))
        user_scale[:] = vulnerability_scale(user_loss)
        return sums

    return run


def step_params(schedule, plan, *, item_start=0):
    """The kernel's ``Step`` (a dict) for the epoch ``plan`` of ``schedule``.

    Examples
    --------
    >>> from skadv.training import EpochPlan, TrainingSchedule
    >>> schedule = TrainingSchedule(n_epochs=2, learning_rate=0.1, adversary="fgsm")
    >>> step = step_params(schedule, EpochPlan(0, "fgsm", 0.5, 0.5, 0.1))
    >>> step["adversary"], step["adagrad"], step["inv_user_norm"]
    (1, False, 0.0)
    """
    return dict(
        lr=plan.learning_rate,
        reg=schedule.reg,
        adv_reg=schedule.adv_reg,
        eps_user=plan.eps_user,
        eps_item=plan.eps_item,
        # epsilon_mode="per-user": 1 / the mean user row norm; 0 (off) when there is none.
        inv_user_norm=1.0 / plan.mean_user_norm if plan.mean_user_norm > 0 else 0.0,
        adversary=KERNEL_ADVERSARY_CODES[plan.adversary],
        adagrad=schedule.optimizer == "adagrad",
        use_bias=schedule.use_bias,
        item_start=item_start,
        n_candidates=schedule.n_negative_candidates,
    )
