"""
BPR vs APR under embedding attacks
==================================

Adversarial Personalized Ranking (APR) trains matrix factorization against a worst-case
perturbation of the embeddings. Here a BPR model and an APR model of the same size are attacked
with FGSM perturbations of growing radius ε, and NDCG@10 on held-out interactions is plotted
against ε, for an absolute radius and for a radius relative to the mean row norm.
"""

# %%
# Data and models: planted low-rank preferences; both models get the same schedule, and APR
# starts its adversarial epochs after half of them (BPR pre-training).
import matplotlib.pyplot as plt

from skadv import AdversarialMFRecommender
from skadv.datasets import make_interactions
from skadv.model_selection import train_test_split_interactions
from skadv.plotting import RobustnessCurveDisplay

X = make_interactions(n_users=400, n_items=300, density=0.05, random_state=0)
X_train, X_test = train_test_split_interactions(X, test_size=0.2, random_state=0)
common = dict(n_factors=32, n_epochs=60, random_state=0)
models = {
    "BPR": AdversarialMFRecommender(adv_reg=0.0, reg=0.02, **common).fit(X_train),
    "APR": AdversarialMFRecommender(adv_reg=1.0, epsilon=0.3, **common).fit(X_train),
}
for name, model in models.items():
    print(f"{name}: clean NDCG@10 {model.score(X_test):.3f}")

# %%
# The attack perturbs every user and item row by ε along the gradient of the BPR loss
# (:class:`skadv.attacks.EmbeddingAttack`). An absolute ε is a length in embedding units, so
# it hurts a model with short rows more; a relative ε scales with each model's row norms and
# compares the models on equal terms. Dotted lines: clean NDCG@10.
fig, (ax_abs, ax_rel) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
RobustnessCurveDisplay.from_estimators(
    models,
    X_test,
    [0.0, 0.25, 0.5, 1.0, 2.0],
    epsilon_mode="absolute",
    random_state=0,
    ax=ax_abs,
)
display = RobustnessCurveDisplay.from_estimators(
    models,
    X_test,
    [0.0, 0.1, 0.2, 0.4, 0.8],
    epsilon_mode="relative",
    random_state=0,
    ax=ax_rel,
)
ax_abs.set_title("absolute ε")
ax_rel.set_title("relative ε")

# %%
# The same comparison as relative drops, ``(clean - attacked) / clean``. A small negative
# drop at a small ε is possible: the perturbation is computed against the training triples,
# and on held-out items it can move a few relevant items up.
RobustnessCurveDisplay.from_curves(display.curves, y="relative_drop")
plt.show()
