"""Attacks on recommenders: model attacks that perturb a fitted model (``BaseModelAttack``:
``EmbeddingAttack`` on its embeddings, ``TextAttack`` on its item texts) and shilling /
data-poisoning samplers that inject fake users."""

from skadv.attacks._base import BaseModelAttack
from skadv.attacks._embedding import EmbeddingAttack
from skadv.attacks._gan_attack import GANAttack
from skadv.attacks._poisoning import AverageAttack, BandwagonAttack, RandomAttack, SegmentAttack
from skadv.attacks._surrogate import SurrogateAttack
from skadv.attacks._text import TextAttack

__all__ = [
    "AverageAttack",
    "BandwagonAttack",
    "BaseModelAttack",
    "EmbeddingAttack",
    "GANAttack",
    "RandomAttack",
    "SegmentAttack",
    "SurrogateAttack",
    "TextAttack",
]
