"""Interaction data: loaders for files and frames, a synthetic generator and MovieLens."""

from skadv.datasets._loaders import load_interactions, load_item_metadata
from skadv.datasets._movielens import load_movielens
from skadv.datasets._synthetic import make_interactions

__all__ = ["load_interactions", "load_item_metadata", "load_movielens", "make_interactions"]
