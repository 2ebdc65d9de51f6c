"""Ranking metrics and scikit-learn scorers for recommenders.

The robustness evaluation that fits and attacks models (``robustness_report``,
``robustness_curve``, ``make_robustness_scorer``) lives in :mod:`skadv.evaluation`, a layer
above :mod:`skadv.attacks`; it stays importable from here through a lazy re-export, so this
package never imports the attacks.
"""

from skadv.metrics._detection import detection_scores
from skadv.metrics._ranking import (
    auc,
    hit_rate_at_k,
    map_at_k,
    mrr,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
)
from skadv.metrics._scorer import (
    auc_scorer,
    get_ranking_scorer,
    hit_rate_scorer,
    make_ranking_scorer,
    map_scorer,
    mrr_scorer,
    ndcg_scorer,
    per_user_scores,
    precision_scorer,
    recall_scorer,
)
from skadv.metrics._target import (
    average_rank_shift,
    prediction_shift,
    target_hit_rate_at_k,
    target_item_ranks,
    target_ndcg_at_k,
    target_scores,
)

__all__ = [
    "auc",
    "auc_scorer",
    "average_rank_shift",
    "detection_scores",
    "get_ranking_scorer",
    "hit_rate_at_k",
    "hit_rate_scorer",
    "make_ranking_scorer",
    "map_at_k",
    "map_scorer",
    "mrr",
    "mrr_scorer",
    "ndcg_at_k",
    "ndcg_scorer",
    "per_user_scores",
    "precision_at_k",
    "precision_scorer",
    "prediction_shift",
    "recall_at_k",
    "recall_scorer",
    "robustness_curve",
    "robustness_report",
    "target_hit_rate_at_k",
    "target_item_ranks",
    "target_ndcg_at_k",
    "target_scores",
    "make_robustness_scorer",
]

# Moved to skadv.evaluation (it fits and attacks models, so it sits above skadv.attacks);
# re-exported on first access (PEP 562) so that importing skadv.metrics never imports the
# layers above it.
_MOVED_TO_EVALUATION = ("make_robustness_scorer", "robustness_curve", "robustness_report")


def __getattr__(name):
    if name in _MOVED_TO_EVALUATION:
        from skadv import evaluation  # upward, lazy: documented in tests/test_layering.py

        return getattr(evaluation, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
