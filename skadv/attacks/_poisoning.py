r"""Shilling (data-poisoning) attacks: samplers that inject fake user profiles.

Each attack is a :class:`~skadv.base.BaseInteractionSampler`: ``fit_resample(X, y=None)``
returns the training data followed by the fake users' rows, in the caller's container and id
space, so that ``imblearn.pipeline.Pipeline([("attack", ...), ("model", ...)])`` poisons the
training folds only. A fake profile (Lam & Riedl 2004; Mobasher et al. 2007) has

* the **target items** :math:`I_T`, rated :math:`r_{max}` (``goal="push"``) or
  :math:`r_{min}` (``goal="nuke"``);
* **selected items** :math:`I_S` (bandwagon: the most popular items; segment: items of the
  targets' segment), rated :math:`r_{max}`;
* **filler items** :math:`I_F`, drawn per profile among the other items and rated as each
  attack defines (random: around the global mean; average: around each item's mean;
  segment: :math:`r_{min}`).

On implicit data (``y=None``) a profile is the set of its items: a fake user interacts with
the targets, the selected items and the fillers (``goal="nuke"`` needs ratings, and the
segment attack has no fillers, as a minimum rating has no implicit counterpart).
"""

import numbers

import numpy as np

from skadv.base import BaseInteractionSampler
from skadv.utils._params import NONE, RANDOM_STATE, SEQUENCE, Interval, Options, TypeOf
from skadv.utils._random import check_random_state
from skadv.utils._validation import check_interactions, lookup_ids

__all__ = ["AverageAttack", "BandwagonAttack", "RandomAttack", "SegmentAttack"]

#: Popularity buckets ``target_items`` can be drawn from: a third of the items each, ordered
#: by popularity (number of distinct users; ties broken at random), or every item.
TARGET_BUCKETS = ("unpopular", "popular", "any")

_ITEM_IDS = TypeOf(tuple, list, np.ndarray, description="a list, tuple or ndarray of item ids")

#: The references of the classic attack models, cited by each attack's docstring.
_LAM_RIEDL = 'S. K. Lam and J. Riedl, "Shilling recommender systems for fun and profit", WWW 2004.'
_MOBASHER = """B. Mobasher, R. Burke, R. Bhaumik and C. Williams, "Toward trustworthy recommender
       systems: an analysis of attack models and algorithm robustness", ACM TOIT 7(4), 2007."""

_DOC_PARAMETERS = """
    target_items : array-like of item ids, default=None
        The items to push or nuke. None draws ``n_targets`` of them from the
        ``target_popularity`` bucket. Every id must occur in ``X``.
    n_targets : int, default=5
        Number of targets drawn when ``target_items`` is None.
    target_popularity : {"unpopular", "popular", "any"}, default="unpopular"
        Bucket the targets are drawn from: the least / most popular third of the items
        (popularity: number of distinct users; ties broken at random), or all items.
    attack_size : float, default=0.05
        Number of fake users as a fraction of the real users (rounded, at least 1).
    filler_size : int or float, default=0.01
        Filler items per fake profile: an int is a count, a float in (0, 1] a fraction of the
        items that are neither targets nor selected items (rounded).
    goal : {"push", "nuke"}, default="push"
        Raise or lower the targets' ranks. ``"nuke"`` needs ratings ``y`` on a scale: when
        every ``y`` is equal, ``rating_range`` must give one (else a ``ValueError``).
    rating_range : tuple of (float, float), default=None
        :math:`(r_{min}, r_{max})` of rating data; None takes the smallest and largest ``y``.
        Generated ratings are clipped to it, and rounded when every ``y`` is an integer.
    random_state : int, RandomState instance or None, default=None
        Seeds the targets, fillers and ratings: same seed, same fake profiles."""

_DOC_ATTRIBUTES = """
    target_items_ : ndarray
        Ids of the targets.
    fake_user_ids_ : ndarray of shape (n_fake_users_,)
        Fresh ids of the fake users (integers above the largest real id, or strings
        ``"synthetic-<k>"``); the same as ``synthetic_user_ids_``.
    n_fake_users_ : int
    n_filler_ : int
        Filler items per profile.
    sample_mask_ : ndarray of bool, shape (n_resampled,)
        True for the fake rows.
    user_ids_, item_ids_ : ndarray
        Ids of the input.
    has_y_ : bool
        Whether ratings ``y`` were given."""


class _ShillingAttack(BaseInteractionSampler):
    """Shared machinery: targets, budgets, profile assembly. Subclasses define
    ``_selected(...)`` and ``_fillers(...)``."""

    _parameter_constraints = {
        "target_items": [NONE, _ITEM_IDS],
        "n_targets": [Interval("int", 1, None)],
        "target_popularity": [Options(*TARGET_BUCKETS)],
        "attack_size": [Interval("real", 0, 1, closed="right")],
        "filler_size": [Interval("int", 0, None), Interval("real", 0, 1, closed="right")],
        "goal": [Options("push", "nuke")],
        "rating_range": [NONE, SEQUENCE],
        "random_state": [NONE, RANDOM_STATE],
    }

    #: Whether fillers exist on implicit data.
    _implicit_fillers = True

    def __init__(self, target_items=None, *, n_targets=5, target_popularity="unpopular",
                 attack_size=0.05, filler_size=0.01, goal="push", rating_range=None,
                 random_state=None):  # fmt: skip
        self.target_items = target_items
        self.n_targets = n_targets
        self.target_popularity = target_popularity
        self.attack_size = attack_size
        self.filler_size = filler_size
        self.goal = goal
        self.rating_range = rating_range
        self.random_state = random_state

    # ----------------------------------------------------------------- checks
    def _check_fit_arguments(self):
        name = type(self).__name__
        if self.goal == "nuke" and not self.has_y_:
            raise ValueError(
                f"goal='nuke' of {name} needs ratings: pass them as y (fit_resample(X, y)); "
                "on implicit data an attack can only add interactions (goal='push')."
            )
        if self.rating_range is not None:
            rr = self.rating_range
            ok = (
                len(rr) == 2
                and all(isinstance(v, numbers.Real) and np.isfinite(v) for v in rr)
                and rr[0] < rr[1]
            )
            if not ok:
                raise ValueError(
                    f"The 'rating_range' parameter of {name} must be a pair (r_min, r_max) of "
                    f"finite numbers with r_min < r_max; got {rr!r}."
                )

    def _item_codes(self, ids, name):
        """Sorted unique item codes of the ids of parameter ``name`` (every id an item of X)."""
        ids = np.asarray(ids, dtype=object).ravel()
        if ids.size == 0:
            return np.empty(0, dtype=np.int64)
        _, ids, _ = check_interactions(np.column_stack([ids, ids]))
        codes = lookup_ids(self.item_ids_, ids)
        if np.any(codes < 0):
            missing = ids[codes < 0][:5].tolist()
            raise ValueError(f"{name} holds ids that are not items of X: {missing}.")
        return np.unique(codes.astype(np.int64))

    def _resolve_targets(self, popularity, rng):
        n_items = popularity.shape[0]
        if self.target_items is not None:
            codes = self._item_codes(self.target_items, "target_items")
            if codes.size == 0:
                raise ValueError("target_items is empty: give at least one item id or None.")
            return codes
        if self.n_targets > n_items:
            raise ValueError(f"n_targets={self.n_targets} exceeds the {n_items} items of X.")
        order = np.lexsort((rng.permutation(n_items), popularity))  # ties at random
        third = max(self.n_targets, int(np.ceil(n_items / 3)))
        bucket = {"unpopular": order[:third], "popular": order[n_items - third :],
                  "any": order}[self.target_popularity]  # fmt: skip
        return np.sort(rng.choice(bucket, size=self.n_targets, replace=False))

    def _n_filler(self, n_candidates):
        size = self.filler_size
        if isinstance(size, numbers.Integral):
            if size > n_candidates:
                raise ValueError(
                    f"filler_size={size} exceeds the {n_candidates} items available as "
                    "fillers (items that are neither targets nor selected items)."
                )
            return int(size)
        return int(round(size * n_candidates))

    # ----------------------------------------------------------------- the sampler hook
    def _fit_resample(self, user_codes, item_codes, weights):
        self._check_fit_arguments()
        rng = check_random_state(self.random_state)
        n_users, n_items = self.user_ids_.shape[0], self.item_ids_.shape[0]
        pairs = np.unique(np.column_stack([user_codes, item_codes]), axis=0)
        popularity = np.bincount(pairs[:, 1], minlength=n_items)
        targets = self._resolve_targets(popularity, rng)
        stats = _RatingStats(item_codes, weights, n_items, self.has_y_, self.rating_range)
        if self.goal == "nuke" and stats.r_min >= stats.r_max:
            # Every rating equal: r_min is also r_max, so the "nuked" targets would get the
            # top rating, and every interaction raises a target's rank: the opposite.
            raise ValueError(
                f"goal='nuke' of {type(self).__name__} needs a rating scale, but every rating "
                f"y equals {stats.r_min:g}: give rating_range=(r_min, r_max) so that targets "
                "can be rated below the others, or use goal='push'."
            )
        selected = np.setdiff1d(self._selected(targets, popularity, pairs, rng), targets)
        candidates = np.setdiff1d(np.arange(n_items), np.r_[targets, selected])
        n_fake = max(1, int(round(self.attack_size * n_users)))
        n_filler = self._n_filler(candidates.shape[0])
        if not self.has_y_ and not self._implicit_fillers:
            n_filler = 0
        self.target_items_ = self.item_ids_[targets]
        self.selected_items_ = self.item_ids_[selected]
        self.n_fake_users_, self.n_filler_ = n_fake, n_filler

        fillers = self._draw_fillers(candidates, n_fake, n_filler, popularity, rng,
                                     targets=targets, pairs=pairs)  # fmt: skip
        target_rating = stats.r_max if self.goal == "push" else stats.r_min
        users, items, ratings = [], [], []
        for k in range(n_fake):
            profile = np.r_[targets, selected, fillers[k]]
            users.append(np.full(profile.shape[0], n_users + k, dtype=np.int64))
            items.append(profile)
            ratings.append(np.r_[np.full(targets.shape[0], target_rating),
                                 np.full(selected.shape[0], stats.r_max),
                                 self._filler_ratings(fillers[k], stats, rng)])  # fmt: skip
        ratings = np.concatenate(ratings)
        if self.has_y_:
            ratings = stats.finish(ratings)
        else:
            ratings = np.ones_like(ratings)
        return np.concatenate(users), np.concatenate(items), ratings

    def fit_resample(self, X, y=None):
        X_res, y_res = super().fit_resample(X, y)
        self.fake_user_ids_ = self.synthetic_user_ids_
        return X_res, y_res

    fit_resample.__doc__ = BaseInteractionSampler.fit_resample.__doc__

    # ----------------------------------------------------------------- per attack
    def _selected(self, targets, popularity, pairs, rng):
        return np.empty(0, dtype=np.int64)

    def _filler_weights(self, candidates, popularity):
        return None  # uniform

    def _draw_fillers(self, candidates, n_fake, n_filler, popularity, rng, *, targets, pairs):
        """One sorted array of ``n_filler`` item codes per fake user, drawn from
        ``candidates``; ``targets`` and the unique (user, item) ``pairs`` of the input
        serve attacks that optimize the fillers."""
        p = self._filler_weights(candidates, popularity)
        if p is not None:
            p = p / p.sum()
        return [
            np.sort(rng.choice(candidates, size=n_filler, replace=False, p=p))
            for _ in range(n_fake)
        ]

    def _filler_ratings(self, fillers, stats, rng):
        return stats.r_mean + stats.r_std * rng.standard_normal(fillers.shape[0])


class _RatingStats:
    """Rating scale and per-item means and standard deviations of the input."""

    def __init__(self, item_codes, weights, n_items, has_y, rating_range):
        self.has_y = has_y
        if rating_range is None:
            self.r_min, self.r_max = float(weights.min()), float(weights.max())
        else:
            self.r_min, self.r_max = float(rating_range[0]), float(rating_range[1])
        self.integral = bool(np.all(weights == np.round(weights)))
        self.r_mean, self.r_std = float(weights.mean()), float(weights.std())
        count = np.bincount(item_codes, minlength=n_items).astype(np.float64)
        total = np.bincount(item_codes, weights, minlength=n_items)
        square = np.bincount(item_codes, weights**2, minlength=n_items)
        self.item_mean = total / np.maximum(count, 1)
        var = square / np.maximum(count, 1) - self.item_mean**2
        # An item rated once has no spread of its own: the global one stands in.
        self.item_std = np.where(count > 1, np.sqrt(np.maximum(var, 0.0)), self.r_std)

    def around_item_means(self, items, rng):
        """Ratings of ``items`` drawn from each item's N(mean, std^2) (average attack)."""
        return self.item_mean[items] + self.item_std[items] * rng.standard_normal(items.shape[0])

    def finish(self, ratings):
        ratings = np.clip(ratings, self.r_min, self.r_max)
        return np.round(ratings) if self.integral else ratings


# ---------------------------------------------------------------------------- the attacks
class RandomAttack(_ShillingAttack):
    __doc__ = f"""Random attack: targets plus random fillers rated around the global mean.

    Each fake profile rates the targets :math:`r_{{max}}` (push) or :math:`r_{{min}}` (nuke)
    and ``filler_size`` items drawn uniformly at random with ratings drawn from
    :math:`N(\\bar r, \\sigma^2)`, the mean and standard deviation of all ratings (clipped
    to the scale). On implicit data a profile is the targets and uniform random fillers.

    Parameters
    ----------{_DOC_PARAMETERS}

    Attributes
    ----------{_DOC_ATTRIBUTES}

    See Also
    --------
    AverageAttack, BandwagonAttack, SegmentAttack

    References
    ----------
    .. [1] {_LAM_RIEDL}
    .. [2] {_MOBASHER}

    Examples
    --------
    >>> from skadv.attacks import RandomAttack
    >>> from skadv.datasets import make_interactions
    >>> X = make_interactions(n_users=100, n_items=50, random_state=0)
    >>> attack = RandomAttack(attack_size=0.05, filler_size=4, random_state=0)
    >>> X_poisoned, _ = attack.fit_resample(X)
    >>> int(attack.sample_mask_.sum()), len(attack.fake_user_ids_), len(attack.target_items_)
    (45, 5, 5)
    """


class AverageAttack(_ShillingAttack):
    __doc__ = f"""Average attack: fillers rated around each filler item's own mean rating.

    Like :class:`RandomAttack`, but filler item :math:`i` is rated from
    :math:`N(\\bar r_i, \\sigma_i^2)`, its mean and standard deviation (the global standard
    deviation for items rated once): profiles that look like average users. On implicit
    data, fillers are drawn with probability proportional to item popularity, the
    implicit counterpart of an average profile.

    Parameters
    ----------{_DOC_PARAMETERS}

    Attributes
    ----------{_DOC_ATTRIBUTES}

    See Also
    --------
    RandomAttack, BandwagonAttack, SegmentAttack

    References
    ----------
    .. [1] {_LAM_RIEDL}

    Examples
    --------
    >>> import numpy as np
    >>> from skadv.attacks import AverageAttack
    >>> from skadv.datasets import make_interactions
    >>> X = make_interactions(n_users=100, n_items=50, random_state=0)
    >>> y = np.random.RandomState(0).randint(1, 6, len(X)).astype(float)
    >>> attack = AverageAttack(target_items=[3], filler_size=4, random_state=0)
    >>> X_p, y_p = attack.fit_resample(X, y)
    >>> sorted(set(y_p[attack.sample_mask_][X_p[attack.sample_mask_, 1] == 3].tolist()))
    [5.0]
    """

    def _filler_weights(self, candidates, popularity):
        if self.has_y_:
            return None
        return popularity[candidates].astype(np.float64)

    def _filler_ratings(self, fillers, stats, rng):
        return stats.around_item_means(fillers, rng)


_SELECTED_PARAMETERS = """
    selected_items : array-like of item ids, default=None
        The selected items, rated :math:`r_{max}`; None picks ``n_selected`` of them (see
        above). Ids that are also targets are dropped.
    n_selected : int, default=3
        Number of selected items picked when ``selected_items`` is None."""


class _WithSelected(_ShillingAttack):
    _parameter_constraints = {
        **_ShillingAttack._parameter_constraints,
        "selected_items": _ShillingAttack._parameter_constraints["target_items"],
        "n_selected": [Interval("int", 0, None)],
    }

    def __init__(self, target_items=None, *, selected_items=None, n_selected=3, n_targets=5,
                 target_popularity="unpopular", attack_size=0.05, filler_size=0.01,
                 goal="push", rating_range=None, random_state=None):  # fmt: skip
        super().__init__(target_items, n_targets=n_targets,
                         target_popularity=target_popularity, attack_size=attack_size,
                         filler_size=filler_size, goal=goal, rating_range=rating_range,
                         random_state=random_state)  # fmt: skip
        self.selected_items = selected_items
        self.n_selected = n_selected

    def _selected(self, targets, popularity, pairs, rng):
        if self.selected_items is not None:
            return self._item_codes(self.selected_items, "selected_items")
        score = self._selection_score(targets, popularity, pairs).astype(np.float64)
        score[targets] = -np.inf
        n = min(self.n_selected, popularity.shape[0] - targets.shape[0])
        # Highest score first; popularity, then item code, breaks ties.
        order = np.lexsort((np.arange(score.shape[0]), -popularity, -score))
        return np.sort(order[:n])


class BandwagonAttack(_WithSelected):
    __doc__ = f"""Bandwagon attack: targets, the most popular items and random fillers.

    Each fake profile rates the targets :math:`r_{{max}}` (push) or :math:`r_{{min}}` (nuke),
    the ``n_selected`` most popular items :math:`r_{{max}}` (so that fake users resemble many
    real ones) and random fillers as :class:`RandomAttack` does.

    Parameters
    ----------{_DOC_PARAMETERS}{_SELECTED_PARAMETERS}

    Attributes
    ----------{_DOC_ATTRIBUTES}
    selected_items_ : ndarray
        Ids of the selected (popular) items.

    See Also
    --------
    RandomAttack, AverageAttack, SegmentAttack

    References
    ----------
    .. [1] {_MOBASHER}

    Examples
    --------
    >>> from skadv.attacks import BandwagonAttack
    >>> from skadv.datasets import make_interactions
    >>> X = make_interactions(n_users=100, n_items=50, random_state=0)
    >>> attack = BandwagonAttack(n_selected=2, filler_size=3, random_state=0).fit(X)
    >>> len(attack.selected_items_), attack.n_fake_users_
    (2, 5)
    """

    def _selection_score(self, targets, popularity, pairs):
        return popularity


class SegmentAttack(_WithSelected):
    __doc__ = f"""Segment attack: targets and the items of their segment; fillers rated low.

    Each fake profile rates the targets :math:`r_{{max}}` (push) or :math:`r_{{min}}` (nuke),
    the segment's items :math:`r_{{max}}` and random fillers :math:`r_{{min}}` (on implicit
    data there are no fillers). Without ``selected_items``, the segment is the
    ``n_selected`` items that share the most users with the targets (ties: the more popular
    item), standing in for "items liked by the targeted segment of users".

    Parameters
    ----------{_DOC_PARAMETERS}{_SELECTED_PARAMETERS}

    Attributes
    ----------{_DOC_ATTRIBUTES}
    selected_items_ : ndarray
        Ids of the segment's items.

    See Also
    --------
    RandomAttack, AverageAttack, BandwagonAttack

    References
    ----------
    .. [1] {_MOBASHER}

    Examples
    --------
    >>> from skadv.attacks import SegmentAttack
    >>> from skadv.datasets import make_interactions
    >>> X = make_interactions(n_users=100, n_items=50, random_state=0)
    >>> attack = SegmentAttack(target_items=[7], n_selected=3, random_state=0).fit(X)
    >>> len(attack.selected_items_), attack.n_filler_
    (3, 0)
    """

    _implicit_fillers = False

    def _selection_score(self, targets, popularity, pairs):
        n_items = popularity.shape[0]
        target_users = np.unique(pairs[np.isin(pairs[:, 1], targets), 0])
        rows = pairs[np.isin(pairs[:, 0], target_users)]
        return np.bincount(rows[:, 1], minlength=n_items)

    def _filler_ratings(self, fillers, stats, rng):
        return np.full(fillers.shape[0], stats.r_min)
