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
