"""Shilling detection on the ml100k-holdout protocol's training data, leave-one-family-out.

Each (attack family, size, seed) poisons the protocol's training split (seed 0) with one
attack batch (``random_state=seed``, default parameters: 5 unpopular targets, fillers 1 %
of the items, 3 selected items for bandwagon/segment), on implicit data (the protocol's)
and with the ml-100k ratings attached. Detectors are scored against the batch's
``fake_user_ids_`` with ``skadv.metrics.detection_scores``: the labels never reach them.

Detectors
    ``filter``: ``CombinedDetector()``, the default detector of ``FakeUserFilter()``
    (co-rating + PCA, unsupervised; seeded as the filter seeds it);
    ``lofo``: ``ShillingDetector(training_attacks(exclude=[F]))``, the supervised detector
    trained on the default mixture **without** the evaluated family F (leave one family
    out: train without F, test on F);
    ``mixture``: ``ShillingDetector()``, trained on the whole default mixture (which holds
    F, with other seeds, sizes and targets than the evaluated batch).

Families: ``random``, ``average``, ``bandwagon``, ``segment`` (textbook) and
``camouflage`` (``CamouflageAttack``: popularity-weighted fillers, genuine profile lengths).
``fpr`` is the share of genuine users flagged.

Usage::

    python benchmarks/bench_detection.py [--sizes 0.01 0.05] [--seeds 0 1] [--data both]
        [--filler 0.01] [--targets unpopular] [--detectors filter lofo mixture]
"""

import argparse
import time

import numpy as np
import pandas as pd
from _protocol import load_ml100k_split_or_exit, ml100k_path

from skadv.attacks import AverageAttack, BandwagonAttack, RandomAttack, SegmentAttack
from skadv.datasets import load_movielens
from skadv.detection import CamouflageAttack, CombinedDetector, ShillingDetector, training_attacks
from skadv.metrics._detection import detection_scores

ATTACKS = {
    "random": RandomAttack,
    "average": AverageAttack,
    "bandwagon": BandwagonAttack,
    "segment": SegmentAttack,
    "camouflage": CamouflageAttack,
}


def training_ratings(X_train):
    """The ml-100k rating of each (user, item) pair of the protocol's training split."""
    data = load_movielens("100k", data_home=ml100k_path(), download=False).interactions
    lookup = data.set_index(["user", "item"])["rating"]
    index = pd.MultiIndex.from_arrays([X_train[:, 0], X_train[:, 1]])
    return lookup.reindex(index).to_numpy(dtype=np.float64)


def detectors(family, seed, names):
    out = {
        "filter": CombinedDetector(random_state=100 + seed),
        "lofo": ShillingDetector(training_attacks(exclude=[family]), random_state=100 + seed),
        "mixture": ShillingDetector(random_state=100 + seed),
    }
    return {name: out[name] for name in names}


def make_attack(family, size, seed, filler, targets):
    params = dict(attack_size=size, target_popularity=targets, random_state=seed)
    if family != "camouflage":
        params["filler_size"] = filler
    return ATTACKS[family](**params)


def score(detector, X_p, y_p, attack, row):
    start = time.perf_counter()
    row.update(detection_scores(detector, X_p, attack.fake_user_ids_, y_p))
    row["seconds"] = time.perf_counter() - start
    n_genuine = row["n_users"] - row["n_fake"]
    row["fp"] = row["n_flagged"] - round(row["precision"] * row["n_flagged"])
    row["fpr"] = row["fp"] / n_genuine
    print(
        f"{row['data']:8s} {row['attack']:10s} {row['size']:.2f} seed {row['seed']} "
        f"{row['detector']:8s} F1 {row['f1']:.3f} P {row['precision']:.3f} "
        f"R {row['recall']:.3f} AUC {row['roc_auc']:.3f} FP {row['fp']} "
        f"({row['seconds']:.1f} s)",
        flush=True,
    )
    return row


def cell(group):
    f1, p, r = group["f1"].mean(), group["precision"].mean(), group["recall"].mean()
    return (
        f"{f1:.2f} ({p:.2f} / {r:.2f}) [{group['roc_auc'].mean():.2f}] "
        f"{100 * group['fpr'].mean():.1f} %"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[0.01, 0.05])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--data", choices=["both", "ratings", "implicit"], default="both")
    parser.add_argument("--families", nargs="+", default=list(ATTACKS), choices=list(ATTACKS))
    parser.add_argument("--filler", type=float, default=0.01)
    parser.add_argument("--targets", default="unpopular", choices=["unpopular", "popular", "any"])
    parser.add_argument("--detectors", nargs="+", default=["filter", "lofo", "mixture"],
                        choices=["filter", "lofo", "mixture"])  # fmt: skip
    args = parser.parse_args()
    start = time.perf_counter()
    X_train, _ = load_ml100k_split_or_exit()
    kinds = ["ratings", "implicit"] if args.data == "both" else [args.data]
    y_train = training_ratings(X_train)
    rows = []
    for kind in kinds:
        y = y_train if kind == "ratings" else None
        for family in args.families:
            for size in args.sizes:
                for seed in args.seeds:
                    attack = make_attack(family, size, seed, args.filler, args.targets)
                    X_p, y_p = attack.fit_resample(X_train, y)
                    for name, det in detectors(family, seed, args.detectors).items():
                        row = dict(data=kind, attack=family, size=size, seed=seed,
                                   detector=name)  # fmt: skip
                        rows.append(score(det, X_p, y_p, attack, row))
    frame = pd.DataFrame(rows)
    print(f"\nMeans over seeds {args.seeds}; cell: F1 (precision / recall) [ROC-AUC] FPR")
    print(f"fillers {args.filler}, targets {args.targets}\n")
    print("| data | attack | size | " + " | ".join(args.detectors) + " |")
    print("|---|---|---|" + "---|" * len(args.detectors))
    for (kind, family, size), group in frame.groupby(["data", "attack", "size"], sort=False):
        cells = [cell(group[group.detector == name]) for name in args.detectors]
        print(f"| {kind} | {family} | {100 * size:.0f} % | " + " | ".join(cells) + " |")
    print(f"\nwall time {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
