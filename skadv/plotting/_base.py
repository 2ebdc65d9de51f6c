"""Shared helpers of the displays: the optional matplotlib import, axes creation and the
checks of the tables and curves a display is given."""

from collections.abc import Mapping

import numpy as np
import pandas as pd


def check_matplotlib(caller):
    """Import ``matplotlib.pyplot`` or raise an ImportError naming the ``plot`` extra."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # matplotlib is optional (the "plot" extra)
        raise ImportError(f"{caller} needs matplotlib: pip install 'skadv[plot]'") from exc
    return plt


def get_axes(ax, caller):
    """``ax`` itself, or the axes of a new figure when ``ax`` is None."""
    plt = check_matplotlib(caller)
    if ax is None:
        _, ax = plt.subplots()
    return ax


def check_table(table, name, columns, source, numeric=()):
    """``table`` as a non-empty DataFrame holding ``columns`` (``numeric`` ones as numbers).

    A DataFrame or a dict of equal-length columns is accepted; anything else (a list, a
    str, None) is a TypeError and a missing column, an empty table or columns of different
    lengths a ValueError, each naming ``name`` and what to pass (``source``).
    """
    if isinstance(table, pd.DataFrame):
        frame = table
    elif isinstance(table, Mapping):
        try:
            frame = pd.DataFrame(table)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must hold columns of equal length ({exc}).") from None
    else:
        raise TypeError(
            f"{name} must be a pandas DataFrame (or a dict of columns): {source}; got "
            f"{type(table).__name__}."
        )
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks the columns {missing}: pass {source}.")
    if frame.shape[0] == 0:
        raise ValueError(f"{name} has no rows: there is nothing to plot.")
    for column in numeric:
        values = pd.to_numeric(frame[column], errors="coerce")
        if (values.isna() & frame[column].notna()).any():
            raise ValueError(f"{name}: column {column!r} must hold numbers.")
    return frame


def check_tables(tables, name, columns, source, numeric=()):
    """A non-empty mapping of label to table, each checked by :func:`check_table`."""
    if not isinstance(tables, Mapping):
        raise TypeError(
            f"{name} must be a dict of name to table ({source}), got {type(tables).__name__}."
        )
    if not tables:
        raise ValueError(f"{name} is empty: give at least one table.")
    return {
        label: check_table(table, f"{name}[{label!r}]", columns, source, numeric)
        for label, table in tables.items()
    }


def check_curve(values, name):
    """``values`` as a non-empty 1-d float array (one value per epoch, say)."""
    if values is None or isinstance(values, (str, bytes, Mapping)):
        raise TypeError(f"{name} must be a 1-d sequence of numbers, got {type(values).__name__}.")
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a 1-d sequence of numbers.") from None
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-d, got shape {array.shape}.")
    if array.size == 0:
        raise ValueError(f"{name} is empty: there is nothing to plot.")
    return array
