"""``BaseModelAttack``: the contract of attacks on a fitted model (not on its training data)."""

from sklearn.base import BaseEstimator

__all__ = ["BaseModelAttack"]


class BaseModelAttack(BaseEstimator):
    """Base class of attacks that perturb a fitted recommender.

    The contract, read by :func:`skadv.evaluation.robustness_report` and the robustness
    scorers: :meth:`perturb` takes a fitted recommender (or a Pipeline ending with one) and
    returns an attacked copy, never modifying its argument; :meth:`attack_targets` names the
    items the attack aims at, or None for an untargeted attack (which is then measured by
    ranking metrics only). Poisoning attacks are samplers instead
    (:class:`skadv.base.BaseInteractionSampler`, ``fit_resample``): they attack the training
    data, and the model is refitted.

    A new model attack subclasses this, takes its parameters in ``__init__`` (stored
    untouched) and implements :meth:`perturb`.

    Examples
    --------
    >>> import copy
    >>> from skadv.attacks import BaseModelAttack
    >>> class ShiftItems(BaseModelAttack):
    ...     def __init__(self, shift=1.0):
    ...         self.shift = shift
    ...     def perturb(self, estimator):
    ...         attacked = copy.deepcopy(estimator)
    ...         attacked.item_factors_ = attacked.item_factors_ + self.shift
    ...         return attacked
    >>> ShiftItems(0.5).attack_targets(None) is None
    True
    """

    def perturb(self, estimator):
        """Return an attacked copy of the fitted ``estimator`` (left untouched)."""
        raise NotImplementedError(f"{type(self).__name__} must implement perturb(estimator).")

    def attack_targets(self, estimator):
        """Item ids the attack aims at on ``estimator``, or None (untargeted: the default)."""
        return None
