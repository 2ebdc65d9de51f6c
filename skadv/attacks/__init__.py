"""Attacks on fitted recommenders: adversarial perturbations of their embeddings."""

from skadv.attacks._embedding import EmbeddingAttack

__all__ = ["EmbeddingAttack"]
