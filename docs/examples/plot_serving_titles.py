"""
Serve recommendations with titles
=================================

What a service needs from a fitted recommender, on MovieLens 100k when a local copy exists
(``$SKADV_ML100K`` or ``../shared/data/ml-100k`` next to the repository; never downloaded
here) and on synthetic data with made-up titles otherwise:

* top-n lists as a tidy DataFrame joined with the titles (``as_frame``, ``item_metadata``);
* candidates (only what is in stock) and filters (never what was already shown), with
  exactly ``n`` items per user;
* similar items (cosine of the item factors);
* a new user served from three interactions without retraining (read-only fold-in);
* the model saved with :mod:`skadv.io` and served in batch by ``python -m skadv recommend``.
"""

# %%
# Data and model. Every rating is a positive interaction; titles are a DataFrame indexed by
# item id: the ``item_metadata`` that serving joins.
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import skadv.io
from skadv import AdversarialMFRecommender
from skadv.datasets import load_movielens, make_interactions


def find_ml100k():
    """``$SKADV_ML100K``, else ``shared/data/ml-100k`` beside the repository (or None)."""
    if os.environ.get("SKADV_ML100K"):
        return Path(os.environ["SKADV_ML100K"])
    here = Path(globals().get("__file__", Path.cwd() / "x")).resolve()
    for parent in here.parents:
        folder = parent / "shared" / "data" / "ml-100k"
        if (folder / "u.data").is_file():
            return folder
    return None


folder = find_ml100k()
if folder is not None:
    data = load_movielens("100k", data_home=folder, download=False)
    X = data.interactions[["user", "item"]].to_numpy()
    titles = data.movies.set_index("item")[["title"]]
    source = "MovieLens 100k"
else:  # synthetic interactions, made-up titles
    X = make_interactions(n_users=600, n_items=400, density=0.05, random_state=0)
    items = np.unique(X[:, 1])
    titles = pd.DataFrame({"title": [f"Film no. {i}" for i in items]}, index=items)
    source = "synthetic data"

model = AdversarialMFRecommender(n_factors=32, n_epochs=30, reg=0.01, random_state=0).fit(X)
print(f"{source}: {model.n_users_} users, {model.n_items_} items")

# %%
# Top-5 for two users, with titles: one row per recommendation.
users = model.user_ids_[:2]
recs = model.recommend(users, n=5, as_frame=True, item_metadata=titles)
print(recs.to_string(index=False, float_format="{:.2f}".format))

# %%
# Candidates and filters. Only a catalogue of "in stock" items is ranked, and the items shown
# yesterday are never returned; each user still gets exactly 5 items (filters apply before
# the top-n is chosen, not after).
rng = np.random.default_rng(0)
in_stock = rng.choice(model.item_ids_, size=model.n_items_ // 3, replace=False)
shown = recs["item"].to_numpy()
fresh = model.recommend(users, n=5, items=in_stock, filter_items=shown, as_frame=True,
                        item_metadata=titles)  # fmt: skip
print(fresh.groupby("user").size().to_dict(), "items per user;",
      "in stock:", bool(fresh["item"].isin(in_stock).all()),
      "| shown again:", bool(fresh["item"].isin(shown).any()))  # fmt: skip

# %%
# Similar items: cosine of the item factors; the query is never its own neighbour.
query = model.item_ids_[np.argmax(model.item_popularity_)]  # the most popular item
similar = model.similar_items([query], n=8, as_frame=True)
similar["title"] = titles.loc[similar["similar_item"], "title"].to_numpy()
print("most similar to", titles.loc[query, "title"])
print(similar[["rank", "title", "score"]].to_string(index=False, float_format="{:.2f}".format))

fig, ax = plt.subplots(figsize=(6, 3.2), layout="constrained")
ax.barh(similar["title"][::-1], similar["score"][::-1])
ax.set_xlabel("cosine similarity")
ax.set_title(f"Nearest items to {titles.loc[query, 'title']}")

# %%
# A new user, served from three interactions without retraining: the user's vector is
# solved with the item factors fixed, and the model is left exactly as it was.
liked = similar["similar_item"].to_numpy()[:3]
before = model.item_factors_.copy()
new_users, items, scores = model.recommend_new_users([["newcomer", i] for i in liked], n=5)
print("newcomer liked:", "; ".join(titles.loc[liked, "title"]))
print("recommended:  ", "; ".join(titles.loc[items[0], "title"]))
print("model unchanged:", bool(np.array_equal(before, model.item_factors_)))

# %%
# Save the model with :mod:`skadv.io` (skops format: loading runs no code, and the trusted
# types are computed from skadv) and serve a file of users from the command line, written
# in blocks. The same as ``python -m skadv recommend --model model.skops --users users.txt
# --n 10 --out recs.csv`` in a shell.
from skadv.__main__ import main  # noqa: E402

with tempfile.TemporaryDirectory() as tmp:
    tmp = Path(tmp)
    skadv.io.dump(model, tmp / "model.skops")
    (tmp / "users.txt").write_text("\n".join(map(str, model.user_ids_[:50])))
    main(["recommend", "--model", str(tmp / "model.skops"), "--users", str(tmp / "users.txt"),
          "--n", "10", "--out", str(tmp / "recs.csv")])  # fmt: skip
    served = pd.read_csv(tmp / "recs.csv")
print(served.shape, "- equal to the in-process call:",
      bool((served["item"].to_numpy() == model.recommend(model.user_ids_[:50], n=10)[0].ravel())
           .all()))  # fmt: skip
