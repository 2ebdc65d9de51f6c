"""Large-model options of AdversarialTextRecommender: LoRA vs full fine-tuning, bf16 vs fp32,
2 data-parallel processes vs 1, and cached (stale) negatives.

Every figure is a ratio against a reference measured in the same run, on the same data:

- **step time**: seconds per training step of FGM adversarial fine-tuning on the token
  embeddings (``adv_target="tokens"``), from two fits of 1 and 1 + ``--epochs`` epochs (their
  difference: no loading, no catalogue encoding, no export), for full fine-tuning
  (``trainable_layers=None``) and ``adapter="lora"`` (rank ``--lora-rank``), in each
  ``--precision``; the reference is full fine-tuning in fp32. ``--clean`` adds a clean step
  (``adversary="none"``) of full fine-tuning: the FGM / clean ratio.
- **trainable share**: LoRA's trainable parameters over the encoder's parameters (peft's
  default targets: query and value of every layer).
- **quality** (``--quality``): warm NDCG@10 of LoRA and of full fine-tuning on a user subset
  of ml-100k titles (the split of ``bench_text_defaults.py``), ``--quality-epochs`` epochs.
- **data parallel** (``--ddp``): wall seconds of the fit of ``python -m skadv.neural.launch``
  under ``torchrun --nproc_per_node 2`` (gloo on CPU, nccl on CUDA) against the same config
  in one process; throughput ratio = one-process seconds / two-process seconds.

Data: the first ``--n-users`` users of ml-100k (all their ratings positive) with the
"title | genres" texts, or, without the files, synthetic block data with generated titles.
On a shared CPU the wall times stretch with the load: the load average is printed; compare
only ratios of one run.

Usage::

    python benchmarks/bench_text_large.py                          # CPU, fp32 and bf16
    python benchmarks/bench_text_large.py --ddp --quality
    python benchmarks/bench_text_large.py --device cuda --precision bf16 fp32 --clean --ddp
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import numpy as np
import pandas as pd

from skadv.neural import AdversarialTextRecommender


def load_data(n_users, seed=0):
    """(X, texts): ml-100k users and titles, or synthetic blocks when the files are absent."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _protocol import ml100k_path

    try:
        from skadv.datasets import load_movielens

        data = load_movielens("100k", data_home=ml100k_path(), download=False)
    except FileNotFoundError:
        rng = np.random.RandomState(seed)
        words = "star war space love story comedy drama night city hope lost empire".split()
        texts = {i: " ".join(rng.choice(words, 4)) for i in range(300)}
        X = np.array([(u, i) for u in range(n_users) for i in range(300)
                      if rng.rand() < (0.08 if u % 3 == i % 3 else 0.01)])  # fmt: skip
        return X, texts, "synthetic"
    texts = dict(zip(data.movies["item"], data.movies["text"], strict=True))
    X = data.interactions[["user", "item"]].to_numpy()
    users = np.sort(np.unique(X[:, 0]))[:n_users]
    return X[np.isin(X[:, 0], users)], texts, "ml-100k"


def step_seconds(X, texts, params, epochs):
    """Seconds per step: (fit of 1 + epochs epochs - fit of 1 epoch) / steps."""
    times = []
    for n_epochs in (1, 1 + epochs):
        model = AdversarialTextRecommender(n_epochs=n_epochs, **params)
        start = time.perf_counter()
        model.fit(X, item_texts=texts)
        times.append(time.perf_counter() - start)
    steps = epochs * -(-len(X) // params["batch_size"])
    return (times[1] - times[0]) / steps, model


def trainable_share(encoder, rank):
    import peft

    from skadv.neural._encoders import add_lora, load_encoder

    model, _ = load_encoder(encoder)
    total = sum(p.numel() for p in model.parameters())
    wrapped = add_lora(model, rank=rank, alpha=2 * rank, dropout=0.0)
    trainable = sum(p.numel() for p in wrapped.parameters() if p.requires_grad)
    return trainable, total, peft.__version__


def quality(X, texts, full_params, lora_params, epochs, seed=0):
    from skadv.metrics import get_ranking_scorer
    from skadv.model_selection import train_test_split_interactions

    train, test = train_test_split_interactions(X, test_size=0.2, random_state=seed)
    ndcg = get_ranking_scorer("ndcg@10")
    out = {}
    for name, params in (("full", full_params), ("lora", lora_params)):
        model = AdversarialTextRecommender(**dict(params, n_epochs=epochs, adv_start="auto"))
        start = time.perf_counter()
        model.fit(train, item_texts=texts)
        out[name] = (ndcg(model, test), time.perf_counter() - start)
    return out


def ddp_seconds(X, texts, params, n_procs):
    """Fit seconds printed by the launch entry point under torchrun with n_procs processes."""
    with tempfile.TemporaryDirectory() as tmp:
        pd.DataFrame(X, columns=["user", "item"]).to_csv(f"{tmp}/x.csv", index=False)
        frame = pd.DataFrame({"item": list(texts), "text": list(texts.values())})
        frame.to_csv(f"{tmp}/texts.csv", index=False)
        config = {"model": "text", "params": params, "interactions": f"{tmp}/x.csv",
                  "item_texts": f"{tmp}/texts.csv"}  # fmt: skip
        with open(f"{tmp}/run.json", "w") as f:
            json.dump(config, f)
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node", str(n_procs), "-m", "skadv.neural.launch",
               "--config", f"{tmp}/run.json"]  # fmt: skip
        env = dict(os.environ, OMP_NUM_THREADS=str(params.get("n_jobs") or 1))
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
        summary = json.loads(out.stdout.strip().splitlines()[-1])
        return summary["fit_seconds"], summary["loss_curve"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", default="all-MiniLM-L6-v2")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", nargs="+", default=["fp32", "bf16"])
    parser.add_argument("--n-users", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=1, help="timed epochs per fit")
    parser.add_argument("--lora-rank", type=int, default=8)
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--clean", action="store_true", help="also time a clean step (FGM/clean)")
    parser.add_argument("--ddp", action="store_true", help="2 processes vs 1 (torchrun)")
    parser.add_argument("--quality", action="store_true", help="NDCG@10 of LoRA vs full")
    parser.add_argument("--no-timing", action="store_true", help="skip the step timings")
    parser.add_argument("--quality-users", type=int, default=100)
    parser.add_argument("--quality-epochs", type=int, default=2)
    args = parser.parse_args()

    X, texts, source = load_data(args.n_users)
    print(f"{source}: {len(X)} interactions of {len(np.unique(X[:, 0]))} users; device "
          f"{args.device}, batch {args.batch_size}, max_length {args.max_length}, "
          f"n_jobs {args.n_jobs}; load before {os.getloadavg()[0]:.2f}")  # fmt: skip
    base = dict(encoder=args.encoder, trainable_layers=None, adv_target="tokens",
                adversary="fgsm", epsilon=1.0, epsilon_mode="absolute", adv_start=0,
                item_id_embedding=False, learning_rate=1e-3, batch_size=args.batch_size,
                max_length=args.max_length, device=args.device, n_jobs=args.n_jobs,
                random_state=0)  # fmt: skip
    lora = dict(base, trainable_layers=0, adapter="lora", lora_rank=args.lora_rank,
                lora_alpha=2 * args.lora_rank)  # fmt: skip

    trainable, total, version = trainable_share(args.encoder, args.lora_rank)
    print(
        f"LoRA rank {args.lora_rank} (peft {version}): {trainable:,} trainable of "
        f"{total:,} encoder parameters = {100 * trainable / total:.2f} %"
    )
    print("| setting | s/step | ratio to full fp32 | load |")
    reference = None
    for precision in [] if args.no_timing else args.precision:
        settings = [("full", base), ("lora", lora)]
        if args.clean:
            settings.append(("full clean (no adversary)", dict(base, adversary="none")))
        for name, params in settings:
            seconds, _ = step_seconds(X, texts, dict(params, precision=precision), args.epochs)
            reference = reference or seconds
            print(f"| {name} {precision} | {seconds:.3f} | {seconds / reference:.2f} | "
                  f"{os.getloadavg()[0]:.2f} |", flush=True)  # fmt: skip
    if args.ddp:
        params = dict(base, n_epochs=1 + args.epochs)
        one, loss_one = ddp_seconds(X, texts, params, 1)
        two, loss_two = ddp_seconds(X, texts, dict(params, accumulate_steps=1), 2)
        print(
            f"data parallel (full fp32, {params['n_epochs']} epochs): 1 process {one:.1f} s, "
            f"2 processes {two:.1f} s: throughput x{one / two:.2f}; final loss "
            f"{loss_one[-1]:.4f} vs {loss_two[-1]:.4f}; load {os.getloadavg()[0]:.2f}"
        )
    if args.quality:
        Xq, _, _ = load_data(args.quality_users)
        result = quality(Xq, texts, base, lora, args.quality_epochs)
        (full, t_full), (ada, t_lora) = result["full"], result["lora"]
        print(f"warm NDCG@10 on {args.quality_users} users, {args.quality_epochs} epochs: full "
              f"{full:.4f} ({t_full:.0f} s), LoRA {ada:.4f} ({t_lora:.0f} s): LoRA / full "
              f"{ada / full:.3f}")  # fmt: skip
    print(f"load average (1, 5, 15 min) {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
