"""The training core shared by every model family and backend of skadv (torch-free).

Each trainer (the compiled MF kernel, the torch MF backend, the torch neural and text models)
supplies one callable that trains one epoch; everything around it is written once here:

- the vocabulary: :data:`ADVERSARIES` (the perturbation methods, one name each, used by the
  estimators and by :class:`skadv.attacks.EmbeddingAttack`) and :data:`EPSILON_MODES`;
- the records: :class:`TrainingSchedule` (hyper-parameters of a run), :class:`FactorState`
  (what matrix-factorization training updates) and :class:`TrainingLog` (what a run recorded);
- :func:`run_epochs`: the epoch loop, with the clean-then-adversarial schedule, relative
  radii, the learning-rate schedule, the finiteness and collapse checks, progress bar and
  verbose log;
- :class:`EarlyStopping`: the one early-stopping rule;
- sampling and id helpers (:func:`usable_samples`, :func:`extend_ids`) and row helpers
  (:func:`mean_row_norm`, :func:`normalize_rows`, :func:`perturbation_radii`).
"""

import copy
import sys
import warnings
from dataclasses import dataclass, field

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skadv.utils._adversarial import ADVERSARIES
from skadv.utils._params import BOOL, NONE, RANDOM_STATE, STRING, Interval, Options
from skadv.utils._sampling import usable_samples
from skadv.utils._schedule import learning_rate_factor
from skadv.utils._validation import check_id_types, encode_ids, lookup_ids

__all__ = [
    "ADVERSARIES",
    "BelowPopularityWarning",
    "EPOCH_TRAINING_CONSTRAINTS",
    "EPSILON_MODES",
    "MEAN_NORM_EPSILON_MODES",
    "EarlyStopping",
    "EpochPlan",
    "FactorState",
    "TrainingLog",
    "TrainingSchedule",
    "check_finite",
    "check_warmup",
    "extend_ids",
    "mean_row_norm",
    "normalize_rows",
    "per_user_scale",
    "perturbation_radii",
    "progress",
    "resolve_adv_start",
    "run_epochs",
    "usable_samples",
    "validation_view",
    "warn_if_below_popularity",
]


#: ``"absolute"``: ε is the radius; ``"relative"``: ε times the mean L2 norm of the rows
#: being perturbed; ``"per-user"``: a radius per row that grows with that row's own norm
#: (PamaCF's personalized magnitude; see :func:`per_user_scale`). Matrix factorization and
#: :class:`skadv.attacks.EmbeddingAttack` implement all three; the torch neural and text
#: models the first two (:data:`MEAN_NORM_EPSILON_MODES`).
EPSILON_MODES = ("absolute", "relative", "per-user")

#: The modes whose radius is one number per matrix (no per-row radius).
MEAN_NORM_EPSILON_MODES = ("absolute", "relative")

#: Constraints of the parameters every epoch-trained recommender shares (early stopping,
#: device, threads, seed, verbosity, unknown ids, positive threshold): one definition.
EPOCH_TRAINING_CONSTRAINTS = {
    "early_stopping": [BOOL],
    "validation_fraction": [Interval("real", 0, 1, closed="neither")],
    "n_iter_no_change": [Interval("int", 1, None)],
    "tol": [Interval("real", 0, None)],
    "device": [NONE, STRING],
    "n_jobs": [NONE, Interval("int", 1, None), Interval("int", None, -1)],
    "random_state": [NONE, RANDOM_STATE],
    "verbose": [BOOL, Interval("int", 0, None)],
    "handle_unknown": [Options("popularity", "error")],
    "positive_threshold": [NONE, Interval("real")],
}

#: An epoch that ends with the mean row norm of a factor matrix below this fraction of the
#: largest value it reached means the embeddings collapsed (the start is the wrong reference:
#: norms grow first, then shrink under a too large ε * adv_reg).
COLLAPSE_RATIO = 0.05


# ------------------------------------------------------------------------------ records
@dataclass
class TrainingSchedule:
    """Hyper-parameters of one training run, read from an estimator's parameters.

    ``optimizer``, ``reg``, ``use_bias`` and ``n_negative_candidates`` (dynamic negative
    sampling: the highest-scored of that many uniform negatives) are read by the
    matrix-factorization backends only (the torch models keep their optimizer in torch);
    ``divergence_hint`` ends the error raised when training diverges (which parameters to
    lower). ``loss_names`` label the two sums of every epoch in the verbose log;
    ``two_player=True`` (a GAN: generator and discriminator) records and logs the second sum
    in every epoch rather than in adversarial epochs only.
    """

    n_epochs: int
    learning_rate: float
    adversary: str = "none"
    adv_reg: float = 0.0
    epsilon: float = 0.0
    epsilon_mode: str = "absolute"
    adv_start: int = 0
    lr_schedule: str = "constant"
    warmup_epochs: int = 0
    optimizer: str = "sgd"
    reg: float = 0.0
    use_bias: bool = False
    n_negative_candidates: int = 1
    divergence_hint: str = "Lower learning_rate."
    loss_names: tuple = ("loss", "adversarial loss")
    two_player: bool = False

    @property
    def trains_adversarially(self):
        """Whether any epoch of the run is adversarial."""
        return (
            self.adversary != "none"
            and self.adv_reg > 0
            and self.epsilon > 0
            and self.adv_start < self.n_epochs
        )

    def is_adversarial(self, epoch):
        """Whether ``epoch`` (0-based) trains against the adversary."""
        return self.trains_adversarially and epoch >= self.adv_start

    def epoch_learning_rate(self, epoch):
        """``learning_rate`` times the schedule's factor at ``epoch`` (0-based) of the run."""
        return self.learning_rate * learning_rate_factor(
            epoch, self.n_epochs, schedule=self.lr_schedule, warmup_steps=self.warmup_epochs
        )


_FACTOR_ARRAYS = ("user", "item", "bias", "user_acc", "item_acc", "bias_acc", "user_mom",
                  "item_mom", "bias_mom")  # fmt: skip


@dataclass
class FactorState:
    """What matrix-factorization training updates in place: factors, biases, optimizer state.

    ``user_acc``/``item_acc``/``bias_acc`` have the shapes of the parameters with AdaGrad
    (sums of squared gradients) or Adam (second moments) and are ``None`` with plain SGD.
    ``user_mom``/``item_mom``/``bias_mom`` are Adam's first moments (``None`` otherwise) and
    ``n_steps`` its step count, for the bias correction. Every backend trains on these NumPy
    arrays (or on device copies written back into them), so the fitted model is NumPy.
    """

    user: np.ndarray
    item: np.ndarray
    bias: np.ndarray
    user_acc: np.ndarray = None
    item_acc: np.ndarray = None
    bias_acc: np.ndarray = None
    user_mom: np.ndarray = None
    item_mom: np.ndarray = None
    bias_mom: np.ndarray = None
    n_steps: int = 0

    @property
    def optimizer(self):
        """``"adam"``, ``"adagrad"`` or ``"sgd"``, read from which arrays are present."""
        if self.user_mom is not None:
            return "adam"
        return "sgd" if self.user_acc is None else "adagrad"

    def arrays(self):
        """``{name: array or None}`` of every array field, in a fixed order."""
        return {name: getattr(self, name) for name in _FACTOR_ARRAYS}

    def copy(self):
        """A deep copy (arrays copied)."""
        arrays = {k: None if a is None else a.copy() for k, a in self.arrays().items()}
        return FactorState(**arrays, n_steps=self.n_steps)


@dataclass
class TrainingLog:
    """What :func:`run_epochs` recorded, per epoch that ran.

    Attributes
    ----------
    loss_curve : list of float
        Mean clean loss per sample.
    adv_loss_curve : list of float
        Mean loss per sample under the perturbation (not weighted by ``adv_reg``); NaN in
        clean epochs. The objective of an epoch is ``loss + adv_reg * adv_loss``. In a
        two-player run, the second player's loss of every epoch.
    validation_scores : list of float or None
        Validation score after each epoch with early stopping, else None.
    best_validation_score : float or None
    best_epoch : int or None
        0-based epoch whose state was kept by early stopping.
    """

    loss_curve: list = field(default_factory=list)
    adv_loss_curve: list = field(default_factory=list)
    validation_scores: list = None
    best_validation_score: float = None
    best_epoch: int = None

    @property
    def n_epochs(self):
        return len(self.loss_curve)


@dataclass
class EpochPlan:
    """What one epoch trains: handed by :func:`run_epochs` to the trainer's ``run_epoch``.

    ``adversary`` is ``"none"`` in clean epochs. ``eps_user`` / ``eps_item`` are the radii
    of the user-side and item-side perturbations (in embedding units once ``epsilon_mode``
    is applied, when the trainer gave :func:`run_epochs` its row norms). With
    ``epsilon_mode="per-user"`` they are the radii of a user of average norm and
    ``mean_user_norm`` is that norm (0 otherwise): the trainer scales both radii of each
    sample by :func:`per_user_scale` of its user's current row.
    """

    epoch: int
    adversary: str
    eps_user: float
    eps_item: float
    learning_rate: float
    mean_user_norm: float = 0.0


def check_warmup(warmup_epochs, n_epochs):
    """The one check relating ``warmup_epochs`` to ``n_epochs`` (run before any training).

    Examples
    --------
    >>> check_warmup(5, 5)
    Traceback (most recent call last):
    ...
    ValueError: warmup_epochs=5 must be less than n_epochs=5: at least one epoch runs after ...
    """
    if warmup_epochs >= n_epochs:
        raise ValueError(
            f"warmup_epochs={warmup_epochs} must be less than n_epochs={n_epochs}: at least "
            "one epoch runs after the warm-up."
        )


def resolve_adv_start(adv_start, n_epochs):
    """Clean epochs before adversarial training: the one meaning of ``adv_start="auto"``.

    Every adversarially trained family pre-trains without the adversarial term, because
    the perturbation of a freshly initialized model can be as large as its embeddings:
    ``"auto"`` is ``n_epochs // 2``; an int is taken as given.

    Examples
    --------
    >>> resolve_adv_start("auto", 20), resolve_adv_start(3, 20)
    (10, 3)
    """
    return n_epochs // 2 if adv_start == "auto" else int(adv_start)


# ------------------------------------------------------------------------------ baseline check
class _PopularityRanking:
    """Ranks every item by its count in ``model.interactions_`` (scorer protocol only)."""

    def __init__(self, model):
        self._model = model
        self.n_items_ = model.n_items_
        counts = np.bincount(model.interactions_.tocsr().indices, minlength=model.n_items_)
        self._counts = counts.astype(np.float64)

    def ranking_problem(self, X, y=None):
        return self._model.ranking_problem(X, y)

    def score_users(self, user_codes):
        return np.tile(self._counts, (np.asarray(user_codes).shape[0], 1))


def warn_if_below_popularity(model, score, X_val, hint):
    """Warn when a validation ``score`` is below the popularity ranking's on ``X_val``.

    A recommender that ranks below "most popular first" on its own validation part cannot
    serve as it is; the warning gives both NDCG@10 values and ``hint`` (the parameters to
    change). Pass the model as validation sees it (:func:`validation_view`, whose
    ``interactions_`` is the training part ``X_val`` was held out from), so that both
    rankings exclude the same items and popularity counts only the training part.
    Nothing is computed when ``X_val`` or ``score`` is None (no early stopping).

    Examples
    --------
    >>> import warnings
    >>> from skadv import AdversarialMFRecommender
    >>> from skadv.datasets import make_interactions
    >>> X = make_interactions(n_users=200, n_items=100, density=0.1, random_state=0)
    >>> one_epoch = AdversarialMFRecommender(n_epochs=1, early_stopping=True, random_state=0)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = one_epoch.fit(X)
    >>> [w.category.__name__ for w in caught]
    ['BelowPopularityWarning']
    """
    if X_val is None or score is None:
        return
    from skadv.metrics import get_ranking_scorer  # metrics sits below; imported lazily

    popularity = get_ranking_scorer("ndcg@10")(_PopularityRanking(model), X_val)
    if not score < popularity:
        return
    warnings.warn(
        f"{type(model).__name__}'s validation NDCG@10 ({score:.4f}) is below the popularity "
        f"ranking's ({popularity:.4f}) on the same validation part: it ranks worse than "
        f"recommending the most popular items. {hint}",
        BelowPopularityWarning,
        stacklevel=3,
    )


def validation_view(model, train_interactions):
    """``model`` as validation scores it during ``fit``: a shallow copy seeing the training part.

    Early stopping scores the model on a validation part held out of the interactions; the
    ranking must then exclude only the *training* part of each user's items, and a model
    whose scores read the interactions (CFGAN's conditions, a history user tower) must read
    the training part only. The view shares every fitted array with ``model`` (so it sees
    each epoch's parameters) except ``interactions_``; ``model`` itself is never rebound.

    Parameters
    ----------
    model : fitted recommender
    train_interactions : scipy.sparse matrix of shape (n_users_, n_items_)
        The training part of ``model.interactions_``.

    Returns
    -------
    view : same type as ``model``

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import sparse
    >>> from skadv import PopularityRecommender
    >>> from skadv.datasets import make_interactions
    >>> model = PopularityRecommender().fit(make_interactions(20, 10, random_state=0))
    >>> empty = sparse.csr_matrix(model.interactions_.shape)
    >>> first = np.array([0])
    >>> validation_view(model, empty).seen_items(first).nnz, model.seen_items(first).nnz > 0
    (0, True)
    """
    if train_interactions.shape != model.interactions_.shape:
        raise ValueError(
            f"train_interactions has shape {train_interactions.shape}; the model's "
            f"interactions_ have shape {model.interactions_.shape}."
        )
    view = copy.copy(model)
    view.interactions_ = train_interactions
    return view


class BelowPopularityWarning(UserWarning):
    """A fitted recommender ranked below the popularity baseline on its validation part."""


# ------------------------------------------------------------------------------ early stopping
class EarlyStopping:
    """The one early-stopping rule of skadv: patience on a validation score, best state kept.

    After every epoch ``score()`` is recorded; an epoch improves when its score beats the
    best so far by at least ``tol``. Training stops after ``n_iter_no_change`` epochs in a
    row without improvement, but never before epoch ``patience_start`` (the first
    adversarial epoch: clean pre-training never stops the run), and the count restarts at
    that epoch so that adversarial training always gets ``n_iter_no_change`` epochs.
    ``snapshot()`` is called whenever the score is the best seen (pre-training included),
    and its return value kept in :attr:`best_state`.

    Parameters
    ----------
    score : callable
        ``score() -> float``: the validation score of the current state (higher is better).
    snapshot : callable
        ``snapshot() -> object``: a copy of the current state.
    n_iter_no_change : int
    tol : float
    patience_start : int, default=0
    name : str, default="NDCG@10"
        Name of the score in the verbose log.

    Examples
    --------
    >>> scores = iter([0.1, 0.3, 0.3, 0.3, 0.5])
    >>> stopper = EarlyStopping(lambda: next(scores), lambda: "state", n_iter_no_change=2,
    ...                         tol=0.01)
    >>> [stopper.after_epoch(epoch)[0] for epoch in range(4)]
    [False, False, False, True]
    >>> stopper.best_epoch, stopper.best_score
    (1, 0.3)
    """

    def __init__(self, score, snapshot, *, n_iter_no_change, tol, patience_start=0,
                 name="NDCG@10"):  # fmt: skip
        self.score, self.snapshot = score, snapshot
        self.n_iter_no_change, self.tol = n_iter_no_change, tol
        self.patience_start, self.name = patience_start, name
        self.scores = []
        self.best_score = self.best_epoch = self.best_state = None
        self._no_improvement = 0

    def after_epoch(self, epoch):
        """Score the epoch; return ``(stop, message)`` for the verbose log."""
        if epoch == self.patience_start:
            self._no_improvement = 0
        score = float(self.score())
        self.scores.append(score)
        best = self.best_score
        if best is not None and score < best + self.tol:
            self._no_improvement += 1
        else:
            self._no_improvement = 0
        if best is None or score > best:
            self.best_score, self.best_epoch = score, epoch
            self.best_state = self.snapshot()
        stop = epoch >= self.patience_start and self._no_improvement >= self.n_iter_no_change
        return stop, f"validation {self.name} {score:.5f}"


# ------------------------------------------------------------------------------ the epoch loop
def progress(n_epochs, verbose):
    """``(epochs, log)``: what ``verbose`` means on every estimator.

    ``0``: silent (``log`` is None). ``1``: a tqdm progress bar per fit on a terminal (the
    epoch's line as its postfix); off a terminal, or without tqdm (the ``progress`` extra),
    one printed line per epoch. ``2`` and more: the printed line of every epoch (losses,
    learning rate, validation score), above the bar when there is one.
    """
    if not verbose:
        return range(n_epochs), None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is optional (the "progress" extra)
        return range(n_epochs), print
    bar = tqdm(range(n_epochs), disable=None, desc="epochs", unit="epoch", leave=False)
    if bar.disable:  # not a terminal: the lines are the progress
        return bar, print
    if verbose >= 2:
        return bar, bar.write
    return bar, lambda line: bar.set_postfix_str(line.split(": ", 1)[-1], refresh=False)


def check_finite(loss, arrays, epoch, hint):
    """Raise the divergence ``ValueError`` if ``loss`` or any of ``arrays`` is not finite.

    Kernels cannot raise inside ``nogil``: NaN and inf propagate and are caught here, once
    per epoch. ``hint`` says which parameter to lower.
    """
    if np.isfinite(loss) and all(np.isfinite(a).all() for a in arrays):
        return
    raise ValueError(
        f"Training diverged in epoch {epoch + 1}: the loss or the parameters are not finite. "
        f"{hint}"
    )


def run_epochs(schedule, run_epoch, *, n_draws, check, row_norms=None, early_stopping=None,
               verbose=0, collapse_stacklevel=5):  # fmt: skip
    """Train ``schedule.n_epochs`` epochs through ``run_epoch``; return a :class:`TrainingLog`.

    Parameters
    ----------
    schedule : TrainingSchedule
    run_epoch : callable
        ``run_epoch(plan: EpochPlan) -> (clean_sum, adversarial_sum)``: trains one epoch and
        returns the clean loss and the (unweighted) perturbed loss summed over its samples.
    n_draws : int
        Samples per epoch: the sums are divided by it.
    check : callable
        ``check(mean_loss, epoch)``: raises when training diverged (see
        :func:`check_finite`); ``mean_loss`` is the epoch's objective (both players' losses
        summed in a two-player run).
    row_norms : callable, default=None
        ``row_norms() -> (mean user row norm, mean item row norm)`` of the current factors.
        When given, relative radii are ε times the norms at the end of the previous epoch,
        and a collapse of the norms (below :data:`COLLAPSE_RATIO` of their peak) warns.
        When None, the plan carries ``epsilon`` itself and the trainer applies
        ``epsilon_mode``.
    early_stopping : EarlyStopping, default=None
    verbose : int, default=0
        Print one line per epoch (with a tqdm progress bar when installed).
    collapse_stacklevel : int, default=5
        ``stacklevel`` of the collapse warning: the caller of ``fit``.
    """
    scheduled = schedule.lr_schedule != "constant" or schedule.warmup_epochs > 0
    norms = peak_norms = row_norms() if row_norms is not None else None
    collapsed = False
    record = TrainingLog(validation_scores=[] if early_stopping is not None else None)
    epochs, log = progress(schedule.n_epochs, verbose)
    for epoch in epochs:
        adversarial = schedule.is_adversarial(epoch)
        eps_user = eps_item = schedule.epsilon if adversarial else 0.0
        if adversarial and norms is not None:
            eps_user, eps_item = perturbation_radii(
                schedule.epsilon, schedule.epsilon_mode, norms=norms
            )
        per_user = adversarial and norms is not None and schedule.epsilon_mode == "per-user"
        plan = EpochPlan(epoch, schedule.adversary if adversarial else "none", eps_user,
                         eps_item, schedule.epoch_learning_rate(epoch),
                         norms[0] if per_user else 0.0)  # fmt: skip
        clean_sum, adv_sum = run_epoch(plan)
        loss, adv_loss = clean_sum / n_draws, adv_sum / n_draws
        check(loss + (1.0 if schedule.two_player else schedule.adv_reg) * adv_loss, epoch)
        second = adversarial or schedule.two_player
        record.loss_curve.append(float(loss))
        record.adv_loss_curve.append(float(adv_loss) if second else float("nan"))
        if row_norms is not None:
            norms = row_norms()
            peak_norms = tuple(max(n, p) for n, p in zip(norms, peak_norms, strict=True))
            if not collapsed and any(
                n < COLLAPSE_RATIO * p for n, p in zip(norms, peak_norms, strict=True) if p > 0
            ):
                collapsed = True
                warnings.warn(
                    f"The embeddings collapsed in epoch {epoch + 1}: mean row norms "
                    f"{norms[0]:.3g} (users) and {norms[1]:.3g} (items), down from "
                    f"{peak_norms[0]:.3g} and {peak_norms[1]:.3g}. Adversarial training with "
                    "a large epsilon * adv_reg (or a large reg) shrinks the factors; lower "
                    + (
                        "them, or use epsilon_mode='relative'."
                        if schedule.epsilon_mode == "absolute"
                        else "them."
                    ),
                    ConvergenceWarning,
                    stacklevel=collapse_stacklevel,
                )
        stop, message = False, None
        if early_stopping is not None:
            stop, message = early_stopping.after_epoch(epoch)
            record.validation_scores.append(early_stopping.scores[-1])
        if log is not None:
            phase = f"adversarial: {plan.adversary}" if adversarial else "clean"
            if schedule.two_player:
                phase = "two-player"
            first_name, second_name = schedule.loss_names
            text = f"epoch {epoch + 1}/{schedule.n_epochs} [{phase}]: {first_name} {loss:.5f}"
            if second:
                text += f", {second_name} {adv_loss:.5f}"
            if scheduled:
                text += f", lr {plan.learning_rate:.3g}"
            log(text + (f", {message}" if message else ""))
            sys.stdout.flush()
        if stop:
            break
    if hasattr(epochs, "close"):
        epochs.close()
    if early_stopping is not None:
        record.best_validation_score = early_stopping.best_score
        record.best_epoch = early_stopping.best_epoch
    return record


# ------------------------------------------------------------------------------ sampling, ids
def extend_ids(known, values, name="ids"):
    """Append the ids of ``values`` missing from ``known``; return ``(ids, codes of values)``.

    Used to fold new users and items into a fitted model: known ids keep their codes, new
    ones get the next codes in sorted order. Ids of another type than the fitted ones
    (``"196"`` for a model fitted on ``196``) raise a ``TypeError`` naming ``name`` instead of
    becoming new ids.

    Examples
    --------
    >>> ids, codes = extend_ids(np.array([10, 20]), np.array([30, 10, 5]))
    >>> ids.tolist(), codes.tolist()
    ([10, 20, 5, 30], [3, 0, 2])
    """
    codes = lookup_ids(known, values)
    unknown = codes < 0
    if not unknown.any():
        return known, codes
    check_id_types(known, values[unknown], name)
    new_ids, new_codes = encode_ids(values[unknown])
    if known.dtype != new_ids.dtype:
        known, new_ids = known.astype(object), new_ids.astype(object)
    codes[unknown] = known.shape[0] + new_codes
    return np.concatenate([known, new_ids]), codes


# ------------------------------------------------------------------------------ rows
def mean_row_norm(matrix):
    """Mean L2 norm of the rows of ``matrix`` (0 for an empty matrix).

    Examples
    --------
    >>> float(mean_row_norm(np.array([[3.0, 4.0], [0.0, 0.0]])))
    2.5
    """
    if matrix.shape[0] == 0:
        return 0.0
    # Squares summed in float64 without a float64 copy of the matrix: this runs after every
    # epoch on float32 factors.
    squares = np.einsum("ij,ij->i", matrix, matrix, dtype=np.float64, casting="safe")
    return float(np.mean(np.sqrt(squares)))


def normalize_rows(matrix, radius=1.0):
    """Rows of ``matrix`` scaled to L2 norm ``radius``; all-zero rows stay zero.

    Rows are divided by their largest entry first: squaring tiny float32 values would
    underflow to a zero norm and lose a direction that exists.

    Examples
    --------
    >>> normalize_rows(np.array([[3.0, 4.0], [0.0, 0.0]]), 10.0).tolist()
    [[6.0, 8.0], [0.0, 0.0]]
    """
    scale = np.abs(matrix).max(axis=1, keepdims=True) if matrix.shape[1] else None
    if scale is None:
        return matrix.copy()
    scaled = np.divide(matrix, scale, out=np.zeros_like(matrix), where=scale > 0)
    norms = np.linalg.norm(scaled, axis=1, keepdims=True)
    return np.divide(scaled * radius, norms, out=np.zeros_like(matrix), where=norms > 0)


def per_user_scale(row_norms, mean_norm):
    """PamaCF-style personalized magnitude of rows of the given norms: ``2 sigmoid(r - 1)``.

    ``r = row_norms / mean_norm``: 1 for a row of average norm, increasing with the norm and
    bounded in ``(2 sigmoid(-1), 2) = (0.54, 2)``, so that no user's perturbation vanishes
    or explodes. ``mean_norm = 0`` gives 1 (the radii are then 0 anyway). The compiled
    kernel computes the same expression per triple (``_user_scale`` in
    ``src_ext/_mf_sgd.pyx``); the torch backend calls this function on tensors.

    Examples
    --------
    >>> per_user_scale(np.array([0.0, 2.0, 4.0]), 2.0).round(3).tolist()
    [0.538, 1.0, 1.462]
    """
    if mean_norm <= 0:
        return row_norms * 0 + 1.0
    z = 1.0 - row_norms / mean_norm
    # Tensors have .exp(): the torch backend calls this on the device without a copy.
    return 2.0 / (1.0 + (z.exp() if hasattr(z, "exp") else np.exp(z)))


def perturbation_radii(epsilon, epsilon_mode, user_matrix=None, item_matrix=None, *, norms=None):
    """Radii ``(eps_user, eps_item)`` of the user-row and item-row perturbations.

    ``epsilon`` itself with ``epsilon_mode="absolute"``; with ``"relative"``, ``epsilon``
    times the mean row norm of each matrix (or the given ``norms`` pair). With
    ``"per-user"`` the same as ``"relative"``: the radius of a row of average norm, which
    per-row trainers and attacks then scale row by row.

    Examples
    --------
    >>> P, Q = np.array([[3.0, 4.0]]), np.array([[1.0, 0.0]])
    >>> perturbation_radii(0.1, "relative", P, Q)
    (0.5, 0.1)
    >>> perturbation_radii(0.1, "absolute", P, Q)
    (0.1, 0.1)
    """
    if epsilon_mode == "absolute":
        return float(epsilon), float(epsilon)
    if epsilon_mode not in ("relative", "per-user"):
        raise ValueError(f"epsilon_mode must be one of {EPSILON_MODES}, got {epsilon_mode!r}.")
    if norms is None:
        norms = (mean_row_norm(user_matrix), mean_row_norm(item_matrix))
    return float(epsilon) * norms[0], float(epsilon) * norms[1]
