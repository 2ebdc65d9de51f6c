"""Matrix-factorization recommenders trained with BPR and adversarial BPR (APR)."""

from skadv.mf._adversarial_mf import AdversarialMFRecommender

__all__ = ["AdversarialMFRecommender"]
