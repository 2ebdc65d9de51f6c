"""Thread scaling of the MF kernel on Zipf-skewed items (issue 23 item 5).

    python benchmarks/bench_mf_threads.py              # 1 and 2 threads, ~1 min
    python benchmarks/bench_mf_threads.py --skew 0     # uniform items, for comparison
    python benchmarks/bench_mf_threads.py --ids popularity --balance-only
    python benchmarks/bench_mf_threads.py --against-implicit   # issue 23 item 5, ~3 min
    python benchmarks/bench_mf_threads.py --against-implicit --negative-candidates 1 4
    python benchmarks/bench_mf_threads.py --against-implicit --repeats 5   # paired ratios
    python benchmarks/bench_mf_threads.py --candidate-cost     # the default's kernel, ~2 min
    python benchmarks/bench_mf_threads.py --alignment          # rows on cache lines or not

``--against-implicit`` times whole fits instead: ``AdversarialMFRecommender()`` with its
defaults but ``n_epochs=20`` (so 10 BPR then 10 APR epochs, ``adv_start="auto"``) and
``n_jobs`` = 1 and 2, against implicit's CPU ``BayesianPersonalizedRanking(factors=63)``
(+ its bias column = 64 values per row, as in ``bench_mf.py``) for 20 epochs, same data.
Samples/s = interactions x 20 / fit wall time (what a user waits for); "x implicit" is the
ratio of the median fits, "paired" the median (and range) over ``--repeats`` of each skadv
fit against the implicit fit run right after it (the two share the machine's drift); also
printed: the fit's fixed overhead (wall time outside the epoch loop, in epochs of that
loop), the share of the loop spent outside the compiled epochs (per-epoch norm and
finiteness checks), and the median adversarial epoch over the median BPR epoch.
``pip install implicit`` first (the reference, never a skadv dependency).

``--candidate-cost`` times the compiled epoch alone, on the state of a 2-epoch default fit
(so 1 BPR then 1 APR epoch; the arguments of its last kernel call are replayed): the
default's step with ``n_negative_candidates`` 4 and 1, as an APR and as a BPR epoch, with
and without the item bias, at 1 and 2 threads (item strata: one call per phase), variants
interleaved over ``--repeats`` rounds; M samples/s from the median time. The replays keep
training the same factors, so later rounds run on slightly different ones: compare the
rows of one run.

``--alignment`` replays the same kernel call with the factor and accumulator matrices
as ``fit`` allocates them (rows on 64-byte cache lines) and with copies that start 16 bytes
past a line (NumPy's own alignment: a 256-byte row then spans five lines), alternating.

Data: 100,000 users (log-normal activity), 40,000 items with Zipf(``--skew``, default 1.3)
popularity over a random permutation of the ids (``--ids popularity``: ids numbered by
popularity, the hottest items adjacent, as in data sets that number items by first
appearance), about 750,000 distinct interactions.
``AdversarialMFRecommender(64)``, float32, no item bias, ``--epochs`` BPR epochs then as many
APR epochs, SGD and AdaGrad; M samples/s = draws per epoch / the compiled epoch's time (the
timer of ``bench_mf.py``), median over epochs. Also prints, for the item strata of threaded
epochs, how evenly they split the work: per phase, the largest thread share of the pairs over
the mean (1.00 = balanced; an epoch then takes that factor longer than a balanced one),
mean and worst over 10 strata draws, for chunks of 16 items (skadv's, 4 KiB of rows at k = 64)
and of 1 and 4 items. These counts are deterministic; the timings are not. "thread time
max/mean" is the same ratio for the measured seconds of each thread in each kernel call
(``sgd_epoch``'s ``thread_seconds``), averaged over the calls.
Record the foreign load (printed): the machine is shared, and a busy second core caps the
second thread.
"""

import argparse
import functools
import itertools
import time
import warnings

import numpy as np
from bench_mf import ForeignLoad, KernelTimer, _load_average, _user_item_matrix, fit_implicit
from sklearn.exceptions import ConvergenceWarning

from skadv.mf import AdversarialMFRecommender, _cython_backend
from skadv.mf._cython_backend import ItemStrata, thread_offsets
from skadv.utils._memory import CACHE_LINE_BYTES, aligned_empty

N_USERS, N_ITEMS, TARGET = 100_000, 40_000, 750_000
# The kernel's thread scaling with uniform negatives, adv_reg 1 (as first measured; the whole
# default fit, hard negatives included, is --against-implicit's).
OPTIMIZERS = {
    "SGD": dict(optimizer="sgd", learning_rate=0.05, reg=0.01, adv_reg=1.0,
                n_negative_candidates=1),
    "AdaGrad": dict(optimizer="adagrad", learning_rate=0.05, reg=0.0, adv_reg=1.0,
                    n_negative_candidates=1),
}  # fmt: skip


def zipf_interactions(skew, seed=0, ids="random"):
    """Distinct (user, item) pairs: log-normal user activity, Zipf item popularity."""
    rng = np.random.RandomState(seed)
    activity = rng.lognormal(0.0, 1.0, N_USERS)
    weights = np.arange(1, N_ITEMS + 1, dtype=np.float64) ** -skew
    item_of_rank = rng.permutation(N_ITEMS)
    pairs = np.empty((0, 2), dtype=np.int64)
    n_draw = TARGET
    while pairs.shape[0] < TARGET:  # duplicates of popular pairs are dropped: draw more
        users = rng.choice(N_USERS, n_draw, p=activity / activity.sum())
        items = item_of_rank[rng.choice(N_ITEMS, n_draw, p=weights / weights.sum())]
        pairs = np.unique(np.vstack([pairs, np.column_stack([users, items])]), axis=0)
        n_draw = int((TARGET - pairs.shape[0]) * 1.5) + 1000
    pairs = pairs[rng.permutation(pairs.shape[0])[:TARGET]]
    if ids == "popularity":  # renumber items by their interaction count
        counts = np.bincount(pairs[:, 1], minlength=N_ITEMS)
        rank = np.empty(N_ITEMS, dtype=np.int64)
        rank[np.argsort(-counts, kind="stable")] = np.arange(N_ITEMS)
        pairs[:, 1] = rank[pairs[:, 1]]
    return pairs


def strata_balance(X, n_threads, chunk, seed=0):
    """Per phase, the largest thread share of the drawn pairs over the mean share."""
    users = np.unique(X[:, 0], return_inverse=True)[1].astype(np.int32)
    items = np.unique(X[:, 1], return_inverse=True)[1].astype(np.int32)
    order = np.argsort(users, kind="stable")
    users, items = users[order], items[order]
    offsets = thread_offsets(users, n_threads)
    item_stratum, _, _ = ItemStrata(items, items.max() + 1, n_threads, chunk).draw(
        np.random.RandomState(seed)
    )
    ratios = []
    for phase in range(n_threads):
        work = [
            np.count_nonzero(item_stratum[items[offsets[t] : offsets[t + 1]]]
                             == (t + phase) % n_threads)
            for t in range(n_threads)
        ]  # fmt: skip
        ratios.append(max(work) / np.mean(work))
    return ratios


class ThreadTimes:
    """Each kernel call's per-thread seconds (``sgd_epoch(..., thread_seconds=)``), inside
    :class:`bench_mf.KernelTimer` (which proxies the module the same way)."""

    def __init__(self):
        self.calls = []
        self.last_call = None  # (args, kwargs) of the last kernel call, for replays

    def __enter__(self):
        self._real = real = _cython_backend._mf_sgd
        calls = self.calls
        timer = self

        class _Proxy:
            def __getattr__(self, name):
                return getattr(real, name)

            @staticmethod
            def sgd_epoch(*args, **kwargs):
                seconds = np.zeros(len(args[7]))  # one per seed: one per thread
                timer.last_call = (args, kwargs)
                out = real.sgd_epoch(*args, **kwargs, thread_seconds=seconds)
                calls.append(seconds)
                return out

        _cython_backend._mf_sgd = _Proxy()
        return self

    def __exit__(self, *exc):
        _cython_backend._mf_sgd = self._real

    def imbalance(self):
        """Mean over kernel calls (phases) of the slowest thread's time over the mean."""
        return float(np.mean([s.max() / s.mean() for s in self.calls if s.mean() > 0]))


class EpochLoopTimer:
    """Wall seconds of the backend's epoch loop (``skadv.training.run_epochs`` as the Cython
    backend calls it): the fit's time outside it is its fixed overhead."""

    def __enter__(self):
        self.seconds = 0.0
        self._real = real = _cython_backend.run_epochs

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return real(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start

        _cython_backend.run_epochs = timed
        return self

    def __exit__(self, *exc):
        _cython_backend.run_epochs = self._real


def run(X, optimizer, n_threads, epochs, item_strata):
    train = functools.partial(_cython_backend.train, item_strata=item_strata)
    original = _cython_backend.train
    _cython_backend.train = train
    try:
        model = AdversarialMFRecommender(
            64, n_epochs=2 * epochs, adv_start=epochs, item_bias=False, n_jobs=n_threads,
            random_state=0, **OPTIMIZERS[optimizer],
        )  # fmt: skip
        with ThreadTimes() as threads, KernelTimer() as timer, warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X)
    finally:
        _cython_backend.train = original
    seconds = np.array(timer.seconds)
    n_draws = X.shape[0]
    return (
        n_draws / np.median(seconds[:epochs]) / 1e6,
        n_draws / np.median(seconds[epochs:]) / 1e6,
        threads.imbalance(),
    )


def against_implicit(X, n_epochs=20, repeats=2, candidates=(None,)):
    """Whole default fits against implicit's BPR at 1 and 2 threads (issue 23 item 5);
    ``candidates``: values of ``n_negative_candidates`` to time (None: the default's)."""
    try:
        import implicit  # noqa: F401
    except ImportError:
        print("implicit is not installed (pip install implicit): comparison skipped")
        return
    matrix = _user_item_matrix(X)
    print(f"load average before: {_load_average()}")
    print("| negative candidates | threads | skadv default M/s | implicit BPR M/s | x implicit "
          "| x implicit, paired (min-max) | fixed overhead (epochs) | per-epoch checks "
          "(% of epoch) | APR epoch / BPR epoch | foreign load (cores) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n_candidates, n_threads in itertools.product(candidates, (1, 2)):
        extra = {} if n_candidates is None else {"n_negative_candidates": n_candidates}
        label = "default" if n_candidates is None else n_candidates
        walls, overheads, checks, adv_ratios, ref_walls = [], [], [], [], []
        with ForeignLoad() as load:
            for _ in range(repeats):
                model = AdversarialMFRecommender(n_epochs=n_epochs, n_jobs=n_threads,
                                                 random_state=0, **extra)  # fmt: skip
                with EpochLoopTimer() as loop, KernelTimer() as timer, \
                        warnings.catch_warnings():  # fmt: skip
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    start = time.perf_counter()
                    model.fit(X)
                    wall = time.perf_counter() - start
                seconds = np.array(timer.seconds)
                half = model.n_epochs // 2
                walls.append(wall)
                # Fixed: everything outside the epoch loop, in epochs of that loop (kernel
                # call plus the per-epoch norm and finiteness checks).
                overheads.append((wall - loop.seconds) / (loop.seconds / n_epochs))
                checks.append(100 * (loop.seconds - seconds.sum()) / loop.seconds)
                adv_ratios.append(np.median(seconds[half:]) / np.median(seconds[:half]))
                ref_walls.append(fit_implicit(matrix, n_threads, n_epochs)[3])
        foreign = "n/a" if load.value is None else f"{load.value:.2f}"
        ours = X.shape[0] * n_epochs / np.median(walls) / 1e6
        ref = matrix.nnz * n_epochs / np.median(ref_walls) / 1e6
        # Each skadv fit against the implicit fit right after it: this machine's speed
        # drifts over tens of seconds, and a pair of neighbouring fits shares the drift.
        paired = [
            (X.shape[0] / w) / (matrix.nnz / r) for w, r in zip(walls, ref_walls, strict=True)
        ]
        print(f"| {label} | {n_threads} | {ours:.2f} | {ref:.2f} | {ours / ref:.2f} | "
              f"{np.median(paired):.2f} ({min(paired):.2f}-{max(paired):.2f}) | "
              f"{np.median(overheads):.2f} | {np.median(checks):.1f} | "
              f"{np.median(adv_ratios):.2f} | {foreign} |", flush=True)  # fmt: skip


def _default_kernel_calls(X):
    """{n_threads: (args, kwargs)} of the last kernel call of a 2-epoch default fit (1 BPR
    then 1 APR epoch) at 1 and 2 threads, to replay."""
    calls = {}
    for n_threads in (1, 2):
        with ThreadTimes() as timer, warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            AdversarialMFRecommender(n_epochs=2, adv_start=1, n_jobs=n_threads,
                                     random_state=0).fit(X)  # fmt: skip
        calls[n_threads] = timer.last_call
    return calls


def _replay_epoch(args, kwargs, n_threads):
    """Seconds of one epoch of the captured kernel call (one call per phase with strata)."""
    strata = args[9]
    start = time.perf_counter()
    for phase in range(n_threads if strata is not None else 1):
        if strata is not None:
            args[9] = (*strata[:3], phase)
        _cython_backend._mf_sgd.sgd_epoch(*args, **kwargs)
    return time.perf_counter() - start


def candidate_cost(X, repeats=7):
    """M samples/s of the default's compiled epoch with 4 and 1 negative candidates."""
    variants = {
        "4, APR": {},
        "1, APR": dict(n_candidates=1),
        "4, BPR": dict(adversary=0, eps_user=0.0, eps_item=0.0),
        "1, BPR": dict(n_candidates=1, adversary=0, eps_user=0.0, eps_item=0.0),
        "4, APR, no item bias": dict(use_bias=False),
        "1, APR, no item bias": dict(n_candidates=1, use_bias=False),
    }
    calls = _default_kernel_calls(X)
    print(f"load average before: {_load_average()}")
    seconds = {(name, n): [] for name in variants for n in calls}
    with ForeignLoad() as load:
        # Threads and variants interleaved: this machine's speed drifts between minutes.
        names = list(variants)
        for round_ in range(repeats):
            for n_threads, (args, kwargs) in calls.items():
                args, step = list(args), dict(args[8])
                # A different variant first in each round (the first one after a switch of
                # thread count ran slower).
                for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
                    args[8] = {**step, **variants[name]}
                    seconds[name, n_threads].append(_replay_epoch(args, kwargs, n_threads))
    foreign = "n/a" if load.value is None else f"{load.value:.2f}"
    print(f"foreign load during the timings: {foreign} cores")
    print("| negative candidates, epoch | 1 thread M/s | 2 threads M/s | 2t / 1t |")
    print("|---|---|---|---|")
    n_draws = calls[1][0][6]["n_draws"]
    for name in variants:
        one, two = (n_draws / np.median(seconds[name, n]) / 1e6 for n in (1, 2))
        print(f"| {name} | {one:.2f} | {two:.2f} | {two / one:.2f} |")


def _offset_copy(array, offset):
    """A copy of ``array`` whose data starts ``offset`` bytes past a cache line."""
    raw = aligned_empty(array.nbytes + offset, np.uint8)
    out = raw[offset:].view(array.dtype).reshape(array.shape)
    out[...] = array
    return out


def alignment_cost(X, repeats=7):
    """M samples/s of the default's compiled epoch with its factor and accumulator rows on
    cache lines (as ``fit`` allocates them) and 16 bytes past (NumPy's own alignment)."""
    layouts = {}
    for n_threads, (args, kwargs) in _default_kernel_calls(X).items():
        shifted = list(args)
        for position in (0, 1, 3, 4):  # P, Q and their AdaGrad accumulators
            assert args[position].ctypes.data % CACHE_LINE_BYTES == 0
            shifted[position] = _offset_copy(args[position], 16)
        layouts[n_threads] = {"on cache lines": list(args), "16 bytes past": shifted}, kwargs
    print(f"load average before: {_load_average()}")
    names = ["on cache lines", "16 bytes past"]
    seconds = {(name, n): [] for n in layouts for name in names}
    with ForeignLoad() as load:
        for round_ in range(repeats):
            for n_threads, (arrays, kwargs) in layouts.items():
                for name in names[:: 1 if round_ % 2 else -1]:  # alternate which is first
                    seconds[name, n_threads].append(_replay_epoch(arrays[name], kwargs, n_threads))
    foreign = "n/a" if load.value is None else f"{load.value:.2f}"
    print(f"foreign load during the timings: {foreign} cores")
    print("| rows | 1 thread M/s | 2 threads M/s |")
    print("|---|---|---|")
    n_draws = layouts[1][0]["on cache lines"][6]["n_draws"]
    rates = {}
    for name in names:
        rates[name] = [n_draws / np.median(seconds[name, n]) / 1e6 for n in (1, 2)]
        print(f"| {name} | {rates[name][0]:.2f} | {rates[name][1]:.2f} |")
    gain = [a / b for a, b in zip(rates["on cache lines"], rates["16 bytes past"], strict=True)]
    print(f"| ratio | {gain[0]:.2f} | {gain[1]:.2f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skew", type=float, default=1.3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--ids", choices=["random", "popularity"], default="random")
    parser.add_argument("--balance-only", action="store_true", help="skip the timings")
    parser.add_argument(
        "--against-implicit", action="store_true",
        help="whole default fits (20 epochs) against implicit's BPR, 1 and 2 threads",
    )  # fmt: skip
    parser.add_argument(
        "--negative-candidates", type=int, nargs="+", default=None,
        help="with --against-implicit: n_negative_candidates values to time (default: the "
        "default's)",
    )  # fmt: skip
    parser.add_argument(
        "--candidate-cost", action="store_true",
        help="the default's compiled epoch with 4 and 1 negative candidates, 1 and 2 threads",
    )  # fmt: skip
    parser.add_argument(
        "--alignment", action="store_true",
        help="the default's compiled epoch with rows on cache lines and 16 bytes past",
    )  # fmt: skip
    parser.add_argument(
        "--repeats", type=int, default=None,
        help="rounds of --candidate-cost (default 7), fits per row of --against-implicit (2)",
    )  # fmt: skip
    args = parser.parse_args()
    start = time.perf_counter()
    X = zipf_interactions(args.skew, ids=args.ids)
    counts = np.bincount(X[:, 1], minlength=N_ITEMS)
    top = np.sort(counts)[::-1]
    print(f"{X.shape[0]} interactions, {len(np.unique(X[:, 0]))} users, "
          f"{np.count_nonzero(counts)} items; top item {top[0] / X.shape[0]:.1%}, "
          f"top 16 {top[:16].sum() / X.shape[0]:.1%} of the interactions "
          f"(generated in {time.perf_counter() - start:.1f} s)")  # fmt: skip
    for chunk in (16, 4, 1):
        worst = [max(strata_balance(X, 2, chunk, seed=s)) for s in range(10)]
        print(
            f"strata balance, 2 threads, {chunk}-item chunks: max / mean thread share per "
            f"phase {np.mean(worst):.3f} (mean), {np.max(worst):.3f} (worst of 10 draws)"
        )
    if args.alignment:
        alignment_cost(X, repeats=args.repeats or 7)
        return
    if args.candidate_cost:
        candidate_cost(X, repeats=args.repeats or 7)
        return
    if args.against_implicit:
        against_implicit(
            X, repeats=args.repeats or 2, candidates=args.negative_candidates or (None,)
        )
        return
    if args.balance_only:
        return
    print(f"load average before: {_load_average()}")
    print("| optimizer | threads | item strata | BPR M/s | APR M/s | thread time max/mean "
          "| foreign load (cores) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for optimizer in OPTIMIZERS:
        for n_threads, strata in ((1, False), (2, True), (2, False)):
            with ForeignLoad() as load:
                bpr, apr, imbalance = run(X, optimizer, n_threads, args.epochs, strata)
            foreign = "n/a" if load.value is None else f"{load.value:.2f}"
            print(f"| {optimizer} | {n_threads} | {'yes' if strata else 'no'} | {bpr:.2f} | "
                  f"{apr:.2f} | {imbalance:.3f} | {foreign} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
