"""Screening defences of the MF default on the VAT / PamaCF protocol's VALIDATION split.

Data: bench_field_protocol.py's ml-100k 10-core 7:1:2 split (train / validation / test); only
train and validation are read (the test part is never used here). Per seed: 5 targets among
the least popular third (``draw_targets`` of the protocol), fake users at each size from each
attack (fitted once per seed and size, kept in memory and, with ``--cache DIR``, on disk), and
every candidate model fitted on the clean training split and on each poisoned one. Printed per
candidate, attack and size: T-HR@50 of the targets over the real users, their rank shift
(clean mean rank minus poisoned mean rank among the real users' unseen items, each model
against its own clean fit), and the ratios of both to tuned BPR's measured in the same run;
per candidate: clean NDCG@10 / Recall@20 on the validation part and the clean fit seconds.

    python benchmarks/bench_defence.py --seeds 0 --sizes 0.05 --attacks surrogate-hit
    python benchmarks/bench_defence.py --candidates "BPR (tuned)" default --cache /tmp/dc
    python benchmarks/bench_defence.py --attacks bandwagon-split surrogate-hit-split
    python benchmarks/bench_defence.py --n-targets 3 --attacks random average bandwagon

An attack name ending in ``-split`` gives each target its own fake users (one attack per
target with a fifth of the fakes), which no co-rated group of items can reveal.
``--n-targets N`` pushes the first N of the 5 targets only (fake profiles keep their length:
more fillers); fewer than 4 is a push the default's suspect rule does not look for.
"""

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from bench_apr import APR, BPR
from bench_field_protocol import N_TARGETS, draw_targets, load_field_split

from skadv.attacks import (
    AverageAttack,
    BandwagonAttack,
    RandomAttack,
    SegmentAttack,
    SurrogateAttack,
)
from skadv.detection import CamouflageAttack
from skadv.metrics import average_rank_shift, get_ranking_scorer, target_hit_rate_at_k
from skadv.mf import AdversarialMFRecommender

ATTACKS = {
    "surrogate-hit": (SurrogateAttack, {"objective": "hit", "top_k": 50, "max_users": 1000}),
    "random": (RandomAttack, {}),
    "average": (AverageAttack, {}),
    "bandwagon": (BandwagonAttack, {}),
    "segment": (SegmentAttack, {}),
    "camouflage": (CamouflageAttack, {}),
}

#: name -> AdversarialMFRecommender parameters (n_jobs=1 and random_state=seed are added).
CANDIDATES = {
    "BPR (tuned)": dict(BPR, suspect_weight=1.0),
    "default": {},
    "default, undamped": {"suspect_weight": 1.0},
    "BPR + damping": dict(BPR, suspect_weight=0.0),
    "default, weight 0.1": {"suspect_weight": 0.1},
    "APR per-user + damping": dict(APR, epsilon_mode="per-user", suspect_weight=0.0),
}


#: Suffix of an attack name whose fake users each push one target (the same share of the
#: fake users per target): the evasion of the suspect rule's "two flagged items" condition.
SPLIT = "-split"


def run_attack(name, X_train, targets, size, n_fillers, seed):
    """``(X_poisoned, fake user ids)`` of attack ``name`` (with :data:`SPLIT`: one attack per
    target, each on the data the previous ones poisoned, with its share of the fakes)."""
    split = name.endswith(SPLIT)
    cls, extra = ATTACKS[name.removesuffix(SPLIT)]
    groups = [[t] for t in targets] if split else [targets]
    n_real = len(np.unique(X_train[:, 0]))
    X, fakes = X_train, []
    for k, group in enumerate(groups):
        n_users = len(np.unique(X[:, 0]))
        params = dict(target_items=np.asarray(group), random_state=seed + 1000 * k,
                      attack_size=size * n_real / len(groups) / n_users, **extra)  # fmt: skip
        if cls is not CamouflageAttack:
            params["filler_size"] = n_fillers
        attack = cls(**params)
        X, _ = attack.fit_resample(X)
        fake = np.asarray(attack.fake_user_ids_)
        if split:  # fillers that happen to be another target would pair the targets again
            others = np.setdiff1d(targets, group)
            X = X[~(np.isin(X[:, 0], fake) & np.isin(X[:, 1], others))]
        fakes.append(fake)
    return X, np.concatenate(fakes)


def poisoned_sets(X_train, seed, sizes, attacks, n_fillers, cache=None, n_targets=N_TARGETS):
    """{(size, attack): (X_poisoned, fake user ids)}; fitted once, cached under ``cache``."""
    targets = draw_targets(X_train, seed)[:n_targets]
    # The protocol's 5 targets keep the cache names of earlier runs.
    tag = "" if n_targets == N_TARGETS else f"-{n_targets}targets"
    out = {}
    for size in sizes:
        for name in attacks:
            path = None if cache is None else cache / f"{name}-{size:g}{tag}-seed{seed}.npz"
            if path is not None and path.is_file():
                data = np.load(path)
                out[(size, name)] = (data["X"], data["fake"])
                continue
            start = time.perf_counter()
            X_poisoned, fake = run_attack(name, X_train, targets, size, n_fillers, seed)
            seconds = time.perf_counter() - start
            print(f"seed {seed} {size:.0%} {name}: fit_resample {seconds:.1f} s, "
                  f"{len(fake)} fake users", flush=True)  # fmt: skip
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                np.savez(path, X=X_poisoned, fake=fake)
            out[(size, name)] = (X_poisoned, fake)
    return targets, out


def fit(config, X, seed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if callable(config):
            return config(X, seed)
        return AdversarialMFRecommender(n_jobs=1, random_state=seed, **config).fit(X)


def screen(candidates, seeds, sizes, attacks, cache, n_targets=N_TARGETS):
    train, validation, _ = load_field_split()
    X_train = train[["user", "item"]].to_numpy()
    X_valid = validation[["user", "item"]].to_numpy()
    users = np.unique(X_train[:, 0])
    n_fillers = int(round(train.groupby("user").size().mean())) - n_targets
    ndcg, recall = get_ranking_scorer("ndcg@10"), get_ranking_scorer("recall@20")
    rows = []
    for seed in seeds:
        targets, poisoned = poisoned_sets(
            X_train, seed, sizes, attacks, n_fillers, cache, n_targets
        )
        for name in candidates:
            config = CANDIDATES[name]
            start = time.perf_counter()
            clean = fit(config, X_train, seed)
            seconds = time.perf_counter() - start
            base = dict(seed=seed, model=name, fit_s=seconds, ndcg=ndcg(clean, X_valid),
                        recall=recall(clean, X_valid),
                        clean_damped=len(getattr(clean, "suspected_users_", ())))  # fmt: skip
            print(f"  seed {seed} {name}: clean NDCG@10 {base['ndcg']:.4f} Recall@20 "
                  f"{base['recall']:.4f} fit {seconds:.1f} s", flush=True)  # fmt: skip
            for (size, attack), (X_p, fake) in poisoned.items():
                model = fit(config, X_p, seed)
                flagged = getattr(model, "suspected_users_", np.zeros(0))
                row = dict(base, size=size, attack=attack,
                           thr=target_hit_rate_at_k(model, users, targets),
                           shift=average_rank_shift(clean, model, users, targets),
                           fake_damped=np.isin(flagged, fake).sum() / len(fake),
                           real_damped=(~np.isin(flagged, fake)).sum())  # fmt: skip
                rows.append(row)
                print(f"  seed {seed} {name} {size:.0%} {attack}: T-HR@50 {row['thr']:.4f} "
                      f"shift {row['shift']:.1f} damped: {row['fake_damped']:.0%} of the fakes, "
                      f"{row['real_damped']} real users", flush=True)  # fmt: skip
    return rows


def report(rows, reference="BPR (tuned)"):
    import pandas as pd

    frame = pd.DataFrame(rows)
    table = frame.groupby(["model", "attack", "size"], sort=False)[
        ["thr", "shift", "fake_damped", "real_damped", "ndcg", "recall", "clean_damped", "fit_s"]
    ].mean()
    # Ratios of the seed means (a per-seed ratio is undefined where BPR's T-HR@50 is 0).
    ref = table.xs(reference, level="model")
    keys = table.index.droplevel("model")
    table["thr_ratio"] = table.thr.to_numpy() / ref.thr.reindex(keys).to_numpy()
    table["shift_ratio"] = table["shift"].to_numpy() / ref["shift"].reindex(keys).to_numpy()
    seeds = sorted(int(s) for s in frame.seed.unique())
    print(f"\nMean over seeds {seeds} (ratios: mean over the seeds / "
          f"{reference}'s; NDCG@10 / Recall@20: clean fit on the validation part)")  # fmt: skip
    print("| model | attack | size | T-HR@50 | ratio | rank shift | ratio | fakes damped | real "
          "damped | clean NDCG@10 | clean Recall@20 | clean damped | clean fit s |\n"
          + "|---" * 13 + "|")  # fmt: skip
    for (model, attack, size), r in table.iterrows():
        print(f"| {model} | {attack} | {size:.0%} | {r.thr:.4f} | {r.thr_ratio:.2f} | "
              f"{r['shift']:.1f} | {r.shift_ratio:.2f} | {r.fake_damped:.0%} | "
              f"{r.real_damped:.1f} | {r.ndcg:.4f} | {r.recall:.4f} | {r.clean_damped:.0f} | "
              f"{r.fit_s:.1f} |")  # fmt: skip


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[0.05])
    parser.add_argument("--attacks", nargs="+", default=["surrogate-hit"],
                        choices=[*ATTACKS, *(name + SPLIT for name in ATTACKS)])  # fmt: skip
    parser.add_argument("--candidates", nargs="+", default=list(CANDIDATES))
    parser.add_argument("--cache", type=Path, default=None, help="folder for poisoned data")
    parser.add_argument("--n-targets", type=int, default=N_TARGETS, choices=range(1, 6),
                        help="push the first N of the protocol's 5 targets")  # fmt: skip
    args = parser.parse_args(argv)
    unknown = set(args.candidates) - set(CANDIDATES)
    if unknown:
        parser.error(f"unknown candidates {sorted(unknown)}; known: {list(CANDIDATES)}")
    if "BPR (tuned)" not in args.candidates:
        args.candidates = ["BPR (tuned)", *args.candidates]
    report(
        screen(args.candidates, args.seeds, args.sizes, args.attacks, args.cache, args.n_targets)
    )


if __name__ == "__main__":
    main()
