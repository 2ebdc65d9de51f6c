"""Mixed precision of the torch trainers: autocast and the fp16 gradient scaler.

``precision="fp32"`` (the default) runs nothing of this: no autocast context, no scaler,
bitwise the computation of a plain float32 loop. ``"bf16"`` runs the forward passes under
:func:`torch.autocast` in bfloat16 (parameters, gradients and optimizer state stay float32;
no scaler: bfloat16 has float32's range). ``"fp16"`` adds a
:class:`torch.amp.GradScaler`: the loss is multiplied by its scale before each backward
pass, the gradients unscaled before clipping, and a step with an overflowing gradient
skipped (the scale then halves). The adversaries' perturbation norms are computed in
float32 whatever the precision (:mod:`skadv._torch.adversary`): the gradients they
normalize reach the embeddings, which stay float32 here.
"""

import contextlib

import torch

__all__ = ["PRECISIONS", "Precision"]

PRECISIONS = ("fp32", "bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class Precision:
    """Autocast context and loss scaling of one fit.

    Parameters
    ----------
    precision : {"fp32", "bf16", "fp16"}
    device : torch.device

    Examples
    --------
    >>> p = Precision("bf16", torch.device("cpu"))
    >>> with p.autocast():
    ...     (torch.ones(2, 2) @ torch.ones(2, 2)).dtype
    torch.bfloat16
    >>> Precision("fp32", torch.device("cpu")).scale
    1.0
    """

    def __init__(self, precision, device):
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}.")
        self.precision = precision
        self.device = device
        self.scaler = None
        if precision == "fp16":
            self.scaler = torch.amp.GradScaler(device.type)
            # The scaler creates its scale on first use; unscale_ needs it to exist.
            self.scaler.scale(torch.ones((), device=device))

    def autocast(self):
        """The forward-pass context: autocast in bf16/fp16, nothing in fp32."""
        if self.precision == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=_DTYPES[self.precision])

    @property
    def scale(self):
        """The factor the loss is multiplied by before backward (1.0 without a scaler)."""
        return 1.0 if self.scaler is None else float(self.scaler.get_scale())

    def unscale(self, optimizer):
        """Divide the gradients by the scale (before clipping); no-op without a scaler."""
        if self.scaler is not None:
            self.scaler.unscale_(optimizer)

    def step(self, optimizer):
        """``optimizer.step()``, skipped by the scaler when a gradient overflowed."""
        if self.scaler is None:
            optimizer.step()
            return
        self.scaler.step(optimizer)
        self.scaler.update()
