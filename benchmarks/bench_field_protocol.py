"""The VAT / PamaCF poisoning protocol on MovieLens 100k, for skadv's models.

Protocol (Zhang et al., RecSys 2024 and NeurIPS 2024, as their official code runs it): users
and items with at least 10 interactions (iterated to a fixed point), each user's
interactions sorted by time and split 7:1:2 into train / validation / test; 5 unpopular
targets (drawn per seed among the least popular third of the items by training users); fake
users at 1 % and 5 % of the real users, each holding the targets and as many fillers as the
mean training profile (their fake files have profiles of about the mean length); T-HR@50 and
T-NDCG@50 of the targets over the real users who have not interacted with them, and clean
Recall@20 / NDCG@20 on the test split (all items outside the user's training set ranked).
Fake users are added to the training split whole (the official code splits fake profiles
7:1:2 too, so 70 % of each fake profile reaches its training set).

Models: tuned BPR (bench_apr.py), the default ``AdversarialMFRecommender()``, and per-user
APR (bench_poisoning.py's PamaCF-style configuration). Attacks: random, bandwagon, and
SurrogateAttack with the smoothed top-50 hit objective (bench_strong_attack.py).

    python benchmarks/bench_field_protocol.py --quick          # seed 0, 5 %, BPR only
    python benchmarks/bench_field_protocol.py                  # seeds 0 1, 1 % and 5 %
    python benchmarks/bench_field_protocol.py --vat-code ~/VAT --pamacf-code ~/PamaCF \\
        --export-dir /tmp/field

``--vat-code`` / ``--pamacf-code`` name local checkouts of the official code
(github.com/Kaike-Zhang/VAT, github.com/Kaike-Zhang/PamaCF; never copied into this
repository). When a checkout is present, the script writes the same data and fake users in
its input format (``data.txt``: user, item, time, score; ``<attack>.json``: fake users and
targets) under ``--export-dir`` and prints the command that trains it there; this script
does not run the official code itself. An absent checkout is skipped with a message.
"""

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from _protocol import ml100k_path
from bench_apr import APR, BPR

from skadv.attacks import BandwagonAttack, RandomAttack, SurrogateAttack
from skadv.datasets import load_movielens
from skadv.metrics import get_ranking_scorer, target_hit_rate_at_k, target_ndcg_at_k
from skadv.mf import AdversarialMFRecommender

MIN_INTERACTIONS = 10
SPLIT = (0.7, 0.1, 0.2)
N_TARGETS = 5
SIZES = (0.01, 0.05)
MODELS = {
    "BPR (tuned)": BPR,
    "default": {},
    "APR per-user": dict(APR, epsilon_mode="per-user"),
}
ATTACKS = {
    "random": (RandomAttack, {}),
    "bandwagon": (BandwagonAttack, {}),
    "surrogate-hit": (SurrogateAttack, {"objective": "hit", "top_k": 50, "max_users": 1000}),
}


def load_field_split():
    """(train, validation, test) DataFrames of user, item, timestamp: the >= 10 core, each
    user's interactions in time order split 7:1:2 as the official code does (int(0.7 n)
    train, int(0.2 n) test, the rest validation)."""
    try:
        data = load_movielens("100k", data_home=ml100k_path(), download=False).interactions
    except FileNotFoundError as exc:
        raise SystemExit(
            f"MovieLens 100k not found in {ml100k_path()}: set SKADV_ML100K."
        ) from exc
    data = data[["user", "item", "timestamp"]]
    while True:
        users = data.user.map(data.user.value_counts()) >= MIN_INTERACTIONS
        items = data.item.map(data.item.value_counts()) >= MIN_INTERACTIONS
        if (users & items).all():
            break
        data = data[users & items]
    data = data.sort_values(["user", "timestamp"], kind="stable")
    position = data.groupby("user").cumcount().to_numpy()
    length = data.user.map(data.user.value_counts()).to_numpy()
    n_train = (length * SPLIT[0]).astype(int)
    n_test = (length * SPLIT[2]).astype(int)
    part = np.where(position < n_train, 0, np.where(position >= length - n_test, 2, 1))
    return tuple(data[part == k].reset_index(drop=True) for k in range(3))


def draw_targets(X_train, seed):
    """N_TARGETS items drawn among the least popular third (training users)."""
    items, counts = np.unique(X_train[:, 1], return_counts=True)
    order = items[np.argsort(counts, kind="stable")]
    pool = order[: int(np.ceil(len(order) / 3))]
    return np.sort(np.random.RandomState(seed).choice(pool, size=N_TARGETS, replace=False))


def fit(config, X, seed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return AdversarialMFRecommender(n_jobs=1, random_state=seed, **config).fit(X)


def export(directory, name, train, validation, test, X_poisoned, mask, targets):
    """The official code's inputs: data.txt (user, item, time %Y%m%d%H%M, score) and a fake
    user file, so that it trains on the same real data and fake profiles."""
    directory.mkdir(parents=True, exist_ok=True)
    real = pd.concat([train, validation, test])
    stamp = pd.to_datetime(real.timestamp, unit="s").dt.strftime("%Y%m%d%H%M")
    pd.DataFrame({"user": real.user, "item": real.item, "time": stamp, "score": 1}).to_csv(
        directory / "data.txt", sep="\t", header=False, index=False
    )
    fake = pd.DataFrame(X_poisoned[mask], columns=["user", "item"])
    profiles = {str(u): [str(i) for i in g.item] for u, g in fake.groupby("user")}
    with open(directory / f"{name}.json", "w") as f:
        json.dump({"fake_users": profiles, "target_items": [str(t) for t in targets]}, f)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--sizes", type=float, nargs="+", default=list(SIZES))
    parser.add_argument("--attacks", nargs="+", default=list(ATTACKS), choices=list(ATTACKS))
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--quick", action="store_true", help="seed 0, 5 %%, tuned BPR only")
    parser.add_argument("--vat-code", type=Path, default=None)
    parser.add_argument("--pamacf-code", type=Path, default=None)
    parser.add_argument("--export-dir", type=Path, default=Path("field-protocol-export"))
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.sizes, args.models = [0], [0.05], ["BPR (tuned)"]
    official = {}
    for name, path in (("VAT", args.vat_code), ("PamaCF", args.pamacf_code)):
        if path is None:
            print(f"{name}: no --{name.lower()}-code given: the official code is skipped.")
        elif not (path / "main.py").is_file():
            print(f"{name}: no checkout at {path} (main.py absent): skipped.")
        else:
            official[name] = path

    train, validation, test = load_field_split()
    X_train = train[["user", "item"]].to_numpy()
    X_test = test[["user", "item"]].to_numpy()
    users = np.unique(X_train[:, 0])
    n_fillers = int(round(train.groupby("user").size().mean())) - N_TARGETS
    print(f"{len(users)} users, {train.item.nunique()} items, {len(X_train)} training / "
          f"{len(validation)} validation / {len(X_test)} test interactions; fake profiles: "
          f"{N_TARGETS} targets + {n_fillers} fillers")  # fmt: skip
    recall, ndcg = get_ranking_scorer("recall@20"), get_ranking_scorer("ndcg@20")
    rows = []
    for seed in args.seeds:
        targets = draw_targets(X_train, seed)
        poisoned = {}
        for size in args.sizes:
            for name in args.attacks:
                cls, extra = ATTACKS[name]
                attack = cls(target_items=targets, attack_size=size, filler_size=n_fillers,
                             random_state=seed, **extra)  # fmt: skip
                start = time.perf_counter()
                X_poisoned, _ = attack.fit_resample(X_train)
                poisoned[(size, name)] = X_poisoned
                seconds = time.perf_counter() - start
                print(f"seed {seed} {size:.0%} {name}: fit_resample {seconds:.1f} s", flush=True)
                for code, path in official.items():
                    tag = f"{name}_{int(size * 100)}"
                    folder = args.export_dir / code / f"ml100k-seed{seed}"
                    export(folder, tag, train, validation, test, X_poisoned,
                           attack.sample_mask_, targets)  # fmt: skip
                    print(f"  {code}: wrote {folder}; to train it: link that folder as "
                          f"{path}/data/ml100k-seed{seed} and run `python main.py --model MF "
                          f"--dataset ml100k-seed{seed} --with_fakes true --attack_type {tag}` "
                          f"in {path} (not run by this script)")  # fmt: skip
        for model_name in args.models:
            config = MODELS[model_name]
            start = time.perf_counter()
            clean = fit(config, X_train, seed)
            clean_seconds = time.perf_counter() - start
            base = dict(seed=seed, model=model_name, fit_s=clean_seconds,
                        recall=recall(clean, X_test), ndcg=ndcg(clean, X_test))  # fmt: skip
            rows.append(dict(base, size=0.0, attack="clean",
                             thr=target_hit_rate_at_k(clean, users, targets),
                             tndcg=target_ndcg_at_k(clean, users, targets)))  # fmt: skip
            for (size, name), X_poisoned in poisoned.items():
                model = fit(config, X_poisoned, seed)
                rows.append(dict(base, size=size, attack=name, recall=recall(model, X_test),
                                 ndcg=ndcg(model, X_test),
                                 thr=target_hit_rate_at_k(model, users, targets),
                                 tndcg=target_ndcg_at_k(model, users, targets)))  # fmt: skip
                r = rows[-1]
                print(f"  seed {seed} {model_name} {size:.0%} {name}: T-HR@50 {r['thr']:.4f} "
                      f"T-NDCG@50 {r['tndcg']:.4f} Recall@20 {r['recall']:.4f} NDCG@20 "
                      f"{r['ndcg']:.4f}", flush=True)  # fmt: skip
    frame = pd.DataFrame(rows)
    table = frame.groupby(["model", "attack", "size"], sort=False)[
        ["thr", "tndcg", "recall", "ndcg", "fit_s"]
    ].mean()
    print(f"\nMean over seeds {args.seeds}:")
    print("| model | attack | size | T-HR@50 | T-NDCG@50 | Recall@20 | NDCG@20 | clean fit (s) |")
    print("|---|---|---|---|---|---|---|---|")
    for (model, attack, size), r in table.iterrows():
        print(f"| {model} | {attack} | {size:.0%} | {r.thr:.4f} | {r.tndcg:.4f} | "
              f"{r.recall:.4f} | {r.ndcg:.4f} | {r.fit_s:.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
