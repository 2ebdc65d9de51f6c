"""The VAT / PamaCF poisoning protocol on MovieLens 100k: skadv's models next to the official code.

Protocol (Zhang et al., RecSys 2024 and NeurIPS 2024, as their official code runs it): users
and items with at least 10 interactions (iterated to a fixed point), each user's
interactions sorted by time and split 7:1:2 into train / validation / test; 5 unpopular
targets (drawn per seed among the least popular third of the items by training users); fake
users at 1 % and 5 % of the real users, each holding the targets and as many fillers as the
mean training profile (their fake files have profiles of about the mean length); T-HR@50 and
T-NDCG@50 of the targets over the real users who have not interacted with them, the targets'
average rank shift against the same model fitted on the clean data, and clean Recall@20 /
NDCG@20 on the test split (all items outside the user's training set ranked). Fake users are
added to the training split whole (see "What differs" below).

skadv models: tuned BPR (bench_apr.py), the default ``AdversarialMFRecommender()``, and per-user
APR (bench_poisoning.py's PamaCF-style configuration). Attacks: random, bandwagon, and
SurrogateAttack with the smoothed top-50 hit objective (bench_strong_attack.py).

Official models (``--vat-code`` / ``--pamacf-code``: local checkouts of
github.com/Kaike-Zhang/VAT and github.com/Kaike-Zhang/PamaCF, never copied into this
repository): their MF without defence ("official MF", run from the VAT checkout: the two
checkouts' ``MFTrainer`` are identical), ``MFVATTrainer`` and ``MFPamaCFTrainer``. Route:

1. Each checkout's code (``main.py``, ``meta_config.py``, ``model/``, ``utls/``) is copied to a
   scratch folder (a temporary one unless ``--scratch-dir``); the same real data and fake users
   are written where their loader looks: ``data/ml100k/data.txt`` (user, item, %Y%m%d%H%M,
   score; rows in our time order, so their stable sort on minutes keeps our order within a
   minute) and ``data/ml100k/<attack>_<pct>_seed<s>.json`` (fake_users, target_items).
2. Each training is a subprocess (this script with ``--official-worker``, single thread, CPU
   torch, wall-time limit ``--official-timeout``) that imports their modules from the scratch
   copy, builds the trainer as their ``main.main`` does (their ``set_seed``, config from their
   ``meta_config`` argument parser and ``model_config``), calls their ``trainer.train`` unchanged
   and saves the learned user and item embeddings with their id maps.
3. Every metric in the table is recomputed with skadv's evaluation from those embeddings (a
   dot-product model holding their factors, fitted on the same training pairs as the skadv
   models), so every row is measured the same way. Their own end-of-training evaluation (test
   Recall@20 / NDCG@20 excluding train and validation items, T-HR@50) is parsed from their log
   and printed per run for reference. Fit seconds of an official run: the sum of their
   ``_train_epoch`` times (their data sampling in Python included; process start and their
   evaluation excluded).
4. epsilon of VAT and PamaCF (the only value their configs tune per dataset: 0.4-0.6 (VAT) and
   0.8-0.9 (PamaCF) for MF) is chosen from ``--vat-eps`` / ``--pamacf-eps`` by NDCG@20 on the
   validation part of the same split, on the clean data of the first seed, as a defender would;
   the other values of their configs (adv_reg 1, user_lmb 2, begin_adv 5, AdamW lr 1e-3, batch
   2048, weight decay 1e-4, 64 factors, 30 epochs) stay theirs. Without validation inside their
   loop (their ``val_interval`` 100 > 30 epochs), their model is the last epoch's.

Run-time shims, in the worker only (their files are never edited): ``trainer.user_with_atk``,
which their ``_eval_target`` writes to but nothing creates (an AttributeError as soon as a
target enters a top-k), is created; their per-validation ``eval_attacks`` (a log line) runs only
at the end of training; ``--use_gpu false``. No torch API they use for MF is gone in torch 2.13
(``torch.sparse.IntTensor`` is only in their LightGCN graph, not run here).

What differs from their own runs: (a) their loader splits fake profiles 7:1:2 like real users,
so only the first 70 % of each fake profile reaches their training set (the attacks list the
targets first, so the targets stay and the last fillers go); here the worker puts each fake
profile whole into training, as the skadv models get it (``--official-fake-split`` keeps their
7:1:2 split instead). (b) Their validation and test averages include the fake users; skadv's
evaluation ranks the real users only. (c) Their test ranking excludes training and validation
items; skadv's excludes training items only, for every model alike. (d) Their ``main.py`` loops
over 5 seeds (2024-2028); here one run per seed of this script. (e) Their time order is by
minute, ours by second (the file order breaks their ties as ours).

    python benchmarks/bench_field_protocol.py --quick          # seed 0, 5 %, 2 epsilons: QUICK
    python benchmarks/bench_field_protocol.py                  # seeds 0 1, 1 % and 5 %
    python benchmarks/bench_field_protocol.py --vat-code ~/VAT --pamacf-code ~/PamaCF

An absent checkout (no ``main.py`` there, or no flag) is skipped with a one-line message.
"""

import argparse
import collections
import csv
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
from _protocol import ml100k_path
from bench_apr import APR, BPR

from skadv.attacks import BandwagonAttack, RandomAttack, SurrogateAttack
from skadv.base import BaseRecommender
from skadv.datasets import load_movielens
from skadv.metrics import (
    average_rank_shift,
    get_ranking_scorer,
    target_hit_rate_at_k,
    target_ndcg_at_k,
)
from skadv.mf import AdversarialMFRecommender

MIN_INTERACTIONS = 10
SPLIT = (0.7, 0.1, 0.2)
N_TARGETS = 5
SIZES = (0.01, 0.05)
DATASET = "ml100k"
MODELS = {
    "BPR (tuned)": BPR,
    "default": {},
    "APR per-user": dict(APR, epsilon_mode="per-user"),
}
ATTACKS = {
    "random": (RandomAttack, {}),
    "bandwagon": (BandwagonAttack, {}),
    "surrogate-hit": (SurrogateAttack, {"objective": "hit", "top_k": 50, "max_users": 1000}),
}
# Official models: row name -> (checkout, their --defense). Their MF is the same in both.
OFFICIAL = {
    "official MF": ("VAT", "wo_defense"),
    "official VAT": ("VAT", "VAT"),
    "official PamaCF": ("PamaCF", "PamaCF"),
}
# epsilon grids: around the value that trains on ml-100k and up to their MF config's values
# (VAT: Gowalla 0.6, Yelp2018 0.5, MIND 0.4; PamaCF: 0.9, 0.8, ...).
VAT_EPS = (0.03, 0.1, 0.3, 0.6)
PAMACF_EPS = (0.03, 0.1, 0.3, 0.9)


def load_field_split():
    """(train, validation, test) DataFrames of user, item, timestamp: the >= 10 core, each
    user's interactions in time order split 7:1:2 as the official code does (int(0.7 n)
    train, int(0.2 n) test, the rest validation)."""
    try:
        data = load_movielens("100k", data_home=ml100k_path(), download=False).interactions
    except FileNotFoundError as exc:
        raise SystemExit(
            f"MovieLens 100k not found in {ml100k_path()}: set SKADV_ML100K."
        ) from exc
    data = data[["user", "item", "timestamp"]]
    while True:
        users = data.user.map(data.user.value_counts()) >= MIN_INTERACTIONS
        items = data.item.map(data.item.value_counts()) >= MIN_INTERACTIONS
        if (users & items).all():
            break
        data = data[users & items]
    data = data.sort_values(["user", "timestamp"], kind="stable")
    position = data.groupby("user").cumcount().to_numpy()
    length = data.user.map(data.user.value_counts()).to_numpy()
    n_train = (length * SPLIT[0]).astype(int)
    n_test = (length * SPLIT[2]).astype(int)
    part = np.where(position < n_train, 0, np.where(position >= length - n_test, 2, 1))
    return tuple(data[part == k].reset_index(drop=True) for k in range(3))


def draw_targets(X_train, seed):
    """N_TARGETS items drawn among the least popular third (training users)."""
    items, counts = np.unique(X_train[:, 1], return_counts=True)
    order = items[np.argsort(counts, kind="stable")]
    pool = order[: int(np.ceil(len(order) / 3))]
    return np.sort(np.random.RandomState(seed).choice(pool, size=N_TARGETS, replace=False))


def fit(config, X, seed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return AdversarialMFRecommender(n_jobs=1, random_state=seed, **config).fit(X)


class FixedFactorsRecommender(BaseRecommender):
    """Dot-product scores from given factors (the official runs' embeddings), so that
    skadv's metrics evaluate them exactly as they evaluate skadv's models.

    ``user_keys`` / ``item_keys`` name the rows of ``user_factors`` / ``item_factors``;
    ``fit(X)`` learns the training pairs (the seen items) and takes, for every user and item
    of ``X``, its row.
    """

    def __init__(
        self,
        user_factors=None,
        item_factors=None,
        user_keys=None,
        item_keys=None,
        handle_unknown="error",
        positive_threshold=None,
    ):
        self.user_factors = user_factors
        self.item_factors = item_factors
        self.user_keys = user_keys
        self.item_keys = item_keys
        self.handle_unknown = handle_unknown
        self.positive_threshold = positive_threshold

    def fit(self, X, y=None):
        self._fit_interactions(X, y)
        self.user_factors_ = self.user_factors[_rows(self.user_keys, self.user_ids_, "user")]
        self.item_factors_ = self.item_factors[_rows(self.item_keys, self.item_ids_, "item")]
        return self

    def _user_item_scores(self, user_codes):
        return self.user_factors_[user_codes] @ self.item_factors_.T


def _rows(keys, ids, name):
    position = {k: n for n, k in enumerate(keys.tolist())}
    missing = [k for k in ids.tolist() if k not in position]
    if missing:
        raise ValueError(f"{len(missing)} {name}s of X have no official row (e.g. {missing[:3]})")
    return np.array([position[k] for k in ids.tolist()])


def write_data(directory, train, validation, test):
    """The official loader's data.txt: user, item, time %Y%m%d%H%M, score (tab separated),
    every real interaction in our (user, time) order so that their stable sort by minute
    gives each user our sequence."""
    directory.mkdir(parents=True, exist_ok=True)
    real = pd.concat([train, validation, test]).sort_values(["user", "timestamp"], kind="stable")
    stamp = pd.to_datetime(real.timestamp, unit="s").dt.strftime("%Y%m%d%H%M")
    pd.DataFrame({"user": real.user, "item": real.item, "time": stamp, "score": 1}).to_csv(
        directory / "data.txt", sep="\t", header=False, index=False
    )


def write_fakes(directory, tag, X_poisoned, mask, targets):
    """The official fake-user file <tag>.json: {"fake_users": {user: [items]},
    "target_items": [items]}, ids as strings, each profile in the attack's row order."""
    fake = pd.DataFrame(X_poisoned[mask], columns=["user", "item"])
    profiles = {str(u): [str(i) for i in g.item] for u, g in fake.groupby("user", sort=False)}
    with open(directory / f"{tag}.json", "w") as f:
        json.dump({"fake_users": profiles, "target_items": [str(t) for t in targets]}, f)


def prepare_scratch(code, root):
    """A scratch copy of an official checkout (code only): their files write logs,
    checkpoints and a processed-data cache relative to the working folder."""
    ignore = shutil.ignore_patterns("data", "log", "checkpoints", "__pycache__", ".git")
    shutil.copytree(code, root, ignore=ignore)
    return root


# ------------------------------------------------------------------------ official worker
def official_worker(spec_path):
    """Train one official MF model in this process (run as a subprocess, cwd = scratch copy)
    and save its embeddings: see the module docstring, step 2."""
    spec = json.loads(Path(spec_path).read_text())
    os.chdir(spec["code"])
    sys.path.insert(0, spec["code"])
    with_fakes = spec["attack_type"] is not None
    sys.argv = ["main.py", "--model", "MF", "--defense", spec["defense"],
                "--dataset", DATASET, "--use_gpu", "false",
                "--with_fakes", "true" if with_fakes else "false",
                "--attack_type", spec["attack_type"] or "none",
                "--eps", str(spec["eps"]), "--n_epochs", str(spec["n_epochs"])]  # fmt: skip
    import torch

    torch.set_num_threads(1)
    import meta_config  # their argument parser reads sys.argv on import
    from utls import model_config, utilize
    from utls import trainer as their

    args = meta_config.args
    args.seed = spec["seed"]
    utilize.set_seed(args.seed)
    config = vars(args)
    config["model_config"] = model_config.get_MF_config(config)
    if spec["defense"] == "wo_defense":
        cls = their.MFTrainer
    else:
        config["defense_config"] = getattr(model_config, f"get_{spec['defense']}_config")(config)
        cls = getattr(their, f"MF{spec['defense']}Trainer")
    print("config:", {k: v for k, v in config.items() if k != "device"}, flush=True)
    trainer = cls(config)
    dataset = trainer.dataset
    n_real = dataset.n_users - (dataset.n_fake_users if with_fakes else 0)
    if with_fakes and not spec["fake_split"]:
        for row in range(n_real, dataset.n_users):
            dataset.train_data[row] = list(dataset.user_interactions[row])
            dataset.val_data[row], dataset.test_data[row] = [], []
        dataset.n_train_num = sum(len(items) for items in dataset.train_data)
    # Shims (see the module docstring): an attribute their _eval_target needs, and their
    # attack log only once, at the end.
    trainer.user_with_atk = collections.defaultdict(lambda: [False] * len(args.attack_top_k))
    eval_attacks = trainer.eval_attacks
    trainer.eval_attacks = lambda epoch=0, path=None: None if epoch else eval_attacks(0, path)
    epoch_seconds = []
    train_epoch = trainer._train_epoch

    def timed_epoch(epoch):
        start = time.perf_counter()
        train_epoch(epoch)
        epoch_seconds.append(time.perf_counter() - start)

    trainer._train_epoch = timed_epoch
    trainer.train(os.path.join("checkpoints", spec["name"]))

    # Their id maps: items from their processed cache, users by matching each row's time-
    # ordered sequence with data.txt's (their loader keeps no user map).
    with open(f"data/{DATASET}/processed/user_interactions_more_{MIN_INTERACTIONS}.pickle",
              "rb") as f:  # fmt: skip
        item_map = pickle.load(f)[3]
    item_keys = np.empty(len(item_map), dtype=object)
    for key, code in item_map.items():
        item_keys[code] = key
    with open(f"data/{DATASET}/data.txt") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    rows.sort(key=lambda row: datetime.strptime(row[2], "%Y%m%d%H%M"))
    sequences = collections.defaultdict(list)
    for row in rows:
        sequences[row[0]].append(row[1])
    by_sequence = {tuple(items): user for user, items in sequences.items()}
    if len(by_sequence) != len(sequences):
        raise RuntimeError("two users share a sequence: the user map is ambiguous")
    user_keys = [by_sequence[tuple(item_keys[dataset.user_interactions[r]])] for r in
                 range(n_real)]  # fmt: skip
    if with_fakes:
        with open(f"data/{DATASET}/{spec['attack_type']}.json") as f:
            fakes = json.load(f)["fake_users"]
        user_keys += [u for u, items in fakes.items() if len(items) >= MIN_INTERACTIONS]
    train_pairs = [(int(user_keys[r]), int(item_keys[i])) for r in range(n_real)
                   for i in dataset.train_data[r]]  # fmt: skip
    model = trainer.model
    np.savez(
        spec["out"],
        user_factors=model.user_emb.weight.detach().numpy(),
        item_factors=model.item_emb.weight.detach().numpy(),
        user_keys=np.array([int(u) for u in user_keys], dtype=np.int64),
        item_keys=np.array([int(i) for i in item_keys], dtype=np.int64),
        train_pairs=np.array(train_pairs, dtype=np.int64),
        fit_seconds=sum(epoch_seconds),
    )


THEIR_METRICS = {
    "recall": r"Final Recomendation Performance:.*?Recall@20: ([\d.]+)",
    "ndcg": r"Final Recomendation Performance:.*?NDCG@20: ([\d.]+)",
    "thr": r"Final Attack:.*?T-HR@50: ([\d.]+)",
}


def run_official(scratch, name, defense, eps, seed, attack_type, args, X_train):
    """Run the worker in a subprocess; (model data dict, their own metrics) or None."""
    spec = dict(code=str(scratch), name=name, defense=defense, eps=eps, seed=seed,
                attack_type=attack_type, n_epochs=args.official_epochs,
                fake_split=args.official_fake_split, out=str(scratch / f"{name}.npz"))  # fmt: skip
    spec_path = scratch / f"{name}.json"
    spec_path.write_text(json.dumps(spec))
    # PYTHONHASHSEED: their loader numbers items in the iteration order of a set of strings,
    # so without a fixed hash seed every fresh scratch copy gets another item numbering (and
    # another initialization): runs would not repeat across invocations.
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="",
               PYTHONHASHSEED="0")  # fmt: skip
    log = scratch / f"{name}.log"
    command = [sys.executable, str(Path(__file__).resolve()), "--official-worker", str(spec_path)]
    start = time.perf_counter()
    try:
        with open(log, "w") as out:
            done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=env,
                                  timeout=args.official_timeout, check=False)  # fmt: skip
    except subprocess.TimeoutExpired:
        print(f"  {name}: over the {args.official_timeout} s limit, left out", flush=True)
        return None
    wall = time.perf_counter() - start
    text = log.read_text()
    if done.returncode != 0:
        tail = " | ".join(text.strip().splitlines()[-3:])
        print(f"  {name}: exit {done.returncode} after {wall:.0f} s, left out: {tail}")
        return None
    data = dict(np.load(spec["out"], allow_pickle=False))
    theirs = {}
    for key, pattern in THEIR_METRICS.items():
        match = re.search(pattern, text, re.S)
        theirs[key] = float(match.group(1)) if match else float("nan")
    # Same real training pairs as ours, or the comparison means nothing.
    ours = {tuple(p) for p in X_train.tolist()}
    if {tuple(p) for p in data["train_pairs"].tolist()} != ours:
        raise RuntimeError(f"{name}: their training split differs from ours")
    data["wall_seconds"] = wall
    return data, theirs


def official_model(data, X_fit):
    return FixedFactorsRecommender(
        data["user_factors"], data["item_factors"], data["user_keys"], data["item_keys"]
    ).fit(X_fit)


# ------------------------------------------------------------------------ main
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--sizes", type=float, nargs="+", default=list(SIZES))
    parser.add_argument("--attacks", nargs="+", default=list(ATTACKS), choices=list(ATTACKS))
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--quick", action="store_true",
                        help="seed 0, 5 %% only, official epsilon grids of 2 values "
                        "(their 30 epochs kept): QUICK rows")  # fmt: skip
    parser.add_argument("--vat-code", type=Path, default=None)
    parser.add_argument("--pamacf-code", type=Path, default=None)
    parser.add_argument("--vat-eps", type=float, nargs="+", default=list(VAT_EPS))
    parser.add_argument("--pamacf-eps", type=float, nargs="+", default=list(PAMACF_EPS))
    parser.add_argument("--official-epochs", type=int, default=30, help="theirs: 30")
    parser.add_argument("--official-timeout", type=float, default=900,
                        help="wall seconds per official run")  # fmt: skip
    parser.add_argument(
        "--official-fake-split",
        action="store_true",
        help="keep their 7:1:2 split of fake profiles (default: whole)",
    )
    parser.add_argument("--scratch-dir", type=Path, default=None,
                        help="keep the scratch copies, data and logs here")  # fmt: skip
    parser.add_argument("--official-worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.official_worker:
        return official_worker(args.official_worker)
    label = ""
    if args.quick:
        args.seeds, args.sizes = [0], [0.05]
        args.vat_eps, args.pamacf_eps = [0.1, 0.3], [0.1, 0.3]
        label = "QUICK (seed 0, 5 % only, official epsilon grids 0.1 / 0.3): "
    checkouts = {}
    for name, path in (("VAT", args.vat_code), ("PamaCF", args.pamacf_code)):
        if path is None:
            print(f"{name}: no --{name.lower()}-code given: the official code is skipped.")
        elif not (path / "main.py").is_file():
            print(f"{name}: no checkout at {path} (main.py absent): skipped.")
        else:
            checkouts[name] = path.resolve()
    official = {m: v for m, v in OFFICIAL.items() if v[0] in checkouts}
    grids = {"VAT": args.vat_eps, "PamaCF": args.pamacf_eps, "wo_defense": [0.0]}

    train, validation, test = load_field_split()
    X_train = train[["user", "item"]].to_numpy()
    X_val = validation[["user", "item"]].to_numpy()
    X_test = test[["user", "item"]].to_numpy()
    users = np.unique(X_train[:, 0])
    n_fillers = int(round(train.groupby("user").size().mean())) - N_TARGETS
    print(f"{len(users)} users, {train.item.nunique()} items, {len(X_train)} training / "
          f"{len(validation)} validation / {len(X_test)} test interactions; fake profiles: "
          f"{N_TARGETS} targets + {n_fillers} fillers")  # fmt: skip
    recall, ndcg = get_ranking_scorer("recall@20"), get_ranking_scorer("ndcg@20")
    scratch_root = args.scratch_dir
    temporary = None
    if official:
        if scratch_root is None:
            temporary = tempfile.TemporaryDirectory(prefix="skadv-field-")
            scratch_root = Path(temporary.name)
        scratch_root.mkdir(parents=True, exist_ok=True)
        scratch = {}
        for code, path in checkouts.items():
            scratch[code] = scratch_root / code
            if not scratch[code].exists():
                prepare_scratch(path, scratch[code])
            write_data(scratch[code] / "data" / DATASET, train, validation, test)
        print(f"official scratch copies in {scratch_root}")

    def measure(model, clean_model):
        row = dict(recall=recall(model, X_test), ndcg=ndcg(model, X_test),
                   thr=target_hit_rate_at_k(model, users, targets),
                   tndcg=target_ndcg_at_k(model, users, targets))  # fmt: skip
        row["shift"] = (average_rank_shift(clean_model, model, users, targets)
                        if clean_model is not None else 0.0)  # fmt: skip
        return row

    def report(seed, model_name, size, attack, r, extra=""):
        print(f"  seed {seed} {model_name} {size:.0%} {attack}: T-HR@50 {r['thr']:.4f} "
              f"T-NDCG@50 {r['tndcg']:.4f} rank shift {r['shift']:.1f} Recall@20 "
              f"{r['recall']:.4f} NDCG@20 {r['ndcg']:.4f} fit {r['fit_s']:.1f} s{extra}",
              flush=True)  # fmt: skip

    rows, chosen = [], {}
    for seed in args.seeds:
        targets = draw_targets(X_train, seed)
        poisoned = {}
        for size in args.sizes:
            for name in args.attacks:
                cls, extra = ATTACKS[name]
                attack = cls(target_items=targets, attack_size=size, filler_size=n_fillers,
                             random_state=seed, **extra)  # fmt: skip
                start = time.perf_counter()
                X_poisoned, _ = attack.fit_resample(X_train)
                tag = f"{name}_{int(round(size * 100))}_seed{seed}"
                poisoned[(size, name)] = (X_poisoned, tag)
                seconds = time.perf_counter() - start
                print(f"seed {seed} {size:.0%} {name}: fit_resample {seconds:.1f} s", flush=True)
                for code in checkouts:
                    write_fakes(scratch[code] / "data" / DATASET, tag, X_poisoned,
                                attack.sample_mask_, targets)  # fmt: skip
        for model_name in args.models:
            config = MODELS[model_name]
            start = time.perf_counter()
            clean = fit(config, X_train, seed)
            clean_seconds = time.perf_counter() - start
            rows.append(dict(seed=seed, model=model_name, size=0.0, attack="clean",
                             fit_s=clean_seconds, **measure(clean, None)))  # fmt: skip
            report(seed, model_name, 0.0, "clean", rows[-1])
            for (size, name), (X_poisoned, _) in poisoned.items():
                start = time.perf_counter()
                model = fit(config, X_poisoned, seed)
                seconds = time.perf_counter() - start
                rows.append(dict(seed=seed, model=model_name, size=size, attack=name,
                                 fit_s=seconds, **measure(model, clean)))  # fmt: skip
                report(seed, model_name, size, name, rows[-1])
        for model_name, (code, defense) in official.items():
            # epsilon on the clean validation split (first seed), as a defender would.
            clean = None
            for eps in grids[defense] if model_name not in chosen else [chosen[model_name]]:
                run_name = f"{defense}_eps{eps:g}_clean_seed{seed}"
                result = run_official(scratch[code], run_name, defense, eps, seed, None, args,
                                      X_train)  # fmt: skip
                if result is None:
                    continue
                data, theirs = result
                model = official_model(data, X_train)
                val = ndcg(model, X_val)
                print(f"  seed {seed} {model_name} eps {eps:g}: validation NDCG@20 {val:.4f} "
                      f"({data['fit_seconds']:.0f} s training, {data['wall_seconds']:.0f} s "
                      f"wall)", flush=True)  # fmt: skip
                if clean is None or val > clean[0]:
                    clean = (val, eps, model, data, theirs)
            if clean is None:
                continue
            _, eps, clean_model, data, theirs = clean
            if model_name not in chosen and defense != "wo_defense":
                chosen[model_name] = eps
                print(f"  {model_name}: epsilon {eps:g} chosen on validation", flush=True)
            chosen.setdefault(model_name, eps)
            rows.append(dict(seed=seed, model=model_name, size=0.0, attack="clean",
                             fit_s=float(data["fit_seconds"]),
                             **measure(clean_model, None)))  # fmt: skip
            report(seed, model_name, 0.0, "clean", rows[-1], _theirs(theirs))
            for (size, name), (X_poisoned, tag) in poisoned.items():
                run_name = f"{defense}_eps{eps:g}_{tag}"
                result = run_official(scratch[code], run_name, defense, eps, seed, tag, args,
                                      X_train)  # fmt: skip
                if result is None:
                    continue
                data, theirs = result
                model = official_model(data, X_poisoned)
                rows.append(dict(seed=seed, model=model_name, size=size, attack=name,
                                 fit_s=float(data["fit_seconds"]),
                                 **measure(model, clean_model)))  # fmt: skip
                report(seed, model_name, size, name, rows[-1], _theirs(theirs))
    if temporary is not None:
        temporary.cleanup()
    if chosen:
        print("\nepsilon chosen on validation NDCG@20 (clean, first seed): " + ", ".join(
            f"{m} {e:g}" for m, e in chosen.items() if "MF" not in m))  # fmt: skip
    frame = pd.DataFrame(rows)
    table = frame.groupby(["model", "attack", "size"], sort=False)[
        ["thr", "tndcg", "shift", "recall", "ndcg", "fit_s"]
    ].mean()
    print(f"\n{label}Mean over seeds {args.seeds}:")
    print("| model | attack | size | T-HR@50 | T-NDCG@50 | rank shift | Recall@20 | NDCG@20 | "
          "fit (s) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for (model, attack, size), r in table.iterrows():
        print(f"| {model} | {attack} | {size:.0%} | {r.thr:.4f} | {r.tndcg:.4f} | "
              f"{r['shift']:.1f} | {r.recall:.4f} | {r.ndcg:.4f} | {r.fit_s:.0f} |")  # fmt: skip


def _theirs(theirs):
    return (f" | their evaluation: Recall@20 {theirs['recall']:.4f} NDCG@20 "
            f"{theirs['ndcg']:.4f} T-HR@50 {theirs['thr']:.4f}")  # fmt: skip


if __name__ == "__main__":
    main()
