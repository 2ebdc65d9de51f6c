"""Who the default's suspect rule flags: co-rated groups on clean and poisoned training data.

No model is fitted: this counts, for ``skadv.mf._trim.suspect_weights`` at its defaults (or
at each ``--grid`` setting), the genuine users flagged on clean training parts and, on
poisoned ones, the runs where some fake user escaped and the genuine users flagged.

Clean data: bench_field_protocol's 10-core training split, bench_defaults' validation split,
all of ml-100k, the training parts of bench_defaults' six splits (ml-100k holdout and the
synthetic ones for ``--seeds``), and small ``make_interactions`` catalogues (400 x 300 at
density 0.06, 1500 x 600 at 0.02, 800 x 400 at 0.04, 2000 x 1000 at 0.01; seeds 0 and 1).
Poisoned data: bench_defence's cached fake users (``--cache``; the field split, 1-5 %,
surrogate-hit included, when present), and the training parts of bench_defaults' splits
poisoned here by the random, average, bandwagon, segment and genuine-shaped (camouflage)
attacks at 1, 2, 3, 5 and 10 % fake users, pushing 5 unpopular targets (the attacks'
default fillers), 4 (5 % fillers) and 10 (10 % fillers).

    python benchmarks/bench_group_rule.py                  # the defaults, ~10 min
    python benchmarks/bench_group_rule.py --grid 6,6,0.35 7,6,0.35 7,4,0.4 --quick
    python benchmarks/bench_group_rule.py --targets 3 --quick

A ``--grid`` item is ``min_raters,min_lift,min_share``. Needs ml-100k (``SKADV_ML100K``).
"""

import argparse
import collections
import time
import warnings
from pathlib import Path

import numpy as np
from bench_defaults import SPLITS, _movielens_frame, load_split, validation_split
from bench_field_protocol import load_field_split
from bench_mf import _user_item_matrix

from skadv.attacks import AverageAttack, BandwagonAttack, RandomAttack, SegmentAttack
from skadv.datasets import make_interactions
from skadv.detection import CamouflageAttack
from skadv.mf._trim import GROUP_RATERS, MIN_LIFT, MIN_SHARE, suspect_weights

ATTACKS = (RandomAttack, AverageAttack, BandwagonAttack, SegmentAttack, CamouflageAttack)
SIZES = (0.01, 0.02, 0.03, 0.05, 0.1)
#: (n_targets, filler_size or None for the attack's default)
TARGET_SETS = ((5, None), (4, 0.05), (10, 0.1))
PLANTED = ((400, 300, 0.06), (1500, 600, 0.02), (800, 400, 0.04), (2000, 1000, 0.01))
#: split -> seeds of the poisoned training parts (the deterministic splits have one)
POISONED_SPLITS = {
    "ml100k-holdout": (0, 1, 2, 3),
    "ml100k-ua": (0,),
    "ml100k-temporal": (0,),
    "ml100k-leave-last-out": (0,),
    "synthetic-dense": (0, 1, 2, 3),
    "synthetic-sparse": (0, 1, 3),
}
ONE_SEED = ("ml100k-ua", "ml100k-temporal", "ml100k-leave-last-out")


def user_item_matrix(X):
    """(sorted user ids, the binary users x items CSR of bench_mf) of an id-pair array."""
    X = np.asarray(X)[:, :2]
    return np.unique(X[:, 0]), _user_item_matrix(X)


def clean_sets(seeds):
    train, _, _ = load_field_split()
    yield "field split, train", train[["user", "item"]].to_numpy()
    yield "bench_defaults validation split", np.asarray(validation_split(0)[0])
    yield "ml-100k, all", _movielens_frame()[["user", "item"]].to_numpy()
    for name in SPLITS:
        for seed in (0,) if name in ONE_SEED else seeds:
            yield f"{name} seed {seed}, train", np.asarray(load_split(name, seed)[0])
    for n_users, n_items, density in PLANTED:
        for seed in (0, 1):
            yield (f"make_interactions {n_users} x {n_items} at {density}, seed {seed}",
                   make_interactions(n_users=n_users, n_items=n_items, density=density,
                                     n_factors=8, random_state=seed))  # fmt: skip


def poisoned_sets(cache, splits, sizes, target_sets):
    if cache is not None:
        for path in sorted(Path(cache).glob("*.npz")):
            data = np.load(path)
            yield f"field {path.stem}", data["X"], data["fake"], 5
    for split, seeds in splits.items():
        for seed in seeds:
            X = np.asarray(load_split(split, seed)[0])
            for size in sizes:
                for attack in ATTACKS:
                    for n_targets, fillers in target_sets:
                        params = {} if fillers is None else {"filler_size": fillers}
                        fake = attack(n_targets=n_targets, target_popularity="unpopular",
                                      attack_size=size, random_state=seed, **params)  # fmt: skip
                        X_poisoned, _ = fake.fit_resample(X)
                        name = f"{split} s{seed} {size:.0%} {attack.__name__}"
                        yield name, X_poisoned, fake.fake_user_ids_, n_targets


def flagged(R, setting):
    min_raters, min_lift, min_share = setting
    return suspect_weights(R, min_raters=min_raters, min_lift=min_lift, min_share=min_share) == 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", nargs="+", default=None,
                        help="min_raters,min_lift,min_share (default: the defaults)")  # fmt: skip
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4, 5],
                        help="seeds of the clean holdout and synthetic splits")  # fmt: skip
    parser.add_argument("--cache", type=Path, default=Path("/tmp/defence/cache"),
                        help="bench_defence.py's poisoned sets, read when present")  # fmt: skip
    parser.add_argument("--targets", type=int, nargs="+", default=None,
                        help="targets per attack instead of 5, 4, 10 (5 %% fillers)")  # fmt: skip
    parser.add_argument("--quick", action="store_true",
                        help="one seed per poisoned split, 1 %% / 3 %% / 5 %%")  # fmt: skip
    args = parser.parse_args(argv)
    grid = [(GROUP_RATERS, MIN_LIFT, MIN_SHARE)]
    if args.grid:
        grid = [(int(m), float(lift), float(s)) for m, lift, s in
                (item.split(",") for item in args.grid)]  # fmt: skip
    splits, sizes = POISONED_SPLITS, SIZES
    if args.quick:
        splits = {name: seeds[:1] for name, seeds in POISONED_SPLITS.items()}
        sizes = (0.01, 0.03, 0.05)
    target_sets = TARGET_SETS if args.targets is None else [(t, 0.05) for t in args.targets]
    warnings.simplefilter("ignore")
    start = time.perf_counter()
    print("Clean training data, genuine users flagged per setting "
          "(min_raters, min_lift, min_share):", grid)  # fmt: skip
    clean_total, n_clean = collections.Counter(), 0
    for name, X in clean_sets(args.seeds):
        _, R = user_item_matrix(X)
        counts = [int(flagged(R, setting).sum()) for setting in grid]
        n_clean += 1
        for setting, count in zip(grid, counts, strict=True):
            clean_total[setting] += count
        print(f"  {name}: {counts}", flush=True)
    stats = collections.Counter()
    cache = args.cache if args.cache is not None and args.cache.is_dir() else None
    for _name, X, fake, n_targets in poisoned_sets(cache, splits, sizes, target_sets):
        users, R = user_item_matrix(X)
        is_fake = np.isin(users, fake)
        for setting in grid:
            mask = flagged(R, setting)
            key = (setting, n_targets)
            stats[key, "runs"] += 1
            stats[key, "missed"] += bool(mask[is_fake].mean() < 1)
            stats[key, "genuine"] += int(mask[~is_fake].sum())
            stats[key, "worst"] = max(stats[key, "worst"], int(mask[~is_fake].sum()))
    print(f"\n{n_clean} clean sets; poisoned runs by targets per attack "
          f"({time.perf_counter() - start:.0f} s)")  # fmt: skip
    print("| min_raters, min_lift, min_share | genuine flagged, clean (all sets) | targets | "
          "poisoned runs | runs with a fake user missed | genuine flagged, poisoned (worst "
          "run) |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for setting in grid:
        for n_targets in sorted({t for (s, t), _ in stats if s == setting}):
            key = (setting, n_targets)
            genuine = f"{stats[key, 'genuine']} ({stats[key, 'worst']})"
            print(f"| {setting} | {clean_total[setting]} | {n_targets} | {stats[key, 'runs']} | "
                  f"{stats[key, 'missed']} | {genuine} |")  # fmt: skip


if __name__ == "__main__":
    main()
