"""The "ml100k-holdout" protocol shared by the benchmark scripts.

ml-100k, every rating a positive, per user a random 20 % of interactions held out (seed 0; users
with fewer than 5 interactions keep all in train), rank all items not in the user's training set,
pessimistic ties; NDCG@10, Recall@10, HR@10.
"""

import os
import sys
from pathlib import Path

from skadv.datasets import load_movielens
from skadv.metrics import get_ranking_scorer
from skadv.model_selection import train_test_split_interactions

METRICS = ("ndcg@10", "recall@10", "hit_rate@10")
DEFAULT_ML100K = Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-100k"


def ml100k_path():
    """Folder of MovieLens 100k: $SKADV_ML100K, else ../shared/data/ml-100k."""
    return Path(os.environ.get("SKADV_ML100K", DEFAULT_ML100K))


def load_ml100k_split(seed=0):
    """(X_train, X_test) id-pair arrays of the protocol (no download: local files only)."""
    data = load_movielens("100k", data_home=ml100k_path(), download=False)
    X = data.interactions[["user", "item"]].to_numpy()
    return train_test_split_interactions(X, test_size=0.2, min_interactions=5, random_state=seed)


def load_ml100k_split_or_exit(seed=0):
    """:func:`load_ml100k_split`, or exit the script with a message when the files are absent."""
    try:
        return load_ml100k_split(seed)
    except FileNotFoundError:
        sys.exit(
            f"MovieLens 100k not found in {ml100k_path()}: set SKADV_ML100K to the folder "
            "holding u.data."
        )


def evaluate(model, X_test):
    """{metric: value} for the protocol's metrics on a fitted model."""
    return {name: get_ranking_scorer(name)(model, X_test) for name in METRICS}
