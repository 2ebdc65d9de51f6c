"""
Tuning APR with GridSearchCV on MovieLens 100k
==============================================

Adversarial Personalized Ranking (APR) has two knobs: the weight λ of the adversarial loss
(``adv_reg``) and the radius ε of the perturbation (``epsilon``). This example searches them
with scikit-learn's :class:`~sklearn.model_selection.GridSearchCV`, using

* :class:`skadv.model_selection.UserHoldoutSplit` as ``cv``: each user keeps 80 % of their
  interactions for training and has 20 % held out, so every test user is known to the model;
* a ranking scorer (NDCG@10 over all items the user has not interacted with) to select by;
* a robustness scorer: NDCG@10 after an FGSM attack on the embeddings (ε = 0.5 on every user
  and item row), and its relative drop, reported next to it.

Run it from the repository root (about a minute on two cores)::

    python docs/examples/gridsearch_movielens.py [PATH/TO/ml-100k]

MovieLens 100k is read from the path argument, else from ``$SKADV_ML100K``, else from
``../shared/data/ml-100k``; it is never downloaded here.
"""

import os
import sys
from pathlib import Path

import pandas as pd
from sklearn.model_selection import GridSearchCV

from skadv.attacks import EmbeddingAttack
from skadv.datasets import load_movielens
from skadv.metrics import get_ranking_scorer, make_robustness_scorer, robustness_curve
from skadv.mf import AdversarialMFRecommender
from skadv.model_selection import UserHoldoutSplit, train_test_split_interactions


def find_ml100k(argv):
    """Folder holding u.data: the argument, else $SKADV_ML100K, else ../shared/data/ml-100k.

    The first of these that is given is the only one tried, so a wrong path is reported
    rather than silently replaced by another copy.
    """
    if len(argv) > 1:
        folder, source = Path(argv[1]), "the path argument"
    elif os.environ.get("SKADV_ML100K"):
        folder, source = Path(os.environ["SKADV_ML100K"]), "$SKADV_ML100K"
    else:
        # ../shared/data/ml-100k next to the repository, wherever this is run from
        repo = Path(__file__).resolve().parents[2]
        folder, source = repo.parent / "shared" / "data" / "ml-100k", "the default location"
    if not (folder / "u.data").is_file():
        sys.exit(
            f"MovieLens 100k not found: {folder} ({source}) holds no u.data. Pass the folder "
            "holding u.data as an argument, or set SKADV_ML100K."
        )
    return folder


# %%
# Data: every rating is a positive interaction. The test split is kept aside for the end; the
# grid search only ever sees the training part, which it splits again per user.
data = load_movielens("100k", data_home=find_ml100k(sys.argv), download=False)
X = data.interactions[["user", "item"]].to_numpy()
X_train, X_test = train_test_split_interactions(X, test_size=0.2, random_state=0)
print(f"{len(X_train)} training / {len(X_test)} test interactions")

# %%
# The search. ``adv_reg=0`` is plain BPR (ε is then irrelevant, hence its own sub-grid). With
# ``reg=0`` the adversarial loss is the only regularizer, so plain BPR overfits here: a fair
# comparison with BPR tunes BPR's ``reg`` too (see ``benchmarks/bench_apr.py``).
# ``epsilon_mode="relative"`` scales ε by the mean row norm of each embedding matrix, so one ε
# means the same thing whatever the scale the embeddings reach; the first half of the epochs
# (``adv_start="auto"``) is BPR pre-training.
model = AdversarialMFRecommender(
    n_factors=64,
    n_epochs=200,
    learning_rate=0.05,
    reg=0.0,
    epsilon_mode="relative",
    item_bias=True,
    n_jobs=1,
    random_state=0,
)
param_grid = [
    {"adv_reg": [0.0]},
    {"adv_reg": [0.3, 1.0, 2.0], "epsilon": [0.1, 0.15, 0.2]},
]
fgsm = EmbeddingAttack("fgsm", epsilon=0.5, target="both", random_state=0)
scoring = {
    "ndcg": get_ranking_scorer("ndcg@10"),
    "fgsm_ndcg": make_robustness_scorer(fgsm, metric="ndcg@10"),
    "fgsm_drop": make_robustness_scorer(fgsm, metric="ndcg@10", kind="drop"),
}
search = GridSearchCV(
    model,
    param_grid,
    scoring=scoring,
    refit="ndcg",  # select by clean accuracy; the robustness columns are for reading
    cv=UserHoldoutSplit(n_splits=2, test_size=0.2, random_state=0),
)
search.fit(X_train)

# %%
# The results table, best clean NDCG@10 first. ``fgsm_drop`` is the relative loss of NDCG@10
# under the attack (the scorer returns its negative, so that higher is better).
results = pd.DataFrame(search.cv_results_)
table = pd.DataFrame(
    {
        "adv_reg": results["param_adv_reg"],
        "epsilon": results["param_epsilon"].map(lambda v: "-" if pd.isna(v) else v),
        "NDCG@10": results["mean_test_ndcg"].round(4),
        "± std": results["std_test_ndcg"].round(4),
        "FGSM NDCG@10": results["mean_test_fgsm_ndcg"].round(4),
        "FGSM drop": (-results["mean_test_fgsm_drop"]).map("{:.1%}".format),
        "fit s": results["mean_fit_time"].round(1),
    }
).sort_values("NDCG@10", ascending=False)
with pd.option_context("display.width", 120):
    print(table.to_string(index=False))
print("best:", search.best_params_)

# %%
# The refitted best model on the untouched test split, and its robustness curve: NDCG@10
# under FGSM of growing absolute ε, next to the mean row norms that give ε its scale.
best = search.best_estimator_
print(f"test NDCG@10 {get_ranking_scorer('ndcg@10')(best, X_test):.4f}")
curve = robustness_curve(best, X_test, [0.1, 0.25, 0.5, 1.0, 2.0], random_state=0)
print(curve[["epsilon", "clean", "attacked", "relative_drop", "user_norm", "item_norm"]].round(4))
