"""Baselines on the "ml100k-holdout" protocol (see benchmarks/_protocol.py).

    python benchmarks/bench_baselines.py

Prints NDCG@10 / Recall@10 / HR@10 of the popularity baseline next to the reference figure
measured with other libraries on the same protocol (ECOSYSTEM.md: popularity NDCG@10 0.2139).
"""

import time

from _protocol import evaluate, load_ml100k_split

from skadv import PopularityRecommender

REFERENCE = {"ndcg@10": 0.2139, "recall@10": 0.1163, "hit_rate@10": 0.7709}


def main():
    X_train, X_test = load_ml100k_split(seed=0)
    print(f"ml100k-holdout: {len(X_train)} train / {len(X_test)} test interactions")
    start = time.perf_counter()
    model = PopularityRecommender().fit(X_train)
    scores = evaluate(model, X_test)
    elapsed = time.perf_counter() - start
    print(f"{'model':<12}" + "".join(f"{m:>13}" for m in scores) + f"{'seconds':>10}")
    print(
        f"{'popularity':<12}"
        + "".join(f"{v:>13.4f}" for v in scores.values())
        + f"{elapsed:>10.2f}"
    )
    print(f"{'reference':<12}" + "".join(f"{REFERENCE[m]:>13.4f}" for m in scores))
    print(f"{'ratio':<12}" + "".join(f"{scores[m] / REFERENCE[m]:>13.3f}" for m in scores))


if __name__ == "__main__":
    main()
