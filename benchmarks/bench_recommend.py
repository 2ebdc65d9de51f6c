"""Recommend for every user of a mid-sized catalogue: peak memory and users/s vs implicit.

    python benchmarks/bench_recommend.py                 # 100k users x 22.9k items, 746k pairs
    python benchmarks/bench_recommend.py --scale 0.1     # a quick run
    python benchmarks/bench_recommend.py --n-users 20000 --n-items 500000 --per-user 60 \
        --query-users 5000                               # a large catalogue

The model of the "bounded memory" issue: ``AdversarialMFRecommender(64)`` fitted (a few epochs:
only the shape matters) on ``make_interactions(n_users=100_000, n_items=22_900, ...)`` with
about 746k interactions, then ``recommend(model.user_ids_, n=10)`` for all users, under
scikit-learn's default ``working_memory`` (1024 MiB) unless ``--working-memory`` says otherwise.
Before this work the call built a dense float64 (users x items) matrix (18 GB here) and was
killed by the OOM killer.

Reference, in the same run: implicit's CPU BPR (``factors=63``: with its bias column, 64 values
per row as skadv) fitted on the same CSR, then ``recommend(userids, user_items[userids], N=10)``
for all users (seen items filtered), both with ``--threads`` threads.

Memory: a thread samples the process's resident set (``VmRSS`` in /proc/self/status) every
5 ms; the peak during a ``recommend`` call minus the resident set just before it (the fitted
models and the data are already there) is its extra memory. Target: skadv's extra memory
<= 512 MB, and >= 1.5 x implicit's users/s.
"""

import argparse
import os
import threading
import time

import numpy as np
import sklearn
from scipy import sparse

import skadv
from skadv import AdversarialMFRecommender
from skadv.datasets import make_interactions


class PeakRSS:
    """Context manager: peak resident set (bytes) during the block, sampled every 5 ms."""

    def __enter__(self):
        self.start = self.peak = _rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())

    @property
    def extra_mb(self):
        return (self.peak - self.start) / 2**20


def _rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of users and items")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--working-memory", type=int, default=None, help="MiB (sklearn's)")
    parser.add_argument("--n-users", type=int, default=None, help="overrides --scale")
    parser.add_argument("--n-items", type=int, default=None, help="overrides --scale")
    parser.add_argument(
        "--per-user",
        type=float,
        default=None,
        help="interactions per user (default: 7.46, as at scale 1)",
    )
    parser.add_argument(
        "--query-users",
        type=int,
        default=None,
        help="recommend for the first N users only (default: all)",
    )
    parser.add_argument(
        "--similar",
        type=int,
        default=0,
        help="also time similar_items(n=10) for the first N items against NumPy",
    )
    args = parser.parse_args(argv)
    try:
        from implicit.cpu.bpr import BayesianPersonalizedRanking
    except ImportError:
        print("bench_recommend.py compares with implicit, which is not installed: "
              "pip install implicit")  # fmt: skip
        return 0

    n_users = args.n_users or int(100_000 * args.scale)
    n_items = args.n_items or int(22_900 * args.scale)
    per_user = args.per_user or 746_000 / 100_000  # the same at every scale
    X = make_interactions(n_users=n_users, n_items=n_items, density=per_user / n_items,
                          random_state=0)  # fmt: skip
    print(f"# bench_recommend.py, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; "
          f"skadv {skadv.__version__}")  # fmt: skip
    print(f"{n_users:,} users x {n_items:,} items, {X.shape[0]:,} interactions, "
          f"{args.threads} threads, working_memory "
          f"{args.working_memory or sklearn.get_config()['working_memory']} MiB")  # fmt: skip

    model = AdversarialMFRecommender(64, n_epochs=args.epochs, n_jobs=args.threads,
                                     random_state=0).fit(X)  # fmt: skip
    print(f"fitted: {model.n_users_:,} users x {model.n_items_:,} items (those in the data)")
    model_mb = (model.user_factors_.nbytes + model.item_factors_.nbytes) / 2**20
    n_query = min(args.query_users or model.n_users_, model.n_users_)
    users = model.user_ids_[:n_query]
    with sklearn.config_context(working_memory=args.working_memory or 1024):
        with PeakRSS() as mem:
            start = time.perf_counter()
            items, _ = model.recommend(users, n=10)
            skadv_s = time.perf_counter() - start
    skadv_extra = mem.extra_mb

    # implicit gets the same id space as skadv's fitted model (ids seen in the data).
    rows = np.searchsorted(model.user_ids_, X[:, 0])  # the fitted ids are sorted
    cols = np.searchsorted(model.item_ids_, X[:, 1])
    csr = sparse.csr_matrix(
        (np.ones(X.shape[0], dtype=np.float32), (rows, cols)),
        shape=(model.n_users_, model.n_items_),
    )
    csr.sum_duplicates()
    csr.data[:] = 1.0
    reference = BayesianPersonalizedRanking(factors=63, iterations=args.epochs,
                                            num_threads=args.threads, random_state=0)  # fmt: skip
    reference.fit(csr, show_progress=False)
    userids = np.arange(n_query)
    with PeakRSS() as ref_mem:
        start = time.perf_counter()
        reference.recommend(userids, csr[userids], N=10, filter_already_liked_items=True)
        implicit_s = time.perf_counter() - start

    print()
    print("| | users/s | recommend s | extra memory MB | fitted factors MB |")
    print("|---|---|---|---|---|")
    print(f"| skadv | {n_query / skadv_s:,.0f} | {skadv_s:.2f} | {skadv_extra:.0f} | "
          f"{model_mb:.0f} |")  # fmt: skip
    print(f"| implicit | {n_query / implicit_s:,.0f} | {implicit_s:.2f} | "
          f"{ref_mem.extra_mb:.0f} | |")  # fmt: skip
    ratio = implicit_s / skadv_s
    print()
    print(f"skadv users/s / implicit's: {ratio:.2f} (target >= 1.5: "
          f"{'met' if ratio >= 1.5 else 'NOT met'})")  # fmt: skip
    print(f"skadv extra memory: {skadv_extra:.0f} MB (target <= 512: "
          f"{'met' if skadv_extra <= 512 else 'NOT met'})")  # fmt: skip
    if args.similar:
        _bench_similar(model, min(args.similar, model.n_items_), reference)
    print(f"load after: {os.getloadavg()[0]:.2f}")
    assert items.shape == (n_query, 10)
    return 0


def _bench_similar(model, n_query, reference):
    """similar_items(n=10) for the first items against NumPy (unit vectors, blocks of 256
    queries times every item (BLAS), argpartition, sort, the query itself left out) and
    against implicit's ``similar_items`` (N=11: its list starts with the query item)."""
    queries = model.item_ids_[:n_query]
    with PeakRSS() as mem:
        start = time.perf_counter()
        neighbours, _ = model.similar_items(queries, n=10)
        skadv_s = time.perf_counter() - start
    item = model.item_factors_
    start = time.perf_counter()
    norms = np.linalg.norm(item, axis=1, keepdims=True)
    unit = item / np.where(norms > 0, norms, 1).astype(item.dtype)
    ref = np.empty((n_query, 10), dtype=np.int64)
    for lo in range(0, n_query, 256):
        sims = unit[lo : min(lo + 256, n_query)] @ unit.T
        sims[np.arange(sims.shape[0]), np.arange(lo, lo + sims.shape[0])] = -np.inf
        part = np.argpartition(-sims, 10, axis=1)[:, :10]
        order = np.argsort(-np.take_along_axis(sims, part, axis=1), axis=1, kind="stable")
        ref[lo : lo + sims.shape[0]] = np.take_along_axis(part, order, axis=1)
    numpy_s = time.perf_counter() - start
    start = time.perf_counter()
    reference.similar_items(np.arange(n_query), N=11)
    implicit_s = time.perf_counter() - start
    same = np.mean(np.sort(model.item_ids_[ref], axis=1) == np.sort(neighbours, axis=1))
    print()
    print(f"similar_items, {n_query:,} queries x {model.n_items_:,} items: skadv "
          f"{n_query / skadv_s:,.0f} items/s (extra {mem.extra_mb:.0f} MB), NumPy "
          f"{n_query / numpy_s:,.0f} items/s: ratio {numpy_s / skadv_s:.2f}; "
          f"same neighbours {same:.4f}; implicit {n_query / implicit_s:,.0f} items/s: "
          f"skadv / implicit {implicit_s / skadv_s:.2f}")  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
