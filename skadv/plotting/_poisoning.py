"""A metric of the poisoned model (T-HR@50 by default) against the attack budget, per model."""

import numpy as np

from skadv.evaluation import robustness_report
from skadv.plotting._base import check_matplotlib, check_tables, get_axes

_Y_LABELS = {
    "attacked": "{metric} after the attack",
    "change": "change of {metric} (attacked − clean)",
    "relative_change": "relative change of {metric}",
}
_REPORT_COLUMNS = {"attack", "strength", "threat", "metric", "clean", "attacked", "change",
                   "relative_change"}  # fmt: skip


class PoisoningCurveDisplay:
    """A metric of the attacked model against the attack's strength, one line per model and
    attack.

    The x axis is the ``strength`` column of :func:`skadv.evaluation.robustness_report`: the
    fraction of fake users (``attack_size``) of a poisoning attack, or ε of an embedding attack.
    Build it with :meth:`from_estimators` (reports computed here) or :meth:`from_reports`.

    Parameters
    ----------
    reports : dict of str to pandas.DataFrame
        Per model name, a table returned by :func:`~skadv.evaluation.robustness_report`.
    metric : str, default="target_hr@50"
        The ``metric`` rows to draw.

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    lines_ : dict of (str, str) to matplotlib Line2D
        One line per (model name, attack name).

    See Also
    --------
    skadv.evaluation.robustness_report : The table behind each line.
    RobustnessCurveDisplay : Embedding attacks of growing ε, from :func:`robustness_curve`.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skadv.attacks import BandwagonAttack
    >>> from skadv.datasets import make_interactions
    >>> from skadv.mf import AdversarialMFRecommender
    >>> from skadv.model_selection import train_test_split_interactions
    >>> from skadv.plotting import PoisoningCurveDisplay
    >>> X = make_interactions(n_users=80, n_items=40, random_state=0)
    >>> X_train, X_test = train_test_split_interactions(X, random_state=0)
    >>> models = {
    ...     "BPR": AdversarialMFRecommender(n_factors=8, n_epochs=5, adv_reg=0, random_state=0),
    ...     "APR": AdversarialMFRecommender(n_factors=8, n_epochs=5, random_state=0),
    ... }
    >>> attacks = [BandwagonAttack(attack_size=size, random_state=0) for size in (0.05, 0.1)]
    >>> display = PoisoningCurveDisplay.from_estimators(
    ...     models, X_train, X_test, attacks, metric="target_rank", y="change")
    >>> sorted(display.lines_)
    [('APR', 'BandwagonAttack'), ('BPR', 'BandwagonAttack')]
    """

    def __init__(self, reports, *, metric="target_hr@50"):
        self.reports = reports
        self.metric = metric

    @classmethod
    def from_estimators(cls, estimators, X_train, X_test, attacks, *, metric="target_hr@50",
                        y="attacked", ax=None, **report_params):  # fmt: skip
        """Run :func:`~skadv.evaluation.robustness_report` for each model and plot the metric.

        Parameters
        ----------
        estimators : dict of str to estimator
            Legend label to an unfitted recommender (cloned and fitted by the report).
        X_train, X_test : array-like of shape (n, 2) or DataFrame
            Training data (poisoned by each attack) and held-out data (never poisoned).
        attacks : list of attacks or of (name, attack) pairs
            Typically one attack class at several ``attack_size``; instances that share a name
            (the class name by default) make one line.
        metric : str, default="target_hr@50"
            Any metric of the report (a target metric or a ranking metric such as
            ``"ndcg@10"``).
        y : {"attacked", "change", "relative_change"}, default="attacked"
            The metric of the attacked model, or its change from the clean model.
        ax : matplotlib Axes, default=None
        **report_params
            Passed to :func:`~skadv.evaluation.robustness_report` (``y_train``, ``users``...).

        Returns
        -------
        display : PoisoningCurveDisplay
        """
        check_matplotlib("PoisoningCurveDisplay")
        reports = {
            name: robustness_report(
                model, X_train, X_test, attacks, metrics=[metric], **report_params
            )  # fmt: skip
            for name, model in estimators.items()
        }
        return cls(reports, metric=metric).plot(y=y, ax=ax)

    @classmethod
    def from_reports(cls, reports, *, metric="target_hr@50", y="attacked", ax=None):
        """Plot tables already computed by :func:`~skadv.evaluation.robustness_report`.

        Parameters
        ----------
        reports : dict of str to pandas.DataFrame
        metric, y, ax
            As in :meth:`from_estimators`.

        Returns
        -------
        display : PoisoningCurveDisplay
        """
        check_matplotlib("PoisoningCurveDisplay")
        return cls(reports, metric=metric).plot(y=y, ax=ax)

    def plot(self, *, y="attacked", ax=None):
        """Draw one line per model and attack name, points sorted by strength.

        Parameters
        ----------
        y : {"attacked", "change", "relative_change"}, default="attacked"
        ax : matplotlib Axes, default=None

        Returns
        -------
        display : PoisoningCurveDisplay
        """
        if y not in _Y_LABELS:
            raise ValueError(f"y must be one of {sorted(_Y_LABELS)}, got {y!r}.")
        if not isinstance(self.metric, str):
            raise TypeError(
                f"metric must be a metric name (str), got {type(self.metric).__name__}."
            )
        reports = check_tables(self.reports, "reports", sorted(_REPORT_COLUMNS),
                               "tables returned by skadv.evaluation.robustness_report",
                               numeric=["strength", y])  # fmt: skip
        tables = {}
        for name, report in reports.items():
            rows = report[report["metric"] == self.metric]
            if rows.empty:
                raise ValueError(
                    f"The report of {name!r} has no {self.metric!r} rows; its metrics are "
                    f"{sorted(report['metric'].unique())}."
                )
            tables[name] = rows
        ax = get_axes(ax, "PoisoningCurveDisplay")
        lines = {}
        for name, rows in tables.items():
            for attack, group in rows.groupby("attack", sort=False):
                group = group.sort_values("strength")
                label = name if rows["attack"].nunique() == 1 else f"{name}, {attack}"
                (line,) = ax.plot(
                    group["strength"].to_numpy(dtype=float),
                    group[y].to_numpy(dtype=float),
                    marker="o",
                    label=label,
                )
                lines[(name, attack)] = line
        if y != "attacked":
            ax.axhline(0.0, color="0.6", linewidth=0.8, zorder=0)
        threats = set(np.concatenate([t["threat"].unique() for t in tables.values()]))
        ax.set_xlabel(
            "attack size (fake users / real users)" if threats == {"poisoning"} else "strength"
        )
        ax.set_ylabel(_Y_LABELS[y].format(metric=self.metric))
        ax.legend(loc="best")
        self.ax_, self.figure_, self.lines_ = ax, ax.figure, lines
        return self
