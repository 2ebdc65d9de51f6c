r"""The default training mixture of :class:`ShillingDetector`: many attack families and sizes.

A supervised detector trained on the profiles of one attack learns what *that attack*
looks like (its filler count, its targets' popularity), not what fake profiles look like,
and misses the others: trained on a 10 % random attack with 5 % fillers, it scored F1 0.00
on 1-5 % attacks of 1 % fillers. The mixture varies everything a textbook attack fixes:

- the family: random, average, bandwagon, segment, and a camouflaged attack
  (:class:`CamouflageAttack`: popularity-weighted fillers rated around each item's mean,
  profile lengths drawn from the genuine length distribution);
- the batch size (0.5 % to 3 % of the users), the filler size (1 % to 5 % of the items),
  the number of targets and selected items and the targets' popularity bucket.

Each batch has its own seed, so its own targets. :func:`training_attacks` lists the
batches, optionally without some families, as the leave-one-family-out evaluation of
``benchmarks/bench_detection.py`` does (train without family F, test on F).
"""

import numpy as np

from skadv.attacks import AverageAttack, BandwagonAttack, RandomAttack, SegmentAttack
from skadv.utils._params import NONE, Interval

__all__ = ["FAMILIES", "CamouflageAttack", "training_attacks"]

#: The attack families of the mixture, by name.
FAMILIES = ("random", "average", "bandwagon", "segment", "camouflage")


class CamouflageAttack(AverageAttack):
    """Average attack whose profiles look genuine: popular fillers, genuine lengths.

    Each fake profile has the targets (rated :math:`r_{max}` for a push) and fillers drawn
    with probability proportional to item popularity, rated around each item's mean (on
    implicit data: the items only); the number of fillers of each profile is the length of
    a genuine user drawn at random, less the targets, within ``[1, max_filler]``. It is the
    hardest of the mixture's families for profile features, and evaluated as the
    "camouflaged" column of ``benchmarks/bench_detection.py``. ``filler_size`` is unused.

    Parameters
    ----------
    target_items, n_targets, target_popularity, attack_size, filler_size, goal, rating_range, \
random_state
        As in :class:`~skadv.attacks.AverageAttack`.
    max_filler : int, default=None
        Upper bound of the fillers per profile; None: no bound but the items available.

    Examples
    --------
    >>> from skadv.datasets import make_interactions
    >>> X = make_interactions(n_users=100, n_items=50, random_state=0)
    >>> attack = CamouflageAttack(attack_size=0.05, n_targets=2, random_state=0)
    >>> X_poisoned, _ = attack.fit_resample(X)
    >>> len(attack.fake_user_ids_)
    5
    """

    _parameter_constraints = {
        **AverageAttack._parameter_constraints,
        "max_filler": [NONE, Interval("int", 1, None)],
    }

    def __init__(self, target_items=None, *, n_targets=5, target_popularity="unpopular",
                 attack_size=0.05, filler_size=0.01, goal="push", rating_range=None,
                 max_filler=None, random_state=None):  # fmt: skip
        super().__init__(target_items, n_targets=n_targets,
                         target_popularity=target_popularity, attack_size=attack_size,
                         filler_size=filler_size, goal=goal, rating_range=rating_range,
                         random_state=random_state)  # fmt: skip
        self.max_filler = max_filler

    def _draw_fillers(self, candidates, n_fake, n_filler, popularity, rng, *, targets, pairs):
        lengths = np.bincount(pairs[:, 0])
        lengths = lengths[lengths > 0]
        p = popularity[candidates].astype(np.float64) + 1e-3  # never-seen items: rarely
        p /= p.sum()
        top = candidates.shape[0] if self.max_filler is None else self.max_filler
        top = min(top, candidates.shape[0])
        sizes = np.clip(rng.choice(lengths, size=n_fake) - targets.shape[0], 1, top)
        return [np.sort(rng.choice(candidates, size=int(k), replace=False, p=p)) for k in sizes]


# (family, attack_size, filler_size, n_targets, n_selected, target_popularity) of each batch.
_BATCHES = (
    ("random", 0.005, 0.01, 5, 0, "unpopular"),
    ("random", 0.02, 0.05, 3, 0, "any"),
    ("average", 0.01, 0.01, 5, 0, "any"),
    ("average", 0.02, 0.03, 3, 0, "unpopular"),
    ("bandwagon", 0.005, 0.03, 3, 3, "unpopular"),
    ("bandwagon", 0.02, 0.01, 5, 5, "popular"),
    ("segment", 0.01, 0.01, 5, 3, "unpopular"),
    ("segment", 0.02, 0.03, 3, 5, "any"),
    ("camouflage", 0.005, 0.0, 5, 0, "unpopular"),
    ("camouflage", 0.02, 0.0, 3, 0, "any"),
)

_CLASSES = {
    "random": RandomAttack,
    "average": AverageAttack,
    "bandwagon": BandwagonAttack,
    "segment": SegmentAttack,
    "camouflage": CamouflageAttack,
}


def training_attacks(exclude=()):
    """The batches of the default training mixture: a list of unfitted attacks.

    Two batches per family of :data:`FAMILIES`, of 0.5-2 % of the users each, with
    different filler sizes, numbers of targets and selected items and target popularity;
    seeds are left unset (``ShillingDetector`` seeds each batch).

    Parameters
    ----------
    exclude : iterable of str, default=()
        Families of :data:`FAMILIES` left out (leave-one-family-out evaluation).

    Returns
    -------
    list of attacks

    Examples
    --------
    >>> len(training_attacks()), len(training_attacks(exclude=["bandwagon"]))
    (10, 8)
    """
    exclude = [exclude] if isinstance(exclude, str) else list(exclude)
    unknown = sorted(set(exclude) - set(FAMILIES))
    if unknown:
        raise ValueError(f"exclude holds unknown families {unknown}; choose among {FAMILIES}.")
    out = []
    for family, size, filler, n_targets, n_selected, popularity in _BATCHES:
        if family in exclude:
            continue
        params = dict(attack_size=size, n_targets=n_targets, target_popularity=popularity)
        if family != "camouflage":
            params["filler_size"] = filler
        if n_selected:
            params["n_selected"] = n_selected
        out.append(_CLASSES[family](**params))
    return out
