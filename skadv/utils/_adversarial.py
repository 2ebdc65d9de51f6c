"""The vocabulary of adversarial training, shared by the kernels, the torch layer and the
training core (torch-free, no skadv import)."""

__all__ = ["ADVERSARIES"]

#: Perturbation methods, by one name each everywhere in skadv. ``"none"``: clean training;
#: ``"fgsm"``: one step of length ε along the normalized loss gradient (APR's adversary;
#: FGM in the NLP literature); ``"pgd"``: projected gradient ascent; ``"freelb"``: FreeLB's
#: accumulated ascent steps; ``"random"``: a random direction of the same norm (the control).
#: Each estimator accepts the subset it implements.
ADVERSARIES = ("none", "fgsm", "pgd", "freelb", "random")
