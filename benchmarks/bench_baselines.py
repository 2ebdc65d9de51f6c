"""The baselines users compare against, on the "ml100k-holdout" protocol and beyond.

Popularity, ItemKNN, EASE and iALS next to BPR (``AdversarialMFRecommender`` with the
adversary off, the validation-tuned config of ``bench_apr.py``) and the default
``AdversarialMFRecommender()`` (APR): NDCG@10 / Recall@10 / HR@10 and fit seconds, through
``skadv.evaluation.compare``. Sections (``--section``):

``test`` (default)
    ml100k-holdout test part (``_protocol.py``), every model with its defaults, and the
    validation-tuned configs of the baselines (``TUNED``); popularity also next to the
    figure measured with other libraries (ECOSYSTEM.md: NDCG@10 0.2139).
``validate``
    the grids the defaults were chosen from, on the validation part of ml100k-holdout's
    training part (``train_test_split_interactions(X_train, test_size=0.2,
    min_interactions=5, random_state=1)``), the protocol of ``bench_defaults.py``.
``confirm``
    the defaults against popularity on splits nobody tuned on: ``ml100k-ua`` (per user the
    first 10 interactions of u.data held out: ``ua.test`` rebuilt as the data set's
    ``mku.sh`` does), ``synthetic-dense`` and ``synthetic-sparse`` (the shapes of
    ``bench_defaults.py``).

``scale``
    ItemKNN and iALS on 20 000 users x ~21 500 items (400 000 synthetic interactions,
    Zipf items) with ``working_memory=256``: fit seconds and peak memory, next to the size
    of a dense items x items matrix.

Run (CPU, one thread)::

    PYTHONPATH=. python benchmarks/bench_baselines.py
    PYTHONPATH=. python benchmarks/bench_baselines.py --section validate --models ials
    PYTHONPATH=. python benchmarks/bench_baselines.py --section confirm --seeds 0 1 2

MovieLens 100k is read from ``$SKADV_ML100K`` or ``../shared/data/ml-100k``, never downloaded.
"""

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _protocol import load_ml100k_split_or_exit, ml100k_path
from bench_apr import BPR

from skadv import (
    AdversarialMFRecommender,
    EASERecommender,
    ImplicitALSRecommender,
    ItemKNNRecommender,
    PopularityRecommender,
)
from skadv.datasets import load_movielens, make_interactions
from skadv.evaluation import compare
from skadv.model_selection import train_test_split_interactions

METRICS = ("ndcg@10", "recall@10", "hit_rate@10")
REFERENCE = {"ndcg@10": 0.2139, "recall@10": 0.1163, "hit_rate@10": 0.7709}
SYNTHETIC = {
    "synthetic-dense": dict(n_users=1500, n_items=1000, n_factors=16, density=0.03,
                            popularity_skew=0.5),
    "synthetic-sparse": dict(n_users=3000, n_items=3000, n_factors=8, density=0.004,
                             popularity_skew=1.5, min_interactions_per_user=3),
}  # fmt: skip

# The configs the validation grids ranked first (see --section validate and
# NOTES/benchmarks README); the defaults of the estimators follow them where that held on
# the confirmation splits.
TUNED = {
    "itemknn": dict(n_neighbors=200, shrink=10.0),
    "ease": dict(l2_reg=1000.0),
    "ials": dict(n_factors=64, alpha=2.0, reg=0.02, reg_scaling="frequency"),
}
# Validation grids, round by round (a later round refines around the earlier best).
GRIDS = {
    "itemknn": [
        dict(n_neighbors=[20, 50, 100, 200, 400], shrink=[0.0, 10.0, 50.0, 100.0]),
        dict(n_neighbors=[150, 200, 250, 300], shrink=[5.0, 10.0, 20.0, 30.0]),
    ],
    "ease": [
        dict(l2_reg=[50.0, 100.0, 200.0, 300.0, 500.0, 1000.0]),
        dict(l2_reg=[1000.0, 1500.0, 2000.0, 3000.0, 5000.0]),
    ],
    "ials": [  # rounds 1-2 with the plain penalty, round 3 frequency-scaled (the default)
        dict(
            reg_scaling=["none"],
            alpha=[0.5, 1.0, 2.0, 5.0, 10.0, 20.0],
            reg=[0.1, 1.0, 10.0, 50.0, 100.0],
        ),
        dict(
            reg_scaling=["none"],
            n_factors=[32, 64, 128],
            alpha=[3.0, 5.0, 7.0],
            reg=[30.0, 50.0, 70.0],
        ),
        dict(alpha=[1.0, 2.0, 5.0, 10.0, 20.0], reg=[0.003, 0.01, 0.02, 0.03, 0.05, 0.1]),
        dict(alpha=[1.5, 2.0, 3.0], reg=[0.015, 0.02, 0.025]),
    ],
}
FAMILIES = {
    "itemknn": ItemKNNRecommender,
    "ease": EASERecommender,
    "ials": ImplicitALSRecommender,
}


def default_models():
    """{name: estimator} with every default (the seed is set by ``compare``)."""
    return {
        "popularity": PopularityRecommender(),
        "itemknn": ItemKNNRecommender(),
        "ease": EASERecommender(),
        "ials": ImplicitALSRecommender(),
        "bpr-tuned": AdversarialMFRecommender(**BPR),
        "mf (APR default)": AdversarialMFRecommender(),
    }


def tuned_models():
    """The validation-tuned configs of the baselines whose default differs from them."""
    out = {}
    for name, params in TUNED.items():
        est = FAMILIES[name](**params)
        if est.get_params() != FAMILIES[name]().get_params():
            out[f"{name}-tuned"] = est
    return out


def _ml100k_pairs():
    data = load_movielens("100k", data_home=ml100k_path(), download=False)
    return data.interactions[["user", "item"]].to_numpy()


def ua_split():
    """ml-100k ``ua``: per user the first 10 interactions in u.data's file order held out
    (the data set's mku.sh runs ``allbut.pl ua 1 10 100000 u.data`` on the unsorted file
    and sorts the output; every user has at least 20 ratings)."""
    X = _ml100k_pairs()
    order = np.argsort(X[:, 0], kind="stable")  # by user, file order within a user
    X = X[order]
    starts = np.r_[0, np.flatnonzero(np.diff(X[:, 0])) + 1]
    position = np.arange(len(X)) - np.repeat(starts, np.diff(np.r_[starts, len(X)]))
    test = position < 10
    return X[~test], X[test]


def load_split(name, seed):
    if name == "ml100k-holdout":
        return load_ml100k_split_or_exit(seed)
    if name == "ml100k-ua":
        return ua_split()
    X = make_interactions(**SYNTHETIC[name], random_state=seed)
    return train_test_split_interactions(X, test_size=0.2, min_interactions=5,
                                         random_state=seed)  # fmt: skip


def validation_split():
    X_train, _ = load_ml100k_split_or_exit(0)
    return train_test_split_interactions(X_train, test_size=0.2, min_interactions=5,
                                         random_state=1)  # fmt: skip


def _summary(results, reference="popularity"):
    """estimator x metric table: mean (± std over seeds), × reference, fit seconds."""
    mean = results.pivot_table(index="estimator", columns="metric", values="value", sort=False)
    # ddof=0: one seed gives 0, not NaN
    std = results.groupby(["estimator", "metric"])["value"].std(ddof=0).unstack()
    fit = results.groupby("estimator", sort=False)["fit_time"].mean()
    metrics = list(pd.unique(results["metric"]))
    lines = [
        "| model | " + " | ".join(m for m in metrics) + f" | NDCG@10 × {reference} | fit s |",
        "|---" * (len(metrics) + 3) + "|",
    ]
    for name in mean.index:
        cells = [f"{mean.loc[name, m]:.4f} ± {std.loc[name, m]:.4f}" for m in metrics]
        ratio = mean.loc[name, "ndcg@10"] / mean.loc[reference, "ndcg@10"]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {ratio:.2f} | {fit[name]:.1f} |")
    return "\n".join(lines)


def run_test(seeds, names, rounds=None):
    estimators = {**default_models(), **tuned_models()}
    estimators = {k: v for k, v in estimators.items() if not names or k.split("-")[0] in names
                  or k == "popularity"}  # fmt: skip
    frames = []
    for seed in seeds:  # the split is redrawn per seed, as in bench_defaults.py
        X_train, X_test = load_split("ml100k-holdout", seed)
        frames.append(compare(estimators, X_train, X_test, metrics=METRICS, seeds=[seed]))
    results = pd.concat(frames, ignore_index=True)
    print(f"ml100k-holdout test, seeds {seeds}\n")
    print(_summary(results))
    pop = results[results["estimator"] == "popularity"].groupby("metric")["value"].mean()
    print("\npopularity / reference (other libraries): "
          + ", ".join(f"{m} {pop[m] / REFERENCE[m]:.3f}" for m in METRICS))  # fmt: skip
    return results


def run_validate(seeds, names, rounds):
    X_fit, X_val = validation_split()
    for family, r in itertools.product(names or GRIDS, rounds):
        if r > len(GRIDS[family]):
            continue
        grid = GRIDS[family][r - 1]
        keys = list(grid)
        estimators = {}
        for values in itertools.product(*(grid[k] for k in keys)):
            params = dict(zip(keys, values, strict=True))
            label = ", ".join(f"{k}={v}" for k, v in params.items())
            estimators[label] = FAMILIES[family](**params)
        estimators["popularity"] = PopularityRecommender()
        results = compare(estimators, X_fit, X_val, metrics=("ndcg@10",), n_seeds=len(seeds))
        table = results.groupby("estimator")["value"].agg(["mean", "std"])
        fit = results.groupby("estimator")["fit_time"].mean()
        table = table.assign(fit_s=fit).sort_values("mean", ascending=False)
        print(f"\n{family}, round {r}: NDCG@10 on the ml100k-holdout validation part, "
              f"seeds {seeds}")  # fmt: skip
        print(table.to_string(float_format=lambda v: f"{v:.4f}"))


def run_confirm(seeds, names, rounds=None):
    estimators = {k: v for k, v in default_models().items()
                  if k in ("popularity", "itemknn", "ease", "ials")
                  and (not names or k in names or k == "popularity")}  # fmt: skip
    for split in ("ml100k-ua", "synthetic-dense", "synthetic-sparse"):
        frames = []
        split_seeds = [0] if split == "ml100k-ua" else seeds  # ua is a fixed split
        for seed in split_seeds:
            X_train, X_test = load_split(split, seed)
            # the model seeds follow the split seeds
            frames.append(compare(estimators, X_train, X_test,
                                  metrics=("ndcg@10", "recall@10"), seeds=[seed]))  # fmt: skip
        print(f"\n{split}, seeds {split_seeds}\n")
        print(_summary(pd.concat(frames, ignore_index=True)))


def run_scale(seeds=None, names=None, rounds=None):
    """Fit ItemKNN and iALS on a larger synthetic catalogue within ``working_memory=256``
    MiB and print the process's peak memory next to what a dense items x items float64
    matrix would take (the point of ItemKNN's blocked top-k)."""
    import resource
    import time

    import sklearn

    def peak_mb():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    rng = np.random.default_rng(0)
    n_users, n_items, nnz = 20_000, 40_000, 400_000
    X = np.column_stack([rng.integers(0, n_users, nnz), (rng.zipf(1.3, nnz) - 1) % n_items])
    print(f"peak RSS before fitting: {peak_mb():.0f} MB")
    with sklearn.config_context(working_memory=256):
        start = time.perf_counter()
        knn = ItemKNNRecommender().fit(X)
        print(
            f"ItemKNN: {knn.n_items_} items, {knn.similarity_.nnz} similarities kept, fit "
            f"{time.perf_counter() - start:.1f} s, peak RSS {peak_mb():.0f} MB (a dense "
            f"items x items float64 matrix: {knn.n_items_**2 * 8 / 2**20:.0f} MB)"
        )
        start = time.perf_counter()
        ials = ImplicitALSRecommender(random_state=0).fit(X)
        fit = time.perf_counter() - start
        start = time.perf_counter()
        ials.recommend(ials.user_ids_[:5000], n=10)
        print(
            f"iALS: fit {fit:.1f} s, recommend for 5000 users "
            f"{time.perf_counter() - start:.1f} s, peak RSS {peak_mb():.0f} MB"
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--section", choices=["test", "validate", "confirm", "scale"],
                        default="test")  # fmt: skip
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--models", nargs="*", default=[],
                        help="restrict to these among itemknn ease ials bpr mf")  # fmt: skip
    parser.add_argument("--rounds", type=int, nargs="+", default=[1, 2, 3, 4],
                        help="validation rounds to run (--section validate)")  # fmt: skip
    args = parser.parse_args(argv)
    sections = {"test": run_test, "validate": run_validate, "confirm": run_confirm,
                "scale": run_scale}  # fmt: skip
    sections[args.section](args.seeds, args.models, args.rounds)


if __name__ == "__main__":
    main()
