"""
Detecting shilling attacks: ROC and precision-recall curves
===========================================================

A random shilling attack adds fake users (5 % of the real ones) who all interact with the
same five unpopular target items plus random fillers. Two detectors score every user of
the poisoned data without seeing which users are fake: the supervised
:class:`~skadv.detection.ShillingDetector` (a classifier over profile features, trained on
fake profiles it generates itself) and the unsupervised
:class:`~skadv.detection.PCADetector` (principal components of the z-scored user × item
matrix). Their scores are then compared with the truth.
"""

# %%
# Poison synthetic data, fit both detectors. Neither gets the attack's labels: the
# supervised one generates its own batch (other targets, another seed), so the fakes it
# is scored on are never its training positives.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import PrecisionRecallDisplay, RocCurveDisplay

from skadv.attacks import RandomAttack
from skadv.datasets import make_interactions
from skadv.detection import PCADetector, ShillingDetector
from skadv.metrics import detection_scores

X = make_interactions(n_users=300, n_items=200, random_state=0)
attack = RandomAttack(attack_size=0.05, filler_size=10, random_state=1)
X_poisoned, _ = attack.fit_resample(X)
detectors = {
    "supervised": ShillingDetector(RandomAttack(attack_size=0.1, filler_size=10), random_state=0),
    "PCA": PCADetector(random_state=0),
}
for name, detector in detectors.items():
    detector.fit(X_poisoned)
    scores = detection_scores(detector, X_poisoned, attack.fake_user_ids_)
    print(f"{name}: F1 {scores['f1']:.2f}, ROC-AUC {scores['roc_auc']:.2f}, "
          f"{scores['n_flagged']} flagged of {scores['n_users']} users")  # fmt: skip

# %%
# ROC and precision-recall curves of ``decision_function`` (> 0: flagged). The marker is
# each detector's operating point, the cut its ``threshold="auto"`` rule chose.
fig, (ax_roc, ax_pr) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
for name, detector in detectors.items():
    users = detector.user_ids_
    is_fake = np.isin(users, attack.fake_user_ids_)
    score = detector.decision_function(users)
    roc = RocCurveDisplay.from_predictions(is_fake, score, name=name, ax=ax_roc)
    pr = PrecisionRecallDisplay.from_predictions(is_fake, score, name=name, ax=ax_pr)
    flagged = score > 0
    tpr, fpr = flagged[is_fake].mean(), flagged[~is_fake].mean()
    precision = is_fake[flagged].mean() if flagged.any() else 1.0
    ax_roc.plot(fpr, tpr, "o", color=roc.line_.get_color())
    ax_pr.plot(tpr, precision, "o", color=pr.line_.get_color())
ax_roc.set_title("ROC")
ax_pr.set_title("precision-recall")

# %%
# Both rankings are good (ROC-AUC 0.88 and 1.00), the automatic cuts less so on this
# small synthetic data, whose real profiles are a few items long: the supervised cut,
# chosen by cross-validated F1 on its own training mix, flags nobody here, and the PCA cut
# flags 26 users for 15 fakes. When the share of fakes is known, ``contamination=0.05``
# flags that share instead. On ml-100k, with ratings, both reach F1 above 0.9 on random and
# average attacks at 5 % (``benchmarks/bench_detection.py``).
