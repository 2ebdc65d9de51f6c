"""Catalogue scale, end to end: wall time and peak RSS of every step, implicit in the same run.

    pip install implicit                                # the reference; never a skadv dependency
    python benchmarks/bench_scale.py                    # 10 M interactions, 1 M x 500 k
    python benchmarks/bench_scale.py --scale 0.01       # smoke run: seconds
    python benchmarks/bench_scale.py --skip recommend   # leave out steps (comma-separated)
    python benchmarks/bench_scale.py --working-memory 512   # sklearn's working_memory, MiB

The installed skadv is imported (``benchmarks/`` is on ``sys.path``, not the checkout): set
``PYTHONPATH=.`` to measure a checkout that is not the installed one; the header prints the
path it imported.

Data
    ``skadv.datasets.make_interactions`` with ``n_users = 1 M x scale``, ``n_items = 500 k x
    scale`` and a density giving ``10 M x scale`` expected interactions (10 per user on
    average, log-normal activity, every user at least one), a Zipf-like item popularity
    (``popularity_skew=1``) and a planted 16-topic low-rank preference structure. Its cost is
    O(interactions) in time and memory (about 1 s and 350 MB of peak RSS at scale 0.1), so no
    generator of the script's own is needed. Then the per-user holdout
    ``train_test_split_interactions(X, test_size=0.2, min_interactions=5, random_state=0)``.

Steps (each timed, wall clock, and with its own peak RSS)
    generate, split; skadv fits: BPR (``adv_start = n_epochs``, ``adv_reg=0``) and APR
    (``adv_start="auto"``: ``n_epochs // 2`` BPR epochs, then APR epochs), both
    ``AdversarialMFRecommender(n_factors=64, n_epochs=--epochs, n_jobs=2, random_state=0)``
    with its other defaults (AdaGrad lr 0.05, float32, no item bias); with the APR model:
    ``recommend(users, n=10)``, ``score(X_test of those users)`` (NDCG@10) and
    ``robustness_curve(model, X_test of those users, [0.5], adversary="fgsm",
    epsilon_mode="relative", random_state=0)`` (clean score, FGSM perturbation of a copy,
    attacked score); implicit's ``BayesianPersonalizedRanking(factors=63, ...)`` fit on the
    same training CSR (skadv's ``interactions_``, as float32) and its
    ``recommend(userids, user_items[userids], N=10)``. ``users`` are ``--users-to-rank``
    users (default 100 k x scale) drawn with seed 0 among those with held-out interactions,
    the same for every ranking step. Ratios: skadv / implicit users/s of ``recommend`` and
    samples/s of ``fit`` (samples = training interactions x epochs, over the fit's wall
    time); factors=63 because implicit appends a bias column, so both store 64 float32 values
    per row (see ``bench_mf.py``). Only one skadv model is alive at a time.

How peak RSS is measured
    Per step, the kernel's own high-water mark: before the step the script writes ``5`` to
    ``/proc/self/clear_refs``, which resets ``VmHWM`` to the current RSS (Linux >= 4.0), and
    after it reads ``VmHWM`` from ``/proc/self/status``: the exact peak resident set of the
    process (all threads) during the step. A thread sampling ``VmRSS`` every 5 ms runs as a
    cross-check and is the fallback where ``clear_refs`` cannot be written (then the peak can
    miss spikes shorter than the sampling period). ``getrusage`` is not used: its
    ``ru_maxrss`` never resets, so per-step peaks would be masked by earlier steps. The
    table gives the peak and the RSS at the step's start (what earlier steps left alive: data,
    model); peak - start is the step's own working memory.

Memory guard
    ``--max-memory-gb`` (default 12) caps the address space (``RLIMIT_AS``) so that a step
    which would need more fails with ``MemoryError`` instead of pushing a shared machine into
    swap or the OOM killer; the failure is reported in the table and the run continues.
"""

import argparse
import datetime
import gc
import os
import platform
import resource
import sys
import threading
import time
import traceback
import warnings

import numpy as np
from bench_mf import IMPLICIT, ForeignLoad, _load_average

import skadv
from skadv.datasets import make_interactions
from skadv.metrics import robustness_curve
from skadv.mf import AdversarialMFRecommender
from skadv.model_selection import train_test_split_interactions

FULL = dict(n_users=1_000_000, n_items=500_000, n_interactions=10_000_000, users_to_rank=100_000)
DATA_FACTORS = 16  # rank of the planted structure
N_FACTORS = 64
TEST_SIZE = 0.2
# Targets of the issue (measured, never asserted in tests).
TARGET_PEAK_MB = 8 * 1024
TARGET_RECOMMEND_VS_IMPLICIT = 1.5
STEPS = ("fit-bpr", "fit-apr", "recommend", "score", "robustness", "implicit")


# ------------------------------------------------------------------------------ measuring
def _status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def _reset_hwm():
    """Reset the kernel's peak-RSS counter (VmHWM) to the current RSS; False if not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class Step:
    """Time a step and measure its peak RSS (see "How peak RSS is measured")."""

    def __init__(self, name, results):
        self.name = name
        self.results = results
        self.row = {"step": name, "error": None, "rate": None, "ratio": None, "note": ""}

    def __enter__(self):
        gc.collect()
        self.exact = _reset_hwm()
        self.row["start_mb"] = _status_kb("VmRSS") / 1024
        self._sampled = self.row["start_mb"]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        self._t0 = time.perf_counter()
        return self.row

    def _sample(self):
        while not self._stop.wait(0.005):
            self._sampled = max(self._sampled, _status_kb("VmRSS") / 1024)

    def __exit__(self, exc_type, exc, tb):
        self.row["wall_s"] = time.perf_counter() - self._t0
        self._stop.set()
        self._thread.join()
        self._sampled = max(self._sampled, _status_kb("VmRSS") / 1024)
        self.row["sampled_mb"] = self._sampled
        self.row["peak_mb"] = _status_kb("VmHWM") / 1024 if self.exact else self._sampled
        if exc is not None:
            self.row["error"] = f"{exc_type.__name__}: {str(exc)[:120]}"
            print(f"  {self.name} failed:\n" + "".join(traceback.format_exception(exc)))
        self.results.append(self.row)
        print(
            f"  {self.name}: {self.row['wall_s']:.1f} s, peak RSS {self.row['peak_mb']:.0f} MB"
            f" (start {self.row['start_mb']:.0f}, sampled {self._sampled:.0f})"
            + (f" {self.row['note']}" if self.row["note"] else "")
            + (f" FAILED ({self.row['error']})" if exc is not None else ""),
            flush=True,
        )
        # Report the failure and go on with the next step (KeyboardInterrupt still stops).
        return exc_type is not None and issubclass(exc_type, Exception)


# ------------------------------------------------------------------------------ steps
def generate(sizes):
    n_users, n_items = sizes["n_users"], sizes["n_items"]
    density = min(1.0, sizes["n_interactions"] / (n_users * n_items))
    return make_interactions(
        n_users, n_items, n_factors=DATA_FACTORS, density=density, random_state=0
    )


def fit_skadv(X_train, n_epochs, adversarial):
    model = AdversarialMFRecommender(
        n_factors=N_FACTORS,
        n_epochs=n_epochs,
        adv_start="auto" if adversarial else n_epochs,
        adv_reg=1.0 if adversarial else 0.0,
        n_jobs=2,
        random_state=0,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X_train)
    return model, [str(w.message)[:100] for w in caught]


def fit_implicit(matrix, n_epochs):
    from implicit.cpu.bpr import BayesianPersonalizedRanking

    model = BayesianPersonalizedRanking(
        factors=N_FACTORS - 1,  # + implicit's bias column = 64 values per row
        iterations=n_epochs,
        num_threads=2,
        dtype=np.float32,
        random_state=0,
        **IMPLICIT,
    )
    model.fit(matrix, show_progress=False)
    return model


def run(args, sizes, results):
    skip = set(args.skip)
    info = {}
    with Step("generate", results) as row:
        X = generate(sizes)
        row["note"] = (
            f"{X.shape[0]:,} interactions, {len(np.unique(X[:, 1])):,} items with one or more"
        )
    with Step("split", results) as row:
        X_train, X_test = train_test_split_interactions(
            X, test_size=TEST_SIZE, min_interactions=5, random_state=0
        )
        del X
        row["note"] = f"{X_train.shape[0]:,} train / {X_test.shape[0]:,} test"
    rng = np.random.RandomState(0)
    test_users = np.unique(X_test[:, 0])
    n_rank = min(sizes["users_to_rank"], test_users.shape[0])
    users = np.sort(rng.choice(test_users, n_rank, replace=False))
    X_test_sub = X_test[np.isin(X_test[:, 0], users)]
    n_train = X_train.shape[0]
    info["n_rank"], info["n_train"], info["n_test_sub"] = n_rank, n_train, X_test_sub.shape[0]
    del X_test
    print(f"  {n_rank:,} users to rank, {X_test_sub.shape[0]:,} of their held-out interactions")

    samples = n_train * args.epochs
    if "fit-bpr" not in skip:
        bpr = None
        with Step("skadv fit BPR", results) as row:
            bpr, caught = fit_skadv(X_train, args.epochs, adversarial=False)
            row["rate"] = ("M samples/s", samples / 1e6)  # divided by wall below
            row["note"] = "; ".join(caught)
        del bpr
    model = None
    if "fit-apr" not in skip:
        with Step("skadv fit APR", results) as row:
            model, caught = fit_skadv(X_train, args.epochs, adversarial=True)
            row["rate"] = ("M samples/s", samples / 1e6)
            row["note"] = (
                f"({args.epochs // 2} BPR + {args.epochs - args.epochs // 2} APR ep.) "
                + ("; ".join(caught))
            )
    if model is not None and "recommend" not in skip:
        with Step("skadv recommend", results) as row:
            items, _ = model.recommend(users, n=10)
            row["rate"] = ("users/s", n_rank)
            row["note"] = f"{items.shape}"
            del items
    if model is not None and "score" not in skip:
        with Step("skadv score (NDCG@10)", results) as row:
            ndcg = model.score(X_test_sub)
            row["rate"] = ("users/s", n_rank)
            row["note"] = f"NDCG@10 {ndcg:.4f}"
    if model is not None and "robustness" not in skip:
        with Step("robustness_curve FGSM 0.5", results) as row:
            curve = robustness_curve(
                model, X_test_sub, [0.5], adversary="fgsm", epsilon_mode="relative",
                random_state=0,
            )  # fmt: skip
            c = curve.iloc[0]
            row["note"] = (
                f"clean {c['clean']:.4f}, attacked {c['attacked']:.4f}, "
                f"drop {c['relative_drop']:.1%}"
            )
    if "implicit" not in skip:
        if model is not None:
            matrix = model.interactions_.astype(np.float32)
            userids = np.searchsorted(model.user_ids_, users)
            del model
        else:  # the same encoding as skadv's (sorted ids)
            from scipy import sparse

            uid, ucode = np.unique(X_train[:, 0], return_inverse=True)
            _, icode = np.unique(X_train[:, 1], return_inverse=True)
            matrix = sparse.csr_matrix(
                (np.ones(n_train, np.float32), (ucode, icode)),
                shape=(uid.shape[0], int(icode.max()) + 1),
            )
            userids = np.searchsorted(uid, users)
        del X_train
        with Step("implicit fit BPR", results) as row:
            reference = fit_implicit(matrix, args.epochs)
            row["rate"] = ("M samples/s", samples / 1e6)
        with Step("implicit recommend", results) as row:
            ids, _ = reference.recommend(userids, matrix[userids], N=10)
            row["rate"] = ("users/s", n_rank)
            row["note"] = f"{ids.shape}"
    return info


# ------------------------------------------------------------------------------ reporting
def _row(results, name):
    return next((r for r in results if r["step"] == name and r["error"] is None), None)


def report(results):
    for r in results:
        if r["rate"] is not None and r["error"] is None:
            unit, amount = r["rate"]
            r["rate"] = (unit, amount / r["wall_s"])
    pairs = {
        "skadv fit BPR": "implicit fit BPR",
        "skadv fit APR": "implicit fit BPR",
        "skadv recommend": "implicit recommend",
    }
    for mine, ref in pairs.items():
        a, b = _row(results, mine), _row(results, ref)
        if a is not None and b is not None:
            a["ratio"] = a["rate"][1] / b["rate"][1]
    print(
        f"\n{'step':<28}{'wall s':>9}{'peak RSS MB':>13}{'start MB':>10}"
        f"{'rate':>22}{'x implicit':>12}  notes"
    )
    for r in results:
        rate = "" if r["rate"] is None or r["error"] else f"{r['rate'][1]:,.2f} {r['rate'][0]}"
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}"
        note = f"FAILED: {r['error']}" if r["error"] else r["note"]
        print(
            f"{r['step']:<28}{r['wall_s']:>9.1f}{r['peak_mb']:>13.0f}{r['start_mb']:>10.0f}"
            f"{rate:>22}{ratio:>12}  {note}"
        )

    print("\n## Targets")
    print(f"{'target':<44}{'goal':>14}{'measured':>14}  met")
    worst = max(results, key=lambda r: r["peak_mb"])
    failed = [r["step"] for r in results if r["error"]]
    met = worst["peak_mb"] <= TARGET_PEAK_MB and not failed
    print(
        f"{'every step peak RSS (max: ' + worst['step'] + ')':<44}"
        f"{'<= ' + str(TARGET_PEAK_MB) + ' MB':>14}{worst['peak_mb']:>11.0f} MB  "
        + ("yes" if met else "NO" + (f" (failed: {', '.join(failed)})" if failed else ""))
    )
    rec = _row(results, "skadv recommend")
    if rec is not None and rec["ratio"] is not None:
        print(
            f"{'recommend users/s vs implicit (2 threads)':<44}"
            f"{'>= ' + str(TARGET_RECOMMEND_VS_IMPLICIT) + 'x':>14}{rec['ratio']:>13.2f}x  "
            + ("yes" if rec["ratio"] >= TARGET_RECOMMEND_VS_IMPLICIT else "NO")
        )
    else:
        print(f"{'recommend users/s vs implicit (2 threads)':<44}{'>= 1.5x':>14}{'n/a':>14}")


# ------------------------------------------------------------------------------ main
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full size")
    parser.add_argument(
        "--users-to-rank", type=int, default=None,
        help="users for recommend / score / robustness (default 100,000 x scale)",
    )  # fmt: skip
    parser.add_argument("--epochs", type=int, default=3, help="epochs of every fit (default 3)")
    parser.add_argument(
        "--skip", type=lambda s: [x for x in s.split(",") if x], default=[],
        help=f"comma-separated steps to leave out: {', '.join(STEPS)}",
    )  # fmt: skip
    parser.add_argument(
        "--working-memory", type=int, default=None,
        help="sklearn.config_context(working_memory=MiB) around the run (default: sklearn's)",
    )  # fmt: skip
    parser.add_argument(
        "--max-memory-gb", type=float, default=12.0,
        help="address-space cap (RLIMIT_AS) in GiB; 0: none (default 12)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if not 0 < args.scale <= 1:
        parser.error("--scale must be in (0, 1]")
    if args.epochs < 2:
        parser.error("--epochs must be >= 2 (the APR fit needs a BPR and an APR epoch)")
    unknown = set(args.skip) - set(STEPS)
    if unknown:
        parser.error(f"unknown steps in --skip: {sorted(unknown)}; known: {', '.join(STEPS)}")
    try:
        import implicit
    except ImportError:
        print(
            "bench_scale.py compares with implicit, which is not installed: pip install implicit"
        )
        return 0
    import scipy
    import sklearn

    sizes = {k: max(1, round(v * args.scale)) for k, v in FULL.items()}
    sizes["n_items"] = max(sizes["n_items"], 20)
    if args.users_to_rank is not None:
        sizes["users_to_rank"] = args.users_to_rank
    if args.max_memory_gb > 0:
        cap = int(args.max_memory_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, resource.getrlimit(resource.RLIMIT_AS)[1]))
    print(
        f"# bench_scale.py, {datetime.date.today()}, {platform.machine()}, {os.cpu_count()} CPUs"
    )
    print(
        f"skadv {skadv.__version__}, implicit {implicit.__version__}, numpy {np.__version__}, "
        f"scipy {scipy.__version__}, scikit-learn {sklearn.__version__}, "
        f"Python {platform.python_version()}"
    )
    # benchmarks/ is on sys.path, not the checkout: the installed skadv runs unless
    # PYTHONPATH names this checkout. Say which one ran.
    print(f"skadv imported from {os.path.dirname(skadv.__file__)}")
    print(
        f"scale {args.scale}: {sizes['n_users']:,} users x {sizes['n_items']:,} items, "
        f"~{sizes['n_interactions']:,} interactions; {args.epochs} epochs; "
        f"users to rank {sizes['users_to_rank']:,}; skip: {', '.join(args.skip) or 'none'}"
    )
    print(
        f"peak RSS: {'VmHWM reset per step' if _reset_hwm() else 'VmRSS sampled every 5 ms'}; "
        f"address-space cap: {args.max_memory_gb or 'none'} GiB"
    )
    working_memory = args.working_memory or sklearn.get_config()["working_memory"]
    print(f"working_memory: {working_memory} MiB")
    print(f"load average before: {_load_average()}", flush=True)
    results = []
    with sklearn.config_context(working_memory=working_memory), ForeignLoad() as load:
        start = time.perf_counter()
        run(args, sizes, results)
        total = time.perf_counter() - start
    report(results)
    print(
        f"\ntotal {total:.0f} s; other processes used {load.value:.2f} cores meanwhile"
        if load.value is not None
        else f"\ntotal {total:.0f} s"
    )
    print(f"load average after: {_load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
