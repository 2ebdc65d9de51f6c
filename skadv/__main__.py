"""``python -m skadv`` / ``skadv``: BPR vs APR on synthetic data (or a local MovieLens copy).

Fits a popularity baseline, BPR and APR matrix factorization on a per-user 20 % holdout, grid
searches the adversarial weight λ and perturbation size ε with a per-user holdout inside the
training set, and prints clean NDCG@10 / Recall@10 next to NDCG@10 under an FGSM attack on the
embeddings and the progress of 5 target items under a bandwagon poisoning attack (fake users
injected into the training data), then top-5 recommendations for a few users (movie titles on
MovieLens). ``--gan`` adds ``GANAugmenter`` around APR (needs PyTorch). With
``--plot DIR`` and matplotlib installed it also writes the training curves and the robustness
curves there as PNG files.

Batch serving of a model saved with :func:`skadv.io.dump` (see ``docs/serving.rst``)::

    python -m skadv recommend --model model.skops --users users.txt --n 20 --out recs.parquet
    python -m skadv similar --model model.skops --items items.csv --n 20 --out similar.csv

Users (items) are read from a text file (one id per line), or a column of a CSV or Parquet
file; results are written in blocks (bounded memory) as CSV or Parquet, by the suffix of
``--out``, with a progress bar when tqdm is installed and the output is a terminal.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np


class _DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show ``(default: ...)`` for options that have a default value."""

    def _get_help_string(self, action):
        return action.help if action.default is None else super()._get_help_string(action)


SUBCOMMANDS = {
    "recommend": "top-n items for users of a file, from a model saved with skadv.io.dump",
    "similar": "most similar items for items of a file (cosine of the item embeddings)",
}


def _parse_args(argv):
    epilog = "subcommands (serving a saved model; `python -m skadv SUBCOMMAND --help`):\n" + (
        "\n".join(f"  {name:<10} {text}" for name, text in SUBCOMMANDS.items())
    )
    parser = argparse.ArgumentParser(
        prog="skadv",
        description="Demo: BPR vs adversarially trained (APR) matrix factorization. With a "
        "subcommand (recommend, similar): batch serving of a saved model.",
        epilog=epilog,
        formatter_class=_EpilogDefaultsFormatter,
    )
    parser.add_argument(
        "--movielens",
        metavar="PATH",
        help="folder holding MovieLens 100k (u.data, u.item...), or its u.data file; never "
        "downloaded (default: synthetic data)",
    )
    parser.add_argument("--n-users", type=int, default=600, help="synthetic users")
    parser.add_argument("--n-items", type=int, default=400, help="synthetic items")
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="training epochs per model (default: 60 on MovieLens, 40 on synthetic data)",
    )
    parser.add_argument("--attack-epsilon", type=float, default=0.5, help="FGSM ε")
    parser.add_argument(
        "--attack-size",
        type=float,
        default=0.05,
        help="fake users of the bandwagon attack, as a fraction of the real users",
    )
    parser.add_argument(
        "--gan",
        action="store_true",
        help="also fit GANAugmenter(estimator=APR): generated interactions for sparse users "
        "(needs PyTorch: pip install 'skadv[torch]')",
    )
    parser.add_argument("--n-jobs", type=int, default=1, help="threads for training")
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="random seed of the data, the splits, the models and the attack",
    )
    parser.add_argument(
        "--plot",
        metavar="DIR",
        help="write training_curves.png and robustness_curves.png to DIR (needs matplotlib)",
    )
    args = parser.parse_args(argv)
    if args.movielens:
        folder = _movielens_folder(args.movielens)
        if folder is None:
            parser.error(
                f"--movielens {args.movielens}: no u.data there. Pass the folder that holds "
                "the MovieLens 100k files (u.data, u.item...), e.g. --movielens ml-100k."
            )
        args.movielens = folder
    return args


class _EpilogDefaultsFormatter(_DefaultsFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown, and the subcommand list kept as written."""


def _movielens_folder(path):
    """The folder holding u.data: ``path`` itself or its ``ml-100k`` child, or the folder of
    a file given instead (``ml-100k/u.data``); None when there is none."""
    path = Path(path).expanduser()
    candidates = [path, path / "ml-100k"] if path.is_dir() else [path.parent]
    return next((f for f in candidates if (f / "u.data").is_file()), None)


def _load(args):
    from skadv.datasets import load_movielens, make_interactions

    if args.movielens:
        data = load_movielens("100k", data_home=args.movielens, download=False)
        X = data.interactions[["user", "item"]].to_numpy()
        titles = dict(zip(data.movies["item"], data.movies["title"], strict=True))
        return X, "MovieLens 100k (every rating a positive)", titles
    X = make_interactions(
        n_users=args.n_users, n_items=args.n_items, density=0.05, random_state=args.seed
    )
    return X, f"synthetic: make_interactions({args.n_users} users, {args.n_items} items)", None


def main(argv=None):
    """Run the demo, or a serving subcommand; returns the process exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in SUBCOMMANDS:
        return _serve(argv)
    return _demo(argv)


def _demo(argv):
    """The demo (``python -m skadv`` with no subcommand)."""
    from sklearn.model_selection import GridSearchCV

    from skadv import AdversarialMFRecommender, PopularityRecommender
    from skadv.evaluation import robustness_curve
    from skadv.metrics import get_ranking_scorer
    from skadv.model_selection import UserHoldoutSplit, train_test_split_interactions

    args = _parse_args(argv)
    X, description, titles = _load(args)
    X_train, X_test = train_test_split_interactions(X, test_size=0.2, random_state=args.seed)
    epochs = args.epochs or (60 if args.movielens else 40)
    print(f"skadv demo on {description}")
    print(f"{len(X_train)} training / {len(X_test)} held-out interactions\n")

    common = dict(n_factors=32, n_epochs=epochs, n_jobs=args.n_jobs, random_state=args.seed)
    # Plain BPR needs an L2 penalty to be a fair baseline (APR regularizes through λ, ε), and
    # suspect_weight=1: the published method, without the default's push-group damping.
    bpr = AdversarialMFRecommender(
        adv_reg=0.0, reg=0.02, suspect_weight=1.0, n_negative_candidates=1, **common
    )
    start = time.perf_counter()
    search = GridSearchCV(
        AdversarialMFRecommender(adv_start=epochs // 2, **common),
        {"adv_reg": [0.5, 1.0], "epsilon": [0.05, 0.15, 0.3]},  # ε relative to row norms
        cv=UserHoldoutSplit(n_splits=2, random_state=args.seed),
    )
    search.fit(X_train)
    print(
        f"grid search over λ (adv_reg) × ε (epsilon): best {search.best_params_}, "
        f"validation NDCG@10 {search.best_score_:.4f} ({time.perf_counter() - start:.1f} s)\n"
    )
    models = {
        "popularity": PopularityRecommender(),
        "BPR": bpr,
        "APR (best λ, ε)": search.best_estimator_,
    }
    recall = get_ranking_scorer("recall@10")
    eps = args.attack_epsilon
    header = f"{'model':<18}{'NDCG@10':>9}{'Recall@10':>11}{f'FGSM ε={eps}':>13}{'drop':>8}"
    print(header)
    print("-" * len(header))
    for name, model in models.items():
        if name != "APR (best λ, ε)":
            model.fit(X_train)
        ndcg = model.score(X_test)
        rec = recall(model, X_test)
        if model.factors() is not None:
            curve = robustness_curve(model, X_test, [eps], adversary="fgsm", random_state=0)
            attacked, drop = curve["attacked"].iloc[0], curve["relative_drop"].iloc[0]
            extra = f"{attacked:>13.4f}{drop:>8.1%}"
        else:
            extra = f"{'-':>13}{'-':>8}"
        print(f"{name:<18}{ndcg:>9.4f}{rec:>11.4f}{extra}")

    _poisoning(models, X_train, X_test, args)
    if args.gan:
        _gan(search.best_estimator_, X_train, X_test, args)

    users = np.unique(X_test[:, 0])[:3]
    items, _ = search.best_estimator_.recommend(users, n=5)
    print("\ntop-5 recommendations (APR):")
    for user, row in zip(users, items, strict=True):
        shown = [titles.get(item, str(item)) for item in row] if titles else row.tolist()
        print(f"  user {user}: {'; '.join(shown) if titles else shown}")
    if args.plot:
        _plot(args.plot, models, X_test, eps, args.seed)
    return 0


def _poisoning(models, X_train, X_test, args):
    """Target-item metrics of each model refitted on data poisoned by a bandwagon attack."""
    from skadv.attacks import BandwagonAttack
    from skadv.evaluation import robustness_report

    attack = BandwagonAttack(attack_size=args.attack_size, random_state=args.seed)
    print(
        f"\nbandwagon poisoning, {args.attack_size:.0%} fake users pushing 5 unpopular items "
        "(training data only; each model refitted):"
    )
    header = f"{'model':<18}{'T-HR@50':>17}{'targets mean rank':>20}{'NDCG@10':>9}"
    print(header)
    print("-" * len(header))
    metrics = ["ndcg@10", "target_hr@50", "target_rank"]
    for name, model in models.items():
        rows = robustness_report(model, X_train, X_test, [attack], metrics=metrics)
        rows = rows.set_index("metric")
        hr, rank = rows.loc["target_hr@50"], rows.loc["target_rank"]
        print(
            f"{name:<18}{hr.clean:>8.3f} -> {hr.attacked:<5.3f}"
            f"{rank.clean:>10.0f} -> {rank.attacked:<6.0f}{rows.loc['ndcg@10'].attacked:>9.4f}"
        )


def _gan(apr, X_train, X_test, args):
    """APR on the training data topped up by a CFGAN generator for its sparse users."""
    import importlib.util

    if importlib.util.find_spec("torch") is None:  # the GAN is trained with PyTorch
        print("\n--gan: GANAugmenter needs PyTorch (pip install 'skadv[torch]'); skipped.")
        return
    from skadv import GANAugmenter
    from skadv.augmentation import CFGANRecommender

    epochs = {} if args.epochs is None else {"n_epochs": args.epochs}
    gan = CFGANRecommender(**epochs, random_state=args.seed)
    start = time.perf_counter()
    augmented = GANAugmenter(gan, apr, min_interactions=10, random_state=args.seed)
    augmented.fit(X_train)
    print(
        f"\nGANAugmenter(APR): {int(augmented.sample_mask_.sum())} generated interactions for "
        f"users with < 10; NDCG@10 {augmented.score(X_test):.4f} "
        f"({time.perf_counter() - start:.1f} s)"
    )


def _plot(folder, models, X_test, eps, seed):
    """Write the training and robustness figures of the factor models to ``folder``."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("\n--plot: matplotlib is not installed (pip install 'skadv[plot]'); no figures.")
        return
    from skadv.plotting import RobustnessCurveDisplay, TrainingCurveDisplay

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    factor_models = {name: m for name, m in models.items() if m.factors() is not None}
    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    for name, model in factor_models.items():
        TrainingCurveDisplay.from_estimator(model, name=name, ax=ax)
    ax.legend()
    fig.savefig(folder / "training_curves.png", dpi=120)
    epsilons = sorted({0.0, eps / 4, eps / 2, eps, 2 * eps})
    display = RobustnessCurveDisplay.from_estimators(
        factor_models, X_test, epsilons, adversary="fgsm", random_state=seed
    )
    display.figure_.savefig(folder / "robustness_curves.png", dpi=120)
    plt.close("all")
    print(f"\nfigures written to {folder}/: training_curves.png, robustness_curves.png")


# ------------------------------------------------------------------------------ serving
def _serve_parser(command):
    parser = argparse.ArgumentParser(
        prog=f"skadv {command}",
        description=SUBCOMMANDS[command],
        formatter_class=_DefaultsFormatter,
    )
    what = "users" if command == "recommend" else "items"
    parser.add_argument(
        "--model",
        required=True,
        metavar="FILE",
        help="model saved with skadv.io.dump (skops format)",
    )
    parser.add_argument(
        f"--{what}",
        required=True,
        metavar="FILE",
        help=f"{what}: one id per line (.txt), or a column of a .csv or .parquet file",
    )
    parser.add_argument(
        "--column",
        default=None,
        help=f"column of a CSV/Parquet --{what} file (default: the first)",
    )
    parser.add_argument("--n", type=int, default=10, help="items per row")
    parser.add_argument(
        "--out",
        required=True,
        metavar="FILE",
        help="output: .csv or .parquet (Parquet needs pyarrow: pip install 'skadv[serve]')",
    )
    parser.add_argument(
        "--batch-size", type=int, default=10_000, help=f"{what} per written block (bounds memory)"
    )
    if command == "recommend":
        parser.add_argument(
            "--candidates",
            metavar="FILE",
            default=None,
            help="only rank these items (one id per line, or a column)",
        )
        parser.add_argument(
            "--filter-items", metavar="FILE", default=None, help="never recommend these items"
        )
        parser.add_argument(
            "--exclude-seen",
            action=argparse.BooleanOptionalAction,
            default=True,
            help="leave out items seen in training",
        )
    parser.add_argument(
        "--trust",
        action="append",
        default=[],
        metavar="TYPE",
        help="extra type name to trust when loading (repeatable)",
    )
    return parser


def _serve(argv):
    """``python -m skadv recommend|similar ...``: read ids, serve in blocks, write."""
    command, rest = argv[0], argv[1:]
    parser = _serve_parser(command)
    args = parser.parse_args(rest)
    out = Path(args.out)
    if out.suffix.lower() not in (".csv", ".parquet"):
        parser.error(f"--out {out}: use a .csv or .parquet file name.")
    if out.suffix.lower() == ".parquet" and not _has_pyarrow():
        parser.error(
            f"--out {out}: Parquet output needs pyarrow (pip install 'skadv[serve]', or pip "
            "install pyarrow); or write CSV: --out recs.csv."
        )
    what = "users" if command == "recommend" else "items"
    inputs = {f"--{what}": getattr(args, what)}
    if command == "recommend":
        inputs.update({"--candidates": args.candidates, "--filter-items": args.filter_items})
    for flag, name in inputs.items():
        if name and Path(name).suffix.lower() == ".parquet" and not _has_pyarrow():
            parser.error(
                f"{flag} {name}: reading Parquet needs pyarrow (pip install 'skadv[serve]', "
                "or pip install pyarrow); or pass a .csv or .txt file."
            )
    if args.n < 1 or args.batch_size < 1:
        parser.error("--n and --batch-size must be at least 1.")
    from skadv.io import load

    model = load(args.model, trusted=args.trust)
    estimator = getattr(model, "estimator_", model)  # GANAugmenter serves through it
    known = estimator.user_ids_ if command == "recommend" else estimator.item_ids_
    ids = _read_ids(
        getattr(args, "users" if command == "recommend" else "items"), args.column, known
    )
    if command == "recommend":
        options = {"exclude_seen": args.exclude_seen}
        if args.candidates:
            options["items"] = _read_ids(args.candidates, None, estimator.item_ids_)
        if args.filter_items:
            options["filter_items"] = _read_ids(args.filter_items, None, estimator.item_ids_)

        def serve(block):
            return model.recommend(block, n=args.n, as_frame=True, **options)
    else:

        def serve(block):
            return model.similar_items(block, n=args.n, as_frame=True)

    n_rows = 0
    columns = ["user", "rank", "item", "score"] if command == "recommend" else (
        ["item", "rank", "similar_item", "score"])  # fmt: skip
    # The id columns' types come from the model, not from the first block (a later block may
    # hold ids >= 2**63 that the first block's inferred int64 cannot store).
    id_columns = {columns[0]: known, columns[2]: estimator.item_ids_}
    with _Writer(out, columns, id_columns) as writer, _progress(len(ids), command) as bar:
        for start in range(0, len(ids), args.batch_size):
            block = ids[start : start + args.batch_size]
            frame = serve(block)
            writer.write(frame)
            n_rows += len(frame)
            bar.update(len(block))
    print(
        f"{n_rows} rows for {len(ids)} {'users' if command == 'recommend' else 'items'} "
        f"written to {out}",
        file=sys.stderr,
    )
    return 0


def _has_pyarrow():
    import importlib.util

    return importlib.util.find_spec("pyarrow") is not None


def _read_ids(path, column, known):
    """Ids from a text file (one per line), or a column of a CSV/Parquet file, cast to the
    type of the model's ``known`` ids (a text file's "196" is the integer 196 for a model
    fitted on integers)."""
    import pandas as pd

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        frame = pd.read_parquet(path)
        values = frame[column] if column else frame.iloc[:, 0]
    elif suffix == ".csv":
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        values = frame[column] if column else frame.iloc[:, 0]
    else:
        lines = path.read_text(encoding="utf-8").splitlines()
        values = pd.Series([line.strip() for line in lines if line.strip()], dtype=object)
    values = values.to_numpy(dtype=object)
    if known.dtype.kind in "iu" or (len(known) and all(isinstance(v, int) for v in known[:100])):
        try:
            return np.array([int(v) for v in values], dtype=object)
        except ValueError:
            pass  # not integers: left as read, and the model names the cast to do
    elif len(known) and all(isinstance(v, str) for v in known[:100]):
        return np.array([str(v) for v in values], dtype=object)
    return values


def _arrow_id_type(ids):
    """Arrow type of a column of the model's ``ids``: their integer dtype, uint64 for Python
    ints >= 2**63 (object ids), None (inferred) otherwise."""
    import pyarrow as pa

    if ids.dtype.kind in "iu":
        return pa.from_numpy_dtype(ids.dtype)
    if len(ids) and all(isinstance(v, int) and v >= 0 for v in ids):
        return pa.uint64()
    return None


class _Writer:
    """Appends DataFrames to a CSV or Parquet file, one block at a time (one Parquet row
    group per block: memory holds one block, whatever the number of rows)."""

    def __init__(self, path, columns, id_columns=None):
        self.path, self.parquet, self.handle = path, path.suffix.lower() == ".parquet", None
        self.columns = columns  # of the empty file written when no row comes
        self.id_columns = id_columns or {}  # column -> the model's ids (their Parquet type)

    def __enter__(self):
        return self

    def write(self, frame):
        if not len(frame):
            return
        if self.parquet:
            import pyarrow as pa
            import pyarrow.parquet as pq

            if self.handle is None:
                fields = []
                for name in frame.columns:
                    ids = self.id_columns.get(name)
                    kind = None if ids is None else _arrow_id_type(ids)
                    if kind is None:  # from the first block
                        kind = pa.Table.from_pandas(frame[[name]], preserve_index=False)
                        kind = kind.schema.field(name).type
                    fields.append(pa.field(name, kind))
                self.handle = pq.ParquetWriter(self.path, pa.schema(fields))
            table = pa.Table.from_pandas(frame, schema=self.handle.schema, preserve_index=False)
            self.handle.write_table(table)
        else:
            first = self.handle is None
            if first:
                self.handle = open(self.path, "w", encoding="utf-8", newline="")
            frame.to_csv(self.handle, header=first, index=False)

    def __exit__(self, *exc):
        if self.handle is not None:
            self.handle.close()
        elif not exc[0]:  # nothing written: still leave a valid file, with no rows
            if self.parquet:
                import pyarrow as pa
                import pyarrow.parquet as pq

                pq.write_table(pa.table({name: [] for name in self.columns}), self.path)
            else:
                Path(self.path).write_text(",".join(self.columns) + "\n", encoding="utf-8")
        return False


class _NoBar:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n):
        pass


def _progress(total, command):
    """A tqdm bar (hidden off a terminal) when tqdm is installed, else nothing."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _NoBar()
    unit = "user" if command == "recommend" else "item"
    return tqdm(total=total, unit=unit, desc=command, disable=None)


if __name__ == "__main__":
    sys.exit(main())
