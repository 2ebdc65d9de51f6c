"""Non-personalized baselines."""

from skadv.baseline._popularity import PopularityRecommender

__all__ = ["PopularityRecommender"]
