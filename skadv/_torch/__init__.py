"""The shared torch layer: what every torch trainer and torch-backed model of skadv uses.

No model family owns it; the families (``skadv.mf``'s torch backend, ``skadv.neural``,
``skadv.augmentation``), the attacks and the device ranking of :mod:`skadv.base` import it.
Importing this package does not import torch (it holds torch-free names and the dispatch
that decides whether torch is needed); its modules do:

- ``skadv._torch.utils``: thread count, optimizers, module state <-> NumPy, row norms;
- ``skadv._torch.sampling``: (user, positive, negative) triples drawn on the device;
- ``skadv._torch.adversary``: FGM / PGD / FreeLB / random steps on embeddings;
- ``skadv._torch.precision``: autocast and the fp16 gradient scaler (``precision``);
- ``skadv._torch.distributed``: data-parallel steps over a ``torch.distributed`` group
  (``torchrun``): each rank's share of a batch, one gradient all-reduce per step;
- ``skadv._torch.ranker``: top-k of a dot-product model on its torch device;
- ``skadv._torch.mlp``: the MLP builder of every torch model;
- ``skadv._torch.numpy_twin`` (torch-free): the NumPy forward pass of those MLPs, so
  fitted models score and pickle without torch;
- ``skadv._torch.dispatch`` (torch-free): which device a fitted model ranks on.
"""

__all__ = ["OPTIMIZERS"]

#: Optimizers of the torch trainers (``optimizer`` parameter), by name.
OPTIMIZERS = ("adamw", "adam", "sgd", "adagrad")
