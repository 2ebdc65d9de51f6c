"""Training throughput of skadv's PyTorch backend against a naive PyTorch APR, same process.

    python benchmarks/bench_torch_mf.py                 # CPU, small synthetic set
    python benchmarks/bench_torch_mf.py --device cuda   # GPU target: 1M users x 500k items,
                                                        # batch 262,144, k=64

Both train BPR and APR (gradient adversary, ε=0.5, λ=1, AdaGrad, lr=0.05) on the same
synthetic interactions, from the same initial factors, with the same triple sampler (a uniform
positive pair, a uniform negative item rejected while positive), by batches of the same size:

* skadv: ``skadv.mf._torch_backend.train`` (what ``AdversarialMFRecommender(backend="torch")``
  runs): gradients in closed form, summed per distinct row of the batch, sparse row-wise
  AdaGrad; epoch time includes its per-epoch checks (finiteness, row norms) on the device.
* naive: the textbook port of the APR paper's code: dense ``nn.Embedding`` tables, the
  perturbation from ``torch.autograd.grad`` of the batch's BPR loss w.r.t. the whole tables
  (dense gradients, normalized per row), the adversarial loss on ``weight + delta``, then
  ``backward`` and a dense ``torch.optim.Adagrad`` (or ``Adam``) step over every row.

On CPU the compiled per-sample kernel (``backend="cython"``) is timed too, on the same thread
count. The first epoch of each run is a warm-up and is not timed. Prints samples/s and the
ratio skadv / naive.
"""

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F
from scipy import sparse

from skadv._torch.sampling import sample_negatives
from skadv.mf import _cython_backend
from skadv.mf import _torch_backend as tb
from skadv.training import FactorState, TrainingSchedule

PRESETS = {
    "cpu": dict(n_users=20_000, n_items=5_000, n_interactions=400_000, batch_size=4096),
    "cuda": dict(
        n_users=1_000_000, n_items=500_000, n_interactions=20_000_000, batch_size=262_144
    ),
}
LR, EPSILON, ADV_REG, INIT_STD = 0.05, 0.5, 1.0, 0.1


def make_data(n_users, n_items, n_interactions, seed=0):
    """Distinct (user, item) pairs: users uniform, item ids skewed to small ids (popularity
    density about 1 / sqrt(id)), as a CSR matrix and the COO pairs."""
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users, n_interactions, dtype=np.int64)
    items = (n_items * rng.random(n_interactions) ** 2).astype(np.int64)
    keys = np.unique(users * n_items + items)
    users, items = keys // n_items, keys % n_items
    csr = sparse.csr_matrix(
        (np.ones(keys.shape[0], dtype=np.float32), (users, items)), shape=(n_users, n_items)
    )
    return csr, users.astype(np.int32), items.astype(np.int32)


def initial_state(n_users, n_items, k, seed=0):
    rng = np.random.default_rng(seed)
    user = rng.normal(0, INIT_STD, (n_users, k)).astype(np.float32)
    item = rng.normal(0, INIT_STD, (n_items, k)).astype(np.float32)
    bias = np.zeros(n_items, dtype=np.float32)
    return FactorState(user, item, bias, np.zeros_like(user), np.zeros_like(item), bias.copy())


def schedule(n_epochs, apr):
    return TrainingSchedule(
        n_epochs=n_epochs, learning_rate=LR, optimizer="adagrad", reg=0.0,
        adv_reg=ADV_REG if apr else 0.0, epsilon=EPSILON, epsilon_mode="absolute",
        adversary="fgsm", adv_start=0, use_bias=False,
    )  # fmt: skip


def time_backend(train, data, args, apr, **kwargs):
    """Samples/s of a skadv backend's ``train`` over ``args.epochs`` epochs after a warm-up."""
    csr, users, items = data
    state = initial_state(*csr.shape, args.n_factors)
    stamps = []

    class Timer:  # an "early stopping" that only stamps the end of every epoch
        scores = [0.0]
        best_score = best_epoch = None

        def after_epoch(self, epoch):
            stamps.append(time.perf_counter())
            return False, None

    train(
        state, csr, users, items, schedule(args.epochs + 1, apr), rng=np.random.RandomState(0),
        n_threads=args.threads, early_stopping=Timer(), **kwargs,
    )  # fmt: skip
    return users.shape[0] * args.epochs / (stamps[-1] - stamps[0])


class NaiveAPR(torch.nn.Module):
    """Dense embedding tables; the perturbation as in the APR paper's reference code."""

    def __init__(self, state):
        super().__init__()
        self.user = torch.nn.Embedding.from_pretrained(torch.from_numpy(state.user), freeze=False)
        self.item = torch.nn.Embedding.from_pretrained(torch.from_numpy(state.item), freeze=False)

    def bpr(self, u, i, j, delta_user=None, delta_item=None):
        P, Q = self.user.weight, self.item.weight
        if delta_user is not None:
            P, Q = P + delta_user, Q + delta_item  # dense: every row of both tables
        p, qi, qj = F.embedding(u, P), F.embedding(i, Q), F.embedding(j, Q)
        return F.softplus(-(p * (qi - qj)).sum(dim=1)).sum()

    def step(self, optimizer, u, i, j, apr):
        loss = self.bpr(u, i, j)
        if apr:
            weights = [self.user.weight, self.item.weight]
            g_user, g_item = torch.autograd.grad(loss, weights, retain_graph=True)
            delta_user = EPSILON * F.normalize(g_user, dim=1)
            delta_item = EPSILON * F.normalize(g_item, dim=1)
            loss = loss + ADV_REG * self.bpr(u, i, j, delta_user, delta_item)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def time_naive(data, args, apr):
    csr, users, items = data
    device = torch.device(args.device)
    state = initial_state(*csr.shape, args.n_factors)
    model = NaiveAPR(state).to(device)
    if args.naive_optimizer == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    else:
        optimizer = torch.optim.Adagrad(model.parameters(), lr=LR)
    n_items = csr.shape[1]
    row_of = np.repeat(np.arange(csr.shape[0], dtype=np.int64), np.diff(csr.indptr))
    keys = torch.from_numpy(row_of * n_items + csr.indices).to(device)
    pair_users = torch.from_numpy(users.astype(np.int64)).to(device)
    pair_items = torch.from_numpy(items.astype(np.int64)).to(device)
    generator = torch.Generator(device=device).manual_seed(0)
    n = users.shape[0]

    def epoch():
        for start in range(0, n, args.batch_size):
            picked = torch.randint(
                n, (min(args.batch_size, n - start),), generator=generator, device=device
            )
            u = pair_users[picked]
            j = sample_negatives(u, keys, n_items, generator)  # skadv's sampler, shared
            model.step(optimizer, u, pair_items[picked], j, apr)
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    epoch()  # warm-up
    start = time.perf_counter()
    for _ in range(args.epochs):
        epoch()
    return n * args.epochs / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
    parser.add_argument("--n-users", type=int)
    parser.add_argument("--n-items", type=int)
    parser.add_argument("--n-interactions", type=int, help="pairs drawn (duplicates merged)")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--n-factors", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs (after a warm-up)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (torch, cython)")
    parser.add_argument("--naive-optimizer", choices=["adagrad", "adam"], default="adagrad")
    args = parser.parse_args()
    preset = PRESETS["cuda" if args.device.startswith("cuda") else "cpu"]
    for name, value in preset.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    torch.set_num_threads(args.threads)

    data = make_data(args.n_users, args.n_items, args.n_interactions)
    n_pairs = data[1].shape[0]
    print(
        f"device {args.device}: {args.n_users:,} users x {args.n_items:,} items, "
        f"{n_pairs:,} pairs, k={args.n_factors}, batch {args.batch_size:,}, "
        f"{args.epochs} timed epochs, {args.threads} CPU thread(s), torch {torch.__version__}"
    )
    rows = {}
    for apr in (False, True):
        rows.setdefault("skadv torch (sparse, closed form)", []).append(
            time_backend(
                tb.train, data, args, apr, device=args.device, batch_size=args.batch_size
            )  # fmt: skip
        )
        rows.setdefault(f"naive torch (dense, {args.naive_optimizer})", []).append(
            time_naive(data, args, apr)
        )
        if not args.device.startswith("cuda"):
            rows.setdefault("skadv cython (per sample)", []).append(
                time_backend(_cython_backend.train, data, args, apr)
            )
    print(f"{'samples/s':<36}{'BPR':>14}{'APR':>14}")
    for name, (bpr, apr) in rows.items():
        print(f"{name:<36}{bpr:>14,.0f}{apr:>14,.0f}")
    (skadv_bpr, skadv_apr), (naive_bpr, naive_apr) = list(rows.values())[:2]
    ratios = f"{skadv_bpr / naive_bpr:>14.2f}{skadv_apr / naive_apr:>14.2f}"
    print(f"{'ratio skadv torch / naive':<36}{ratios}")


if __name__ == "__main__":
    main()
