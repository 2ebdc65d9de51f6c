"""MF training speed: skadv's BPR/APR kernel against implicit's BPR, in the same run.

    pip install implicit                              # the reference; never a skadv dependency
    python benchmarks/bench_mf.py                     # everything, about a minute on 2 cores
    python benchmarks/bench_mf.py --part ml100k       # ml-100k speed and quality only
    python benchmarks/bench_mf.py --part synthetic    # the 2.5 M / 0.25 M synthetic sets only
    python benchmarks/bench_mf.py --block-bytes 0     # skadv without sampling blocks
    python benchmarks/bench_mf.py --no-item-strata    # 2 threads sharing all item rows

What is compared
    skadv ``AdversarialMFRecommender`` (64 factors, no item bias, float32) and implicit's CPU
    ``BayesianPersonalizedRanking`` with ``factors=63``: implicit appends a bias column (a
    constant 1 in the user rows, a learned bias in the item rows), so its rows also hold 64
    float32 values (256 bytes), the same dot product length and memory traffic per sample.
    Both train with 1 and 2 threads. skadv runs BPR epochs followed by APR epochs in one fit
    (``adv_start`` = half of the epochs), with plain SGD and with AdaGrad; implicit runs BPR
    with SGD (its only optimizer).

How speed is measured
    Samples per second of the training kernel: a sample is one (user, positive, negative)
    update. skadv draws as many samples per epoch as there are distinct training interactions;
    implicit as many as its CSR has entries, skipping (without an update) the ones whose
    sampled negative is a positive of the user (the fraction is printed). The time of each
    epoch is the time of the compiled epoch call alone: implicit's ``fit(callback=...)`` reports
    it; for skadv this script wraps the backend's ``_mf_sgd.sgd_epoch`` with a timer. The
    median over all epochs of ``--repeats`` fits is reported; the fit wall time per epoch
    (id encoding, CSR building and the per-epoch checks included) is printed too.

Sampling blocks
    skadv stratifies its positive draws over blocks of consecutive users when a thread's
    user-side data exceeds ``_cython_backend.SAMPLING_BLOCK_BYTES`` (see the estimator's
    Notes): the same expected draws per pair, in a cache-friendly order. ``--block-bytes``
    overrides that budget for the run (0: plain uniform sampling, as implicit does).

Item strata
    With several threads, skadv runs each epoch as one phase per thread, the items split
    into random strata of equal popularity so that the threads of a phase write disjoint
    item rows (``_cython_backend.ItemStrata``). ``--no-item-strata`` turns that off: the
    threads then share every item row (Hogwild), as implicit's do.

Quality at equal epochs
    NDCG@10 / Recall@10 / HR@10 on the "ml100k-holdout" protocol (``_protocol.py``) of both
    BPR models after the same number of epochs, one thread, seed 0; implicit's factors are
    scored through the same skadv scorer. Learning rates and L2 were picked by a few fits on
    this split (its test part: mildly optimistic for both): implicit's lr 0.005, reg 0.005 was
    the best of 10 (lr, reg) pairs at 100 epochs (lr 0.003-0.1, reg 0.001-0.05; its defaults
    0.01 / 0.01 give NDCG@10 0.28), skadv's SGD lr 0.05, reg 0.01 the best of 3 at 50 epochs.

CPU contention
    Samples/s and thread scaling depend on what else runs: the script prints the load average
    and the CPU time other processes used while it ran (from /proc/stat, Linux only).
"""

import argparse
import copy
import datetime
import functools
import os
import platform
import sys
import time
import warnings

import numpy as np
from scipy import sparse
from sklearn.exceptions import ConvergenceWarning

import skadv
from skadv.datasets import make_interactions
from skadv.mf import AdversarialMFRecommender, _cython_backend

N_FACTORS = 64
THREADS = (1, 2)
# Hyper-parameters of both libraries (see "Quality at equal epochs" in the module docstring).
# Plain BPR (uniform negatives), as implicit trains it.
SKADV_SGD = dict(optimizer="sgd", learning_rate=0.05, reg=0.01, n_negative_candidates=1)
SKADV_ADAGRAD = dict(optimizer="adagrad", learning_rate=0.05, reg=0.0, n_negative_candidates=1)
IMPLICIT = dict(learning_rate=0.005, regularization=0.005)
QUALITY_EPOCHS = 100
# Epochs per fit in the speed runs: BPR epochs, then as many APR epochs (skadv).
SPEED_EPOCHS = {"ml100k": 20, "synthetic": 3}
# The synthetic sets: 2.5 M and 0.25 M interactions on the same 20k-item catalogue.
SYNTHETIC = {
    "synthetic 2.5M": dict(n_users=50_000, n_items=20_000, density=0.0025),
    "synthetic 0.25M": dict(n_users=5_000, n_items=20_000, density=0.0025),
}
# Targets of the issue (measured, never asserted in tests).
TARGET_VS_IMPLICIT = 1.5
TARGET_ML100K_MS = {1: 8.2, 2: 15.0}  # skadv BPR M samples/s on ml-100k
TARGET_APR_OVER_BPR = 2.0  # APR epoch time / BPR epoch time
TARGET_THREAD_SCALING = 1.8  # 2 threads / 1 thread, large synthetic set
TARGET_SIZE_SCALING = 1.1  # (time ratio) / (interaction ratio), 0.25M -> 2.5M


# ------------------------------------------------------------------------------ measuring
# Position of ``strata`` (its last entry is the phase) among sgd_epoch's arguments:
# sgd_epoch(P, Q, bias, acc_P, acc_Q, acc_bias, pairs, seeds, step, strata).
STRATA_ARG = 9


class KernelTimer:
    """Record the duration of every compiled epoch the skadv backend runs.

    ``skadv.mf._cython_backend.train`` calls ``_mf_sgd.sgd_epoch`` through its module
    attribute ``_mf_sgd``, once per epoch, or once per phase with item strata (threaded
    epochs); inside this context that attribute is a proxy whose ``sgd_epoch`` is timed
    (everything else is forwarded), the phases of an epoch added up.
    """

    def __init__(self):
        self.seconds = []

    def __enter__(self):
        self._real = real = _cython_backend._mf_sgd
        seconds = self.seconds

        class _TimedKernel:
            def __getattr__(self, name):
                return getattr(real, name)

            @staticmethod
            def sgd_epoch(*args, **kwargs):
                start = time.perf_counter()
                out = real.sgd_epoch(*args, **kwargs)
                elapsed = time.perf_counter() - start
                strata = args[STRATA_ARG] if len(args) > STRATA_ARG else kwargs.get("strata")
                phase = 0 if strata is None else strata[-1]
                if phase == 0:
                    seconds.append(elapsed)
                else:  # a later phase of the same epoch
                    seconds[-1] += elapsed
                return out

        _cython_backend._mf_sgd = _TimedKernel()
        return self

    def __exit__(self, *exc):
        _cython_backend._mf_sgd = self._real


class ForeignLoad:
    """CPU time used by other processes while the context runs, in cores (Linux only)."""

    def __enter__(self):
        self.value = None
        self._start = (_busy_seconds(), _own_seconds(), time.perf_counter())
        return self

    def __exit__(self, *exc):
        busy, own, wall = _busy_seconds(), _own_seconds(), time.perf_counter()
        if busy is not None and self._start[0] is not None:
            other = (busy - self._start[0]) - (own - self._start[1])
            self.value = max(other, 0.0) / (wall - self._start[2])


def _busy_seconds():
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except OSError:
        return None
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _own_seconds():
    t = os.times()
    return t.user + t.system


def _load_average():
    try:
        return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        return "n/a"


def _user_item_matrix(X):
    """Binary CSR (users x items) of id pairs, ids encoded in sorted order."""
    users = np.unique(X[:, 0], return_inverse=True)[1]
    items = np.unique(X[:, 1], return_inverse=True)[1]
    shape = (int(users.max()) + 1, int(items.max()) + 1)
    matrix = sparse.csr_matrix((np.ones(len(users), np.float32), (users, items)), shape=shape)
    matrix.data[:] = 1.0  # duplicates summed: back to binary
    matrix.sort_indices()
    return matrix


# ------------------------------------------------------------------------------ training
def fit_skadv(X, optimizer_params, n_threads, n_bpr_epochs, n_apr_epochs):
    """Fit skadv (BPR epochs, then APR epochs); per-epoch kernel seconds and fit wall time."""
    model = AdversarialMFRecommender(
        N_FACTORS,
        n_epochs=n_bpr_epochs + n_apr_epochs,
        adv_start=n_bpr_epochs,
        adv_reg=1.0 if n_apr_epochs else 0.0,
        dtype=np.float32,
        n_jobs=n_threads,
        random_state=0,
        **optimizer_params,
    )
    with KernelTimer() as timer, warnings.catch_warnings():
        # APR may shrink the factors of this untuned setting: irrelevant to the timing.
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(X)
        wall = time.perf_counter() - start
    return model, np.array(timer.seconds), wall


def fit_implicit(matrix, n_threads, n_epochs):
    """Fit implicit's CPU BPR; its per-epoch kernel seconds, skipped fraction and wall time."""
    from implicit.cpu.bpr import BayesianPersonalizedRanking

    model = BayesianPersonalizedRanking(
        factors=N_FACTORS - 1,  # + implicit's bias column = 64 values per row
        iterations=n_epochs,
        num_threads=n_threads,
        dtype=np.float32,
        random_state=0,
        **IMPLICIT,
    )
    seconds, skipped = [], []

    def on_epoch(epoch, elapsed, correct, n_skipped):
        seconds.append(elapsed)
        skipped.append(n_skipped / matrix.nnz)

    start = time.perf_counter()
    model.fit(matrix, show_progress=False, callback=on_epoch)
    wall = time.perf_counter() - start
    return model, np.array(seconds), float(np.mean(skipped)), wall


def speed(X, n_epochs, repeats):
    """Median kernel epoch seconds (and wall per epoch) of every model and thread count."""
    matrix = _user_item_matrix(X)
    n_samples = matrix.nnz
    runs = {}  # (name, threads) -> dict(epochs=[...], wall=[...])

    def add(name, threads, epochs, wall, **extra):
        entry = runs.setdefault((name, threads), {"epochs": [], "wall": [], **extra})
        entry["epochs"].extend(epochs)
        entry["wall"].append(wall)

    with ForeignLoad() as load:
        for _ in range(repeats):
            for threads in THREADS:
                _, seconds, skipped, wall = fit_implicit(matrix, threads, n_epochs)
                add("implicit BPR (SGD)", threads, seconds, wall / n_epochs, skipped=skipped)
                for label, params in (("SGD", SKADV_SGD), ("AdaGrad", SKADV_ADAGRAD)):
                    _, seconds, wall = fit_skadv(X, params, threads, n_epochs, n_epochs)
                    per_epoch = wall / (2 * n_epochs)
                    add(f"skadv BPR ({label})", threads, seconds[:n_epochs], per_epoch)
                    add(f"skadv APR ({label})", threads, seconds[n_epochs:], None)
    results = {}
    for key, entry in runs.items():
        epoch = float(np.median(entry["epochs"]))
        results[key] = {
            "epoch_s": epoch,
            "msps": n_samples / epoch / 1e6,
            "wall_s": None if entry["wall"][0] is None else float(np.median(entry["wall"])),
            "skipped": entry.get("skipped"),
        }
    return results, n_samples, load.value


# ------------------------------------------------------------------------------ reporting
def print_speed(title, results, n_samples, foreign, n_epochs, repeats):
    names = list(dict.fromkeys(name for name, _ in results))
    ref = "implicit BPR (SGD)"
    print(f"\n## {title}: {n_samples:,} samples per epoch")
    print(
        f"kernel M samples/s, median of {repeats} x {n_epochs} epochs; load average "
        f"{_load_average()}; other processes used {_fmt_load(foreign)} cores meanwhile"
    )
    # fit ms/ep: wall time of fit / epochs; skadv's APR epochs ran in the fit of the BPR row.
    header = (
        f"{'model':<22}{'1 thread':>10}{'2 threads':>11}{'2t / 1t':>9}"
        f"{'x implicit 1t':>15}{'x implicit 2t':>15}{'epoch ms 1t/2t':>17}{'fit ms/ep 1t/2t':>18}"
    )
    print(header)
    for name in names:
        one, two = results[(name, 1)], results[(name, 2)]
        print(
            f"{name:<22}{one['msps']:>10.2f}{two['msps']:>11.2f}"
            f"{two['msps'] / one['msps']:>9.2f}"
            f"{one['msps'] / results[(ref, 1)]['msps']:>15.2f}"
            f"{two['msps'] / results[(ref, 2)]['msps']:>15.2f}"
            f"{one['epoch_s'] * 1e3:>9.1f} / {two['epoch_s'] * 1e3:<6.1f}"
            + (
                f"{one['wall_s'] * 1e3:>9.1f} / {two['wall_s'] * 1e3:<6.1f}"
                if one["wall_s"] is not None
                else f"{'(BPR row)':>15}"
            )
        )
    skipped = results[(ref, 1)]["skipped"]
    print(f"(implicit skipped {skipped:.1%} of its samples: negative drawn among the positives)")


def _fmt_load(value):
    return "n/a" if value is None else f"{value:.2f}"


def quality(X_train, X_test):
    """Protocol metrics of implicit's and skadv's BPR after QUALITY_EPOCHS epochs."""
    from _protocol import evaluate

    rows = {}
    start = time.perf_counter()
    model, _, _ = fit_skadv(X_train, SKADV_SGD, 1, QUALITY_EPOCHS, 0)
    rows["skadv BPR (SGD)"] = (evaluate(model, X_test), time.perf_counter() - start)
    # implicit trains on the same user x item codes; its factors (bias column included) are
    # scored by a copy of the fitted skadv model, so both go through the same scorer.
    start = time.perf_counter()
    reference, _, _, _ = fit_implicit(model.interactions_.astype(np.float32), 1, QUALITY_EPOCHS)
    adapter = copy.copy(model)
    adapter.user_factors_ = reference.user_factors
    adapter.item_factors_ = reference.item_factors
    rows["implicit BPR (SGD)"] = (evaluate(adapter, X_test), time.perf_counter() - start)
    print(f"\n## Quality on ml100k-holdout after {QUALITY_EPOCHS} epochs (1 thread, seed 0)")
    metrics = list(next(iter(rows.values()))[0])
    print(f"{'model':<22}" + "".join(f"{m:>13}" for m in metrics) + f"{'fit + score s':>15}")
    for name, (scores, seconds) in rows.items():
        print(
            f"{name:<22}" + "".join(f"{scores[m]:>13.4f}" for m in metrics) + f"{seconds:>15.2f}"
        )
    return {name: scores["ndcg@10"] for name, (scores, _) in rows.items()}


def print_targets(ml100k, synthetic, ndcg):
    """One line per target of the issue: goal, measured value, met or not."""
    ref, bpr = "implicit BPR (SGD)", "skadv BPR (SGD)"
    rows = []

    def check(name, value, goal, at_least, unit="x"):
        met = value >= goal if at_least else value <= goal
        sign = ">=" if at_least else "<="
        rows.append((name, f"{sign} {goal:.4g}{unit}", f"{value:.2f}{unit}", met))

    if ml100k is not None:
        for t in THREADS:
            speedup = ml100k[(bpr, t)]["msps"] / ml100k[(ref, t)]["msps"]
            check(f"ml-100k BPR SGD vs implicit, {t}t", speedup, TARGET_VS_IMPLICIT, True)
            check(
                f"ml-100k BPR SGD, {t}t",
                ml100k[(bpr, t)]["msps"],
                TARGET_ML100K_MS[t],
                True,
                " M/s",
            )
    for label, results in (("ml-100k", ml100k), ("2.5M", synthetic and synthetic[0])):
        for optimizer in ("SGD", "AdaGrad") if results else ():
            for t in THREADS:
                apr = results[(f"skadv APR ({optimizer})", t)]["epoch_s"]
                ratio = apr / results[(f"skadv BPR ({optimizer})", t)]["epoch_s"]
                check(
                    f"{label} APR/BPR epoch time, {optimizer}, {t}t",
                    ratio,
                    TARGET_APR_OVER_BPR,
                    False,
                )
    if synthetic is not None:
        large, small, interaction_ratio = synthetic
        names = (bpr, "skadv BPR (AdaGrad)", ref)
        for name in names:
            scaling = large[(name, 2)]["msps"] / large[(name, 1)]["msps"]
            check(f"2.5M 2t/1t, {name}", scaling, TARGET_THREAD_SCALING, True)
        for name in names:
            for t in THREADS:
                ratio = large[(name, t)]["epoch_s"] / small[(name, t)]["epoch_s"]
                check(
                    f"0.25M->2.5M epoch time, {name}, {t}t",
                    ratio,
                    TARGET_SIZE_SCALING * interaction_ratio,
                    False,
                )
    if ndcg is not None:
        check(
            f"ml-100k NDCG@10 at {QUALITY_EPOCHS} epochs / implicit's",
            ndcg[bpr] / ndcg[ref],
            1.0,
            True,
        )
    print("\n## Targets")
    if not rows:
        print("(nothing measured)")
        return
    print(f"{'target':<52}{'goal':>12}{'measured':>12}  met")
    for name, goal, measured, met in rows:
        print(f"{name:<52}{goal:>12}{measured:>12}  {'yes' if met else 'NO'}")


# ------------------------------------------------------------------------------ main
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("all", "ml100k", "synthetic"), default="all")
    parser.add_argument("--repeats", type=int, default=3, help="fits per model (default 3)")
    parser.add_argument(
        "--block-bytes", type=int, default=None,
        help="skadv's sampling-block budget in bytes (0: uniform sampling; default: skadv's)",
    )  # fmt: skip
    parser.add_argument(
        "--no-item-strata", action="store_true",
        help="threads share all item rows in every epoch (no per-thread item strata)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.block_bytes is not None and args.block_bytes < 0:
        parser.error("--block-bytes must be >= 0")
    budget = _cython_backend.SAMPLING_BLOCK_BYTES if args.block_bytes is None else args.block_bytes
    # The estimator calls _cython_backend.train: these options are its private arguments.
    _cython_backend.train = functools.partial(
        _cython_backend.train, item_strata=not args.no_item_strata, block_bytes=budget
    )
    try:
        import implicit
    except ImportError:
        print("bench_mf.py compares with implicit, which is not installed: pip install implicit")
        return 0
    print(f"# bench_mf.py, {datetime.date.today()}, {platform.machine()}, {os.cpu_count()} CPUs")
    print(f"skadv {skadv.__version__}, implicit {implicit.__version__}, numpy {np.__version__}")
    print(f"skadv sampling blocks: {budget:,} bytes")
    print(f"skadv item strata (threaded epochs): {not args.no_item_strata}")
    print(f"load average before: {_load_average()}")

    ml100k = synthetic = ndcg = None
    if args.part in ("all", "ml100k"):
        from _protocol import load_ml100k_split, ml100k_path

        if not (ml100k_path() / "u.data").exists():
            print(f"\nml-100k not found at {ml100k_path()} (set SKADV_ML100K): skipped")
        else:
            X_train, X_test = load_ml100k_split(seed=0)
            n_epochs = SPEED_EPOCHS["ml100k"]
            ml100k, n, load = speed(X_train, n_epochs, args.repeats)
            print_speed("ml-100k (protocol train split)", ml100k, n, load, n_epochs, args.repeats)
            ndcg = quality(X_train, X_test)
    if args.part in ("all", "synthetic"):
        n_epochs = SPEED_EPOCHS["synthetic"]
        sets = {}
        for title, params in SYNTHETIC.items():
            X = make_interactions(**params, random_state=0)
            sets[title], n, load = speed(X, n_epochs, max(1, args.repeats - 1))
            print_speed(title, sets[title], n, load, n_epochs, max(1, args.repeats - 1))
            sets[title + " n"] = n
        ratio = sets["synthetic 2.5M n"] / sets["synthetic 0.25M n"]
        synthetic = (sets["synthetic 2.5M"], sets["synthetic 0.25M"], ratio)
    print_targets(ml100k, synthetic, ndcg)
    print(f"\nload average after: {_load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
