"""
A two-tower neural recommender with item features and cold-start users
======================================================================

:class:`~skadv.neural.AdversarialNeuralRecommender` (PyTorch) trains a two-tower model whose
item tower reads the item id and a feature vector, with FGSM perturbations of the embedding
rows. Users never seen in ``fit`` are ranked by the documented fallback
(``handle_unknown="popularity"``): they get the most popular items.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from skadv.datasets import make_interactions
from skadv.model_selection import train_test_split_interactions
from skadv.neural import AdversarialNeuralRecommender
from skadv.plotting import RobustnessCurveDisplay, TrainingCurveDisplay

X = make_interactions(n_users=300, n_items=200, density=0.05, random_state=0)
X_train, X_test = train_test_split_interactions(X, test_size=0.2, random_state=0)
# Item features: a noisy one-hot "genre" of 8 groups, one row per item id (side information
# goes to fit, as a DataFrame indexed by id or a mapping id -> vector).
rng = np.random.default_rng(0)
genres = rng.integers(0, 8, size=200)
item_features = pd.DataFrame(np.eye(8)[genres] + 0.1 * rng.standard_normal((200, 8)))

common = dict(n_factors=32, hidden_layers=(64,), n_epochs=15, batch_size=256, random_state=0)
models = {
    "clean": AdversarialNeuralRecommender(adversary="none", **common),
    "FGSM ε=0.5": AdversarialNeuralRecommender(adversary="fgsm", epsilon=0.5, **common),
}
for name, model in models.items():
    model.fit(X_train, item_features=item_features)
    print(f"{name}: held-out NDCG@10 {model.score(X_test):.3f}")

# %%
# Training curves of the adversarially trained model (``adv_start=0``: every epoch is
# adversarial).
TrainingCurveDisplay.from_estimator(models["FGSM ε=0.5"], name="two-tower, FGSM")

# %%
# The two-tower model scores by a dot product of its tower outputs (``user_factors_`` and
# ``item_factors_``), so the same embedding attack applies as for matrix factorization.
RobustnessCurveDisplay.from_estimators(
    models, X_test, [0.0, 0.1, 0.2, 0.4], epsilon_mode="relative", random_state=0
)
plt.show()

# %%
# Cold-start users: ids absent from ``fit`` get the most popular items.
items, _ = models["clean"].recommend([10_000, 10_001], n=5)
popular = models["clean"].item_ids_[np.argsort(-models["clean"].item_popularity_)[:5]]
print("new users:", items.tolist())
print("most popular items:", popular.tolist())
