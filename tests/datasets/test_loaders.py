"""load_interactions and load_item_metadata on files written here and on frames."""

import importlib.util

import numpy as np
import pandas as pd
import pytest

from skadv import ItemKNNRecommender
from skadv.datasets import load_interactions, load_item_metadata

RAW = pd.DataFrame(
    {
        "customer": ["a", "b", "a", "c"],
        "sku": [10, 11, 11, 12],
        "stars": [5, 3, 4, 1],
        "when": [100, 200, 300, 400],
    }
)


def test_frame_with_any_column_names():
    original = RAW.copy()
    data = load_interactions(RAW, user="customer", item="sku", rating="stars", timestamp="when")
    assert data.columns.tolist() == ["user", "item", "rating", "timestamp"]
    assert data["user"].tolist() == ["a", "b", "a", "c"]
    assert data["item"].dtype == np.int64 and data["rating"].dtype == np.float64
    pd.testing.assert_frame_equal(RAW, original)  # input untouched
    # the layout estimators take
    model = ItemKNNRecommender().fit(data[["user", "item"]], data["rating"])
    assert model.n_users_ == 3 and model.n_items_ == 3


def test_implicit_feedback_has_two_columns():
    data = load_interactions(RAW, user="customer", item="sku")
    assert data.columns.tolist() == ["user", "item"]


@pytest.mark.parametrize("suffix,sep", [(".csv", ","), (".tsv", "\t"), (".txt", ";")])
def test_text_files(tmp_path, suffix, sep):
    path = tmp_path / f"ratings{suffix}"
    RAW.to_csv(path, sep=sep, index=False)
    data = load_interactions(path, user="customer", item="sku", rating="stars")
    assert data["item"].tolist() == [10, 11, 11, 12]
    assert data["rating"].tolist() == [5.0, 3.0, 4.0, 1.0]


def test_compressed_csv(tmp_path):
    path = tmp_path / "ratings.csv.gz"
    RAW.to_csv(path, index=False)
    assert len(load_interactions(str(path), user="customer", item="sku")) == 4


def test_headerless_file_by_position(tmp_path):
    path = tmp_path / "u.data"
    path.write_text("196\t242\t3\t881250949\n186\t302\t3\t891717742\n")
    data = load_interactions(path, user=0, item=1, rating=2, timestamp=3, sep="\t")
    assert data.to_dict("list") == {
        "user": [196, 186], "item": [242, 302], "rating": [3.0, 3.0],
        "timestamp": [881250949, 891717742],
    }  # fmt: skip


def test_string_timestamps_become_datetimes():
    raw = RAW.assign(when=["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"])
    data = load_interactions(raw, user="customer", item="sku", timestamp="when")
    assert pd.api.types.is_datetime64_any_dtype(data["timestamp"])


def test_missing_column_names_the_argument_and_lists_columns():
    with pytest.raises(ValueError, match=r"user='client' is not a column.*'customer'"):
        load_interactions(RAW, user="client", item="sku")
    with pytest.raises(ValueError, match=r"rating='score'"):
        load_interactions(RAW, user="customer", item="sku", rating="score")


def test_empty_inputs(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ValueError, match="empty"):
        load_interactions(empty)
    header_only = tmp_path / "header.csv"
    header_only.write_text("user,item\n")
    with pytest.raises(ValueError, match="no rows"):
        load_interactions(header_only)
    with pytest.raises(ValueError, match="no rows"):
        load_interactions(RAW.iloc[:0], user="customer", item="sku")


def test_bad_values():
    with pytest.raises(ValueError, match=r"user='customer' has missing ids at rows \[1\]"):
        load_interactions(RAW.assign(customer=["a", None, "b", "c"]), user="customer", item="sku")
    with pytest.raises(ValueError, match="rating='stars' must hold numbers"):
        load_interactions(RAW.assign(stars=["x"] * 4), user="customer", item="sku",
                          rating="stars")  # fmt: skip
    with pytest.raises(ValueError, match="by name and by position"):
        load_interactions(RAW, user=0, item="sku")
    with pytest.raises(TypeError, match="user"):
        load_interactions(RAW, user=1.5)
    with pytest.raises(FileNotFoundError, match="no interactions file"):
        load_interactions("/nonexistent/ratings.csv")


def test_parquet_round_trip(tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / "ratings.parquet"
    RAW.to_parquet(path)
    data = load_interactions(path, user="customer", item="sku", rating="stars", timestamp="when")
    expected = load_interactions(RAW, user="customer", item="sku", rating="stars",
                                 timestamp="when")  # fmt: skip
    pd.testing.assert_frame_equal(data, expected)
    # Positions name the columns in file order, as in a headerless text file.
    by_position = load_interactions(path, user=0, item=1, rating=2)
    pd.testing.assert_frame_equal(by_position, expected.drop(columns="timestamp"))
    with pytest.raises(ValueError, match=r"item='product' is not a column.*'sku'"):
        load_interactions(path, user="customer", item="product")


def test_parquet_metadata_round_trip(tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / "movies.pq"
    META.to_parquet(path)
    meta = load_item_metadata(path, item="movie_id")
    pd.testing.assert_frame_equal(meta, load_item_metadata(META, item="movie_id"))
    assert meta.loc[2, "title"] == "GoldenEye" and meta.index.name == "item"


def test_parquet_without_an_engine_names_the_extra(tmp_path, monkeypatch):
    path = tmp_path / "ratings.parquet"
    path.write_bytes(b"PAR1")
    find_spec = importlib.util.find_spec

    def without_parquet(name, *args):
        return None if name in ("pyarrow", "fastparquet") else find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", without_parquet)
    with pytest.raises(ImportError, match=r"pip install 'skadv\[serve\]'"):
        load_interactions(path)
    with pytest.raises(ImportError, match="needs pyarrow"):
        load_item_metadata(path)


# --------------------------------------------------------------------------- metadata
META = pd.DataFrame(
    {"movie_id": [1, 2, 3], "title": ["Toy Story", "GoldenEye", "Four Rooms"],
     "year": [1995, 1995, 1995]}
)  # fmt: skip


def test_metadata_indexed_by_item():
    meta = load_item_metadata(META, item="movie_id")
    assert meta.index.name == "item" and meta.index.tolist() == [1, 2, 3]
    assert meta.columns.tolist() == ["title", "year"]
    assert load_item_metadata(META, item="movie_id", columns=["title"]).columns.tolist() == [
        "title"
    ]


def test_metadata_from_headerless_file(tmp_path):
    path = tmp_path / "u.item"
    path.write_bytes(
        "1|Toy Story (1995)|01-Jan-1995\n2|Café (1995)|01-Jan-1995\n".encode("latin-1")
    )
    meta = load_item_metadata(path, item=0, columns=[1], sep="|", encoding="latin-1")
    assert meta.loc[2, 1] == "Café (1995)"


def test_metadata_errors(tmp_path):
    with pytest.raises(ValueError, match=r"holds 1 item ids on more than one row \(e.g. \[2\]\)"):
        load_item_metadata(pd.concat([META, META.iloc[[1]]]), item="movie_id")
    with pytest.raises(ValueError, match=r"item='item' is not a column"):
        load_item_metadata(META)
    with pytest.raises(ValueError, match=r"columns\[1\]='genre'"):
        load_item_metadata(META, item="movie_id", columns=["title", "genre"])
    with pytest.raises(TypeError, match="columns"):
        load_item_metadata(META, item="movie_id", columns="title")
    empty = tmp_path / "items.csv"
    empty.write_text("")
    with pytest.raises(ValueError, match="empty"):
        load_item_metadata(empty)


@pytest.mark.movielens
def test_movielens_files(movielens_path):
    data = load_interactions(
        movielens_path / "u.data", user=0, item=1, rating=2, timestamp=3, sep="\t"
    )
    assert data.shape == (100_000, 4) and data["rating"].between(1, 5).all()
    meta = load_item_metadata(
        movielens_path / "u.item", item=0, columns=[1], sep="|", encoding="latin-1"
    )
    assert len(meta) == 1682 and meta.loc[1, 1] == "Toy Story (1995)"
