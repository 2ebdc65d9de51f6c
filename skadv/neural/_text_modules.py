"""Torch module of :class:`~skadv.neural.AdversarialTextRecommender` (imported by ``fit``).

Item tower: a BERT-style encoder over the item's text, mean-pooled, then a linear projection
to ``n_factors``. User tower: an id embedding, the mean of the (cached) item vectors of the
user's training items, or their sum. Score: dot product.
"""

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from skadv.neural._encoders import embed_tokens, encode_embeds

__all__ = ["TextTwoTower"]

#: Texts per forward pass when the whole catalogue is encoded (no gradient).
_ENCODE_BATCH = 256


class TextTwoTower(nn.Module):
    """Encoder + projection for items, id embedding and/or history for users.

    Parameters
    ----------
    encoder : transformers.PreTrainedModel
    config : dict
        ``n_users``, ``n_items``, ``n_factors``, ``user_tower``, ``init_std``.
    tokens : dict of str to Tensor
        ``input_ids``/``attention_mask`` (and ``token_type_ids``) of every catalogue item,
        padded to a common length: kept as buffers, so they follow ``.to(device)``.
    history : scipy.sparse.csr_matrix of shape (n_users, n_items)
        Row-normalized training interactions (history pooling); ignored for ``"id"``.
    """

    def __init__(self, encoder, config, tokens, history):
        super().__init__()
        self.encoder = encoder
        self.config = config
        k = config["n_factors"]
        self.proj = nn.Linear(encoder.config.hidden_size, k)
        self.user_tower = config["user_tower"]
        if self.user_tower in ("id", "both"):
            self.user_emb = nn.Embedding(config["n_users"], k)
            nn.init.normal_(self.user_emb.weight, std=config["init_std"])
        for key, value in tokens.items():
            self.register_buffer(key, value, persistent=False)
        self._token_keys = tuple(tokens)
        self.history = history
        # Mean of the users' history item vectors, refreshed once per epoch (no gradient).
        self.register_buffer(
            "history_vectors", torch.zeros(config["n_users"], k), persistent=False
        )

    # ---------------------------------------------------------------- batches
    def batch_tokens(self, items):
        """Token tensors of ``items``, trimmed to their longest text."""
        tokens = {key: getattr(self, key).index_select(0, items) for key in self._token_keys}
        length = int(tokens["attention_mask"].sum(dim=1).max())
        return {key: value[:, :length] for key, value in tokens.items()}

    def token_embeddings(self, tokens):
        return embed_tokens(self.encoder, tokens["input_ids"])

    def item_vectors_from(self, embeds, tokens):
        pooled = encode_embeds(
            self.encoder, embeds, tokens["attention_mask"], tokens.get("token_type_ids")
        )
        return self.proj(pooled)

    def user_vectors(self, users):
        if self.user_tower == "id":
            return self.user_emb(users)
        hist = self.history_vectors.index_select(0, users)
        return hist if self.user_tower == "history" else self.user_emb(users) + hist

    def bpr_loss(self, batch, embeds):
        items = self.item_vectors_from(embeds, batch["tokens"])
        zu = self.user_vectors(batch["users"])
        x = (zu * (items[batch["inv_pos"]] - items[batch["inv_neg"]])).sum(dim=1)
        return F.softplus(-x).mean()

    # ---------------------------------------------------------------- whole tables
    @torch.no_grad()
    def all_item_vectors(self):
        n = self.input_ids.shape[0]
        out = []
        for start in range(0, n, _ENCODE_BATCH):
            stop = min(n, start + _ENCODE_BATCH)
            items = torch.arange(start, stop, device=self.input_ids.device)
            tokens = self.batch_tokens(items)
            out.append(self.item_vectors_from(self.token_embeddings(tokens), tokens))
        return torch.cat(out) if out else self.proj.weight.new_zeros((0, self.proj.out_features))

    @torch.no_grad()
    def refresh_history(self, item_vectors=None):
        """Recompute the users' mean history vectors from the current item vectors."""
        if self.user_tower == "id":
            return
        if item_vectors is None:
            was_training = self.training
            self.eval()
            item_vectors = self.all_item_vectors()
            self.train(was_training)
        pooled = self.history @ item_vectors.cpu().numpy().astype(np.float64)
        self.history_vectors.copy_(torch.as_tensor(pooled, dtype=self.history_vectors.dtype))

    @torch.no_grad()
    def all_user_vectors(self):
        users = torch.arange(self.config["n_users"], device=self.history_vectors.device)
        return self.user_vectors(users)
