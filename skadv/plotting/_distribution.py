"""Profile-length and item-popularity distributions of two interaction sets."""

from collections.abc import Mapping

import numpy as np
import pandas as pd

from skadv.plotting._base import check_curve, check_matplotlib
from skadv.utils._validation import check_interactions


def _counts(X, name):
    """Interactions per user and per item (distinct pairs), as two int arrays."""
    try:
        users, items, _ = check_interactions(X)
    except (TypeError, ValueError) as exc:  # name the argument: there are two X here
        raise type(exc)(f"{name}: {exc}") from None
    pairs = pd.DataFrame({"user": users, "item": items}).drop_duplicates()
    return pairs.groupby("user").size().to_numpy(), pairs.groupby("item").size().to_numpy()


def _check_counts(counts, name):
    """A non-empty dict of label to non-empty 1-d count arrays."""
    if not isinstance(counts, Mapping):
        raise TypeError(f"{name} must be a dict of label to counts, got {type(counts).__name__}.")
    if not counts:
        raise ValueError(f"{name} is empty: give the counts of at least one label.")
    return {label: check_curve(values, f"{name}[{label!r}]") for label, values in counts.items()}


class InteractionDistributionDisplay:
    """Compare two interaction sets: users' profile lengths and items' popularity.

    Left: the share of users with each profile length (distinct items per user), as step
    histograms on shared bins. Right: item popularity (distinct users per item) against the
    item's popularity rank, on log-log axes (the long tail). Typical pairs: real vs
    generated (augmentation) or clean vs poisoned (attacks) interactions.

    Parameters
    ----------
    profile_lengths : dict of str to ndarray
        Per label, the profile length of every user.
    item_popularity : dict of str to ndarray
        Per label, the popularity of every item.

    Attributes
    ----------
    axes_ : ndarray of two matplotlib Axes
        Profile lengths, item popularity.
    figure_ : matplotlib Figure
    bins_ : ndarray
        The shared histogram bin edges.
    histograms_ : dict of str to ndarray
        Per label, the share of users in each bin (what the left panel draws).
    lines_ : dict of str to matplotlib Line2D
        Per label, the popularity curve: its y data is the popularity sorted in decreasing
        order.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from skadv.datasets import make_interactions
    >>> from skadv.plotting import InteractionDistributionDisplay
    >>> real = make_interactions(n_users=40, n_items=30, random_state=0)
    >>> fake = np.column_stack([np.repeat(np.arange(100, 110), 5), np.tile(np.arange(5), 10)])
    >>> display = InteractionDistributionDisplay.from_interactions(
    ...     real, np.vstack([real, fake]), labels=("clean", "poisoned")
    ... )
    >>> sorted(display.lines_)
    ['clean', 'poisoned']
    """

    def __init__(self, profile_lengths, item_popularity):
        self.profile_lengths = profile_lengths
        self.item_popularity = item_popularity

    @classmethod
    def from_interactions(cls, X_reference, X_other, *, labels=("real", "generated"),
                          axes=None, **kwargs):  # fmt: skip
        """Count both interaction sets and plot them side by side.

        Parameters
        ----------
        X_reference, X_other : array-like of shape (n_interactions, 2) or DataFrame
            ``(user, item)`` pairs (repeated pairs count once).
        labels : tuple of two str, default=("real", "generated")
        axes : sequence of two matplotlib Axes, default=None
            None: a new figure with two panels.
        **kwargs
            Passed to :meth:`plot`.

        Returns
        -------
        display : InteractionDistributionDisplay
        """
        check_matplotlib("InteractionDistributionDisplay")
        if not isinstance(labels, tuple | list):
            raise TypeError(f"labels must be a tuple of two names, got {type(labels).__name__}.")
        if len(labels) != 2 or labels[0] == labels[1]:
            raise ValueError(f"labels must be two distinct names, got {labels!r}.")
        counted = [_counts(X_reference, "X_reference"), _counts(X_other, "X_other")]
        display = cls(
            {label: c[0] for label, c in zip(labels, counted, strict=True)},
            {label: c[1] for label, c in zip(labels, counted, strict=True)},
        )
        return display.plot(axes=axes, **kwargs)

    def plot(self, *, axes=None, n_bins=30):
        """Draw both panels.

        Parameters
        ----------
        axes : sequence of two matplotlib Axes, default=None
        n_bins : int, default=30
            Histogram bins, logarithmically spaced from 1 to the longest profile.

        Returns
        -------
        display : InteractionDistributionDisplay
        """
        plt = check_matplotlib("InteractionDistributionDisplay")
        if axes is None:
            _, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
        axes = np.asarray(axes, dtype=object).ravel()
        if axes.size != 2:
            raise ValueError(f"axes must hold two Axes, got {axes.size}.")
        profile_lengths = _check_counts(self.profile_lengths, "profile_lengths")
        item_popularity = _check_counts(self.item_popularity, "item_popularity")
        if list(profile_lengths) != list(item_popularity):
            raise ValueError(
                f"profile_lengths and item_popularity must have the same labels, got "
                f"{list(profile_lengths)} and {list(item_popularity)}."
            )
        longest = max(int(lengths.max()) for lengths in profile_lengths.values())
        bins = np.unique(np.geomspace(1, longest + 1, n_bins + 1).round())
        histograms = {}
        for label, lengths in profile_lengths.items():
            counts, _ = np.histogram(lengths, bins=bins)
            histograms[label] = counts / len(lengths)
            axes[0].stairs(histograms[label], bins, label=f"{label} ({len(lengths)} users)")
        axes[0].set_xscale("log")
        axes[0].set_xlabel("profile length (distinct items per user)")
        axes[0].set_ylabel("share of users")
        axes[0].legend(loc="best")
        lines = {}
        for label, popularity in item_popularity.items():
            ranked = np.sort(popularity)[::-1]
            (lines[label],) = axes[1].plot(
                np.arange(1, len(ranked) + 1), ranked, label=f"{label} ({len(ranked)} items)"
            )
        axes[1].set_xscale("log")
        axes[1].set_yscale("log")
        axes[1].set_xlabel("item popularity rank")
        axes[1].set_ylabel("distinct users per item")
        axes[1].legend(loc="best")
        self.axes_, self.figure_ = axes, axes[0].figure
        self.bins_, self.histograms_, self.lines_ = bins, histograms, lines
        return self
