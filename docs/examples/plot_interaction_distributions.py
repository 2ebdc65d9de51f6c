"""
Clean vs poisoned interactions: profile lengths and item popularity
===================================================================

Fake users injected to promote an item change the data's statistics. This example builds a
simple *average attack* by hand (skadv's poisoning attacks and detectors are not released
yet): 30 fake users each interact with one target item and with 40 items drawn by
popularity. :class:`~skadv.plotting.InteractionDistributionDisplay` compares the two sets, and
a BPR model trained on each shows what the attack buys: the target item's hit rate.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np

from skadv import AdversarialMFRecommender
from skadv.datasets import make_interactions
from skadv.plotting import InteractionDistributionDisplay

X = make_interactions(n_users=500, n_items=300, density=0.03, random_state=0)
items, counts = np.unique(X[:, 1], return_counts=True)
popularity = np.zeros(300)
popularity[items] = counts
target = int(np.argsort(popularity)[20])  # an unpopular item
print(f"target item {target}: {int(popularity[target])} real users")

rng = np.random.default_rng(0)
fake = []
for k in range(30):
    user = 10_000 + k  # ids that cannot collide with real users
    filler = rng.choice(300, size=40, replace=False, p=popularity / popularity.sum())
    fake += [(user, target)] + [(user, int(i)) for i in filler if i != target]
X_poisoned = np.vstack([X, np.array(fake)])


# %%
# The fake profiles all have about the same length (a spike in the left panel); their filler
# interactions lift the popularity curve (right panel), and the target item climbs the
# popularity ranking.
def popularity_rank(data, item):
    items, counts = np.unique(data[:, 1], return_counts=True)
    return int((counts > counts[items == item][0]).sum()) + 1


print(
    f"target's popularity rank: {popularity_rank(X, target)} (clean), "
    f"{popularity_rank(X_poisoned, target)} (poisoned)"
)
InteractionDistributionDisplay.from_interactions(X, X_poisoned, labels=("clean", "poisoned"))
plt.show()

# %%
# Hit rate of the target item in the top 10 of the real users who have not interacted with
# it, for a BPR model trained on each set.
real_users = np.unique(X[:, 0])
seen = set(X[X[:, 1] == target, 0].tolist())
audience = np.array([u for u in real_users if u not in seen])
for name, data in [("clean", X), ("poisoned", X_poisoned)]:
    model = AdversarialMFRecommender(
        n_factors=16, n_epochs=40, adv_reg=0.0, reg=0.02, random_state=0
    ).fit(data)
    top, _ = model.recommend(audience, n=10)
    print(f"{name}: target in the top 10 of {np.mean((top == target).any(axis=1)):.1%} of users")
