"""
Training curves: clean loss, adversarial loss, validation score
===============================================================

Every adversarially trained estimator records the clean loss of each epoch in
``loss_curve_``, the loss under the perturbation in ``adv_loss_curve_`` (NaN in the clean
pre-training epochs) and, with ``early_stopping=True``, the validation NDCG@10 in
``validation_scores_``. :class:`~skadv.plotting.TrainingCurveDisplay` draws them; the grey
line marks where adversarial training starts (``adv_start``).
"""

# %%
import matplotlib.pyplot as plt

from skadv import AdversarialMFRecommender
from skadv.datasets import make_interactions
from skadv.plotting import TrainingCurveDisplay

X = make_interactions(n_users=400, n_items=300, density=0.05, random_state=0)
apr = AdversarialMFRecommender(
    n_factors=32,
    n_epochs=80,
    adv_start=30,
    epsilon=0.3,
    early_stopping=True,
    n_iter_no_change=20,
    random_state=0,
).fit(X)
print(f"{apr.n_iter_} epochs, best validation NDCG@10 {apr.best_validation_score_:.3f}")
TrainingCurveDisplay.from_estimator(apr, name="APR")

# %%
# The objective of an adversarial epoch is ``loss + adv_reg * adversarial loss``: plotted as
# one number it jumps when adversarial training starts, which is not divergence. Two models
# on one pair of axes: plain BPR and APR with an absolute ε that is too large for the rows,
# whose clean loss stalls (the ``ConvergenceWarning`` of a collapse would say so).
fig, ax = plt.subplots()
bpr = AdversarialMFRecommender(n_factors=32, n_epochs=60, adv_reg=0.0, random_state=0).fit(X)
big = AdversarialMFRecommender(
    n_factors=32, n_epochs=60, epsilon=1.0, epsilon_mode="absolute", random_state=0
).fit(X)
TrainingCurveDisplay.from_estimator(bpr, name="BPR", ax=ax)
TrainingCurveDisplay.from_estimator(big, name="APR, absolute ε=1", ax=ax)
ax.legend()
plt.show()
