"""Poisoning attacks against tuned BPR on the "ml100k-holdout" protocol.

For each seed: 5 unpopular targets (3-10 training interactions, drawn with the seed), the
clean tuned BPR of bench_apr.py, and for each attack (random, average, bandwagon, surrogate)
at 5 % fake users and 2 % fillers the same BPR refitted on the poisoned training data. Prints
the targets' average rank shift among the real users (clean rank minus attacked rank; the
targets' mean rank among ~1,680 items), T-HR@50 and T-NDCG@50, each attack's ratio to
bandwagon's rank shift, and the time of ``fit_resample``.

    python benchmarks/bench_poisoning_attacks.py [--seeds 0 1] [--n-jobs 1] [--gan]

``--gan`` adds GANAttack with the CFGAN of bench_gan.py (discriminator, reconstruction
weight 1, discriminator lr 1e-4, 30 epochs; a few minutes more per seed).
"""

import argparse
import time

import numpy as np
from _protocol import load_ml100k_split_or_exit
from bench_apr import BPR, fit

from skadv.attacks import (
    AverageAttack,
    BandwagonAttack,
    GANAttack,
    RandomAttack,
    SurrogateAttack,
)
from skadv.augmentation import CFGANRecommender
from skadv.metrics import average_rank_shift, target_hit_rate_at_k, target_ndcg_at_k
from skadv.metrics._target import target_item_ranks

ATTACK_SIZE = 0.05
FILLER_SIZE = 0.02
# Written against CFGANRecommender's defaults before 2026-12-07 (pinned since they changed).
GAN = dict(generator_layers=(256,), activation="relu", zr_ratio=0.5, pm_ratio=0.5,
           input_dropout=0.0, discriminator_steps=1, reconstruction_weight=1.0,
           discriminator_learning_rate=1e-4, n_epochs=30)  # fmt: skip
ATTACKS = {
    "random": RandomAttack,
    "average": AverageAttack,
    "bandwagon": BandwagonAttack,
    "surrogate": SurrogateAttack,
}


def draw_targets(X_train, seed, n=5, low=3, high=10):
    """``n`` items with ``low`` to ``high`` training interactions."""
    items, counts = np.unique(X_train[:, 1], return_counts=True)
    pool = items[(counts >= low) & (counts <= high)]
    return np.sort(np.random.RandomState(seed).choice(pool, size=n, replace=False))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--gan", action="store_true", help="add GANAttack (slower)")
    args = parser.parse_args()
    attacks = dict(ATTACKS, gan=GANAttack) if args.gan else ATTACKS
    X_train, _ = load_ml100k_split_or_exit()
    users = np.unique(X_train[:, 0])
    rows = {name: [] for name in attacks}
    for seed in args.seeds:
        targets = draw_targets(X_train, seed)
        clean, _ = fit(BPR, X_train, seed, args.n_jobs)
        clean_rank = np.nanmean(target_item_ranks(clean, users, targets))
        clean_hr = target_hit_rate_at_k(clean, users, targets, k=50)
        print(f"seed {seed}: targets {targets.tolist()}, clean mean rank {clean_rank:.0f}, "
              f"T-HR@50 {clean_hr:.4f}")  # fmt: skip
        for name, Attack in attacks.items():
            params = dict(target_items=targets, attack_size=ATTACK_SIZE,
                          filler_size=FILLER_SIZE, random_state=seed)  # fmt: skip
            if name == "surrogate":
                params["n_jobs"] = args.n_jobs
            if name == "gan":
                params["gan"] = CFGANRecommender(**GAN, n_jobs=args.n_jobs, random_state=seed)
            attack = Attack(**params)
            start = time.perf_counter()
            X_poisoned, _ = attack.fit_resample(X_train)
            seconds = time.perf_counter() - start
            attacked, _ = fit(BPR, X_poisoned, seed, args.n_jobs)
            shift = average_rank_shift(clean, attacked, users, targets)
            hr = target_hit_rate_at_k(attacked, users, targets, k=50)
            ndcg = target_ndcg_at_k(attacked, users, targets, k=50)
            rows[name].append((shift, hr, ndcg, seconds))
            print(f"  {name:<10} rank shift {shift:7.1f}  T-HR@50 {hr:.4f}  "
                  f"T-NDCG@50 {ndcg:.4f}  fit_resample {seconds:5.1f} s")  # fmt: skip
    reference = np.mean([r[0] for r in rows["bandwagon"]])
    print(f"\nMean over seeds {args.seeds} (5 % fake users, {FILLER_SIZE:.0%} fillers):")
    print(f"{'attack':<10} {'rank shift':>10} {'/ bandwagon':>11} {'T-HR@50':>8} "
          f"{'T-NDCG@50':>9} {'seconds':>8}")  # fmt: skip
    for name, values in rows.items():
        shift, hr, ndcg, seconds = np.mean(values, axis=0)
        print(f"{name:<10} {shift:10.1f} {shift / reference:11.2f} {hr:8.4f} {ndcg:9.4f} "
              f"{seconds:8.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
