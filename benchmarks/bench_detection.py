"""Shilling detection on the ml100k-holdout protocol's training data.

Each (attack, size, seed) poisons the protocol's training split (seed 0) with one attack
batch (``random_state=seed``), on implicit data (the protocol's) and with the ml-100k
ratings attached. Detectors are scored against the batch's ``fake_user_ids_`` with
``skadv.metrics.detection_scores``: the batch's labels never reach them, and the supervised
detector trains on a batch it generates itself (same attack class, ``attack_size=0.1``,
another seed, hence other targets), scoring the users of X out of fold by user groups.

Detectors
    ``supervised``: ``ShillingDetector`` (two passes, ``threshold="auto"``);
    ``pca``: ``PCADetector()`` (unsupervised);
    ``reference``: the same detector with one pass (``exclude_suspects=0``) and the 0.5
    cut (``threshold=0.5``), measured in the same run, at 5 % only: the decision rule of
    the detector before this change (which also trained on a single attack batch; its
    figures are in ``benchmarks/README.md``).

Usage::

    python benchmarks/bench_detection.py [--sizes 0.01 0.03 0.05] [--seeds 0 1] [--data both]
"""

import argparse
import time

import numpy as np
import pandas as pd
from _protocol import load_ml100k_split_or_exit, ml100k_path

from skadv.attacks import AverageAttack, BandwagonAttack, RandomAttack, SegmentAttack
from skadv.datasets import load_movielens
from skadv.detection import PCADetector, ShillingDetector
from skadv.metrics._detection import detection_scores

ATTACKS = {
    "random": RandomAttack,
    "average": AverageAttack,
    "bandwagon": BandwagonAttack,
    "segment": SegmentAttack,
}


def training_ratings(X_train):
    """The ml-100k rating of each (user, item) pair of the protocol's training split."""
    data = load_movielens("100k", data_home=ml100k_path(), download=False).interactions
    lookup = data.set_index(["user", "item"])["rating"]
    index = pd.MultiIndex.from_arrays([X_train[:, 0], X_train[:, 1]])
    return lookup.reindex(index).to_numpy(dtype=np.float64)


def detectors(Attack, seed, with_reference):
    out = {
        "supervised": ShillingDetector(Attack(attack_size=0.1), random_state=100 + seed),
        "pca": PCADetector(random_state=seed),
    }
    if with_reference:
        out["reference"] = ShillingDetector(Attack(attack_size=0.1), exclude_suspects=0.0,
                                            threshold=0.5, random_state=100 + seed)  # fmt: skip
    return out


def score(detector, X_p, y_p, attack, row):
    start = time.perf_counter()
    row.update(detection_scores(detector, X_p, attack.fake_user_ids_, y_p))
    row["seconds"] = time.perf_counter() - start
    print(
        f"{row['data']:8s} {row['attack']:9s} {row['size']:.2f} seed {row['seed']} "
        f"{row['detector']:10s} F1 {row['f1']:.3f} P {row['precision']:.3f} "
        f"R {row['recall']:.3f} AUC {row['roc_auc']:.3f} ({row['seconds']:.1f} s)",
        flush=True,
    )
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[0.01, 0.03, 0.05])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--data", choices=["both", "ratings", "implicit"], default="both")
    args = parser.parse_args()
    X_train, _ = load_ml100k_split_or_exit()
    kinds = ["ratings", "implicit"] if args.data == "both" else [args.data]
    y_train = training_ratings(X_train)
    rows = []
    for kind in kinds:
        y = y_train if kind == "ratings" else None
        for name, Attack in ATTACKS.items():
            for size in args.sizes:
                for seed in args.seeds:
                    attack = Attack(attack_size=size, random_state=seed)
                    X_p, y_p = attack.fit_resample(X_train, y)
                    for det_name, det in detectors(Attack, seed, size == 0.05).items():
                        row = dict(data=kind, attack=name, size=size, seed=seed,
                                   detector=det_name)  # fmt: skip
                        rows.append(score(det, X_p, y_p, attack, row))
    frame = pd.DataFrame(rows)
    table = frame.groupby(["data", "attack", "size", "detector"])[
        ["f1", "precision", "recall", "roc_auc"]
    ].mean()
    print("\nMean over seeds", args.seeds)
    print(table.round(3).to_string())
    ref = frame[frame.detector == "reference"].set_index(["data", "attack", "seed"])["f1"]
    new = frame[(frame.detector == "supervised") & (frame["size"] == 0.05)]
    new = new.set_index(["data", "attack", "seed"])["f1"]
    if len(ref):
        print("\nF1 at 5 %: supervised / reference (one pass, 0.5 cut), same run")
        ratio = pd.DataFrame({"supervised": new, "reference": ref}).groupby(level=[0, 1]).mean()
        print(ratio.round(3).to_string())


if __name__ == "__main__":
    main()
