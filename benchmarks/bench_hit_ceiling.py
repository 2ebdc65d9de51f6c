"""How many raters an item needs to reach users' top-50: the ceiling of a 1 % push attack.

Issue 23 asks for an attack that lifts 5 targets to T-HR@50 >= 0.05 against tuned BPR with 1 %
fake users. On ml-100k in the VAT / PamaCF protocol that is 9 fake users. This script asks the
clean models how far genuine raters carry an item: it fits tuned BPR (and the default) on the
clean training part of the field split (bench_field_protocol.py), computes every item's hit
rate at 50 (the share of the real users without the item in training who get it in their top
50: T-HR@50 with the item as the only target) and prints it by the item's number of training
raters. The protocol's targets are drawn among the least popular third of the items.

    cd benchmarks && OMP_NUM_THREADS=1 python bench_hit_ceiling.py --seeds 0 1 2
"""

import argparse

import numpy as np
from bench_field_protocol import BPR, draw_targets, fit, load_field_split

from skadv.metrics import target_item_ranks

BINS = (1, 10, 15, 20, 25, 30, 40, 50, 75, 100, 150, 200, 300, 10**6)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    train, _, _ = load_field_split()
    X = train[["user", "item"]].to_numpy()
    users = np.unique(X[:, 0])
    items, raters = np.unique(X[:, 1], return_counts=True)
    pool = np.sort(raters)[: int(np.ceil(len(items) / 3))]
    print(f"{len(users)} users, {len(items)} items; the least popular third (the target pool) "
          f"has {pool.min()}-{pool.max()} training raters")  # fmt: skip
    for seed in args.seeds:
        targets = draw_targets(X, seed)
        counts = raters[np.searchsorted(items, targets)]
        print(f"seed {seed}: targets' training raters {counts.tolist()}, with 1 % fake users "
              f"(9) {(counts + 9).tolist()}")  # fmt: skip
    for name, config in (("BPR (tuned)", BPR), ("default", {})):
        rates = []
        for seed in args.seeds:
            model = fit(config, X, seed)
            ranks = target_item_ranks(model, users, items)
            with np.errstate(invalid="ignore"):
                rates.append(np.nanmean(np.where(np.isnan(ranks), np.nan, ranks <= 50), axis=0))
        rate = np.mean(rates, axis=0)
        print(f"\n{name}, mean over seeds {args.seeds}: items' hit rate at 50 by training raters")
        print("| training raters | items | mean HR@50 | max HR@50 | items with HR@50 >= 0.05 |")
        print("|---|---|---|---|---|")
        for low, high in zip(BINS[:-1], BINS[1:], strict=True):
            inside = (raters >= low) & (raters < high)
            if not inside.any():
                continue
            label = f"{low}-{high - 1}" if high < 10**6 else f">= {low}"
            print(f"| {label} | {inside.sum()} | {rate[inside].mean():.4f} | "
                  f"{rate[inside].max():.4f} | {(rate[inside] >= 0.05).sum()} |")  # fmt: skip
        reach = raters[rate >= 0.05]
        print(f"fewest training raters of an item with HR@50 >= 0.05: "
              f"{reach.min() if reach.size else 'none'}")  # fmt: skip


if __name__ == "__main__":
    main()
