"""Serving on a large catalogue: candidates vs full ranking, filters, similar items, fold-in.

    python benchmarks/bench_serving.py                       # 20k users x ~200k items
    python benchmarks/bench_serving.py --n-items 500000      # a 500k-item catalogue
    python benchmarks/bench_serving.py --n-items 20000       # a quick run

The model: ``AdversarialMFRecommender(64)`` fitted for one epoch (only the shape matters) on
``make_interactions(n_users, n_items, ...)``. For ``--n-queries`` users, in the same run:

* full ranking, ``recommend(users, n=10)`` (the reference of every ratio below);
* ``recommend(users, n=10, items=C)`` with one shared set ``C`` of ``--n-candidates`` items,
  and with a different random set of that size per user (a list of arrays): only the
  candidate columns are scored (gathered item factors). Target: >= 10 x the full ranking
  with 1,000 candidates per user (issue 21);
* ``recommend(users, n=10, filter_items=F)`` with ``--n-candidates`` filtered items (costs
  about a full ranking: it is one);
* ``similar_items`` for ``--n-queries`` items against every item, next to a NumPy reference
  (normalize, one matrix product, ``argpartition``) on the same data;
* ``recommend_new_users`` for ``--n-queries`` new users with 10 interactions each.

Each call is timed in wall-clock seconds and in CPU seconds of this process (best of
``--repeat``): on a shared machine the wall clock also counts the time other processes hold
the core, the CPU time does not. With one thread both give the same ratio on a quiet machine.
Per-user candidate rows are checked against a NumPy reference (full score rows, masks, stable
sort) for a few users.

Threads: ``--threads`` (OpenMP top-k), single-threaded BLAS unless OMP/OPENBLAS variables say
otherwise. The load average is printed before and after the calls.
"""

import argparse
import os
import time

import numpy as np

import skadv
from skadv import AdversarialMFRecommender
from skadv.datasets import make_interactions


def _best(fn, repeat):
    """Best wall-clock and best CPU seconds of ``repeat`` calls, and the last result."""
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        out = fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return (min(wall), min(cpu)), out


def _load():
    return ", ".join(f"{v:.2f}" for v in os.getloadavg())


def _check_rows(model, users, lists, items, n_users=20):
    """The per-user candidate rows of ``recommend`` against NumPy on ``n_users`` users."""
    codes = np.searchsorted(model.user_ids_, users[:n_users])
    rows = model.score_users(codes).astype(np.float64)
    for r, code in enumerate(codes):
        cand = np.searchsorted(model.item_ids_, lists[r])
        cand = np.setdiff1d(cand, model.interactions_[code].indices)
        order = cand[np.lexsort((cand, -rows[r, cand]))][: items.shape[1]]
        # Same items up to float32 ties of the two summation orders.
        assert np.mean(model.item_ids_[order] == items[r]) >= 0.9, r


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-users", type=int, default=20_000)
    parser.add_argument("--n-items", type=int, default=200_000)
    parser.add_argument("--per-user", type=int, default=100, help="interactions per user")
    parser.add_argument("--n-queries", type=int, default=2_000, help="users (items) served")
    parser.add_argument("--n-candidates", type=int, default=1_000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    X = make_interactions(args.n_users, args.n_items, density=args.per_user / args.n_items,
                          random_state=0)  # fmt: skip
    start = time.perf_counter()
    model = AdversarialMFRecommender(64, n_epochs=1, n_jobs=args.threads, random_state=0).fit(X)
    print(f"skadv {skadv.__version__}: {model.n_users_} users x {model.n_items_} items, "
          f"{len(X)} interactions, fitted in {time.perf_counter() - start:.1f} s; "
          f"{args.n_queries} queries, {args.n_candidates} candidates, "
          f"{args.threads} thread(s), best of {args.repeat}")  # fmt: skip
    users = rng.choice(model.user_ids_, size=args.n_queries, replace=False)
    shared = rng.choice(model.item_ids_, size=args.n_candidates, replace=False)
    per_user = [rng.choice(model.item_ids_, size=args.n_candidates, replace=False)
                for _ in range(args.n_queries)]  # fmt: skip

    print(f"load average before: {_load()}")
    rows = []
    t_full, _ = _best(lambda: model.recommend(users, n=10), args.repeat)
    rows.append(("recommend, full ranking (reference)", t_full, args.n_queries))
    t, (items, _) = _best(lambda: model.recommend(users, n=10, items=shared), args.repeat)
    assert np.isin(items, shared).all()
    rows.append((f"recommend, {args.n_candidates} shared candidates", t, args.n_queries))
    t, (items, _) = _best(lambda: model.recommend(users, n=10, items=per_user), args.repeat)
    assert all(np.isin(items[r], per_user[r]).all() for r in range(len(users)))
    _check_rows(model, users, per_user, items)
    rows.append((f"recommend, {args.n_candidates} candidates per user", t, args.n_queries))
    t, (items, _) = _best(lambda: model.recommend(users, n=10, filter_items=shared), args.repeat)
    assert not np.isin(items, shared).any()
    rows.append((f"recommend, {args.n_candidates} filtered items", t, args.n_queries))

    print(f"\n{'call':<44}{'wall s':>8}{'rows/s':>10}{'speed-up':>10}{'CPU s':>8}"
          f"{'speed-up':>10}")  # fmt: skip
    for name, (wall, cpu), count in rows:
        print(f"{name:<44}{wall:>8.3f}{count / wall:>10,.0f}{t_full[0] / wall:>9.1f}x"
              f"{cpu:>8.3f}{t_full[1] / cpu:>9.1f}x")  # fmt: skip
    print(f"load average after: {_load()}")
    t_full = t_full[0]

    queries = rng.choice(model.item_ids_, size=args.n_queries, replace=False)
    (t_sim, _), (sim_items, _) = _best(lambda: model.similar_items(queries, n=10), args.repeat)

    def numpy_reference():
        Q = model.item_factors_
        unit = Q / np.linalg.norm(Q, axis=1, keepdims=True)
        codes = np.searchsorted(model.item_ids_, queries)
        sims = unit[codes] @ unit.T
        sims[np.arange(len(codes)), codes] = -np.inf
        top = np.argpartition(-sims, 10, axis=1)[:, :10]
        order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1)
        return model.item_ids_[np.take_along_axis(top, order, axis=1)]

    (t_ref, _), ref = _best(numpy_reference, args.repeat)
    agree = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(sim_items, ref, strict=True)])
    print(f"\nsimilar_items, {args.n_queries} items x {model.n_items_}: {t_sim:.3f} s; NumPy "
          f"reference (dense block, argpartition) {t_ref:.3f} s: ratio {t_ref / t_sim:.2f}x; "
          f"top-10 agreement {agree:.3f}")  # fmt: skip

    new = np.column_stack([np.repeat(np.arange(args.n_queries), 10),
                           rng.choice(model.item_ids_, size=10 * args.n_queries)])  # fmt: skip
    (t_new, _), _ = _best(lambda: model.recommend_new_users(new, n=10), args.repeat)
    print(f"recommend_new_users, {args.n_queries} new users x 10 interactions: {t_new:.3f} s "
          f"({args.n_queries / t_new:,.0f} users/s; full ranking of known users: "
          f"{args.n_queries / t_full:,.0f} users/s)")  # fmt: skip


if __name__ == "__main__":
    main()
