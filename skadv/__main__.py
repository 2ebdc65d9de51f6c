"""``python -m skadv`` / ``skadv``: BPR vs APR on synthetic data (or a local MovieLens copy).

Fits a popularity baseline, BPR and APR matrix factorization on a per-user 20 % holdout, grid
searches the adversarial weight λ and perturbation size ε with a per-user holdout inside the
training set, and prints clean NDCG@10 / Recall@10 next to NDCG@10 under an FGSM attack on the
embeddings and the progress of 5 target items under a bandwagon poisoning attack (fake users
injected into the training data), then top-5 recommendations for a few users (movie titles on
MovieLens). ``--gan`` adds ``GANAugmenter`` around APR (needs PyTorch). With
``--plot DIR`` and matplotlib installed it also writes the training curves and the robustness
curves there as PNG files.
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


def _parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="skadv",
        description="Demo: BPR vs adversarially trained (APR) matrix factorization.",
        formatter_class=_DefaultsFormatter,
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
    """Run the demo; returns the process exit code."""
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
    # Plain BPR needs an L2 penalty to be a fair baseline (APR regularizes through λ, ε).
    bpr = AdversarialMFRecommender(adv_reg=0.0, reg=0.02, **common)
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


if __name__ == "__main__":
    sys.exit(main())
