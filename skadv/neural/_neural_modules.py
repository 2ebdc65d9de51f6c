"""Torch modules of :class:`~skadv.neural.AdversarialNeuralRecommender` (imported by ``fit``).

Both architectures expose the same small interface to the estimator:

``embed(users, pos, neg)``
    The id-embedding rows of a batch (what the adversary perturbs), as a tuple.
``loss(batch, embeddings)``
    Weighted sum of the task losses: BPR for ``"click"``, squared error of the predicted
    weight (rating) of the positive pair for ``"rating"``.
``score(users, items)`` / ``rating(users, items)``
    Click score and predicted rating of (user, item) pairs (unperturbed, in eval mode).

Only training runs these modules. A fitted estimator scores with the NumPy forward pass of
``_neural.py``, which reads the same ``state_dict`` names and mirrors these layers: a change
of architecture here needs the same change there (the tests compare the two through
``score`` and ``rating``).
"""

import torch
import torch.nn.functional as F
from torch import nn

from skadv._torch.mlp import mlp

__all__ = ["NeuMF", "TwoTower", "build_module"]


class _Base(nn.Module):
    def __init__(self, config, user_features, item_features):
        super().__init__()
        self.config = config
        self.tasks = tuple(config["tasks"])
        self.task_weights = tuple(config["task_weights"])
        # Side features are constant inputs: buffers, so they follow .to(device).
        self.register_buffer("user_features", torch.as_tensor(user_features))
        self.register_buffer("item_features", torch.as_tensor(item_features))

    def _embedding(self, n, k):
        emb = nn.Embedding(n, k)
        nn.init.normal_(emb.weight, std=self.config["init_std"])
        return emb

    def loss(self, batch, embeddings):
        total = 0.0
        for task, weight in zip(self.tasks, self.task_weights, strict=True):
            if task == "click":
                x = self._score(batch["users"], batch["pos"], embeddings, positive=True)
                x = x - self._score(batch["users"], batch["neg"], embeddings, positive=False)
                total = total + weight * F.softplus(-x).mean()
            else:
                pred = self._rating(batch["users"], batch["pos"], embeddings)
                total = total + weight * F.mse_loss(pred, batch["weight"])
        return total


class TwoTower(_Base):
    """User and item towers (id embedding + features -> MLP); score = dot product + item bias.

    With no hidden layer and no feature the towers are the identity: matrix factorization.
    """

    def __init__(self, config, user_features, item_features):
        super().__init__(config, user_features, item_features)
        k = config["n_factors"]
        self.user_emb = self._embedding(config["n_users"], k)
        self.item_emb = self._embedding(config["n_items"], k)
        self.item_bias = nn.Parameter(torch.zeros(config["n_items"]))
        layers, drop, act = config["hidden_layers"], config["dropout"], config["activation"]
        n_uf, n_if = self.user_features.shape[1], self.item_features.shape[1]
        self.user_tower = mlp(k + n_uf, layers, k, act, drop) if layers or n_uf else None
        self.item_tower = mlp(k + n_if, layers, k, act, drop) if layers or n_if else None
        if "rating" in self.tasks:
            self.rating_head = nn.Linear(k, 1)
            nn.init.zeros_(self.rating_head.weight)
            nn.init.constant_(self.rating_head.bias, config["rating_mean"])

    def embed(self, users, pos, neg):
        return self.user_emb(users), self.item_emb(pos), self.item_emb(neg)

    def user_vectors(self, users, emb=None):
        emb = self.user_emb(users) if emb is None else emb
        if self.user_tower is None:
            return emb
        return self.user_tower(torch.cat([emb, self.user_features[users]], dim=1))

    def item_vectors(self, items, emb=None):
        emb = self.item_emb(items) if emb is None else emb
        if self.item_tower is None:
            return emb
        return self.item_tower(torch.cat([emb, self.item_features[items]], dim=1))

    def _score(self, users, items, embeddings, positive):
        u_emb, pos_emb, neg_emb = embeddings
        zu = self.user_vectors(users, u_emb)
        zi = self.item_vectors(items, pos_emb if positive else neg_emb)
        return (zu * zi).sum(dim=1) + self.item_bias[items]

    def _rating(self, users, items, embeddings):
        zu = self.user_vectors(users, embeddings[0])
        zi = self.item_vectors(items, embeddings[1])
        return self.rating_head(zu * zi).squeeze(1)

    def score(self, users, items):
        return (self.user_vectors(users) * self.item_vectors(items)).sum(dim=1) + self.item_bias[
            items
        ]

    def rating(self, users, items):
        return self._rating(users, items, (self.user_emb(users), self.item_emb(items)))


class NeuMF(_Base):
    """NeuMF (He et al., 2017): generalized MF and an MLP over concatenated embeddings.

    The heads (click score and rating) read ``[p_u * q_i, MLP([p'_u, q'_i, features])]``.
    """

    def __init__(self, config, user_features, item_features):
        super().__init__(config, user_features, item_features)
        k = config["n_factors"]
        n, m = config["n_users"], config["n_items"]
        self.gmf_user, self.gmf_item = self._embedding(n, k), self._embedding(m, k)
        self.mlp_user, self.mlp_item = self._embedding(n, k), self._embedding(m, k)
        layers = config["hidden_layers"]
        n_in = 2 * k + self.user_features.shape[1] + self.item_features.shape[1]
        self.mlp = mlp(n_in, layers, None, config["activation"], config["dropout"])
        n_head = k + (layers[-1] if layers else n_in)
        self.click_head = nn.Linear(n_head, 1)
        if "rating" in self.tasks:
            self.rating_head = nn.Linear(n_head, 1)
            nn.init.zeros_(self.rating_head.weight)
            nn.init.constant_(self.rating_head.bias, config["rating_mean"])

    def embed(self, users, pos, neg):
        return (self.gmf_user(users), self.gmf_item(pos), self.gmf_item(neg),
                self.mlp_user(users), self.mlp_item(pos), self.mlp_item(neg))  # fmt: skip

    def _hidden(self, users, items, gu, gi, mu, mi):
        parts = [mu, mi]
        if self.user_features.shape[1]:
            parts.append(self.user_features[users])
        if self.item_features.shape[1]:
            parts.append(self.item_features[items])
        return torch.cat([gu * gi, self.mlp(torch.cat(parts, dim=1))], dim=1)

    def _pick(self, embeddings, positive):
        gu, gi, gj, mu, mi, mj = embeddings
        return (gu, gi, mu, mi) if positive else (gu, gj, mu, mj)

    def _score(self, users, items, embeddings, positive):
        h = self._hidden(users, items, *self._pick(embeddings, positive))
        return self.click_head(h).squeeze(1)

    def _rating(self, users, items, embeddings):
        h = self._hidden(users, items, *self._pick(embeddings, True))
        return self.rating_head(h).squeeze(1)

    def _plain(self, users, items):
        return (self.gmf_user(users), self.gmf_item(items), self.gmf_item(items),
                self.mlp_user(users), self.mlp_item(items), self.mlp_item(items))  # fmt: skip

    def score(self, users, items):
        return self._score(users, items, self._plain(users, items), positive=True)

    def rating(self, users, items):
        return self._rating(users, items, self._plain(users, items))


def build_module(config, user_features, item_features):
    """The module named by ``config["architecture"]``."""
    cls = {"two-tower": TwoTower, "neumf": NeuMF}[config["architecture"]]
    return cls(config, user_features, item_features)
