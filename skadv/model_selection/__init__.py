"""Interaction splitters usable as ``cv=`` in scikit-learn's model-selection tools."""

from skadv.model_selection._split import (
    LeaveOneOutSplit,
    TemporalSplit,
    UserHoldoutSplit,
    UserKFold,
    train_test_split_interactions,
)

__all__ = [
    "LeaveOneOutSplit",
    "TemporalSplit",
    "UserHoldoutSplit",
    "UserKFold",
    "train_test_split_interactions",
]
