"""Torch module of :class:`~skadv.neural.AdversarialTextRecommender` (imported by ``fit``).

Item tower: a BERT-style encoder over the item's text, mean-pooled (the *text vector*), then a
linear projection to ``n_factors``, plus an optional item id embedding. User tower: an id
embedding, the mean of the (cached) item vectors of the user's training items, or their sum.
Score: dot product. With a frozen encoder the text vectors are computed once and kept in a
buffer (``text_cache``): a training step then never runs the encoder.
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
    """Encoder + projection (+ id embedding) for items, id embedding and/or history for users.

    Parameters
    ----------
    encoder : transformers.PreTrainedModel
    config : dict
        ``n_users``, ``n_items``, ``n_factors``, ``user_tower``, ``init_std``,
        ``item_id_embedding`` (bool) and ``cache_text`` (bool: the encoder is frozen and
        its text vectors are computed once, by :meth:`ensure_text_cache`).
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
        self.item_emb = None
        if config["item_id_embedding"]:
            self.item_emb = nn.Embedding(config["n_items"], k)
            nn.init.normal_(self.item_emb.weight, std=config["init_std"])
        self.cache_text = config["cache_text"]
        for key, value in tokens.items():
            self.register_buffer(key, value, persistent=False)
        self._token_keys = tuple(tokens)
        self.text_cache = None
        # item_cache_steps: the catalogue's text vectors, up to that many steps old.
        self.stale_cache, self.steps_since_refresh = None, 0
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

    def text_from_embeds(self, embeds, tokens):
        """Mean-pooled encoder output of (possibly perturbed) token embeddings."""
        return encode_embeds(
            self.encoder, embeds, tokens["attention_mask"], tokens.get("token_type_ids"),
            self.config.get("pooling", "mean"),
        )  # fmt: skip

    def text_vectors(self, items, tokens=None, fresh=None):
        """Text vectors of ``items``: from the cache, else by running the encoder.

        ``fresh``: positions in ``items`` of the items to encode (``tokens`` are theirs),
        the others read from the stale cache (``item_cache_steps``); None encodes all."""
        if self.cache_text:
            self.ensure_text_cache()
            return self.text_cache.index_select(0, items)
        if fresh is not None:
            return self._fresh_and_stale(items, tokens, fresh)
        if tokens is None:
            tokens = self.batch_tokens(items)
        return self.text_from_embeds(self.token_embeddings(tokens), tokens)

    def _fresh_and_stale(self, items, tokens, fresh):
        if self.stale_cache is None:
            with torch.no_grad():
                self.stale_cache = self._encode_catalogue()
        encoded = self.text_from_embeds(self.token_embeddings(tokens), tokens)
        # The encoded rows refresh their cache entries for free (no gradient kept).
        self.stale_cache.index_copy_(0, items.index_select(0, fresh), encoded.detach().float())
        stale = self.stale_cache.index_select(0, items)
        return stale.index_put((fresh,), encoded.to(stale.dtype))

    def count_step(self, every):
        """After an optimizer step: drop the stale cache every ``every`` steps."""
        self.steps_since_refresh += 1
        if self.steps_since_refresh >= every:
            self.stale_cache, self.steps_since_refresh = None, 0

    def item_vectors_from_text(self, text, items, keep_id=None):
        """``proj(text)``, plus the id embedding of ``items`` when there is one.

        ``keep_id``: a 0/1 float per item (id dropout: 0 scores the item from its text
        alone, as a cold item), or None to keep every id embedding."""
        vectors = self.proj(text)
        if self.item_emb is None:
            return vectors
        ids = self.item_emb(items)
        return vectors + (ids if keep_id is None else ids * keep_id.unsqueeze(1))

    def user_vectors(self, users):
        if self.user_tower == "id":
            return self.user_emb(users)
        hist = self.history_vectors.index_select(0, users)
        return hist if self.user_tower == "history" else self.user_emb(users) + hist

    @staticmethod
    def bpr(user_vectors, item_vectors, batch):
        """BPR loss of a batch given its users' vectors and its distinct items' vectors."""
        x = (user_vectors * (item_vectors[batch["inv_pos"]]
                             - item_vectors[batch["inv_neg"]])).sum(dim=1)  # fmt: skip
        return F.softplus(-x).mean()

    # ---------------------------------------------------------------- whole tables
    @torch.no_grad()
    def ensure_text_cache(self):
        """Encode the whole catalogue once (frozen encoder only; dropout off)."""
        if self.text_cache is not None:
            return
        self.text_cache = self._encode_catalogue()

    @torch.no_grad()
    def _encode_catalogue(self):
        """Text vectors of every item, dropout off, float32 whatever the autocast."""
        was_training = self.encoder.training
        self.encoder.eval()
        n = self.input_ids.shape[0]
        out = []
        for start in range(0, n, _ENCODE_BATCH):
            stop = min(n, start + _ENCODE_BATCH)
            items = torch.arange(start, stop, device=self.input_ids.device)
            tokens = self.batch_tokens(items)
            out.append(self.text_from_embeds(self.token_embeddings(tokens), tokens))
        self.encoder.train(was_training)
        hidden = self.encoder.config.hidden_size
        return torch.cat(out).float() if out else self.proj.weight.new_zeros((0, hidden))

    @torch.no_grad()
    def all_item_vectors(self):
        n = self.input_ids.shape[0]
        out = []
        for start in range(0, n, _ENCODE_BATCH):
            stop = min(n, start + _ENCODE_BATCH)
            items = torch.arange(start, stop, device=self.input_ids.device)
            out.append(self.item_vectors_from_text(self.text_vectors(items), items))
        return torch.cat(out) if out else self.proj.weight.new_zeros((0, self.proj.out_features))

    @torch.no_grad()
    def all_item_id_vectors(self):
        """The id part of every item vector (zeros without an item id embedding)."""
        if self.item_emb is None:
            n = self.input_ids.shape[0]
            return self.proj.weight.new_zeros((n, self.proj.out_features))
        return self.item_emb.weight.detach().clone()

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
