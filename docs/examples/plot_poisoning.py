"""
Poisoning: how far fake users push target items
===============================================

A shilling attack injects fake users whose profiles rate a few *target* items, hidden among
filler items, into the training data. Here BPR, APR, a popularity baseline and BPR behind a
fake-user filter are trained on poisoned copies of the same data, for bandwagon attacks of
growing size, and the targets' progress is plotted: their mean rank among the real users'
unseen items (how many places they gained) and their hit rate in the top 20 (T-HR@20).
:func:`skadv.evaluation.robustness_report` does the work: it poisons the training data only,
refits each model and compares it with the clean fit.
"""

# %%
# Data, models and attacks. Every attack of one size pushes the same 5 unpopular targets
# (drawn with the attack's seed) with 20 filler items per fake profile.
import matplotlib.pyplot as plt
from imblearn.pipeline import Pipeline

from skadv import AdversarialMFRecommender, PopularityRecommender
from skadv.attacks import BandwagonAttack
from skadv.datasets import make_interactions
from skadv.detection import FakeUserFilter, ShillingDetector
from skadv.metrics import robustness_report
from skadv.model_selection import train_test_split_interactions
from skadv.plotting import PoisoningCurveDisplay

X = make_interactions(n_users=500, n_items=300, density=0.04, random_state=0)
X_train, X_test = train_test_split_interactions(X, test_size=0.2, random_state=0)
common = dict(n_factors=32, n_epochs=60, random_state=0)
models = {
    "popularity": PopularityRecommender(),
    "BPR": AdversarialMFRecommender(adv_reg=0.0, reg=0.02, **common),
    "APR": AdversarialMFRecommender(adv_reg=1.0, epsilon=0.3, epsilon_mode="relative", **common),
    "BPR + FakeUserFilter": Pipeline(
        [
            ("filter", FakeUserFilter(ShillingDetector(random_state=0), random_state=0)),
            ("model", AdversarialMFRecommender(adv_reg=0.0, reg=0.02, **common)),
        ]
    ),
}
attacks = [
    BandwagonAttack(attack_size=size, filler_size=20, random_state=0)
    for size in (0.01, 0.03, 0.05, 0.1)
]
metrics = ["ndcg@10", "target_rank", "target_hr@20"]
reports = {
    name: robustness_report(model, X_train, X_test, attacks, metrics=metrics)
    for name, model in models.items()
}
bpr = reports["BPR"]
print(bpr.pivot_table(index="strength", columns="metric", values=["clean", "attacked"]).round(3))

# %%
# Left: the change of the targets' mean rank (negative: they moved up). Right: T-HR@20 of the
# poisoned models. Clean NDCG@10 barely moves under these attacks, which is why a poisoning
# evaluation must look at the targets, not at the average quality.
fig, (ax_rank, ax_hr) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
PoisoningCurveDisplay.from_reports(reports, metric="target_rank", y="change", ax=ax_rank)
PoisoningCurveDisplay.from_reports(reports, metric="target_hr@20", ax=ax_hr)
ax_rank.set_title("targets' mean rank: change")
ax_hr.set_title("T-HR@20 after the attack")

plt.show()
