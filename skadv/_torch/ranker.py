"""Top-k of a fitted dot-product model, scored on the torch device it was trained on."""

import numpy as np
import torch

__all__ = ["DotProductRanker"]


class DotProductRanker:
    """Top-k of a fitted dot-product model's users, scored on a torch device.

    The arrays of ``model.factors()`` are copied to ``device`` once; each call scores a block of
    users there, excludes their seen items, and moves only the top-``n`` indices and scores
    back: what ``recommend`` uses for a model trained on a GPU. Results follow the compiled
    kernel's order (score descending, ties by the lower item index; excluded items last, at
    ``-inf``), in the factors' dtype.
    """

    def __init__(self, model, device):
        self.device = torch.device(device)
        user, item, bias = model.factors()
        self.P = torch.from_numpy(np.ascontiguousarray(user)).to(self.device)
        self.Q = torch.from_numpy(np.ascontiguousarray(item)).to(self.device)
        self.bias = None if bias is None else torch.from_numpy(
            np.asarray(bias, dtype=item.dtype)).to(self.device)  # fmt: skip
        # The row of users not seen in fit (the scoring protocol's code -1).
        self.unknown_row = torch.from_numpy(
            model.score_users(np.array([-1]))[0].astype(item.dtype)).to(self.device)  # fmt: skip

    def top_k(self, user_codes, n, exclude=None):
        """``(indices, scores)`` as NumPy arrays of shape (len(user_codes), n); code -1 rows
        are scored as ``model.score_users([-1])``; ``exclude``: CSR rows of items to leave out."""
        with torch.no_grad():
            codes = torch.from_numpy(np.asarray(user_codes, dtype=np.int64)).to(self.device)
            known = codes >= 0
            scores = self.P.index_select(0, codes.clamp(min=0)) @ self.Q.T
            if self.bias is not None:
                scores += self.bias
            scores[~known] = self.unknown_row
            excluded = torch.zeros(scores.shape, dtype=torch.bool, device=self.device)
            if exclude is not None and exclude.nnz:
                exclude = exclude.tocsr()
                rows = np.repeat(np.arange(exclude.shape[0]), np.diff(exclude.indptr))
                cols = exclude.indices.astype(np.int64)
                excluded[torch.from_numpy(rows).to(self.device),
                         torch.from_numpy(cols).to(self.device)] = True  # fmt: skip
            # Candidates by score descending (a stable sort keeps the lower index first among
            # equals, as the compiled kernel does), then the excluded items by index.
            key = scores.masked_fill(excluded, -torch.inf)
            order = torch.sort(key, dim=1, descending=True, stable=True).indices
            flags = excluded.gather(1, order).to(torch.int8)
            order = order.gather(1, torch.argsort(flags, dim=1, stable=True))[:, :n]
            values = key.gather(1, order)
            return order.cpu().numpy(), values.cpu().numpy()
