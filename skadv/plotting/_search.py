"""A heatmap of a grid search's scores over two parameters (λ × ε by default)."""

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from skadv.plotting._base import check_matplotlib, check_table, get_axes


class GridSearchHeatmapDisplay:
    """Mean validation score of each (y parameter, x parameter) cell of a grid search.

    Parameters
    ----------
    scores : ndarray of shape (n_y_values, n_x_values)
        One score per cell; NaN where the grid has no such combination.
    x_values, y_values : ndarray
        Parameter values of the columns and rows, sorted.
    x_name, y_name : str
        Parameter names (axis labels).
    score_name : str, default="mean_test_score"

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    image_ : matplotlib AxesImage
        The heatmap; ``image_.get_array()`` holds ``scores`` (masked where NaN).
    text_ : ndarray of matplotlib Text, shape like ``scores``
        Cell annotations (None for empty cells), or None without annotations.
    colorbar_ : matplotlib Colorbar

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skadv.plotting import GridSearchHeatmapDisplay
    >>> cv_results = {
    ...     "param_adv_reg": [0.5, 0.5, 1.0, 1.0],
    ...     "param_epsilon": [0.1, 0.2, 0.1, 0.2],
    ...     "mean_test_score": [0.30, 0.32, 0.31, 0.29],
    ... }
    >>> display = GridSearchHeatmapDisplay.from_cv_results(cv_results)
    >>> display.scores.tolist()
    [[0.3, 0.32], [0.31, 0.29]]
    """

    def __init__(self, scores, x_values, y_values, x_name, y_name, *,
                 score_name="mean_test_score"):  # fmt: skip
        self.scores = scores
        self.x_values = x_values
        self.y_values = y_values
        self.x_name = x_name
        self.y_name = y_name
        self.score_name = score_name

    @classmethod
    def from_estimator(cls, search, *, x="epsilon", y="adv_reg", score="mean_test_score",
                       ax=None, **kwargs):  # fmt: skip
        """Plot the ``cv_results_`` of a fitted ``GridSearchCV`` (or any search).

        Parameters
        ----------
        search : fitted GridSearchCV or RandomizedSearchCV
        x, y : str, default="epsilon", "adv_reg"
            Parameter names of the columns and rows (without ``param_``; with a Pipeline,
            ``"rec__epsilon"``).
        score : str, default="mean_test_score"
            A ``cv_results_`` key: with several scorers, ``"mean_test_<name>"``.
        ax : matplotlib Axes, default=None
        **kwargs
            Passed to :meth:`plot`.

        Returns
        -------
        display : GridSearchHeatmapDisplay
        """
        check_is_fitted(search, "cv_results_")
        return cls.from_cv_results(search.cv_results_, x=x, y=y, score=score, ax=ax, **kwargs)

    @classmethod
    def from_cv_results(cls, cv_results, *, x="epsilon", y="adv_reg",
                        score="mean_test_score", ax=None, **kwargs):  # fmt: skip
        """Plot a ``cv_results_`` mapping (or the DataFrame made from it).

        Candidates where ``x`` or ``y`` is not set (a sub-grid without that parameter, such
        as ``{"adv_reg": [0.0]}`` without ``epsilon``) have no cell and are left out. Two
        candidates in the same cell (a third parameter also varies) raise a ``ValueError``:
        select the rows of one value of that parameter first.

        Returns
        -------
        display : GridSearchHeatmapDisplay
        """
        check_matplotlib("GridSearchHeatmapDisplay")
        columns = {"x": f"param_{x}", "y": f"param_{y}"}
        source = "the cv_results_ of a fitted search (a dict of columns) or its DataFrame"
        results = check_table(cv_results, "cv_results", [*columns.values(), score], source,
                              numeric=[score])  # fmt: skip
        xs = pd.to_numeric(results[columns["x"]], errors="coerce")
        ys = pd.to_numeric(results[columns["y"]], errors="coerce")
        keep = xs.notna() & ys.notna()
        if not keep.any():
            raise ValueError(f"No candidate sets both {x!r} and {y!r}.")
        cells = pd.DataFrame({"x": xs[keep], "y": ys[keep], "score": results[score][keep]})
        if cells.duplicated(["x", "y"]).any():
            raise ValueError(
                f"Several candidates share a ({y}, {x}) cell: another parameter varies too. "
                "Keep the rows of one value of it (e.g. pd.DataFrame(cv_results).query(...))."
            )
        table = cells.pivot(index="y", columns="x", values="score").sort_index().sort_index(axis=1)
        display = cls(table.to_numpy(dtype=float), table.columns.to_numpy(dtype=float),
                      table.index.to_numpy(dtype=float), x, y, score_name=score)  # fmt: skip
        return display.plot(ax=ax, **kwargs)

    def plot(self, *, ax=None, cmap="viridis", values_format=".3f", annotate=True):
        """Draw the heatmap.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
        cmap : str or Colormap, default="viridis"
        values_format : str, default=".3f"
            Format of the cell annotations.
        annotate : bool, default=True
            Write each cell's score in it.

        Returns
        -------
        display : GridSearchHeatmapDisplay
        """
        ax = get_axes(ax, "GridSearchHeatmapDisplay")
        scores = np.ma.masked_invalid(np.asarray(self.scores, dtype=float))
        image = ax.imshow(scores, cmap=cmap, origin="lower", aspect="auto")
        ax.set_xticks(range(len(self.x_values)), [f"{v:g}" for v in self.x_values])
        ax.set_yticks(range(len(self.y_values)), [f"{v:g}" for v in self.y_values])
        ax.set_xlabel(self.x_name)
        ax.set_ylabel(self.y_name)
        colorbar = ax.figure.colorbar(image, ax=ax)
        colorbar.set_label(self.score_name)
        text = None
        if annotate:
            text = np.full(scores.shape, None, dtype=object)
            middle = (scores.min() + scores.max()) / 2
            for (row, col), value in np.ndenumerate(scores.filled(np.nan)):
                if np.isnan(value):
                    continue
                color = "black" if value > middle else "white"
                text[row, col] = ax.text(col, row, format(value, values_format), ha="center",
                                         va="center", color=color)  # fmt: skip
        self.ax_, self.figure_, self.image_ = ax, ax.figure, image
        self.text_, self.colorbar_ = text, colorbar
        return self
