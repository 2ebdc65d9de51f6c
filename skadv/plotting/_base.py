"""Shared helpers of the displays: the optional matplotlib import and axes creation."""


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
