"""Interaction and item-metadata loaders for files (CSV, TSV, Parquet) and DataFrames."""

import importlib.util
import os
from pathlib import Path

import numpy as np
import pandas as pd

from skadv.utils._params import NONE, PATH, STRING, Interval, TypeOf, check_params

__all__ = ["load_interactions", "load_item_metadata"]

_COMPRESSION = (".gz", ".bz2", ".zip", ".xz", ".zst")
_PARQUET = (".parquet", ".pq")
_SEPARATORS = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
# A column is named by a str, or by its position (an int) in a file without a header row.
_COLUMN = [STRING, Interval("int", 0, None)]


def load_interactions(
    path_or_frame, *, user="user", item="item", rating=None, timestamp=None, sep=None,
    encoding=None,
):  # fmt: skip
    """Load interactions from a CSV / TSV / Parquet file or a DataFrame with any column names.

    Returns the layout skadv estimators, splitters and scorers take: a DataFrame with
    ``user`` and ``item`` columns (``X = data[["user", "item"]]``, or the frame itself) and,
    when asked for, ``rating`` (``y = data["rating"]``) and ``timestamp``, the layout of
    :func:`load_movielens`'s ``interactions``.

    Parameters
    ----------
    path_or_frame : str, path-like or DataFrame
        A file, or a DataFrame (never modified: the result is a new frame). The format
        follows the suffix, after a compression suffix (``.gz``, ``.bz2``, ``.zip``,
        ``.xz``, ``.zst``): ``.parquet`` / ``.pq`` is Parquet (needs pyarrow or
        fastparquet), ``.csv`` is comma-separated, ``.tsv`` / ``.tab`` tab-separated; any
        other suffix is delimited text whose separator is ``sep``, or detected when ``sep``
        is None.
    user, item : str or int, default="user", "item"
        Columns of the user and item ids. Integers are column positions in a text file
        without a header row (all of ``user``, ``item``, ``rating`` and ``timestamp`` must
        then be integers), e.g. MovieLens' ``u.data``.
    rating : str or int, default=None
        Column of the ratings or weights, returned as float64 ``rating``; None for implicit
        feedback (no ``rating`` column).
    timestamp : str or int, default=None
        Column of the times, returned as ``timestamp``: numbers stay numbers (e.g. Unix
        seconds), text is parsed into datetimes.
    sep : str, default=None
        Separator of a text file; None uses the suffix's (``,`` or tab), or detects it.
    encoding : str, default=None
        Text encoding of a text file (None: UTF-8), e.g. ``"latin-1"``.

    Returns
    -------
    interactions : DataFrame
        Columns ``user``, ``item`` (ids as read: int64 when every id is an integer, else
        strings or objects), then ``rating`` (float64) and ``timestamp`` when requested, in
        the order of the input, with a fresh ``RangeIndex``.

    Raises
    ------
    ValueError
        A requested column is missing (the message lists the columns there are), the file
        or frame holds no rows, ids are missing, or ratings are not numbers or missing.
    ImportError
        A Parquet file without pyarrow or fastparquet installed (``pip install
        'skadv[serve]'`` installs pyarrow).
    FileNotFoundError
        No file at ``path_or_frame``.

    See Also
    --------
    load_item_metadata : Item titles and other attributes, indexed by item id.
    load_movielens : MovieLens, already in this layout.

    Examples
    --------
    >>> import pandas as pd
    >>> raw = pd.DataFrame({"customer": ["a", "b", "a"], "sku": [10, 11, 11],
    ...                     "stars": [5, 3, 4]})
    >>> data = load_interactions(raw, user="customer", item="sku", rating="stars")
    >>> data.columns.tolist(), data["rating"].tolist()
    (['user', 'item', 'rating'], [5.0, 3.0, 4.0])
    >>> load_interactions(raw, user="client", item="sku")
    Traceback (most recent call last):
    ...
    ValueError: user='client' is not a column of the interactions; columns: ['customer', ...
    """
    columns = {"user": user, "item": item, "rating": rating, "timestamp": timestamp}
    _check_arguments(
        "load_interactions", path_or_frame, sep, encoding,
        {"user": (user, _COLUMN), "item": (item, _COLUMN),
         "rating": (rating, [NONE, *_COLUMN]), "timestamp": (timestamp, [NONE, *_COLUMN])},
    )  # fmt: skip
    wanted = {name: col for name, col in columns.items() if col is not None}
    frame = _read(path_or_frame, wanted, sep, encoding, "interactions")
    out = pd.DataFrame(
        {name: frame[col].to_numpy(copy=True) for name, col in wanted.items()},
        index=pd.RangeIndex(len(frame)),
    )
    for name in ("user", "item"):
        out[name] = _ids(out[name], f"{name}={wanted[name]!r}")
    if rating is not None:
        try:
            out["rating"] = pd.to_numeric(out["rating"], errors="raise").astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"rating={rating!r} must hold numbers; it holds e.g. "
                f"{out['rating'].head(3).tolist()}."
            ) from None
        if out["rating"].isna().any():
            rows = np.flatnonzero(out["rating"].isna().to_numpy())[:5].tolist()
            raise ValueError(f"rating={rating!r} has missing values at rows {rows}.")
    if timestamp is not None and not pd.api.types.is_numeric_dtype(out["timestamp"]):
        try:
            out["timestamp"] = pd.to_datetime(out["timestamp"])
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"timestamp={timestamp!r} holds neither numbers nor dates: {exc}"
            ) from None
    return out


def load_item_metadata(path_or_frame, *, item="item", columns=None, sep=None, encoding=None):
    """Load item attributes (titles, genres...) as a DataFrame indexed by item id.

    The result joins recommendations on item id (e.g. ``recommend(as_frame=True,
    item_metadata=...)``, or ``frame.join(metadata, on="item")``).

    Parameters
    ----------
    path_or_frame : str, path-like or DataFrame
        A CSV / TSV / Parquet file (format by suffix, as in :func:`load_interactions`) or a
        DataFrame (never modified).
    item : str or int, default="item"
        Column of the item ids (a position in a text file without a header row; ``columns``
        must then be positions too).
    columns : list of str or int, default=None
        Attribute columns to keep, in this order; None keeps every column but ``item``.
    sep : str, default=None
        Separator of a text file; None uses the suffix's, or detects it.
    encoding : str, default=None
        Text encoding of a text file (None: UTF-8), e.g. ``"latin-1"`` for MovieLens'
        ``u.item``.

    Returns
    -------
    metadata : DataFrame
        One row per item, indexed by item id (index name ``"item"``), with the attribute
        columns.

    Raises
    ------
    ValueError
        A requested column is missing, no rows, missing item ids, or an item id on more than
        one row (the message names some).
    ImportError
        A Parquet file without pyarrow or fastparquet installed (``pip install
        'skadv[serve]'`` installs pyarrow).

    Examples
    --------
    >>> import pandas as pd
    >>> raw = pd.DataFrame({"movie_id": [1, 2], "title": ["Toy Story", "GoldenEye"],
    ...                     "year": [1995, 1995]})
    >>> meta = load_item_metadata(raw, item="movie_id", columns=["title"])
    >>> meta.loc[2, "title"], meta.index.name
    ('GoldenEye', 'item')
    >>> load_item_metadata(pd.DataFrame({"item": [1, 1], "title": ["a", "b"]}))
    Traceback (most recent call last):
    ...
    ValueError: item='item' holds 1 item ids on more than one row (e.g. [1]): ...
    """
    _check_arguments(
        "load_item_metadata", path_or_frame, sep, encoding,
        {"item": (item, _COLUMN),
         "columns": (columns, [NONE, TypeOf(list, tuple, description="a list of columns")])},
    )  # fmt: skip
    if columns is not None:
        bad = [c for c in columns if not any(k.is_satisfied_by(c) for k in _COLUMN)]
        if bad:
            raise TypeError(f"columns must hold column names (str) or positions (int); got {bad}.")
    wanted = {"item": item}
    for k, c in enumerate([] if columns is None else columns):
        if c != item:
            wanted[f"columns[{k}]"] = c
    frame = _read(path_or_frame, wanted, sep, encoding, "item metadata", keep_all=columns is None)
    keep = (
        [c for c in frame.columns if c != item] if columns is None else list(wanted.values())[1:]
    )
    ids = _ids(frame[item], f"item={item!r}")
    duplicated = ids.duplicated(keep=False)
    if duplicated.any():
        dupes = pd.unique(ids[duplicated])
        raise ValueError(
            f"item={item!r} holds {len(dupes)} item ids on more than one row (e.g. "
            f"{dupes[:5].tolist()}): metadata needs one row per item; drop or aggregate the "
            "duplicates first (e.g. frame.drop_duplicates(subset=item))."
        )
    out = frame[keep].copy()
    out.index = pd.Index(ids.to_numpy(), name="item")
    return out


# ------------------------------------------------------------------------------ helpers
def _check_arguments(caller, path_or_frame, sep, encoding, params):
    check_params(
        {
            "path_or_frame": (
                path_or_frame,
                [PATH, TypeOf(pd.DataFrame, description="a pandas DataFrame")],
            ),
            **params,
            "sep": (sep, [NONE, STRING]),
            "encoding": (encoding, [NONE, STRING]),
        },
        caller=caller,
    )


def _read(path_or_frame, wanted, sep, encoding, what, keep_all=False):
    """The rows of ``path_or_frame`` with (at least) the columns of ``wanted`` (a dict
    argument name -> column, the names for messages)."""
    positional = [c for c in wanted.values() if isinstance(c, int)]
    if positional and len(positional) != len(wanted):
        raise ValueError(
            f"columns of the {what} are given both by name and by position "
            f"({', '.join(f'{k}={c!r}' for k, c in wanted.items())}): use "
            "names for a file with a header row, positions for one without."
        )
    if isinstance(path_or_frame, pd.DataFrame):
        frame = path_or_frame
        if positional:  # a frame has names; positions mean its columns in order
            frame = frame.set_axis(range(frame.shape[1]), axis=1)
    else:
        frame = _read_file(Path(os.fspath(path_or_frame)), bool(positional), sep, encoding, what)
    missing = {k: c for k, c in wanted.items() if c not in frame.columns}
    if missing:
        which = ", ".join(f"{k}={c!r}" for k, c in missing.items())
        verb = "is not a column" if len(missing) == 1 else "are not columns"
        raise ValueError(f"{which} {verb} of the {what}; columns: {list(frame.columns)[:20]}.")
    if len(frame) == 0:
        raise ValueError(f"the {what} hold no rows.")
    return frame if keep_all else frame[list(wanted.values())]


def _read_file(path, positional, sep, encoding, what):
    if not path.is_file():
        raise FileNotFoundError(f"no {what} file at {path}.")
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in _COMPRESSION:
        suffixes = suffixes[:-1]
    suffix = suffixes[-1] if suffixes else ""
    if suffix in _PARQUET:
        if not any(importlib.util.find_spec(m) for m in ("pyarrow", "fastparquet")):
            raise ImportError(
                f"reading the Parquet file {path.name} needs pyarrow (or fastparquet): "
                "pip install 'skadv[serve]' (or pip install pyarrow), or save the data as CSV."
            )
        frame = pd.read_parquet(path)
        if positional:
            frame = frame.set_axis(range(frame.shape[1]), axis=1)
        return frame
    if path.stat().st_size == 0:
        raise ValueError(f"the {what} file {path} is empty.")
    if sep is None:
        sep = _SEPARATORS.get(suffix)
    options = {"sep": sep, "header": None if positional else "infer", "encoding": encoding}
    if sep is None:  # detected by the python engine's sniffer
        options["engine"] = "python"
    try:
        return pd.read_csv(path, **options)
    except pd.errors.EmptyDataError:
        raise ValueError(f"the {what} file {path} holds no data.") from None


def _ids(column, name):
    """An id column without missing values: int64 when every id is an integer."""
    if column.isna().any():
        rows = np.flatnonzero(column.isna().to_numpy())[:5].tolist()
        raise ValueError(f"{name} has missing ids at rows {rows}.")
    if pd.api.types.is_float_dtype(column) and np.all(column == np.round(column)):
        return column.astype(np.int64)  # ids read as floats because of a missing value
    return column.reset_index(drop=True)
