"""Baselines users compare against: popularity, item-based k-NN, EASE and iALS."""

from skadv.baseline._ease import EASERecommender
from skadv.baseline._ials import ImplicitALSRecommender
from skadv.baseline._itemknn import ItemKNNRecommender
from skadv.baseline._popularity import PopularityRecommender

__all__ = [
    "EASERecommender",
    "ImplicitALSRecommender",
    "ItemKNNRecommender",
    "PopularityRecommender",
]
