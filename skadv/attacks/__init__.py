"""Attacks on recommenders: adversarial perturbations of fitted embeddings
(``EmbeddingAttack``) and shilling / data-poisoning samplers that inject fake users."""

from skadv.attacks._embedding import EmbeddingAttack
from skadv.attacks._gan_attack import GANAttack
from skadv.attacks._poisoning import AverageAttack, BandwagonAttack, RandomAttack, SegmentAttack
from skadv.attacks._surrogate import SurrogateAttack
from skadv.attacks._text import TextAttack

__all__ = [
    "AverageAttack",
    "BandwagonAttack",
    "EmbeddingAttack",
    "GANAttack",
    "RandomAttack",
    "SegmentAttack",
    "SurrogateAttack",
    "TextAttack",
]
