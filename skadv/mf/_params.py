"""Parameter constraints and cross-parameter checks of AdversarialMFRecommender."""

import numpy as np

from skadv.training import EPOCH_TRAINING_CONSTRAINTS, EPSILON_MODES, check_warmup
from skadv.utils._backend import BACKENDS
from skadv.utils._params import BOOL, NONE, Interval, Options
from skadv.utils._schedule import LR_SCHEDULES

__all__ = [
    "MAX_NEGATIVE_CANDIDATES",
    "MF_EPSILON_MODES",
    "PARAMETER_CONSTRAINTS",
    "check_training_options",
]

#: The ``epsilon_mode`` values of matrix factorization: the shared
#: :data:`skadv.training.EPSILON_MODES` and ``"vulnerability"`` (VAT: a radius per user from
#: its training loss, which only the MF trainers record; see ``skadv.mf._vulnerability``).
MF_EPSILON_MODES = (*EPSILON_MODES, "vulnerability")

#: The most candidate negatives per sample (``n_negative_candidates``): the compiled kernel
#: keeps a sample's candidates on the stack (``MAX_CANDIDATES`` in ``src_ext/_mf_sgd.pyx``).
MAX_NEGATIVE_CANDIDATES = 32

#: ``_parameter_constraints`` of :class:`~skadv.mf.AdversarialMFRecommender` (checked by
#: ``_validate_params`` in ``fit``: a ``ValueError`` naming the parameter). Real intervals
#: exclude inf and NaN.
PARAMETER_CONSTRAINTS = {
    **EPOCH_TRAINING_CONSTRAINTS,
    "n_factors": [Interval("int", 1, None)],
    "n_epochs": [Interval("int", 1, None)],
    "learning_rate": [Interval("real", 0, None, closed="neither")],
    "optimizer": [Options("adagrad", "sgd", "adam")],
    "lr_schedule": [Options(*LR_SCHEDULES)],
    "warmup_epochs": [Interval("int", 0, None)],
    "reg": [Interval("real", 0, None)],
    "adv_reg": [Interval("real", 0, None)],
    "epsilon": [Interval("real", 0, None)],
    "epsilon_mode": [Options(*MF_EPSILON_MODES)],
    "adversary": [Options("fgsm", "random", "none")],
    "adv_start": [Options("auto"), Interval("int", 0, None)],
    "suspect_weight": [Interval("real", 0, 1, closed="both")],
    "n_negative_candidates": [Interval("int", 1, MAX_NEGATIVE_CANDIDATES, closed="both")],
    "item_bias": [BOOL],
    "init_std": [Interval("real", 0, None, closed="neither")],
    "warm_start": [BOOL],
    "dtype": [Options(np.float32, np.float64, "float32", "float64")],
    "backend": [Options(*BACKENDS)],
    "batch_size": [NONE, Interval("int", 1, None)],
}


def check_training_options(model):
    """Errors of options of ``model`` that depend on each other or on its resolved
    ``backend_``, raised before any state changes."""
    check_warmup(model.warmup_epochs, model.n_epochs)
    if model.backend_ != "cython":
        return
    if model.batch_size not in (None, 1):
        raise ValueError(
            f"batch_size={model.batch_size!r}: backend='cython' updates one triple at a "
            "time; use batch_size=None (or 1), or backend='torch' for mini-batches."
        )
    if model.optimizer == "adam":
        chosen = " (backend='auto' chose it)" if model.backend == "auto" else ""
        raise ValueError(
            "optimizer='adam' needs backend='torch': the compiled 'cython' "
            f"kernel{chosen} implements 'adagrad' and 'sgd' only."
        )
