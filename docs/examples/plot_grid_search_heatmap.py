"""
Searching λ and ε with GridSearchCV
===================================

APR's two knobs are the weight λ of the adversarial loss (``adv_reg``) and the radius ε of the
perturbation (``epsilon``). They are ordinary hyper-parameters: ``GridSearchCV`` searches them
with a per-user holdout as ``cv`` and NDCG@10 as score, and
:class:`~skadv.plotting.GridSearchHeatmapDisplay` draws the validation score of every cell.
"""

# %%
import warnings

import matplotlib.pyplot as plt
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from skadv import AdversarialMFRecommender
from skadv.datasets import make_interactions
from skadv.model_selection import UserHoldoutSplit
from skadv.plotting import GridSearchHeatmapDisplay

X = make_interactions(n_users=300, n_items=200, density=0.05, random_state=0)
search = GridSearchCV(
    AdversarialMFRecommender(n_factors=16, n_epochs=30, random_state=0),
    {"adv_reg": [0.5, 1.0, 2.0, 4.0], "epsilon": [0.1, 0.2, 0.4, 0.8, 1.6]},
    cv=UserHoldoutSplit(n_splits=2, random_state=0),
    return_train_score=True,
)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always", ConvergenceWarning)
    search.fit(X)
collapsed = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
print(
    f"{len(collapsed)} of {len(search.cv_results_['params']) * 2} fits warned that the "
    "embeddings collapsed"
)
print("best:", search.best_params_, f"validation NDCG@10 {search.best_score_:.3f}")

# %%
# Validation NDCG@10 per (λ, ε). ε is relative to the mean row norm (the default
# ``epsilon_mode="relative"``). The score rises with ε up to a point, then falls: with the
# largest ε and λ the embeddings collapse (the ``ConvergenceWarning`` counted above).
GridSearchHeatmapDisplay.from_estimator(search, x="epsilon", y="adv_reg")

# %%
# The training score of the same cells: the gap between the two maps is what the
# adversarial term regularizes.
GridSearchHeatmapDisplay.from_estimator(search, score="mean_train_score", cmap="magma")
plt.show()

# %%
# The same numbers as a table.
results = pd.DataFrame(search.cv_results_)
print(
    results.pivot(index="param_adv_reg", columns="param_epsilon", values="mean_test_score")
    .round(3)
    .to_string()
)
