"""Ranking metrics and scikit-learn scorers for recommenders."""

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
from skadv.metrics._report import robustness_report
from skadv.metrics._robustness import make_robustness_scorer, robustness_curve
from skadv.metrics._scorer import (
    auc_scorer,
    get_ranking_scorer,
    hit_rate_scorer,
    make_ranking_scorer,
    map_scorer,
    mrr_scorer,
    ndcg_scorer,
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
