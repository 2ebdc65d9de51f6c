import dataclasses
import hashlib
import io
import zipfile

import numpy as np
import pandas as pd
import pytest

from skadv.datasets import _movielens, load_movielens

GENRES = [
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
]  # fmt: skip


def _flags(*names):
    return "|".join("1" if g in names else "0" for g in GENRES)


FAKE_100K = {
    "u.data": "1\t10\t5\t881250949\n2\t10\t3\t881250950\n1\t20\t4\t881250951\n",
    "u.item": (
        f"10|Misérables, Les (1995)|01-Jan-1995||http://x|{_flags('Drama', 'Musical')}\n"
        f"20|unknown||||{_flags('unknown')}\n"
    ),
    "u.genre": "".join(f"{g}|{i}\n" for i, g in enumerate(GENRES)) + "\n",
    "u.user": "1|24|M|technician|85711\n2|53|F|other|T8H1N\n",
}
FAKE_1M = {
    "ratings.dat": "1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n",
    "movies.dat": "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
    "661::Amélie (2001)::Comedy|Romance\n",
    "users.dat": "1::F::1::10::48067\n2::M::56::16::70072\n",
}


def _zip_bytes(folder, files, extra=None):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in files.items():
            zf.writestr(f"{folder}/{name}", text.encode("latin-1"))
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any download attempt the test did not arrange fails loudly."""

    def refuse(*args, **kwargs):
        raise AssertionError("tests must not touch the network")

    monkeypatch.setattr(_movielens, "urlopen", refuse)


@pytest.fixture
def serve(monkeypatch):
    """Serve ``payload`` to the loader's urlopen and pin its SHA-256 for ``variant``."""
    calls = []

    def _serve(variant, payload, pin=True):
        def fake_urlopen(url, timeout=None):
            calls.append(url)
            return io.BytesIO(payload)

        monkeypatch.setattr(_movielens, "urlopen", fake_urlopen)
        if pin:
            spec = _movielens._ARCHIVES[variant]
            pinned = dataclasses.replace(spec, sha256=hashlib.sha256(payload).hexdigest())
            monkeypatch.setitem(_movielens._ARCHIVES, variant, pinned)
        return calls

    return _serve


# --------------------------------------------------------------------------- real files
@pytest.mark.movielens
def test_ml100k_contents(movielens_path):
    data = load_movielens(data_home=movielens_path, download=False)
    ratings, movies, users = data.interactions, data.movies, data.users
    assert ratings.shape == (100_000, 4)
    assert ratings.columns.tolist() == ["user", "item", "rating", "timestamp"]
    assert all(ratings[c].dtype == np.int64 for c in ratings.columns)
    assert ratings["user"].nunique() == 943 and ratings["item"].nunique() == 1682
    assert ratings["rating"].between(1, 5).all()
    assert not ratings.duplicated(["user", "item"]).any()
    assert movies.shape == (1682, 5) and users.shape == (943, 5)
    assert set(ratings["item"]) == set(movies["item"])
    assert set(ratings["user"]) == set(users["user"])
    toy = movies.set_index("item").loc[1]
    assert toy["title"] == "Toy Story (1995)"
    assert toy["genres"] == "Animation|Children's|Comedy"
    assert toy["text"] == "Toy Story (1995) | Animation, Children's, Comedy"
    assert toy["release_date"] == pd.Timestamp("1995-01-01")
    assert users.columns.tolist() == ["user", "age", "gender", "occupation", "zip_code"]
    assert "100,000 ratings" in data.DESCR


@pytest.mark.movielens
def test_ml100k_is_read_as_latin1(movielens_path):
    movies = load_movielens(data_home=movielens_path, download=False).movies
    assert "Misérables, Les (1995)" in set(movies["title"])


@pytest.mark.movielens
def test_parent_folder_and_environment_variable(movielens_path, monkeypatch):
    direct = load_movielens(data_home=movielens_path, download=False)
    via_parent = load_movielens(data_home=str(movielens_path.parent), download=False)
    pd.testing.assert_frame_equal(direct.interactions, via_parent.interactions)
    monkeypatch.setenv("SKADV_DATA", str(movielens_path))
    via_env = load_movielens(download=False)
    pd.testing.assert_frame_equal(direct.movies, via_env.movies)


# --------------------------------------------------------------------------- download path
def test_download_verifies_extracts_and_caches(tmp_path, serve):
    calls = serve("100k", _zip_bytes("ml-100k", FAKE_100K))
    data = load_movielens(data_home=tmp_path)
    assert calls == [_movielens._ARCHIVES["100k"].url]
    assert (tmp_path / "ml-100k" / "u.data").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ml-100k"]  # no temp leftovers
    assert data.interactions.to_numpy().tolist() == [
        [1, 10, 5, 881250949], [2, 10, 3, 881250950], [1, 20, 4, 881250951]
    ]  # fmt: skip
    movies = data.movies.set_index("item")
    assert movies.loc[10, "title"] == "Misérables, Les (1995)"
    assert movies.loc[10, "genres"] == "Drama|Musical"
    assert movies.loc[20, "genres"] == "unknown" and pd.isna(movies.loc[20, "release_date"])
    assert data.users["zip_code"].tolist() == ["85711", "T8H1N"]
    load_movielens(data_home=tmp_path)  # second load reads the cache
    assert len(calls) == 1


def test_checksum_mismatch_raises_and_leaves_nothing(tmp_path, serve):
    serve("100k", _zip_bytes("ml-100k", FAKE_100K), pin=False)
    with pytest.raises(OSError, match="SHA-256"):
        load_movielens(data_home=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_checksum_false_skips_verification(tmp_path, serve):
    serve("100k", _zip_bytes("ml-100k", FAKE_100K), pin=False)
    assert len(load_movielens(data_home=tmp_path, checksum=False).interactions) == 3


def test_pinned_checksums_are_the_published_sha256():
    # tensorflow_datasets' url_checksums/movielens.txt and other projects pin these values.
    assert _movielens._ARCHIVES["100k"].sha256.startswith("50d2a982c669")
    assert _movielens._ARCHIVES["1m"].sha256.startswith("a6898adb50b9")


def test_unsafe_zip_members_are_not_extracted(tmp_path, serve):
    home = tmp_path / "home"
    payload = _zip_bytes("ml-100k", FAKE_100K, extra={"ml-100k/../evil.txt": b"x"})
    serve("100k", payload)
    load_movielens(data_home=home)
    assert not (home / "evil.txt").exists() and not (tmp_path / "evil.txt").exists()


def test_archive_without_expected_files_raises(tmp_path, serve):
    serve("100k", _zip_bytes("something-else", FAKE_100K))
    with pytest.raises(OSError, match="u.data"):
        load_movielens(data_home=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_ml1m_format(tmp_path, serve):
    serve("1m", _zip_bytes("ml-1m", FAKE_1M))
    data = load_movielens("1m", data_home=tmp_path)
    assert data.interactions.shape == (3, 4)
    assert data.interactions["item"].tolist() == [1193, 661, 1193]
    movies = data.movies.set_index("item")
    assert movies.loc[661, "title"] == "Amélie (2001)"
    assert movies.loc[661, "text"] == "Amélie (2001) | Comedy, Romance"
    assert movies["release_date"].isna().all()
    assert data.users["occupation"].tolist() == ["K-12 student", "self-employed"]
    assert data.users["age"].tolist() == [1, 56]


# --------------------------------------------------------------------------- errors
def test_missing_files_without_download(tmp_path):
    with pytest.raises(FileNotFoundError, match="download=True"):
        load_movielens(data_home=tmp_path, download=False)


def test_existing_incomplete_folder_is_not_overwritten(tmp_path, serve):
    (tmp_path / "ml-100k").mkdir()
    (tmp_path / "ml-100k" / "notes.txt").write_text("mine")
    serve("100k", _zip_bytes("ml-100k", FAKE_100K))
    with pytest.raises(OSError, match="exists"):
        load_movielens(data_home=tmp_path)
    assert (tmp_path / "ml-100k" / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"variant": "10m"}, ValueError, "variant"),
        ({"download": "no"}, TypeError, "download"),
        ({"checksum": None}, TypeError, "checksum"),
        ({"data_home": 3}, TypeError, "data_home"),
    ],
)
def test_invalid_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        load_movielens(**kwargs)
