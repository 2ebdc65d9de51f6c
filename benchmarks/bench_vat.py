"""VAT (``epsilon_mode="vulnerability"``) vs BPR and APR on the "ml100k-holdout" protocol.

    python benchmarks/bench_vat.py                 # seeds 0 1 (~2 min on 2 idle cores)
    python benchmarks/bench_vat.py --seeds 0 1 2

Prints a Markdown table: clean NDCG@10 on the test split (mean ± std over model seeds, the
data split stays seed 0), and NDCG@10 under FGSM at absolute ε 0.5 (``bench_apr.py``'s
robustness target) with its relative drop, for the validation-tuned BPR and APR of
``bench_apr.py`` and APR's schedule with the per-user (PamaCF) and vulnerability (VAT) radii.
The radius modes are not tuned here: all three use APR's relative ε 0.15 and adv_reg 1 (an
average user gets the same radius in each), so the table compares the rules, not their best
settings. One thread: a seed gives identical factors.
"""

import argparse
import time
import warnings

import numpy as np
from _protocol import load_ml100k_split_or_exit
from bench_apr import APR, BPR, drop

from skadv.mf import AdversarialMFRecommender

CONFIGS = {
    "BPR (tuned)": BPR,
    "APR relative": APR,
    "APR per-user (PamaCF)": dict(APR, epsilon_mode="per-user"),
    "APR vulnerability (VAT)": dict(APR, epsilon_mode="vulnerability"),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = parser.parse_args()
    X_train, X_test = load_ml100k_split_or_exit(0)
    print(f"ml100k-holdout: {len(X_train)} train / {len(X_test)} test pairs; seeds {args.seeds}")
    print("| model | NDCG@10 clean | NDCG@10 FGSM(0.5) | drop | fit s |")
    print("|---|---|---|---|---|")
    for name, params in CONFIGS.items():
        rows = []
        for seed in args.seeds:
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # below-popularity checks of short fits
                model = AdversarialMFRecommender(64, **params, n_jobs=1, random_state=seed).fit(
                    X_train
                )
            seconds = time.perf_counter() - start
            rows.append((*drop(model, X_test), seconds))
        rows = np.array(rows)
        mean, std = rows.mean(axis=0), rows.std(axis=0, ddof=1) if len(rows) > 1 else 0 * rows[0]
        print(
            f"| {name} | {mean[0]:.4f} ± {std[0]:.4f} | {mean[1]:.4f} ± {std[1]:.4f} | "
            f"{100 * mean[2]:.1f} % | {mean[3]:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
