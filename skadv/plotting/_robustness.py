"""Ranking quality under embedding attacks of growing radius ε, for one or several models."""

import numpy as np

from skadv.evaluation import robustness_curve
from skadv.plotting._base import check_matplotlib, check_tables, get_axes

_Y_COLUMNS = {"attacked": "{metric}", "relative_drop": "relative drop of {metric}"}
_EPSILON_LABELS = {
    "absolute": "ε (absolute: L2 radius per embedding row)",
    "relative": "ε (relative: fraction of the mean row norm)",
}


class RobustnessCurveDisplay:
    """A metric (NDCG@10 by default) against the attack radius ε, one line per model.

    Build it with :meth:`from_estimator` (one model, attacked here), :meth:`from_estimators`
    (a mapping of names to models, all attacked with the same settings) or
    :meth:`from_curves` (tables returned by :func:`skadv.evaluation.robustness_curve`).

    Parameters
    ----------
    curves : dict of str to pandas.DataFrame
        Per model name, a table with the columns of
        :func:`~skadv.evaluation.robustness_curve` (``epsilon``, ``epsilon_mode``, ``clean``,
        ``attacked``, ``relative_drop``...). All tables must share one ``epsilon_mode``.
    metric_name : str, default="NDCG@10"
        Metric name for the axis label.

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    lines_ : dict of str to matplotlib Line2D
        One line per model name.
    epsilon_mode_ : str
        ``"absolute"`` or ``"relative"``, read from the tables.

    See Also
    --------
    skadv.evaluation.robustness_curve : The table behind each line.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skadv.datasets import make_interactions
    >>> from skadv.mf import AdversarialMFRecommender
    >>> from skadv.model_selection import train_test_split_interactions
    >>> from skadv.plotting import RobustnessCurveDisplay
    >>> X = make_interactions(n_users=60, n_items=40, random_state=0)
    >>> X_train, X_test = train_test_split_interactions(X, random_state=0)
    >>> models = {
    ...     "BPR": AdversarialMFRecommender(n_factors=8, n_epochs=4, adv_reg=0, random_state=0),
    ...     "APR": AdversarialMFRecommender(n_factors=8, n_epochs=4, random_state=0),
    ... }
    >>> models = {name: model.fit(X_train) for name, model in models.items()}
    >>> display = RobustnessCurveDisplay.from_estimators(
    ...     models, X_test, [0.0, 0.5, 1.0], random_state=0
    ... )
    >>> sorted(display.lines_)
    ['APR', 'BPR']
    """

    def __init__(self, curves, *, metric_name="NDCG@10"):
        self.curves = curves
        self.metric_name = metric_name

    @classmethod
    def from_estimator(cls, estimator, X_test, epsilons, *, name=None, y="attacked",
                       ax=None, metric_name=None, **curve_params):  # fmt: skip
        """Attack one fitted model at each ε and plot the metric.

        Parameters
        ----------
        estimator : fitted recommender or Pipeline
            A dot-product model (``user_factors_``, ``item_factors_``); not modified.
        X_test : array-like of shape (n_interactions, 2) or DataFrame
            Held-out interactions.
        epsilons : array-like of shape (n_epsilons,)
        name : str, default=None
            Legend label; None: the estimator's class name.
        y : {"attacked", "relative_drop"}, default="attacked"
            What to plot against ε.
        ax : matplotlib Axes, default=None
        metric_name : str, default=None
            Axis label of the metric; None: ``curve_params["metric"]`` upper-cased
            (``"NDCG@10"`` by default).
        **curve_params
            Passed to :func:`skadv.evaluation.robustness_curve` (``adversary``, ``metric``,
            ``epsilon_mode``, ``random_state``...).

        Returns
        -------
        display : RobustnessCurveDisplay
        """
        name = type(estimator).__name__ if name is None else name
        return cls.from_estimators({name: estimator}, X_test, epsilons, y=y, ax=ax,
                                   metric_name=metric_name, **curve_params)  # fmt: skip

    @classmethod
    def from_estimators(cls, estimators, X_test, epsilons, *, y="attacked", ax=None,
                        metric_name=None, **curve_params):  # fmt: skip
        """Attack several fitted models with the same settings and plot one line each.

        Parameters
        ----------
        estimators : dict of str to fitted recommender
            Legend label to model.
        X_test, epsilons, y, ax, metric_name, **curve_params
            As in :meth:`from_estimator`.

        Returns
        -------
        display : RobustnessCurveDisplay
        """
        check_matplotlib("RobustnessCurveDisplay")
        curves = {
            name: robustness_curve(model, X_test, epsilons, **curve_params)
            for name, model in estimators.items()
        }
        metric = curve_params.get("metric", "ndcg@10")
        if metric_name is None:
            is_name = isinstance(metric, str)
            metric_name = metric.upper() if is_name else getattr(metric, "__name__", "metric")
        return cls(curves, metric_name=metric_name).plot(y=y, ax=ax)

    @classmethod
    def from_curves(cls, curves, *, y="attacked", ax=None, metric_name="NDCG@10"):
        """Plot tables already computed by :func:`skadv.evaluation.robustness_curve`.

        Parameters
        ----------
        curves : dict of str to pandas.DataFrame
        y, ax
            As in :meth:`from_estimator`.
        metric_name : str, default="NDCG@10"

        Returns
        -------
        display : RobustnessCurveDisplay
        """
        check_matplotlib("RobustnessCurveDisplay")
        return cls(curves, metric_name=metric_name).plot(y=y, ax=ax)

    def plot(self, *, y="attacked", ax=None, show_clean=True):
        """Draw one line per model.

        Parameters
        ----------
        y : {"attacked", "relative_drop"}, default="attacked"
            The attacked metric, or its relative drop ``(clean - attacked) / clean`` (a
            negative drop means the attack raised the metric, which happens at small ε).
        ax : matplotlib Axes, default=None
        show_clean : bool, default=True
            With ``y="attacked"``, a dotted horizontal line at each model's clean value.

        Returns
        -------
        display : RobustnessCurveDisplay
        """
        if y not in _Y_COLUMNS:
            raise ValueError(f"y must be one of {sorted(_Y_COLUMNS)}, got {y!r}.")
        columns = ["epsilon", "epsilon_mode", y] + (["clean"] if y == "attacked" else [])
        curves = check_tables(self.curves, "curves", columns,
                              "tables returned by skadv.evaluation.robustness_curve",
                              numeric=[c for c in columns if c != "epsilon_mode"])  # fmt: skip
        modes = {str(mode) for curve in curves.values() for mode in curve["epsilon_mode"].unique()}
        if len(modes) != 1:
            raise ValueError(
                f"The curves mix epsilon modes {sorted(modes)}: plot absolute and relative ε "
                "on separate axes."
            )
        (mode,) = modes
        ax = get_axes(ax, "RobustnessCurveDisplay")
        lines = {}
        for name, curve in curves.items():
            (line,) = ax.plot(
                curve["epsilon"].to_numpy(dtype=float),
                curve[y].to_numpy(dtype=float),
                marker="o",
                label=name,
            )
            lines[name] = line
            if y == "attacked" and show_clean:
                ax.axhline(
                    float(np.mean(curve["clean"])), color=line.get_color(), linestyle=":",
                    linewidth=1,
                )  # fmt: skip
        if y == "relative_drop":
            ax.axhline(0.0, color="0.6", linewidth=0.8, zorder=0)
        ax.set_xlabel(_EPSILON_LABELS.get(mode, f"ε ({mode})"))
        ax.set_ylabel(_Y_COLUMNS[y].format(metric=self.metric_name))
        ax.legend(loc="best")
        self.ax_, self.figure_, self.lines_, self.epsilon_mode_ = ax, ax.figure, lines, mode
        return self
