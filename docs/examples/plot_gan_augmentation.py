"""
GAN augmentation: training curves and generated profiles
=========================================================

:class:`~skadv.augmentation.CFGANRecommender` trains a generator of user profiles against a
discriminator (CFGAN, Chae et al. 2018) on the shared training core; its two losses are
recorded per epoch (``loss_curve_`` for the generator, ``discriminator_loss_curve_`` for the
discriminator). :class:`~skadv.GANAugmenter` uses the generator to top up users with few
interactions and to add synthetic users: the added rows are marked in ``sample_mask_``.

The figures compare the two players' losses, and the profile lengths and item popularity of
the real data with those of the augmented data. ``benchmarks/README.md`` reports what the
augmentation does to ranking quality on MovieLens (so far: it does not help there).
"""

# %%
import matplotlib.pyplot as plt
import numpy as np

from skadv import GANAugmenter
from skadv.augmentation import CFGANRecommender
from skadv.datasets import make_interactions
from skadv.plotting import InteractionDistributionDisplay, TrainingCurveDisplay

X = make_interactions(n_users=300, n_items=200, density=0.05, random_state=0)
gan = CFGANRecommender(generator_layers=(64,), discriminator_layers=(64,), n_epochs=30,
                       random_state=0)  # fmt: skip
gan.fit(X)
TrainingCurveDisplay.from_estimator(gan, name="CFGAN")
plt.show()

# %%
# Augment: users with fewer than 10 interactions get generated ones, and 30 synthetic users
# are added (ids above every real id, so they cannot collide). The topped-up users all end at
# about 10 interactions: the spike of the left panel, where the real lengths were spread below
# 10; the added rows also lift the popularity of the items the generator favours (right).
augmenter = GANAugmenter(gan, min_interactions=10, n_synthetic_users=30, random_state=0)
X_augmented, _ = augmenter.fit_resample(X)
print(
    f"{X.shape[0]} real rows, {int(augmenter.sample_mask_.sum())} added; "
    f"{len(augmenter.synthetic_user_ids_)} synthetic users, ids from "
    f"{int(np.min(augmenter.synthetic_user_ids_))}"
)
InteractionDistributionDisplay.from_interactions(X, X_augmented, labels=("real", "augmented"))
plt.show()
