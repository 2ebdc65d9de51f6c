"""Train a torch recommender from a JSON config, on one process or several (``torchrun``).

::

    python -m skadv.neural.launch --config run.json                      # one process
    torchrun --nproc_per_node 2 -m skadv.neural.launch --config run.json # 2 processes

The config names the model, its parameters and the data files::

    {
      "model": "text",                       # or "neural"
      "params": {"encoder": "all-MiniLM-L6-v2", "trainable_layers": 1,
                 "precision": "bf16", "random_state": 0},
      "interactions": "ratings.csv",         # columns user, item (and rating: y)
      "item_texts": "titles.csv",            # columns item, text (text model only)
      "output": "model.pkl"
    }

Under ``torchrun`` (``WORLD_SIZE`` > 1) each process joins the process group (``nccl`` when
it trains on CUDA, else ``gloo``), trains on ``cuda:LOCAL_RANK`` when CUDA is there and
``params`` names no ``device``, takes its share of every global batch of ``batch_size``
triples and averages gradients with the others once per step (see
:mod:`skadv._torch.distributed`); rank 0 alone writes ``output`` (a pickle: NumPy state,
ranking without torch). The fitted model equals, within float rounding, the one a single
process fits with the same seed and ``accumulate_steps`` multiplied by the number of
processes (the same micro-batches; dropout draws differ between the two). A JSON line with
the loss curve and the fit time is printed by rank 0.
"""

import argparse
import json
import os
import pickle
import sys
import time

__all__ = ["main", "run"]

_MODELS = {
    "neural": "AdversarialNeuralRecommender",
    "text": "AdversarialTextRecommender",
}


def _read_config(path):
    with open(path, encoding="utf-8") as f:
        config = json.load(f)
    if not isinstance(config, dict):
        raise ValueError(f"--config {path}: a JSON object is required.")
    model = config.get("model")
    if model not in _MODELS:
        raise ValueError(
            f"--config {path}: model must be one of {sorted(_MODELS)}, got {model!r}."
        )
    if "interactions" not in config:
        raise ValueError(f"--config {path}: interactions (a CSV file) is required.")
    if model == "text" and "item_texts" not in config:
        raise ValueError(f"--config {path}: item_texts (a CSV file) is required for 'text'.")
    return config


def run(config):
    """Fit the model a config describes (in this process, or this rank of a group).

    Parameters
    ----------
    config : dict
        As in the module docstring; ``output`` is optional here.

    Returns
    -------
    model : the fitted estimator
    """
    import pandas as pd

    import skadv.neural

    params = dict(config.get("params", {}))
    rank, world_size, local_rank = _group_env()
    if world_size > 1 and params.get("device") is None:
        import torch

        if torch.cuda.is_available():
            params["device"] = f"cuda:{local_rank}"
    estimator = getattr(skadv.neural, _MODELS[config["model"]])(**params)
    frame = pd.read_csv(config["interactions"])
    X = frame.iloc[:, :2].to_numpy()
    y = frame.iloc[:, 2].to_numpy() if frame.shape[1] > 2 else None
    fit_params = {}
    if config["model"] == "text":
        texts = pd.read_csv(config["item_texts"])
        fit_params["item_texts"] = pd.Series(texts.iloc[:, 1].astype(str).to_numpy(),
                                             index=texts.iloc[:, 0].to_numpy())  # fmt: skip
    return estimator.fit(X, y, **fit_params)


def _group_env():
    """``(rank, world_size, local_rank)`` from torchrun's environment variables."""
    return (
        int(os.environ.get("RANK", 0)),
        int(os.environ.get("WORLD_SIZE", 1)),
        int(os.environ.get("LOCAL_RANK", 0)),
    )


def main(argv=None):
    """Entry point of ``python -m skadv.neural.launch`` (see the module docstring)."""
    parser = argparse.ArgumentParser(
        prog="python -m skadv.neural.launch",
        description="Train a skadv torch recommender from a JSON config (torchrun-ready).",
    )
    parser.add_argument("--config", required=True, help="JSON file: model, params, data")
    parser.add_argument("--output", help="pickle written by rank 0 (overrides the config's)")
    args = parser.parse_args(argv)
    config = _read_config(args.config)
    output = args.output or config.get("output")
    rank, world_size, _ = _group_env()
    group = world_size > 1
    if group:
        import torch

        device = config.get("params", {}).get("device")
        cuda = torch.cuda.is_available() and (device is None or str(device).startswith("cuda"))
        torch.distributed.init_process_group("nccl" if cuda else "gloo")
    try:
        start = time.perf_counter()
        model = run(config)
        seconds = time.perf_counter() - start
    finally:
        if group:
            import torch

            torch.distributed.destroy_process_group()
    if rank == 0:
        if output:
            with open(output, "wb") as f:
                pickle.dump(model, f)
        summary = {
            "world_size": world_size,
            "fit_seconds": round(seconds, 3),
            "n_iter": int(model.n_iter_),
            "loss_curve": list(map(float, model.loss_curve_)),
        }
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
