"""The README's main job, ``python -m skadv``, on small synthetic data."""

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


def test_parquet_output_or_a_clear_error(saved_model, tmp_path, capsys):
    import importlib.util

    import pandas as pd

    model, path = saved_model
    (tmp_path / "users.txt").write_text("\n".join(map(str, model.user_ids_[:3])))
    out = tmp_path / "recs.parquet"
    args = ["recommend", "--model", str(path), "--users", str(tmp_path / "users.txt"),
            "--out", str(out), "--batch-size", "2"]  # fmt: skip
    if importlib.util.find_spec("pyarrow") is None:
        with pytest.raises(SystemExit):
            main(args)
        assert "Parquet output needs pyarrow" in capsys.readouterr().err
    else:
        main(args)
        assert len(pd.read_parquet(out)) == 30


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
