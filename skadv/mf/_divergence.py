"""Finite blow-ups of a matrix-factorization fit: errors and warnings from the loss curves.

The trainers raise when the loss or the factors stop being finite
(:func:`skadv.training.check_finite`). Runaway steps can leave everything finite and still
useless: plain SGD with ``learning_rate=0.5`` ended an ml-like fit at a mean BPR loss of
2.5e19, AdaGrad with ``learning_rate=1e6`` at 4e11, and an absolute ``epsilon=1e6`` keeps the
clean loss low while the loss under the perturbation reaches 1e10 (measured in
NOTES-kernel.md). The per-sample BPR loss is ``log 2 = 0.693`` for constant scores, so these
thresholds leave ordinary fits far behind.
"""

import math
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

__all__ = ["DIVERGED_LOSS", "DOMINANT_ADV_LOSS", "check_loss_curves"]

#: Mean clean BPR loss per sample above which a fit is diverged: an average score margin of
#: about -1e4 between the positives and the negatives it was trained to rank below them.
DIVERGED_LOSS = 1e4

#: Mean BPR loss per sample under the perturbation above which the adversary dominates: the
#: perturbation flips every margin by about 100 (epsilon far larger than the rows).
DOMINANT_ADV_LOSS = 100.0


def check_loss_curves(loss_curve, adv_loss_curve, *, epsilon, epsilon_mode, hint,
                      stacklevel=4):  # fmt: skip
    """Raise or warn on a runaway fit, from its per-epoch mean losses.

    Raises ``ValueError`` (naming ``learning_rate`` through ``hint``) at the first epoch
    whose mean clean loss exceeds :data:`DIVERGED_LOSS`, or whose loss under the
    perturbation is not finite (naming ``epsilon``). Warns (``ConvergenceWarning``) when the
    loss under the perturbation exceeds :data:`DOMINANT_ADV_LOSS`, and when the last
    epoch's clean loss is above both ``2 log 2`` and the first epoch's (training made the
    ranking worse than it was).

    Examples
    --------
    >>> check_loss_curves([0.6, 0.4], [np.nan, 0.5], epsilon=0.1, epsilon_mode="relative",
    ...                   hint="Lower learning_rate.")
    >>> check_loss_curves([0.6, 3e19], [np.nan, np.nan], epsilon=0.1,
    ...                   epsilon_mode="relative", hint="Lower learning_rate.")
    Traceback (most recent call last):
    ...
    ValueError: Training diverged in epoch 2: the mean BPR loss per sample is 3e+19 ...
    """
    clean = np.asarray(loss_curve, dtype=np.float64)
    adv = np.asarray(adv_loss_curve, dtype=np.float64)
    for epoch, value in enumerate(clean):
        if value > DIVERGED_LOSS:
            raise ValueError(
                f"Training diverged in epoch {epoch + 1}: the mean BPR loss per sample is "
                f"{value:.3g} (constant scores give log 2 = 0.693). {hint}"
            )
    infinite = np.flatnonzero(np.isinf(adv))
    if infinite.size:
        raise ValueError(
            f"Training diverged in epoch {infinite[0] + 1}: the loss under the perturbation "
            f"is not finite. epsilon={epsilon!r} (epsilon_mode={epsilon_mode!r}) is far too "
            "large for the embeddings: lower epsilon."
        )
    dominant = np.flatnonzero(adv > DOMINANT_ADV_LOSS)
    if dominant.size:
        warnings.warn(
            f"The perturbation dominates training: in epoch {dominant[0] + 1} the mean BPR "
            f"loss under it is {adv[dominant[0]]:.3g} per sample (clean: "
            f"{clean[dominant[0]]:.3g}). epsilon={epsilon!r} (epsilon_mode="
            f"{epsilon_mode!r}) is too large for the embeddings: lower epsilon (or adv_reg).",
            ConvergenceWarning,
            stacklevel=stacklevel,
        )
    if clean.size > 1 and clean[-1] > max(2 * math.log(2), clean[0]):
        warnings.warn(
            f"Training made the ranking worse: the mean BPR loss per sample went from "
            f"{clean[0]:.3g} in the first epoch to {clean[-1]:.3g} in the last (constant "
            f"scores give log 2 = 0.693). {hint}",
            ConvergenceWarning,
            stacklevel=stacklevel,
        )
