"""Defaults of AdversarialTextRecommender on a 200-user ml-100k subset, against MF and popularity.

The subset: the users of ml-100k (every rating a positive) drawn uniformly without replacement,
``np.random.RandomState(seed).choice(sorted user ids, 200, replace=False)`` (``--seed``,
default 0), with all their interactions. Split as in the ml100k-holdout protocol (per user a
random 20 % held out, ``random_state=seed``; users with fewer than 5 interactions keep all in
train). Then 10 % of the items of the training part (``RandomState(seed)``) become *cold*: all
their interactions leave training; they are added from their "title | genres" text with
``add_items`` after the fit.

- warm: NDCG@10 and Recall@20 of the held-out interactions with warm items, ranking every item
  (warm and cold) the user has not seen in training;
- cold: the same metrics of every interaction of the subset's users with a cold item.

``--validation`` scores on a validation split carved from the training part instead (per user
20 % of the warm training interactions, ``random_state=seed + 100``; the test part is not
read): the split that chose the defaults. ``--params`` sets parameters of the text model
(``--params n_epochs=20 learning_rate=0.01``) to compare settings.

Usage::

    python benchmarks/bench_text_defaults.py                    # seed 0, test split
    python benchmarks/bench_text_defaults.py --seed 1           # another subset
    python benchmarks/bench_text_defaults.py --validation --params epsilon=0.5
"""

import argparse
import ast
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import numpy as np
from _protocol import ml100k_path

from skadv.baseline import PopularityRecommender
from skadv.datasets import load_movielens
from skadv.metrics import get_ranking_scorer
from skadv.mf import AdversarialMFRecommender
from skadv.model_selection import train_test_split_interactions
from skadv.neural import AdversarialTextRecommender

METRICS = {"NDCG@10": get_ranking_scorer("ndcg@10"), "Recall@20": get_ranking_scorer("recall@20")}


def subset(X, n_users, seed):
    """All interactions of ``n_users`` users drawn uniformly (seed ``seed``)."""
    users = np.random.RandomState(seed).choice(np.unique(X[:, 0]), n_users, replace=False)
    return X[np.isin(X[:, 0], users)]


def split(X, seed, validation, cold_fraction=0.1):
    """(train, warm_test, cold_test, cold_items) of the benchmark (see the module docstring)."""
    X_train, X_test = train_test_split_interactions(X, test_size=0.2, random_state=seed)
    items = np.unique(X_train[:, 1])
    rng = np.random.RandomState(seed)
    cold = rng.choice(items, size=int(round(cold_fraction * len(items))), replace=False)
    is_cold = np.isin(X[:, 1], cold)
    train = X_train[~np.isin(X_train[:, 1], cold)]
    warm_test = X_test[~np.isin(X_test[:, 1], cold)]
    if validation:
        train, warm_test = train_test_split_interactions(
            train, test_size=0.2, random_state=seed + 100
        )
        # Cold interactions of the training part only: the test part stays unread.
        X = X_train
        is_cold = np.isin(X[:, 1], cold)
    cold_test = X[is_cold & np.isin(X[:, 0], train[:, 0])]
    return train, warm_test, cold_test, cold


def parse_params(pairs):
    params = {}
    for pair in pairs:
        key, value = pair.split("=", 1)
        try:
            params[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[key] = value
    return params


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-users", type=int, default=200)
    parser.add_argument("--validation", action="store_true")
    parser.add_argument("--params", nargs="*", default=[], help="text model key=value")
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument("--n-jobs", type=int, default=None, help="default: the model's (1)")
    args = parser.parse_args()
    script_start = time.perf_counter()

    data = load_movielens("100k", data_home=ml100k_path(), download=False)
    texts = dict(zip(data.movies["item"], data.movies["text"], strict=True))
    X = subset(data.interactions[["user", "item"]].to_numpy(), args.n_users, args.seed)
    train, warm_test, cold_test, cold = split(X, args.seed, args.validation)
    part = "validation" if args.validation else "test"
    print(f"seed {args.seed}, {args.n_users} users, {len(X)} interactions; train {len(train)}; "
          f"{part}: warm {len(warm_test)}, cold items {len(cold)} with {len(cold_test)} "
          "interactions")  # fmt: skip
    print(f"load before: {os.getloadavg()[0]:.2f}")
    params = {"random_state": 0, **parse_params(args.params)}
    if args.n_jobs is not None:
        params["n_jobs"] = args.n_jobs
    models = {"AdversarialTextRecommender(" + ", ".join(f"{k}={v!r}" for k, v in params.items()
                                                        if k not in ("random_state", "n_jobs"))
              + ")": AdversarialTextRecommender(**params)}  # fmt: skip
    if not args.no_baselines:
        models["PopularityRecommender()"] = PopularityRecommender()
        models["AdversarialMFRecommender()"] = AdversarialMFRecommender(random_state=0)
    header = " | ".join(f"{w} {m}" for w in ("warm", "cold") for m in METRICS)
    # CPU seconds of this process next to wall seconds: the machine is shared, and the
    # wall time of a fit stretches with the load average printed beside it.
    print(f"| model | fit s | fit CPU s | load | {header} |")
    for name, model in models.items():
        start, cpu = time.perf_counter(), time.process_time()
        if isinstance(model, AdversarialTextRecommender):
            model.fit(train, item_texts=texts)
        else:
            model.fit(train)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        load = os.getloadavg()[0]
        new = [i for i in cold if i not in set(model.item_ids_)]
        if isinstance(model, AdversarialTextRecommender):
            model.add_items(new, texts)
        values = [f(model, warm_test) for f in METRICS.values()]
        # Models without text cannot rank the cold items (they score them as unknown).
        cold_values = [np.nan] * 2
        if isinstance(model, AdversarialTextRecommender):
            cold_values = [f(model, cold_test) for f in METRICS.values()]
        cells = " | ".join(f"{v:.4f}" for v in values + cold_values)
        print(f"| {name} | {seconds:.1f} | {cpu:.1f} | {load:.2f} | {cells} |", flush=True)
    print(
        f"script wall {time.perf_counter() - script_start:.0f} s; load average (1, 5, 15 min) "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )


if __name__ == "__main__":
    main()
