"""MovieLens loader: local files first, else the official GroupLens archive (SHA-256 checked)."""

import csv
import hashlib
import io
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.request import urlopen

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from skadv.utils._params import BOOL, NONE, PATH, Options, check_params

__all__ = ["load_movielens"]


@dataclass(frozen=True)
class _Archive:
    url: str
    sha256: str
    folder: str  # top-level folder inside the zip
    marker: str  # a file whose presence means "the data set is here"


# SHA-256 of the official archives, as pinned by tensorflow/datasets
# (tensorflow_datasets/url_checksums/movielens.txt: ml-100k.zip 4,924,029 bytes, ml-1m.zip
# 5,917,549 bytes) and by several independent projects. GroupLens itself publishes MD5 only
# (0e33842e24a9c977be4e0107933c0723 and c4d9eecfca2ab87c1945afe126590906).
_ARCHIVES = {
    "100k": _Archive(
        url="https://files.grouplens.org/datasets/movielens/ml-100k.zip",
        sha256="50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
        folder="ml-100k",
        marker="u.data",
    ),
    "1m": _Archive(
        url="https://files.grouplens.org/datasets/movielens/ml-1m.zip",
        sha256="a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
        folder="ml-1m",
        marker="ratings.dat",
    ),
}

# ml-1m users.dat codes occupations; the mapping is the one in the data set's README.
_ML1M_OCCUPATIONS = [
    "other",
    "academic/educator",
    "artist",
    "clerical/admin",
    "college/grad student",
    "customer service",
    "doctor/health care",
    "executive/managerial",
    "farmer",
    "homemaker",
    "K-12 student",
    "lawyer",
    "programmer",
    "retired",
    "sales/marketing",
    "scientist",
    "self-employed",
    "technician/engineer",
    "tradesman/craftsman",
    "unemployed",
    "writer",
]


def load_movielens(variant="100k", *, data_home=None, download=True, checksum=True):
    """Load a MovieLens data set (explicit 1-5 star ratings of movies).

    The files are looked up in ``data_home`` (default: the ``SKADV_DATA`` environment
    variable, else ``~/skadv_data``): either that folder holds the files itself (e.g.
    ``.../ml-100k/u.data``) or it holds the data set's folder (``ml-100k/`` or ``ml-1m/``).
    When they are absent and ``download=True``, the official GroupLens archive is downloaded,
    checked against its pinned SHA-256, and extracted there. Nothing is ever prompted.

    The MovieLens licence forbids redistribution: keep the files out of repositories.

    Parameters
    ----------
    variant : {"100k", "1m"}, default="100k"
        ``"100k"``: 100,000 ratings of 1,682 movies by 943 users (1997-98).
        ``"1m"``: 1,000,209 ratings of 3,706 movies by 6,040 users (2000-03).
    data_home : str or path-like, default=None
        Folder of the data (see above).
    download : bool, default=True
        Download the archive when the files are not found. With ``False`` a missing data set
        raises ``FileNotFoundError``.
    checksum : bool, default=True
        Check the SHA-256 of a downloaded archive before extracting it (files already on disk
        are not re-hashed). Turn off only for a mirror you trust that serves a different zip.

    Returns
    -------
    data : sklearn.utils.Bunch
        interactions : DataFrame
            One row per rating: ``user``, ``item`` (int64 ids as in the files), ``rating``
            (int64, 1-5), ``timestamp`` (int64 Unix seconds), in file order.
        movies : DataFrame
            One row per movie (called ``movies``, not ``items``, because ``Bunch.items`` is
            the dict method): ``item``, ``title``, ``genres`` (genre names joined by
            ``"|"``, e.g. ``"Animation|Children's|Comedy"``), ``release_date`` (datetime;
            missing for ``"1m"``, whose files have none) and ``text``, a short description
            for text encoders: ``"<title> | <genres joined by ', '>"``.
        users : DataFrame
            ``user``, ``age``, ``gender``, ``occupation``, ``zip_code``. For ``"1m"``,
            ``age`` is the lower bound of the age range the file codes (1 means under 18)
            and occupations are decoded into names.
        DESCR : str
            Description, licence terms and citation.

    Raises
    ------
    FileNotFoundError
        The files are missing and ``download=False``.
    OSError
        The downloaded archive does not match its SHA-256, or the target folder exists
        without the data set's files.

    See Also
    --------
    skadv.datasets.make_interactions : Synthetic interactions of any size.

    Examples
    --------
    >>> data = load_movielens()  # downloads to ~/skadv_data once  # doctest: +SKIP
    >>> data.interactions.shape, data.movies.shape, data.users.shape  # doctest: +SKIP
    ((100000, 4), (1682, 5), (943, 5))
    >>> X, y = data.interactions[["user", "item"]], data.interactions["rating"]  # doctest: +SKIP

    Without network access or files, nothing is downloaded and the error says where to look:

    >>> load_movielens(data_home="/nonexistent/folder", download=False)
    Traceback (most recent call last):
    ...
    FileNotFoundError: MovieLens 100k not found: neither /nonexistent/folder nor ...
    """
    check_params(
        {
            "variant": (variant, [Options(*_ARCHIVES)]),
            "data_home": (data_home, [NONE, PATH]),
            "download": (download, [BOOL]),
            "checksum": (checksum, [BOOL]),
        },
        caller="load_movielens",
    )
    spec = _ARCHIVES[variant]
    home = _data_home(data_home)
    folder = _find_folder(home, spec)
    if folder is None:
        if not download:
            raise FileNotFoundError(
                f"MovieLens {variant} not found: neither {home} nor {home / spec.folder} "
                f"holds {spec.marker}. Pass download=True, or point data_home (or the "
                f"SKADV_DATA environment variable) at the folder holding the files."
            )
        folder = _download(spec, home, checksum)
    reader = _read_100k if variant == "100k" else _read_1m
    interactions, movies, users = reader(folder)
    movies["text"] = movies["title"] + " | " + movies["genres"].str.replace("|", ", ")
    return Bunch(
        interactions=interactions,
        movies=movies,
        users=users,
        DESCR=_describe(variant, interactions, movies, users),
    )


# --------------------------------------------------------------------------- locating files
def _data_home(data_home):
    if data_home is None:
        data_home = os.environ.get("SKADV_DATA") or Path("~") / "skadv_data"
    return Path(data_home).expanduser()


def _find_folder(home, spec):
    for folder in (home, home / spec.folder):
        if (folder / spec.marker).is_file():
            return folder
    return None


def _fetch(url, fileobj):
    """Stream ``url`` into the open binary file ``fileobj`` (tests replace ``urlopen``)."""
    with urlopen(url, timeout=60) as response:
        shutil.copyfileobj(response, fileobj, length=1 << 20)


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(spec, home, checksum):
    target = home / spec.folder
    if target.exists():
        raise OSError(
            f"{target} exists but holds no {spec.marker}; remove or complete it before "
            f"downloading again."
        )
    home.mkdir(parents=True, exist_ok=True)
    # Download and extract next to the target, then rename: an interrupted run never leaves a
    # half-written data set that would later be taken for the real one.
    fd, archive = tempfile.mkstemp(dir=home, prefix=f".{spec.folder}-", suffix=".zip")
    staging = None
    try:
        with os.fdopen(fd, "wb") as f:
            _fetch(spec.url, f)
        if checksum:
            actual = _sha256(archive)
            if actual != spec.sha256:
                raise OSError(
                    f"The file downloaded from {spec.url} has SHA-256 {actual}, expected "
                    f"{spec.sha256}: the download is corrupted or was tampered with. Nothing "
                    f"was extracted."
                )
        staging = Path(tempfile.mkdtemp(dir=home, prefix=f".{spec.folder}-"))
        with zipfile.ZipFile(archive) as zf:
            members = [m for m in zf.namelist() if _is_safe_member(m, spec.folder)]
            if f"{spec.folder}/{spec.marker}" not in members:
                raise OSError(f"The archive from {spec.url} holds no {spec.folder}/{spec.marker}.")
            zf.extractall(staging, members=members)
        os.replace(staging / spec.folder, target)
    finally:
        os.unlink(archive)
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _is_safe_member(name, folder):
    # Only members under the expected folder, never absolute or climbing out ("zip slip").
    parts = Path(name).parts
    return (
        len(parts) >= 2
        and parts[0] == folder
        and ".." not in parts
        and not Path(name).is_absolute()
        and "\\" not in name
    )


# --------------------------------------------------------------------------- parsing
_RATING_COLUMNS = ["user", "item", "rating", "timestamp"]


def _read_100k(folder):
    interactions = pd.read_csv(
        folder / "u.data", sep="\t", header=None, names=_RATING_COLUMNS, dtype=np.int64
    )
    genre_table = pd.read_csv(
        folder / "u.genre",
        sep="|",
        header=None,
        names=["name", "index"],
        encoding="latin-1",
        quoting=csv.QUOTE_NONE,
    )
    genres = genre_table.sort_values("index")["name"].tolist()
    raw = pd.read_csv(
        folder / "u.item",
        sep="|",
        header=None,
        names=["item", "title", "release_date", "video_release_date", "imdb_url", *genres],
        encoding="latin-1",
        quoting=csv.QUOTE_NONE,
        dtype={"title": str, "release_date": str, "imdb_url": str},
    )
    flags = raw[genres].to_numpy(dtype=bool)
    names = np.array(genres, dtype=object)
    movies = pd.DataFrame(
        {
            "item": raw["item"].astype(np.int64),
            "title": raw["title"].fillna(""),
            "genres": ["|".join(names[row]) for row in flags],
            "release_date": pd.to_datetime(raw["release_date"], format="%d-%b-%Y").astype(
                "datetime64[s]"
            ),
        }
    )
    users = pd.read_csv(
        folder / "u.user",
        sep="|",
        header=None,
        names=["user", "age", "gender", "occupation", "zip_code"],
        dtype={"user": np.int64, "age": np.int64, "zip_code": str},
        encoding="latin-1",
    )
    return interactions, movies, users


def _read_dat(path, names, dtype):
    # '::' separators need pandas' slow python engine; '\t' never occurs in these files, so
    # rewriting the separator lets the C parser read a million ratings in a fraction of that.
    data = path.read_bytes().replace(b"::", b"\t")
    return pd.read_csv(
        io.BytesIO(data),
        sep="\t",
        header=None,
        names=names,
        dtype=dtype,
        encoding="latin-1",
        quoting=csv.QUOTE_NONE,
    )


def _read_1m(folder):
    interactions = _read_dat(folder / "ratings.dat", _RATING_COLUMNS, np.int64)
    raw_movies = _read_dat(
        folder / "movies.dat", ["item", "title", "genres"], {"item": np.int64, "title": str}
    )
    movies = pd.DataFrame(
        {
            "item": raw_movies["item"],
            "title": raw_movies["title"],
            "genres": raw_movies["genres"].fillna(""),
            "release_date": pd.Series(pd.NaT, index=raw_movies.index, dtype="datetime64[s]"),
        }
    )
    raw = _read_dat(
        folder / "users.dat",
        ["user", "gender", "age", "occupation", "zip_code"],
        {"user": np.int64, "age": np.int64, "occupation": np.int64, "zip_code": str},
    )
    occupation = np.array(_ML1M_OCCUPATIONS, dtype=object)[raw["occupation"].to_numpy()]
    users = pd.DataFrame(
        {
            "user": raw["user"],
            "age": raw["age"],
            "gender": raw["gender"],
            "occupation": pd.array(occupation, dtype="str"),
            "zip_code": raw["zip_code"],
        }
    )
    return interactions, movies, users


def _describe(variant, interactions, movies, users):
    period = pd.to_datetime(interactions["timestamp"].agg(["min", "max"]), unit="s")
    return f"""MovieLens {variant}
==============

Explicit ratings (1-5 stars) of movies by users of movielens.org, collected by the
GroupLens Research group at the University of Minnesota.

- interactions: {len(interactions):,} ratings by {interactions["user"].nunique():,} users of \
{interactions["item"].nunique():,} movies
- period: {period.iloc[0]:%Y-%m-%d} to {period.iloc[1]:%Y-%m-%d}
- movies: {len(movies):,} movies (title, genres, release date, text)
- users: {len(users):,} users (age, gender, occupation, zip code)
- source: {_ARCHIVES[variant].url}

Implicit-feedback use: treat every rating as a positive interaction (X = interactions[["user",
"item"]]) or keep ratings >= 4 (positive_threshold=4 with y = interactions["rating"]).

Licence (summary of the GroupLens terms): research use only; no endorsement by the University
of Minnesota or GroupLens may be stated or implied; publications must acknowledge the data
set; the data may not be redistributed without permission; no commercial use without
permission.

Citation: F. Maxwell Harper and Joseph A. Konstan. 2015. The MovieLens Datasets: History and
Context. ACM Transactions on Interactive Intelligent Systems (TiiS) 5, 4, Article 19.
https://doi.org/10.1145/2827872
"""
