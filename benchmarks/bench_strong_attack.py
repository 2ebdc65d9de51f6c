"""Strong poisoning attacks against tuned BPR on the "ml100k-holdout" protocol.

For each seed: 5 unpopular targets (3-10 training interactions, drawn with the seed, as in
bench_poisoning_attacks.py), the clean tuned BPR of bench_apr.py, and for each attack and
attack size (1 % and 5 % fake users, fillers 2 % of the items) the same BPR refitted on the
poisoned training data. Prints per seed and, averaged over seeds, the targets' T-HR@50 and
T-NDCG@50 of the poisoned model, their rank shift (clean mean rank minus poisoned mean rank
among the real users' unseen items) and the attack's cost (``fit_resample`` seconds, and its
ratio to SurrogateAttack's defaults measured in the same run).

    python benchmarks/bench_strong_attack.py                     # seeds 0 1, sizes 1 % 5 %
    python benchmarks/bench_strong_attack.py --quick             # seed 0, 5 %, fewer attacks
    python benchmarks/bench_strong_attack.py --attacks surrogate surrogate-hit
"""

import argparse
import time
import warnings

import numpy as np
from _protocol import load_ml100k_split_or_exit
from bench_apr import BPR

from skadv.attacks import BandwagonAttack, RandomAttack, SurrogateAttack
from skadv.metrics import average_rank_shift, target_hit_rate_at_k, target_ndcg_at_k
from skadv.metrics._target import target_item_ranks
from skadv.mf import AdversarialMFRecommender

FILLER_SIZE = 0.02
SIZES = (0.01, 0.05)
#: name -> (class, extra parameters). "surrogate" is SurrogateAttack's defaults (the reference
#: of the cost ratio: Tang et al.'s cross-entropy on 512 sampled users); "surrogate-hit" is
#: the smoothed top-50 hit objective on every real user of ml-100k (943 <= max_users).
ATTACKS = {
    "random": (RandomAttack, {}),
    "bandwagon": (BandwagonAttack, {}),
    "surrogate": (SurrogateAttack, {}),
    "surrogate-hit": (SurrogateAttack, {"objective": "hit", "top_k": 50, "max_users": 1000}),
}


def draw_targets(X_train, seed, n=5, low=3, high=10):
    """``n`` items with ``low`` to ``high`` training interactions."""
    items, counts = np.unique(X_train[:, 1], return_counts=True)
    pool = items[(counts >= low) & (counts <= high)]
    return np.sort(np.random.RandomState(seed).choice(pool, size=n, replace=False))


def fit_bpr(X, seed, n_jobs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return AdversarialMFRecommender(n_jobs=n_jobs, random_state=seed, **BPR).fit(X)


def run(X_train, seeds, sizes, names, n_jobs):
    users = np.unique(X_train[:, 0])
    rows = []
    for seed in seeds:
        targets = draw_targets(X_train, seed)
        start = time.perf_counter()
        clean = fit_bpr(X_train, seed, n_jobs)
        fit_seconds = time.perf_counter() - start
        clean_rank = np.nanmean(target_item_ranks(clean, users, targets))
        print(f"seed {seed}: targets {targets.tolist()}, clean mean rank {clean_rank:.0f}, "
              f"T-HR@50 {target_hit_rate_at_k(clean, users, targets):.4f}, "
              f"BPR fit {fit_seconds:.0f} s", flush=True)  # fmt: skip
        for size in sizes:
            for name in names:
                cls, extra = ATTACKS[name]
                params = dict(target_items=targets, attack_size=size, filler_size=FILLER_SIZE,
                              random_state=seed, **extra)  # fmt: skip
                if "n_jobs" in cls().get_params():
                    params["n_jobs"] = n_jobs
                start = time.perf_counter()
                X_poisoned, _ = cls(**params).fit_resample(X_train)
                seconds = time.perf_counter() - start
                attacked = fit_bpr(X_poisoned, seed, n_jobs)
                row = dict(seed=seed, size=size, attack=name, seconds=seconds,
                           hr=target_hit_rate_at_k(attacked, users, targets, k=50),
                           ndcg=target_ndcg_at_k(attacked, users, targets, k=50),
                           shift=average_rank_shift(clean, attacked, users, targets))  # fmt: skip
                rows.append(row)
                print(f"  {size:.0%} {name:<17} T-HR@50 {row['hr']:.4f}  T-NDCG@50 "
                      f"{row['ndcg']:.4f}  rank shift {row['shift']:6.1f}  "
                      f"fit_resample {seconds:6.1f} s", flush=True)  # fmt: skip
    return rows


def summarize(rows, seeds):
    print(f"\nMean over seeds {seeds} (fillers {FILLER_SIZE:.0%}; cost relative to "
          "SurrogateAttack's defaults in the same run):")  # fmt: skip
    print("| size | attack | T-HR@50 | T-NDCG@50 | rank shift | fit_resample (s) | cost ratio |")
    print("|---|---|---|---|---|---|---|")
    for size in sorted({r["size"] for r in rows}):
        at_size = [r for r in rows if r["size"] == size]
        reference = [r["seconds"] for r in at_size if r["attack"] == "surrogate"]
        for name in dict.fromkeys(r["attack"] for r in at_size):
            picked = [r for r in at_size if r["attack"] == name]
            hr, ndcg, shift, seconds = (np.mean([r[key] for r in picked])
                                        for key in ("hr", "ndcg", "shift", "seconds"))  # fmt: skip
            ratio = f"{seconds / np.mean(reference):.2f}" if reference else "n/a"
            print(f"| {size:.0%} | {name} | {hr:.4f} | {ndcg:.4f} | {shift:.1f} | "
                  f"{seconds:.1f} | {ratio} |")  # fmt: skip


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--sizes", type=float, nargs="+", default=list(SIZES))
    parser.add_argument("--attacks", nargs="+", default=list(ATTACKS), choices=list(ATTACKS))
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="smoke run: seed 0, 5 %% only")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.sizes, args.attacks = (
            [0],
            [0.05],
            ["bandwagon", "surrogate", "surrogate-hit"],
        )
    X_train, _ = load_ml100k_split_or_exit()
    start = time.perf_counter()
    rows = run(X_train, args.seeds, args.sizes, args.attacks, args.n_jobs)
    summarize(rows, args.seeds)
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
