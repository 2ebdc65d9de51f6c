"""The README's main job, ``python -m skadv``, on small synthetic data."""

import numpy as np
import pytest

from skadv.__main__ import main


def test_main_job_prints_every_section(capsys):
    assert main(["--n-users", "120", "--n-items", "80", "--epochs", "6"]) == 0
    out = capsys.readouterr().out
    for line in ("grid search over λ", "FGSM ε=0.5", "bandwagon poisoning, 5% fake users",
                 "T-HR@50", "top-5 recommendations"):  # fmt: skip
        assert line in out
    rows = [line for line in out.splitlines() if line.startswith(("BPR ", "APR "))]
    assert len(rows) == 4  # clean table and poisoning table, BPR and APR


def test_main_job_with_the_gan(capsys):
    pytest.importorskip("torch")
    main(["--n-users", "120", "--n-items", "80", "--epochs", "3", "--gan"])
    assert "GANAugmenter(APR):" in capsys.readouterr().out


def test_main_job_without_torch_skips_the_gan(capsys, monkeypatch):
    import importlib.util

    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args):
        return None if name == "torch" else real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    main(["--n-users", "80", "--n-items", "50", "--epochs", "2", "--gan"])
    assert "--gan: GANAugmenter needs PyTorch" in capsys.readouterr().out


def test_main_job_rejects_a_folder_without_movielens(tmp_path):
    with pytest.raises(SystemExit):
        main(["--movielens", str(tmp_path)])


# ------------------------------------------------------------------------------ serving CLI
def test_help_lists_the_subcommands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "recommend" in out and "similar" in out and "--movielens" in out


@pytest.fixture
def saved_model(tmp_path):
    pytest.importorskip("skops")
    from skadv import AdversarialMFRecommender
    from skadv.datasets import make_interactions
    from skadv.io import dump

    X = make_interactions(n_users=30, n_items=20, density=0.2, random_state=0)
    model = AdversarialMFRecommender(4, n_epochs=2, random_state=0).fit(X)
    dump(model, tmp_path / "model.skops")
    return model, tmp_path / "model.skops"


def test_recommend_from_a_text_file_to_csv(saved_model, tmp_path, capsys):
    import pandas as pd

    model, path = saved_model
    users = model.user_ids_[:7].tolist() + [10**6]  # and an unknown user
    (tmp_path / "users.txt").write_text("\n".join(map(str, users)) + "\n")
    out = tmp_path / "recs.csv"
    args = ["recommend", "--model", str(path), "--users", str(tmp_path / "users.txt"),
            "--n", "4", "--out", str(out), "--batch-size", "3"]  # fmt: skip
    assert main(args) == 0
    recs = pd.read_csv(out)
    assert recs.columns.tolist() == ["user", "rank", "item", "score"]
    expected = model.recommend(users, n=4, as_frame=True)
    pd.testing.assert_frame_equal(recs, expected, check_dtype=False)
    assert "32 rows for 8 users" in capsys.readouterr().err


def test_recommend_with_candidates_and_filters(saved_model, tmp_path):
    import pandas as pd

    model, path = saved_model
    pd.DataFrame({"id": model.user_ids_[:5], "x": 0}).to_csv(tmp_path / "u.csv", index=False)
    (tmp_path / "cand.txt").write_text("\n".join(map(str, model.item_ids_[:8])))
    (tmp_path / "filt.txt").write_text(str(model.item_ids_[0]))
    out = tmp_path / "recs.csv"
    main(["recommend", "--model", str(path), "--users", str(tmp_path / "u.csv"), "--column",
          "id", "--candidates", str(tmp_path / "cand.txt"), "--filter-items",
          str(tmp_path / "filt.txt"), "--no-exclude-seen", "--n", "3",
          "--out", str(out)])  # fmt: skip
    recs = pd.read_csv(out)
    assert recs["item"].isin(model.item_ids_[1:8]).all() and len(recs) == 15


def test_similar_items_to_csv(saved_model, tmp_path):
    import pandas as pd

    model, path = saved_model
    (tmp_path / "items.txt").write_text("\n".join(map(str, model.item_ids_[:4])))
    out = tmp_path / "sim.csv"
    main(["similar", "--model", str(path), "--items", str(tmp_path / "items.txt"), "--n", "3",
          "--out", str(out)])  # fmt: skip
    sims = pd.read_csv(out)
    expected = model.similar_items(model.item_ids_[:4], n=3, as_frame=True)
    pd.testing.assert_frame_equal(sims, expected, check_dtype=False)


class _RecordingBar:
    """Stands in for the tqdm bar: records each update."""

    def __init__(self):
        self.updates = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n):
        self.updates.append(n)


def test_parquet_output_is_written_block_by_block(saved_model, tmp_path, monkeypatch):
    pytest.importorskip("pyarrow")
    import pandas as pd
    import pyarrow.parquet as pq

    import skadv.__main__ as cli

    model, path = saved_model
    users = model.user_ids_[:7].tolist() + [10**6]  # and an unknown user
    (tmp_path / "users.txt").write_text("\n".join(map(str, users)))
    bar = _RecordingBar()
    monkeypatch.setattr(cli, "_progress", lambda total, command: bar)
    out = tmp_path / "recs.parquet"
    args = ["recommend", "--model", str(path), "--users", str(tmp_path / "users.txt"),
            "--n", "4", "--out", str(out), "--batch-size", "3"]  # fmt: skip
    assert main(args) == 0
    expected = model.recommend(users, n=4, as_frame=True)
    pd.testing.assert_frame_equal(pd.read_parquet(out), expected, check_dtype=False)
    # One row group per block of users: never more than --batch-size users in memory.
    assert pq.ParquetFile(out).num_row_groups == 3
    assert bar.updates == [3, 3, 2]


def test_parquet_inputs_and_similar_items_to_parquet(saved_model, tmp_path):
    pytest.importorskip("pyarrow")
    import pandas as pd

    model, path = saved_model
    pd.DataFrame({"x": 0, "id": model.user_ids_[:5]}).to_parquet(tmp_path / "u.parquet")
    pd.DataFrame({"item": model.item_ids_[:8]}).to_parquet(tmp_path / "cand.parquet")
    out = tmp_path / "recs.parquet"
    main(["recommend", "--model", str(path), "--users", str(tmp_path / "u.parquet"),
          "--column", "id", "--candidates", str(tmp_path / "cand.parquet"),
          "--no-exclude-seen", "--n", "3", "--out", str(out)])  # fmt: skip
    recs = pd.read_parquet(out)
    expected = model.recommend(model.user_ids_[:5], n=3, items=model.item_ids_[:8],
                               exclude_seen=False, as_frame=True)  # fmt: skip
    pd.testing.assert_frame_equal(recs, expected, check_dtype=False)
    out = tmp_path / "sim.parquet"
    main(["similar", "--model", str(path), "--items", str(tmp_path / "cand.parquet"),
          "--n", "2", "--out", str(out), "--batch-size", "5"])  # fmt: skip
    expected = model.similar_items(model.item_ids_[:8], n=2, as_frame=True)
    pd.testing.assert_frame_equal(pd.read_parquet(out), expected, check_dtype=False)


def test_parquet_with_string_ids(tmp_path):
    pytest.importorskip("pyarrow")
    pytest.importorskip("skops")
    import pandas as pd

    from skadv import ItemKNNRecommender
    from skadv.io import dump

    X = np.array([["ann", "x"], ["ann", "y"], ["bob", "y"], ["bob", "z"], ["cy", "x"]])
    model = ItemKNNRecommender().fit(X)
    dump(model, tmp_path / "knn.skops")
    (tmp_path / "users.txt").write_text("ann\nbob\ncy\n")
    out = tmp_path / "recs.parquet"
    main(["recommend", "--model", str(tmp_path / "knn.skops"), "--users",
          str(tmp_path / "users.txt"), "--n", "2", "--out", str(out),
          "--batch-size", "2"])  # fmt: skip
    expected = model.recommend(["ann", "bob", "cy"], n=2, as_frame=True)
    pd.testing.assert_frame_equal(pd.read_parquet(out), expected, check_dtype=False)


def test_parquet_keeps_uint64_ids_above_2_63(tmp_path):
    pytest.importorskip("pyarrow")
    pytest.importorskip("skops")
    import pandas as pd

    from skadv import PopularityRecommender
    from skadv.io import dump

    big = np.array([2**64 - 1, 2**63, 7], dtype=np.uint64)
    X = pd.DataFrame({"user": np.array([5, 5, 6, 6], dtype=np.uint64), "item": big[[0, 1, 1, 2]]})
    model = PopularityRecommender().fit(X)
    dump(model, tmp_path / "pop.skops")
    (tmp_path / "users.txt").write_text("5\n6\n")
    out = tmp_path / "recs.parquet"
    # One user per block, and the first block's only item is small: the column is uint64
    # from the model's ids, not int64 from that block.
    main(["recommend", "--model", str(tmp_path / "pop.skops"), "--users",
          str(tmp_path / "users.txt"), "--n", "1", "--out", str(out),
          "--batch-size", "1"])  # fmt: skip
    recs = pd.read_parquet(out)
    assert recs["item"].dtype == np.uint64
    assert recs["item"].tolist() == [7, 2**64 - 1]


def test_parquet_without_pyarrow_names_the_extra(saved_model, tmp_path, capsys, monkeypatch):
    import skadv.__main__ as cli

    _, path = saved_model
    monkeypatch.setattr(cli, "_has_pyarrow", lambda: False)
    (tmp_path / "users.txt").write_text("1\n")
    with pytest.raises(SystemExit):
        main(["recommend", "--model", str(path), "--users", str(tmp_path / "users.txt"),
              "--out", str(tmp_path / "recs.parquet")])  # fmt: skip
    err = capsys.readouterr().err
    assert "Parquet output needs pyarrow" in err and "skadv[serve]" in err
    with pytest.raises(SystemExit):
        main(["recommend", "--model", str(path), "--users", str(tmp_path / "users.parquet"),
              "--out", str(tmp_path / "recs.csv")])  # fmt: skip
    err = capsys.readouterr().err
    assert "--users" in err and "reading Parquet needs pyarrow" in err and "skadv[serve]" in err
    assert not (tmp_path / "recs.csv").exists()


def test_serving_rejects_an_unknown_output_suffix(saved_model, tmp_path, capsys):
    _, path = saved_model
    with pytest.raises(SystemExit):
        main(["recommend", "--model", str(path), "--users", "u.txt", "--out", "recs.xlsx"])
    assert ".csv or .parquet" in capsys.readouterr().err


def test_no_users_leaves_a_csv_with_the_header(saved_model, tmp_path):
    _, path = saved_model
    (tmp_path / "empty.txt").write_text("")
    out = tmp_path / "recs.csv"
    main(["recommend", "--model", str(path), "--users", str(tmp_path / "empty.txt"),
          "--out", str(out)])  # fmt: skip
    assert out.read_text() == "user,rank,item,score\n"
