"""Training loop of :class:`~skadv.mf.AdversarialMFRecommender` on the compiled kernel.

The thin Python side of ``src_ext/_mf_sgd.pyx``: it fixes dtypes and contiguity, removes samples
that have no negative item, draws one seed per thread and epoch from the estimator's
``RandomState``, turns ``epsilon`` into per-matrix radii, runs the epochs (progress bar and
per-epoch log with ``verbose``), and checks after every epoch that training neither diverged
(``ValueError`` naming ``learning_rate``) nor collapsed the embeddings (a warning). The kernel
itself never validates anything and never raises.
"""

import sys
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skadv._ext import _mf_sgd
from skadv.utils._random import draw_seeds
from skadv.utils._schedule import learning_rate_factor

__all__ = [
    "ADVERSARIES",
    "FactorState",
    "ItemStrata",
    "TrainingSchedule",
    "mean_row_norm",
    "sampling_block",
    "thread_offsets",
    "train",
]

#: Kernel codes of the perturbation (keep in sync with the enum in src_ext/_mf_sgd.pyx).
ADVERSARIES = {"none": 0, "gradient": 1, "random": 2}

# Sampling blocks (see sampling_block): about this many bytes of user-side data per block. A
# fixed figure, not the machine's cache size, so that a seed gives the same samples on every
# machine. Measured on the development machine (2 MiB L2 per core), BPR on 50k users x 20k
# items: 4.6 M samples/s on one thread without blocks; 12.8 / 12.1 / 11.4 / 8.9 M with blocks
# of 1k / 16k / 64k / 256k pairs (256 KiB here is ~15k pairs). Blocks of 64 KiB to 1 MiB left
# ml-100k NDCG@10 of BPR and APR unchanged (3 seeds). 0 turns blocks off: plain uniform
# sampling over each thread's pairs.
SAMPLING_BLOCK_BYTES = 1 << 18

# Threaded epochs split the items into one stratum per thread (see ItemStrata): the threads of
# a phase then write disjoint item rows. BPR SGD on 2.5 M interactions, 2 threads: 1.58-1.68x
# one thread with shared item rows, 1.75-1.83x with strata (two independent 1-thread
# processes: 2.0x). Set to False, threads share item rows as in a 1-thread epoch.
ITEM_STRATA = True
# Bytes of item rows per chunk of consecutive items in a stratum (see ItemStrata).
ITEM_CHUNK_BYTES = 4096

# An epoch ending with the mean row norm of a matrix below this fraction of the largest value
# it reached means the embeddings collapsed (APR with a large absolute epsilon * adv_reg does:
# on ml-100k norms fell from 2.3 to 0.03 after growing, so the start is the wrong reference).
COLLAPSE_RATIO = 0.05


@dataclass
class FactorState:
    """Everything training updates in place: factors, item biases, optimizer state.

    ``user_acc``/``item_acc``/``bias_acc`` have the shapes of the parameters with
    ``optimizer="adagrad"`` (sums of squared gradients) or ``"adam"`` (second moments) and
    are ``None`` with plain SGD. ``user_mom``/``item_mom``/``bias_mom`` are Adam's first
    moments (``None`` otherwise) and ``n_steps`` its step count, for the bias correction.
    """

    user: np.ndarray
    item: np.ndarray
    bias: np.ndarray
    user_acc: np.ndarray = None
    item_acc: np.ndarray = None
    bias_acc: np.ndarray = None
    user_mom: np.ndarray = None
    item_mom: np.ndarray = None
    bias_mom: np.ndarray = None
    n_steps: int = 0

    @property
    def optimizer(self):
        """``"adam"``, ``"adagrad"`` or ``"sgd"``, read from which arrays are present."""
        if self.user_mom is not None:
            return "adam"
        return "sgd" if self.user_acc is None else "adagrad"

    def copy(self):
        return FactorState(
            *(None if a is None else a.copy() for a in self._arrays()), n_steps=self.n_steps
        )

    def _arrays(self):
        return (self.user, self.item, self.bias, self.user_acc, self.item_acc, self.bias_acc,
                self.user_mom, self.item_mom, self.bias_mom)  # fmt: skip


@dataclass
class TrainingSchedule:
    """Hyper-parameters of one training run (read from the estimator's parameters)."""

    n_epochs: int
    learning_rate: float
    optimizer: str
    reg: float
    adv_reg: float
    epsilon: float
    epsilon_mode: str
    adversary: str
    adv_start: int
    use_bias: bool
    lr_schedule: str = "constant"
    warmup_epochs: int = 0

    def epoch_learning_rate(self, epoch):
        """``learning_rate`` times the schedule's factor at ``epoch`` (0-based) of the run."""
        return self.learning_rate * learning_rate_factor(
            epoch, self.n_epochs, schedule=self.lr_schedule, warmup_steps=self.warmup_epochs
        )


def mean_row_norm(matrix):
    """Mean L2 norm of the rows of ``matrix`` (0 for an empty matrix).

    Examples
    --------
    >>> float(mean_row_norm(np.array([[3.0, 4.0], [0.0, 0.0]])))
    2.5
    """
    if matrix.shape[0] == 0:
        return 0.0
    # Squares summed in float64 without a float64 copy of the matrix: this runs after every
    # epoch, and the copy made it 14 ms instead of 2.5 ms on 50k x 64 float32 factors.
    squares = np.einsum("ij,ij->i", matrix, matrix, dtype=np.float64, casting="safe")
    return float(np.mean(np.sqrt(squares)))


def _adversarial(schedule, epoch):
    return schedule.adv_reg > 0 and schedule.epsilon > 0 and epoch >= schedule.adv_start


def _usable_samples(indptr, sample_users, sample_items, n_items):
    """Drop the positive pairs of users who interacted with every item (no negative exists);
    return the others grouped by user. Raises ``ValueError`` when none is left."""
    keep = (np.diff(indptr) < n_items)[sample_users]
    if not keep.all():
        sample_users, sample_items = sample_users[keep], sample_items[keep]
    if sample_users.shape[0] == 0:
        raise ValueError(
            "BPR needs, for every user, items that user did not interact with; here every "
            "sampled user interacted with every item."
        )
    # Pairs taken from a CSR matrix are grouped by user already: skip the sort then.
    if sample_users.shape[0] and (np.diff(sample_users) < 0).any():
        order = np.argsort(sample_users, kind="stable")
        sample_users, sample_items = sample_users[order], sample_items[order]
    return (
        np.ascontiguousarray(sample_users, dtype=np.int32),
        np.ascontiguousarray(sample_items, dtype=np.int32),
    )


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
    item rows are shared, Hogwild): on ml-100k with 2 threads, BPR ran at 13 M samples/s with
    shared user rows and 16 M with this split, cache lines no longer bouncing between cores.

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

    Hogwild threads that write the same item rows trade cache lines between cores: on the
    2.5 M benchmark set the shared item rows cost 15 % of the 2-thread speed. An epoch on
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

    def __init__(self, sample_items, n_items, n_strata, chunk=1):
        self.counts = np.bincount(sample_items, minlength=n_items).astype(np.float64)
        self.n_items = n_items
        self.n_strata = n_strata
        self.chunk = chunk

    def draw(self, rng):
        """``(item_stratum, stratum_items, stratum_offsets)`` for one epoch, from ``rng``.

        ``item_stratum[i]`` is item ``i``'s stratum, ``stratum_items[stratum_offsets[s]:
        stratum_offsets[s + 1]]`` the items of stratum ``s`` (uint8, int32 and int64 arrays).
        """
        n, n_items = self.n_strata, self.n_items
        # Chunk boundaries moved by a random shift (the first and last chunks may be partial).
        chunk_of = (np.arange(n_items) + rng.randint(self.chunk)) // self.chunk
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


def _progress(n_epochs, verbose):
    """Epoch iterator: a tqdm bar when verbose and tqdm is installed (hidden off-terminal)."""
    if verbose:
        try:
            from tqdm.auto import tqdm
        except ImportError:  # tqdm is optional (the "progress" extra)
            return range(n_epochs), print
        bar = tqdm(range(n_epochs), disable=None, desc="epochs", unit="epoch", leave=False)
        return bar, bar.write
    return range(n_epochs), None


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
    on_epoch=None,
):
    """Run ``schedule.n_epochs`` epochs of BPR/APR on ``state`` (updated in place).

    Parameters
    ----------
    state : FactorState
        C-contiguous float32 or float64 arrays, all of one dtype.
    interactions : scipy.sparse.csr_matrix of shape (n_users, n_items)
        Positives of every user: negatives are drawn among the other items.
    sample_users, sample_items : ndarray of shape (n_pairs,)
        Positive pairs to sample from (uniformly, ``n_pairs`` draws per epoch).
    schedule : TrainingSchedule
    rng : numpy.random.RandomState
        Source of one seed per thread and epoch.
    n_threads : int
    item_start : int, default=0
        Items with a smaller code are kept fixed (fold-in of new users and items).
    verbose : int, default=0
        Print the loss of each epoch (with a tqdm progress bar when installed).
    on_epoch : callable, default=None
        ``on_epoch(epoch, loss) -> (stop, message)`` after each epoch: ``stop`` ends
        training, ``message`` (or None) is appended to the verbose line.

    Returns
    -------
    losses : list of float
        Mean loss per sample of each epoch that ran: BPR, plus ``adv_reg`` times the BPR loss
        under the perturbation in adversarial epochs; the L2 penalty is not included.

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
    sample_users, sample_items = _usable_samples(indptr, sample_users, sample_items, n_items)
    offsets = thread_offsets(sample_users, n_threads)
    n_draws = sample_users.shape[0]
    adagrad = schedule.optimizer == "adagrad"
    k = state.user.shape[1]
    block = sampling_block(sample_users, n_threads, k * dtype.itemsize * (2 if adagrad else 1))
    dummy2, dummy1 = np.zeros((1, 1), dtype=dtype), np.zeros(1, dtype=dtype)
    acc = (state.user_acc, state.item_acc, state.bias_acc) if adagrad else (dummy2, dummy2, dummy1)
    work_width = 3 * k + 1 if schedule.adversary == "random" else 1
    work = np.zeros((n_threads, work_width), dtype=dtype)
    strata = None
    chunk = max(1, ITEM_CHUNK_BYTES // (k * dtype.itemsize))
    # Enough chunks that every stratum gets some items, whatever the shift and offset.
    # (Strata are stored in one byte per item: at most 255 threads use them.)
    if ITEM_STRATA and 1 < n_threads < 256 and n_items >= (2 * n_threads + 1) * chunk:
        strata = ItemStrata(sample_items, n_items, n_threads, chunk)
        longest = int(np.diff(offsets).max()) if block == 0 else block + 1
        scratch = np.empty((n_threads, max(longest, 1)), dtype=np.int32)

    def run_phase(adversary, eps_user, eps_item, lr, stratum_args=()):
        return _mf_sgd.sgd_epoch(
            state.user, state.item, state.bias, *acc, indptr, indices, sample_users,
            sample_items, offsets, draw_seeds(rng, n_threads), work, n_draws, lr, schedule.reg,
            schedule.adv_reg, eps_user, eps_item, ADVERSARIES[adversary], adagrad,
            schedule.use_bias, item_start, block, *stratum_args,
        )  # fmt: skip

    def run_epoch(adversary, eps_user, eps_item, lr):
        if strata is None:
            return run_phase(adversary, eps_user, eps_item, lr)
        stratum_arrays = strata.draw(rng)
        return sum(
            run_phase(adversary, eps_user, eps_item, lr, (*stratum_arrays, phase, scratch))
            for phase in range(n_threads)
        )

    return run_epochs(
        schedule,
        run_epoch,
        row_norms=lambda: (mean_row_norm(state.user), mean_row_norm(state.item)),
        check_finite=lambda loss, epoch: _check_finite(loss, state, epoch),
        n_draws=n_draws,
        verbose=verbose,
        on_epoch=on_epoch,
    )


def run_epochs(schedule, run_epoch, row_norms, check_finite, n_draws, verbose, on_epoch):
    """The epoch loop, written to be shared by both backends (it only calls back).

    ``run_epoch(adversary, eps_user, eps_item, lr) -> summed loss`` trains one epoch;
    ``row_norms() -> (mean user row norm, mean item row norm)`` of the current factors;
    ``check_finite(loss, epoch)`` raises the divergence error; ``on_epoch`` as in
    :func:`train`. This adds the schedule (BPR, then APR from ``adv_start``; relative
    radii from the norms of the previous epoch's end; the epoch's learning rate from
    :meth:`TrainingSchedule.epoch_learning_rate`), progress, the collapse warning and the
    verbose log.
    """
    scheduled = schedule.lr_schedule != "constant" or schedule.warmup_epochs > 0
    norms = peak_norms = row_norms()
    collapsed = False
    epochs, log = _progress(schedule.n_epochs, verbose)
    losses = []
    for epoch in epochs:
        adversarial = _adversarial(schedule, epoch)
        eps_user = eps_item = schedule.epsilon if adversarial else 0.0
        if adversarial and schedule.epsilon_mode == "relative":
            eps_user, eps_item = schedule.epsilon * norms[0], schedule.epsilon * norms[1]
        lr = schedule.epoch_learning_rate(epoch)
        loss = run_epoch(schedule.adversary if adversarial else "none", eps_user, eps_item, lr)
        loss /= n_draws
        check_finite(loss, epoch)
        losses.append(loss)
        norms = row_norms()
        peak_norms = tuple(max(n, p) for n, p in zip(norms, peak_norms, strict=True))
        if not collapsed and any(
            n < COLLAPSE_RATIO * p for n, p in zip(norms, peak_norms, strict=True) if p > 0
        ):
            collapsed = True
            warnings.warn(
                f"The embeddings collapsed in epoch {epoch + 1}: mean row norms "
                f"{norms[0]:.3g} (users) and {norms[1]:.3g} (items), down from "
                f"{peak_norms[0]:.3g} and {peak_norms[1]:.3g}. Adversarial training with a "
                "large epsilon * adv_reg (or a large reg) shrinks the factors; lower them, or "
                "use epsilon_mode='relative'.",
                ConvergenceWarning,
                stacklevel=5,  # the caller of fit / partial_fit
            )
        stop, message = on_epoch(epoch, loss) if on_epoch is not None else (False, None)
        if log is not None:
            phase = f"APR ({schedule.adversary})" if adversarial else "BPR"
            extra = (f", lr {lr:.3g}" if scheduled else "") + (f", {message}" if message else "")
            log(f"epoch {epoch + 1}/{schedule.n_epochs} [{phase}]: loss {loss:.5f}{extra}")
            sys.stdout.flush()
        if stop:
            break
    if hasattr(epochs, "close"):
        epochs.close()
    return losses


def _check_finite(loss, state, epoch):
    # The kernel cannot raise inside nogil: NaN/inf propagate and are caught here, per epoch.
    if np.isfinite(loss) and all(
        np.isfinite(a).all() for a in (state.user, state.item, state.bias)
    ):
        return
    raise ValueError(
        f"Training diverged in epoch {epoch + 1}: the loss or the factors are not finite. "
        "Lower learning_rate (or init_std, or epsilon with epsilon_mode='absolute')."
    )
