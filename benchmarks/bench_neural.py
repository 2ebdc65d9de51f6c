"""AdversarialNeuralRecommender on the ml100k-holdout protocol: clean vs FGSM, per architecture.

Trains each configuration below on ml-100k (protocol of benchmarks/_protocol.py), prints
NDCG@10 / Recall@10 / HR@10 and the fit time, and the relative change FGSM brings over the
same configuration trained clean. CPU, 1 thread, 30 epochs, batch 1024, AdamW lr 0.005,
seed 0.

Usage::

    python benchmarks/bench_neural.py [--epochs 30] [--device cpu]
"""

import argparse
import time

from _protocol import evaluate, load_ml100k_split_or_exit

from skadv.neural import AdversarialNeuralRecommender

# (label, parameters): each adversarial configuration is paired with its clean twin.
CONFIGS = [
    ("MF-like two-tower", dict(hidden_layers=(), dropout=0.0, weight_decay=0.0)),
    ("two-tower (128,)", dict(hidden_layers=(128,), dropout=0.0, weight_decay=0.0)),
    ("two-tower (128,) drop .2 wd .01", dict(hidden_layers=(128,), dropout=0.2,
                                             weight_decay=0.01)),
    ("NeuMF (64,) drop .2 wd .01", dict(architecture="neumf", hidden_layers=(64,),
                                        dropout=0.2, weight_decay=0.01)),
]  # fmt: skip


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    train, test = load_ml100k_split_or_exit()
    print(f"{'configuration':<34} {'adversary':<9} {'NDCG@10':>8} {'R@10':>7} {'HR@10':>7} "
          f"{'fit s':>6} {'vs clean':>8}")  # fmt: skip
    for label, params in CONFIGS:
        clean = None
        for adversary in ("none", "fgsm"):
            start = time.perf_counter()
            model = AdversarialNeuralRecommender(
                n_epochs=args.epochs, batch_size=1024, learning_rate=0.005, epsilon=0.1,
                adversary=adversary, device=args.device, n_jobs=1, random_state=0, **params,
            )  # fmt: skip
            model.fit(train)
            seconds = time.perf_counter() - start
            scores = evaluate(model, test)
            ndcg = scores["ndcg@10"]
            change = "" if clean is None else f"{(ndcg / clean - 1) * 100:+.1f} %"
            clean = ndcg if clean is None else clean
            recall, hit = scores["recall@10"], scores["hit_rate@10"]
            print(f"{label:<34} {adversary:<9} {ndcg:8.4f} {recall:7.4f} {hit:7.4f} "
                  f"{seconds:6.1f} {change:>8}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
