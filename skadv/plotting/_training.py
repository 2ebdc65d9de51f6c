"""Training curves of a fitted estimator: clean loss, adversarial loss, validation score."""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from skadv.plotting._base import check_curve, check_matplotlib, get_axes


class TrainingCurveDisplay:
    """Loss per epoch (clean and adversarial parts) and the validation score, if recorded.

    Build it with :meth:`from_estimator` (any fitted skadv estimator with ``loss_curve_``)
    or :meth:`from_curves` (the lists themselves), then :meth:`plot`.

    Parameters
    ----------
    loss_curve : array-like of shape (n_epochs,)
        Mean clean loss per sample of each epoch (``loss_curve_``).
    adv_loss_curve : array-like of shape (n_epochs,), default=None
        Mean loss under the perturbation (``adv_loss_curve_``), NaN in clean epochs; not
        weighted by ``adv_reg``. None or all NaN: nothing is drawn for it.
    validation_scores : array-like of shape (n_epochs,), default=None
        Validation score after each epoch (``validation_scores_``), drawn on a second y axis.
    name : str, default=None
        Legend prefix, e.g. the model's name.
    validation_name : str, default="validation NDCG@10"
    loss_names : tuple of str, default=("clean loss", "adversarial loss")
        Legend labels of the two loss curves; a two-player model (the GAN:
        ``discriminator_loss_curve_``) gets ``("generator loss", "discriminator loss")`` from
        :meth:`from_estimator`.

    Attributes
    ----------
    ax_ : matplotlib Axes
        The loss axes.
    validation_ax_ : matplotlib Axes or None
        The twin axes of the validation score (None when there is none).
    figure_ : matplotlib Figure
    lines_ : dict of str to matplotlib Line2D
        ``"loss"``, and ``"adv_loss"`` / ``"validation"`` when drawn.

    See Also
    --------
    RobustnessCurveDisplay : Ranking quality under attacks of growing ε.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skadv.datasets import make_interactions
    >>> from skadv.mf import AdversarialMFRecommender
    >>> from skadv.plotting import TrainingCurveDisplay
    >>> X = make_interactions(n_users=50, n_items=40, random_state=0)
    >>> model = AdversarialMFRecommender(n_factors=8, n_epochs=6, random_state=0).fit(X)
    >>> display = TrainingCurveDisplay.from_estimator(model)
    >>> sorted(display.lines_)
    ['adv_loss', 'loss']
    """

    def __init__(self, loss_curve, adv_loss_curve=None, validation_scores=None, *, name=None,
                 validation_name="validation NDCG@10",
                 loss_names=("clean loss", "adversarial loss")):  # fmt: skip
        self.loss_curve = loss_curve
        self.adv_loss_curve = adv_loss_curve
        self.validation_scores = validation_scores
        self.name = name
        self.validation_name = validation_name
        self.loss_names = loss_names

    @classmethod
    def from_estimator(cls, estimator, *, name=None, ax=None, **kwargs):
        """Plot the curves recorded by a fitted estimator.

        Parameters
        ----------
        estimator : fitted estimator or Pipeline
            Reads ``loss_curve_`` and, when present, ``adv_loss_curve_`` (or, for the GAN,
            ``discriminator_loss_curve_``) and ``validation_scores_``; for a Pipeline, its
            last step.
        name : str, default=None
            Legend prefix; None: no prefix.
        ax : matplotlib Axes, default=None
            Axes to draw on; None: a new figure.
        **kwargs
            Passed to :meth:`plot`.

        Returns
        -------
        display : TrainingCurveDisplay
        """
        check_matplotlib("TrainingCurveDisplay")
        model = estimator[-1] if hasattr(estimator, "steps") else estimator
        check_is_fitted(model, "loss_curve_")
        second = getattr(model, "adv_loss_curve_", None)
        names = ("clean loss", "adversarial loss")
        if getattr(model, "discriminator_loss_curve_", None) is not None:
            second, names = (
                model.discriminator_loss_curve_,
                ("generator loss", "discriminator loss"),
            )
        display = cls(
            model.loss_curve_,
            second,
            getattr(model, "validation_scores_", None),
            name=name,
            loss_names=names,
        )
        return display.plot(ax=ax, **kwargs)

    @classmethod
    def from_curves(cls, loss_curve, adv_loss_curve=None, validation_scores=None, *, name=None,
                    ax=None, **kwargs):  # fmt: skip
        """Plot curves given as lists (for example from a run logged elsewhere).

        Returns
        -------
        display : TrainingCurveDisplay
        """
        check_matplotlib("TrainingCurveDisplay")
        display = cls(loss_curve, adv_loss_curve, validation_scores, name=name)
        return display.plot(ax=ax, **kwargs)

    def plot(self, *, ax=None, log_scale=False, validation_color="black"):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; None: a new figure.
        log_scale : bool, default=False
            Logarithmic loss axis.
        validation_color : color, default="black"
            Colour of the validation curve (the losses take the next colour of the cycle;
            the adversarial loss is dashed in the colour of the clean loss).

        Returns
        -------
        display : TrainingCurveDisplay
            ``self``, with ``ax_``, ``validation_ax_``, ``figure_`` and ``lines_`` set.
        """
        loss = check_curve(self.loss_curve, "loss_curve")
        adv = None if self.adv_loss_curve is None else check_curve(self.adv_loss_curve,
                                                                   "adv_loss_curve")  # fmt: skip
        if adv is not None and adv.shape != loss.shape:
            raise ValueError(
                f"adv_loss_curve has {adv.shape[0]} values and loss_curve {loss.shape[0]}: "
                "both hold one value per epoch."
            )
        scores = None
        # No validation (None, or an empty list from a run without one): no second axis.
        if self.validation_scores is not None and np.size(self.validation_scores) != 0:
            scores = check_curve(self.validation_scores, "validation_scores")
        ax = get_axes(ax, "TrainingCurveDisplay")
        prefix = f"{self.name}: " if self.name else ""
        epochs = np.arange(1, len(loss) + 1)
        lines = {}
        (lines["loss"],) = ax.plot(epochs, loss, label=f"{prefix}{self.loss_names[0]}")
        if adv is not None:
            if not np.isnan(adv).all():
                (lines["adv_loss"],) = ax.plot(
                    epochs,
                    adv,
                    linestyle="--",
                    color=lines["loss"].get_color(),
                    label=f"{prefix}{self.loss_names[1]}",
                )
                first = int(np.flatnonzero(~np.isnan(adv))[0])
                if first > 0:  # where the clean pre-training ends
                    ax.axvline(first + 0.5, color="0.6", linewidth=0.8, zorder=0)
        ax.set_xlabel("epoch")
        ax.set_ylabel("mean loss per sample")
        if log_scale:
            ax.set_yscale("log")
        validation_ax = None
        if scores is not None:
            validation_ax = ax.twinx()
            (lines["validation"],) = validation_ax.plot(
                np.arange(1, len(scores) + 1),
                scores,
                color=validation_color,
                linestyle=":",
                marker=".",
                label=f"{prefix}{self.validation_name}",
            )
            validation_ax.set_ylabel(self.validation_name)
        handles = list(lines.values())
        ax.legend(handles, [h.get_label() for h in handles], loc="best")
        self.ax_, self.validation_ax_, self.figure_ = ax, validation_ax, ax.figure
        self.lines_ = lines
        return self
