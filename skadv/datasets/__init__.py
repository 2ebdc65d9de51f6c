"""Interaction data: a synthetic generator and the MovieLens loader."""

from skadv.datasets._movielens import load_movielens
from skadv.datasets._synthetic import make_interactions

__all__ = ["load_movielens", "make_interactions"]
