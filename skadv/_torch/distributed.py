"""Data-parallel training over a ``torch.distributed`` process group (``torchrun``).

Every rank draws the same global batch (same seed, same generator: sampling is cheap next to
the model) and trains on its own share of it; the gradients of the share are averaged across
ranks once per optimizer step, before clipping. This is what
:class:`~torch.nn.parallel.DistributedDataParallel` computes, with one all-reduce per step
however many backward passes the step takes (an adversarial step takes two or more, gradient
accumulation more again; DDP would need ``no_sync`` around all but the last). Every rank holds
the same parameters after every step, so the fitted model of every rank is the one a
single process would fit on the same global batches with ``accumulate_steps`` times the
world size micro-batches (equal within float rounding; dropout draws differ).

Outside a process group (the usual case) :func:`world` is ``(0, 1)`` and nothing here runs.
"""

import torch

__all__ = ["all_reduce_gradients", "all_reduce_sum", "batch_parts", "world"]


def world():
    """``(rank, world_size)`` of the current process group, ``(0, 1)`` without one.

    Examples
    --------
    >>> world()
    (0, 1)
    """
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def batch_parts(batch, accumulate_steps, rank=0, world_size=1):
    """This rank's micro-batches of a global batch, each with its share of the loss.

    The global batch is cut into ``accumulate_steps * world_size`` consecutive parts of
    (nearly) equal size; rank ``r`` takes parts ``r * accumulate_steps`` to ``(r + 1) *
    accumulate_steps - 1``. The weight of a part is its share of the batch times
    ``world_size`` (the all-reduce divides by it), so that the summed, averaged gradient is
    the gradient of the mean loss over the whole batch.

    Parameters
    ----------
    batch : dict of str to Tensor
        Tensors of equal first dimension (``users``, ``pos``, ``neg``, ``weight``).
    accumulate_steps, rank, world_size : int

    Returns
    -------
    list of (dict, float)
        With one part in all (the plain case) the batch itself and weight 1.0.

    Examples
    --------
    >>> batch = {"users": torch.arange(5)}
    >>> [(p["users"].tolist(), w) for p, w in batch_parts(batch, 2)]
    [([0, 1, 2], 0.6), ([3, 4], 0.4)]
    >>> [(p["users"].tolist(), w) for p, w in batch_parts(batch, 1, rank=1, world_size=2)]
    [([3, 4], 0.8)]
    """
    n_parts = accumulate_steps * world_size
    if n_parts == 1:
        return [(batch, 1.0)]
    total = next(iter(batch.values())).shape[0]
    bounds = [total - (((n_parts - k) * total) // n_parts) for k in range(n_parts + 1)]
    parts = []
    for k in range(rank * accumulate_steps, (rank + 1) * accumulate_steps):
        start, stop = bounds[k], bounds[k + 1]
        if stop > start:
            part = {key: value[start:stop] for key, value in batch.items()}
            parts.append((part, (stop - start) * world_size / total))
    return parts


def all_reduce_gradients(params, world_size):
    """Average the gradients of ``params`` across ranks, in place (one flat all-reduce).

    A parameter without a gradient on this rank contributes zeros (another rank's share
    may have reached it); one that no rank reached keeps no gradient (the optimizer skips
    it, as in a single process). Every rank ends with the same ``.grad`` for every
    parameter.
    """
    if world_size == 1 or not params:
        return
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    reached = [float(p.grad is not None) for p in params]
    flat = torch.cat(
        [g.reshape(-1).to(torch.float32) for g in grads]
        + [torch.tensor(reached, dtype=torch.float32, device=grads[0].device)]
    )
    torch.distributed.all_reduce(flat)
    flat /= world_size
    offset = 0
    for p, g in zip(params, grads, strict=True):
        n = g.numel()
        p.grad = flat[offset : offset + n].view_as(g).to(g.dtype)
        offset += n
    for p, flag in zip(params, flat[offset:].tolist(), strict=True):
        if flag == 0.0:
            p.grad = None


def all_reduce_sum(values, world_size):
    """Floats summed over the ranks (float64), e.g. an epoch's summed losses."""
    if world_size == 1:
        return list(values)
    tensor = torch.tensor(list(values), dtype=torch.float64)
    torch.distributed.all_reduce(tensor)
    return tensor.tolist()
