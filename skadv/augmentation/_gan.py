"""CFGAN (Chae et al., CIKM 2018): ``CFGANRecommender``, the model and the recommender.

A generator G(z, c_u) and a discriminator D(r ⊙ e_u, c_u) trained against each other on
users' interaction vectors, ranking items by the generator's output. ``GANAugmenter``
(``_augmenter.py``) builds on it; the collapse diagnostics live in ``_diagnostics.py`` and the
torch training step in ``_cfgan_trainer.py``.

Training needs PyTorch (imported by ``fit``); fitted state is NumPy, and so are scoring,
sampling and the discriminator score: a pickled model recommends without torch.
"""

import warnings

import numpy as np
from scipy import sparse
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted

from skadv._torch.numpy_twin import mlp_forward, sigmoid
from skadv.augmentation._diagnostics import (
    BYTES_PER_ITEM,
    DIAGNOSTIC_NAMES,
    DIAGNOSTIC_USERS,
    binary_pattern,
    collapse_diagnostics,
    collapse_kind,
    collapse_message,
    draw_items,
)
from skadv.base import BaseRecommender
from skadv.training import (
    EPOCH_TRAINING_CONSTRAINTS,
    EarlyStopping,
    TrainingSchedule,
    check_finite,
    run_epochs,
    validation_view,
    warn_if_below_popularity,
)
from skadv.utils._backend import resolve_backend
from skadv.utils._params import (
    BOOL,
    NONE,
    RANDOM_STATE,
    Interval,
    Options,
    TupleOf,
    check_params,
)
from skadv.utils._random import check_random_state, draw_seeds
from skadv.utils._ranking import row_blocks, take_columns
from skadv.utils._threads import effective_n_threads
from skadv.utils._validation import check_interactions, encode_ids

__all__ = ["CFGANRecommender"]

SCHEMES = ("zr", "pm", "zr+pm")
OPTIMIZERS = ("adamw", "adam", "sgd", "adagrad")


class CFGANRecommender(BaseRecommender):
    r"""CFGAN: a conditional GAN over users' interaction vectors, used as a recommender.

    The generator :math:`G(z, c_u)` maps noise :math:`z` and the user's binary interaction
    vector :math:`c_u` to a vector :math:`\hat r_u \in (0, 1)^{n_{items}}`; the discriminator
    :math:`D(r \odot e_u, c_u)` tells real vectors (:math:`c_u`) from generated ones, looking
    only at the positions of the mask :math:`e_u` (the user's items, plus sampled negatives
    with partial masking). Items are ranked by the generator's output. Training needs PyTorch
    (``pip install 'skadv[torch]'``); a fitted model scores with NumPy only.

    Parameters
    ----------
    generator_layers : tuple of int, default=(512,)
        Hidden widths of the generator (input ``noise_dim + n_items``, output ``n_items``).
    discriminator_layers : tuple of int, default=(256,)
        Hidden widths of the discriminator (input ``2 * n_items``, output one logit).
    activation : {"relu", "tanh", "sigmoid"}, default="tanh"
        Activation of the hidden layers of both networks.
    noise_dim : int, default=32
        Dimension of the standard normal noise :math:`z`; ``0`` turns the noise off (the
        original implementation's setting, under which the generator may collapse into a
        copy of its condition: see ``collapse_``).
    scheme : {"zr+pm", "zr", "pm"}, default="zr+pm"
        Negative sampling: zero-reconstruction (ZR) adds
        :math:`\alpha \sum_{j \in N^{ZR}_u} \hat r_{uj}^2` to the generator loss; partial
        masking (PM) adds sampled negatives :math:`N^{PM}_u` to the mask :math:`e_u`, where
        real vectors are 0.
    zr_ratio, pm_ratio : float, default=0.1
        Expected fraction of each user's non-interacted items drawn as ZR / PM negatives at
        every generator step.
    alpha : float, default=0.1
        Weight :math:`\alpha` of the ZR term.
    discriminator : bool, default=True
        Train the adversarial game. ``False`` trains the generator on the reconstruction
        and ZR terms alone (the no-discriminator ablation): no discriminator exists, so
        ``discriminator_score`` is unavailable.
    generator_loss : {"non-saturating", "minimax"}, default="non-saturating"
        Adversarial term of the generator: :math:`-\log D` (non-saturating) or the paper's
        :math:`\log(1 - D)` (minimax).
    reconstruction_weight : float, default=1.0
        Weight of the reconstruction term :math:`\sum_j e_{uj} (\hat r_{uj} - c_{uj})^2`
        in the generator loss; None means 0 with the discriminator (the paper's pure
        game, which does not learn to rank on its own: see Notes) and 1 without.
    reconstruction_loss : {"squared", "multinomial"}, default="squared"
        The reconstruction term: ``"squared"`` is CFGAN's
        :math:`\sum_j e_{uj} (\hat r_{uj} - c_{uj})^2` over the mask;
        ``"multinomial"`` is the multinomial log-likelihood of Mult-DAE (Liang et al.
        2018), :math:`-\sum_j c_{uj} \log \operatorname{softmax}(\ell_u)_j` over all
        items, with :math:`\ell_u` the generator's logits (the ZR and adversarial terms
        still act on :math:`\hat r_u = \sigma(\ell_u)`).
    input_dropout : float, default=0.5
        Denoising: during training each entry of the condition the generator reads is
        zeroed with this probability (the survivors scaled by ``1 / (1 - input_dropout)``);
        the discriminator and the loss still see the full :math:`c_u`, and scoring and
        sampling use it uncorrupted. Without a discriminator this makes the generator a
        denoising autoencoder (Wu et al. 2016; Liang et al. 2018), which has to predict a
        user's items from the others instead of copying them.
    n_epochs : int, default=20
        Passes over the users.
    batch_size : int, default=64
        Users per step.
    generator_learning_rate : float, default=1e-3
    discriminator_learning_rate : float, default=1e-4
    generator_optimizer : {"adam", "adamw", "sgd", "adagrad"}, default="adam"
        ``"sgd"`` uses momentum 0.9.
    discriminator_optimizer : {"adam", "adamw", "sgd", "adagrad"}, default="adam"
    generator_weight_decay, discriminator_weight_decay : float, default=0.0
    generator_steps : int, default=1
    discriminator_steps : int, default=2
        Steps of each network per batch (discriminator first): their ratio is the D/G step
        ratio.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of each user's interactions, score NDCG@10 on them
        after every epoch (:class:`skadv.training.EarlyStopping`), stop after
        ``n_iter_no_change`` epochs without an improvement of ``tol`` and keep the best
        epoch's networks.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=5
    tol : float, default=1e-4
    device : str, default=None
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"``; None: CUDA when available, else CPU.
    n_jobs : int, default=None
        Torch threads on CPU during ``fit`` (None: 1, -1: all cores).
    random_state : int, RandomState instance or None, default=None
        Seeds initialization, batches, noise, negatives and the validation split: on CPU,
        same seed and ``n_jobs``, same model.
    verbose : int, default=0
        Print the generator loss (and validation score) of each epoch.
    handle_unknown : {"popularity", "error"}, default="popularity"
        Users/items not seen in ``fit`` (see :class:`skadv.base.BaseRecommender`).
    positive_threshold : float, default=None
        Interactions with ``y`` below this are dropped before training.

    Attributes
    ----------
    user_ids_, item_ids_ : ndarray
        Ids seen in ``fit``, in row order.
    n_users_, n_items_ : int
    interactions_ : scipy.sparse.csr_matrix of shape (n_users_, n_items_)
        Training interactions; their binary rows are the conditions :math:`c_u`.
    item_popularity_ : ndarray of shape (n_items_,)
    generator_state_, discriminator_state_ : dict of str to ndarray
        Parameters of the two networks (torch ``state_dict`` names, NumPy arrays);
        ``discriminator_state_`` is None with ``discriminator=False``.
    loss_curve_ : list of float
        Mean generator loss per user of each epoch.
    discriminator_loss_curve_ : list of float or None
        Mean discriminator loss per user of each epoch (``log 4 ≈ 1.386`` when D cannot
        tell real from generated); None with ``discriminator=False``.
    validation_scores_ : list of float or None
        Validation NDCG@10 per epoch with ``early_stopping``.
    best_validation_score_ : float or None
    n_iter_ : int
        Epochs run.
    diagnostics_ : dict of str to list of float
        Per epoch, on a fixed sample of up to 256 training users and one noise draw:
        ``"condition_overlap"`` (share of each user's top-:math:`|c_u|` generated items
        that are condition items), ``"off_condition_mass"`` (generated mass outside the
        condition, per condition item), ``"profile_length_distance"`` (Wasserstein-1
        distance between generated profile lengths :math:`\sum_j \hat r_{uj}` and real
        ones, over the mean real length), ``"profile_length_ratio"`` (mean generated over
        mean real profile length) and ``"popularity_distance"`` (total variation between
        the generated and real item-popularity distributions).
    condition_overlap_, off_condition_mass_ : float
    profile_length_distance_, profile_length_ratio_, popularity_distance_ : float
        The last epoch's diagnostics (of the kept networks with early stopping).
    collapse_ : {None, "identity", "profile-length"}
        Judged after at least 10 epochs (None before: outputs still near their initial
        0.5 say nothing). ``"identity"``: the generator copies its condition (overlap ≥
        0.99 and off-condition mass ≤ 0.05): it has learned nothing to rank unseen items
        with. ``"profile-length"``: generated profiles shrank to at most 0.2 times the real
        length (collapsed towards a few popular items), or swelled to half the catalogue
        and at least twice the real length (every item generated). A
        ``ConvergenceWarning`` is raised then. Healthy generators can still be several
        times too long (``profile_length_distance_`` measures that): see
        :meth:`sample`'s ``length`` for realistic sampled lengths.
    backend_, device_ : str
        ``"torch"`` and the training device.
    n_features_in_ : int
        Always 2.
    fit_record_ : dict
        The settings that reproduce the latest fit: parameters, resolved backend and device,
        library versions and time, as plain data (``skadv.utils._record.fit_record``), so
        it survives pickle, joblib and skops.

    See Also
    --------
    GANAugmenter : The sampler and meta-estimator using this generator.

    Notes
    -----
    Per batch of users, with :math:`D = \sigma(\text{logit})`,
    :math:`e_u = c_u + \mathbb{1}[N^{PM}_u]` and :math:`\hat r_u = G(z, c_u)`:

    .. math::

        L_D &= -\log D(c_u, c_u) - \log(1 - D(\hat r_u \odot e_u, c_u)) \\
        L_G &= -\log D(\hat r_u \odot e_u, c_u)
               + \alpha \sum_{j \in N^{ZR}_u} \hat r_{uj}^2
               + w_{rec} \sum_j e_{uj} (\hat r_{uj} - c_{uj})^2

    averaged over the batch (``generator_loss="minimax"`` replaces the first term of
    :math:`L_G` by :math:`\log(1 - D)`). Scores are the generator's logits with
    :math:`z = 0` (the noise's mean): monotone in :math:`\hat r_u`, without the sigmoid's
    float32 saturation ties. ``sample`` and ``GANAugmenter`` draw :math:`z \sim N(0, I)`.

    **Defaults.** The defaults are a denoising generator with the discriminator kept
    (``activation="tanh"``, ``generator_layers=(512,)``, ``input_dropout=0.5``,
    ``zr_ratio=pm_ratio=0.1``, ``n_epochs=20``, ``reconstruction_weight=1``,
    ``discriminator_learning_rate=1e-4``, ``discriminator_steps=2``), chosen on a validation
    split of MovieLens 100k and confirmed on other splits and data shapes
    (``benchmarks/bench_defaults.py``). The original CFGAN's setting [1]_ is reachable by
    parameters: ``CFGANRecommender((256,), (256,), activation="relu", zr_ratio=0.5,
    pm_ratio=0.5, reconstruction_weight=0, input_dropout=0, n_epochs=70,
    discriminator_learning_rate=1e-3, discriminator_steps=1)``; without a reconstruction term
    that adversarial game ranks below popularity on MovieLens 100k. ``discriminator=False``
    with ``generator_learning_rate=5e-4, n_epochs=40`` is the no-discriminator ablation (a
    denoising autoencoder with ZR/PM negatives).

    References
    ----------
    .. [1] D.-K. Chae, J.-S. Kang, S.-W. Kim and J.-T. Lee, "CFGAN: A Generic Collaborative
       Filtering Framework based on Generative Adversarial Networks", CIKM 2018.
    .. [2] M. Ferrari Dacrema, S. Boglio, P. Cremonesi and D. Jannach, "A Troubling Analysis
       of Reproducibility and Progress in Recommender Systems Research", TOIS 2021.

    Examples
    --------
    >>> from skadv.augmentation import CFGANRecommender
    >>> from skadv.datasets import make_interactions
    >>> X = make_interactions(n_users=40, n_items=30, random_state=0)
    >>> model = CFGANRecommender(generator_layers=(16,), discriminator_layers=(16,),
    ...                          n_epochs=3, random_state=0).fit(X)
    >>> model.recommend([0, 1], n=3)[0].shape, len(model.discriminator_loss_curve_)
    ((2, 3), 3)
    """

    _parameter_constraints = {
        **EPOCH_TRAINING_CONSTRAINTS,
        "generator_layers": [TupleOf(Interval("int", 1, None))],
        "discriminator_layers": [TupleOf(Interval("int", 1, None))],
        "activation": [Options("relu", "tanh", "sigmoid")],
        "noise_dim": [Interval("int", 0, None)],
        "scheme": [Options(*SCHEMES)],
        "zr_ratio": [Interval("real", 0, 1)],
        "pm_ratio": [Interval("real", 0, 1)],
        "alpha": [Interval("real", 0, None)],
        "discriminator": [BOOL],
        "generator_loss": [Options("non-saturating", "minimax")],
        "reconstruction_weight": [NONE, Interval("real", 0, None)],
        "input_dropout": [Interval("real", 0, 1, closed="left")],
        "reconstruction_loss": [Options("squared", "multinomial")],
        "n_epochs": [Interval("int", 1, None)],
        "batch_size": [Interval("int", 1, None)],
        "generator_learning_rate": [Interval("real", 0, None, closed="neither")],
        "discriminator_learning_rate": [Interval("real", 0, None, closed="neither")],
        "generator_optimizer": [Options(*OPTIMIZERS)],
        "discriminator_optimizer": [Options(*OPTIMIZERS)],
        "generator_weight_decay": [Interval("real", 0, None)],
        "discriminator_weight_decay": [Interval("real", 0, None)],
        "generator_steps": [Interval("int", 1, None)],
        "discriminator_steps": [Interval("int", 1, None)],
    }

    def __init__(
        self,
        generator_layers=(512,),
        discriminator_layers=(256,),
        *,
        activation="tanh",
        noise_dim=32,
        scheme="zr+pm",
        zr_ratio=0.1,
        pm_ratio=0.1,
        alpha=0.1,
        discriminator=True,
        generator_loss="non-saturating",
        reconstruction_weight=1.0,
        reconstruction_loss="squared",
        input_dropout=0.5,
        n_epochs=20,
        batch_size=64,
        generator_learning_rate=1e-3,
        discriminator_learning_rate=1e-4,
        generator_optimizer="adam",
        discriminator_optimizer="adam",
        generator_weight_decay=0.0,
        discriminator_weight_decay=0.0,
        generator_steps=1,
        discriminator_steps=2,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=5,
        tol=1e-4,
        device=None,
        n_jobs=None,
        random_state=None,
        verbose=0,
        handle_unknown="popularity",
        positive_threshold=None,
    ):
        self.generator_layers = generator_layers
        self.discriminator_layers = discriminator_layers
        self.activation = activation
        self.noise_dim = noise_dim
        self.scheme = scheme
        self.zr_ratio = zr_ratio
        self.pm_ratio = pm_ratio
        self.alpha = alpha
        self.discriminator = discriminator
        self.generator_loss = generator_loss
        self.reconstruction_weight = reconstruction_weight
        self.reconstruction_loss = reconstruction_loss
        self.input_dropout = input_dropout
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.generator_learning_rate = generator_learning_rate
        self.discriminator_learning_rate = discriminator_learning_rate
        self.generator_optimizer = generator_optimizer
        self.discriminator_optimizer = discriminator_optimizer
        self.generator_weight_decay = generator_weight_decay
        self.discriminator_weight_decay = discriminator_weight_decay
        self.generator_steps = generator_steps
        self.discriminator_steps = discriminator_steps
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.handle_unknown = handle_unknown
        self.positive_threshold = positive_threshold

    # ------------------------------------------------------------------------- fit
    def fit(self, X, y=None):
        """Train the generator (and discriminator) on interactions ``X``.

        Parameters
        ----------
        X : array-like of shape (n_interactions, 2) or DataFrame
            ``(user, item)`` id pairs.
        y : array-like of shape (n_interactions,), default=None
            Weights or ratings, filtered by ``positive_threshold``; the conditions are
            binary (a kept interaction is a 1).

        Returns
        -------
        self : CFGANRecommender
        """
        self._validate_params()
        _, self.device_ = resolve_backend("torch", self.device)
        self.backend_ = "torch"
        rng = check_random_state(self.random_state)
        self._fit_interactions(X, y)
        train, X_val = self.interactions_, None
        if self.early_stopping:
            from skadv.model_selection._split import validation_holdout

            coo = train.tocoo()
            train_idx, val_idx = validation_holdout(coo.row, coo.col,
                                                    self.validation_fraction, rng)  # fmt: skip
            X_val = np.column_stack([self.user_ids_[coo.row[val_idx]],
                                     self.item_ids_[coo.col[val_idx]]])  # fmt: skip
            train = sparse.csr_matrix(
                (coo.data[train_idx], (coo.row[train_idx], coo.col[train_idx])), shape=train.shape
            )
        self._train(rng, train, X_val)
        warn_if_below_popularity(
            validation_view(self, train), self.best_validation_score_, X_val,
            "Keep a reconstruction term (reconstruction_weight=1) and input_dropout, or "
            "tune n_epochs: see the Notes of CFGANRecommender.",
        )  # fmt: skip
        if self.collapse_ is not None:
            warnings.warn(collapse_message(self), ConvergenceWarning, stacklevel=2)
        return self

    def _reconstruction_weight(self):
        if self.reconstruction_weight is not None:
            return float(self.reconstruction_weight)
        return 0.0 if self.discriminator else 1.0

    def _train(self, rng, train, X_val):
        import torch

        from skadv._torch.utils import module_state, torch_threads
        from skadv.augmentation._cfgan_trainer import CFGANTrainer

        device = torch.device(self.device_)
        seed = int(draw_seeds(rng, 1)[0])
        conditions = binary_pattern(train)
        diag_users = np.sort(rng.permutation(conditions.shape[0])[:DIAGNOSTIC_USERS])
        diag_conditions = conditions[diag_users]
        diag_noise = rng.standard_normal((diag_users.shape[0], self.noise_dim))
        self.diagnostics_ = {k: [] for k in DIAGNOSTIC_NAMES}
        schedule = TrainingSchedule(
            n_epochs=self.n_epochs, learning_rate=self.generator_learning_rate,
            divergence_hint="Lower generator_learning_rate / discriminator_learning_rate.",
            loss_names=("generator loss", "discriminator loss"),
            two_player=self.discriminator,
        )  # fmt: skip
        fork_devices = [device] if device.type == "cuda" else []
        with (
            torch_threads(effective_n_threads(self.n_jobs)),
            torch.random.fork_rng(devices=fork_devices),
        ):
            torch.manual_seed(seed)
            generator = torch.Generator(device=device)
            generator.manual_seed(seed + 1)
            trainer = CFGANTrainer(self, conditions, device, generator,
                                   self._reconstruction_weight())  # fmt: skip

            def run_epoch(plan):
                sums = trainer.run_epoch()
                self.generator_state_ = module_state(trainer.G)
                self._record_diagnostics(diag_conditions, diag_noise)
                return sums

            def check(loss, epoch):  # loss: the generator's and the discriminator's
                check_finite(loss, list(self.generator_state_.values()), epoch,
                             schedule.divergence_hint)  # fmt: skip

            D = trainer.D
            stopper = None if X_val is None else self._stopper(X_val, train, D, module_state)
            log = run_epochs(schedule, run_epoch, n_draws=conditions.shape[0], check=check,
                             early_stopping=stopper, verbose=self.verbose)  # fmt: skip
            self.discriminator_state_ = module_state(D) if D is not None else None
            if stopper is not None:
                self.generator_state_, self.discriminator_state_ = stopper.best_state
                self._record_diagnostics(diag_conditions, diag_noise)
                for name in DIAGNOSTIC_NAMES:  # the kept epoch's values come last
                    self.diagnostics_[name].pop(-2)
        self._store_log(log, np.diff(diag_conditions.indptr).mean())

    def _store_log(self, log, mean_length):
        """Fitted attributes from the training log and the last diagnostics."""
        self.loss_curve_ = log.loss_curve
        self.discriminator_loss_curve_ = log.adv_loss_curve if self.discriminator else None
        self.validation_scores_ = log.validation_scores
        self.best_validation_score_ = log.best_validation_score
        self.n_iter_ = log.n_epochs
        for name in DIAGNOSTIC_NAMES:
            setattr(self, name + "_", self.diagnostics_[name][-1])
        self.collapse_ = collapse_kind(self, mean_length)

    def _stopper(self, X_val, train, D, module_state):
        from skadv.metrics import get_ranking_scorer

        scorer = get_ranking_scorer("ndcg@10")

        def snapshot():
            return (self.generator_state_, module_state(D) if D is not None else None)

        return EarlyStopping(lambda: scorer(validation_view(self, train), X_val), snapshot,
                             n_iter_no_change=self.n_iter_no_change, tol=self.tol)  # fmt: skip

    def _record_diagnostics(self, conditions, noise):
        c = conditions.toarray()
        g = sigmoid(self._logits(c, noise))
        for name, value in zip(DIAGNOSTIC_NAMES, collapse_diagnostics(g, c), strict=True):
            self.diagnostics_[name].append(value)

    # ----------------------------------------------------------------- generation
    def _logits(self, conditions, noise=None):
        """Generator logits for dense float32 conditions (noise 0 when None)."""
        conditions = np.asarray(conditions, dtype=np.float32)
        if noise is None:
            noise = np.zeros((conditions.shape[0], self.noise_dim), dtype=np.float32)
        x = np.concatenate([np.asarray(noise, dtype=np.float32), conditions], axis=1)
        return mlp_forward(self.generator_state_, x, self.activation)

    def _user_item_scores(self, user_codes):
        return self._logits(binary_pattern(self.interactions_)[user_codes].toarray())

    def _new_user_scores(self, matrix, reg):
        # The generator is conditioned on a profile: a new user's profile is its condition,
        # so serving a new user is the same forward pass as for a training user.
        conditions = binary_pattern(matrix)

        def score(block, cols):
            return take_columns(self._logits(conditions[block].toarray()), cols)

        score.item_dim = None
        return score

    def generate(self, user_codes, rng):
        """Generated vectors :math:`\\hat r_u` (float32, in (0, 1)) of users given by code,
        with noise drawn from ``rng``: ndarray of shape ``(len(user_codes), n_items_)``."""
        check_is_fitted(self)
        c = binary_pattern(self.interactions_)[np.asarray(user_codes)].toarray()
        noise = rng.standard_normal((c.shape[0], self.noise_dim))
        return sigmoid(self._logits(c, noise))

    def sample(self, n_users, *, random_state=None, length="generated"):
        """Generated profiles of ``n_users`` new users, each conditioned on a real user.

        For each profile a training user is drawn uniformly as the condition, a vector
        :math:`\\hat r = G(z, c_u)` generated with fresh noise, and distinct items drawn with
        probabilities proportional to :math:`\\hat r` (Gumbel top-k, so the most likely
        items come first in expectation). This is the source of fake profiles for the
        attack samplers; :meth:`discriminator_score` tells how real they look.

        Parameters
        ----------
        n_users : int
            Number of profiles.
        random_state : int, RandomState instance or None, default=None
        length : {"generated", "condition"}, default="generated"
            Number of items of each profile: ``round(sum(r_hat))`` (the generator's own
            length, at least 1), or the length of the condition user's real profile (real
            lengths by construction, when the generator's are off: see
            ``profile_length_ratio_``).

        Returns
        -------
        profiles : ndarray of shape (n_rows, 2)
            ``(profile number, item id)`` rows, profile numbers ``0 .. n_users - 1``
            (not user ids: a sampler gives them fresh ids).

        Examples
        --------
        >>> from skadv.augmentation import CFGANRecommender
        >>> from skadv.datasets import make_interactions
        >>> X = make_interactions(n_users=40, n_items=30, random_state=0)
        >>> gan = CFGANRecommender((16,), (16,), n_epochs=2, random_state=0).fit(X)
        >>> profiles = gan.sample(3, random_state=0, length="condition")
        >>> sorted(set(profiles[:, 0].tolist()))
        [0, 1, 2]
        >>> users, realness = gan.discriminator_score(profiles)
        >>> realness.shape
        (3,)
        """
        check_is_fitted(self)
        check_params({"n_users": (n_users, [Interval("int", 1, None)]),
                      "random_state": (random_state, [NONE, RANDOM_STATE]),
                      "length": (length, [Options("generated", "condition")])},
                     caller=f"{type(self).__name__}.sample")  # fmt: skip
        rng = check_random_state(random_state)
        users, items = self._sample_profiles(n_users, rng, length=length)
        out = np.empty((users.shape[0], 2), dtype=object)
        out[:, 0], out[:, 1] = users, self.item_ids_[items]
        return out.astype(np.int64) if self.item_ids_.dtype.kind in "iu" else out

    def _sample_profiles(self, n_users, rng, flatten=0.0, length="generated"):
        """(profile numbers, item codes) of ``n_users`` generated profiles."""
        conditions = rng.randint(self.n_users_, size=n_users)
        real_lengths = np.diff(self.interactions_.indptr)
        users, items = [], []
        for block in row_blocks(n_users, self.n_items_ * BYTES_PER_ITEM):
            g = self.generate(conditions[block], rng)
            if length == "condition":
                lengths = real_lengths[conditions[block]]
            else:
                lengths = np.rint(g.sum(axis=1))
            lengths = np.clip(lengths, 1, self.n_items_).astype(np.int64)
            chosen = draw_items(g, lengths, rng, self._flatten_weights(flatten))
            users.append(np.repeat(np.arange(block.start, block.stop), lengths))
            items.append(chosen)
        return np.concatenate(users), np.concatenate(items)

    def _flatten_weights(self, flatten):
        return (self.item_popularity_ + 1.0) ** -float(flatten)

    # ----------------------------------------------------------------- discriminator
    def discriminator_score(self, X):
        """How real each user's profile in ``X`` looks to the discriminator.

        Parameters
        ----------
        X : array-like of shape (n_interactions, 2) or DataFrame
            ``(user, item)`` pairs: each user's profile is their items in ``X`` (items not
            seen in ``fit`` are ignored with ``handle_unknown="popularity"``).

        Returns
        -------
        users : ndarray of shape (n_profiles,)
            The distinct users of ``X``.
        scores : ndarray of shape (n_profiles,)
            :math:`D(p_u, p_u)` in (0, 1) for each profile :math:`p_u`: the probability
            the discriminator gives it of being real.
        """
        check_is_fitted(self)
        if self.discriminator_state_ is None:
            raise ValueError(
                "discriminator_score needs a discriminator: this model was fitted with "
                "discriminator=False."
            )
        users, items, _ = check_interactions(X)
        item_codes = self._encode_items(items)
        uniq, rows = encode_ids(users)
        known = item_codes >= 0
        profiles = sparse.csr_matrix(
            (np.ones(int(known.sum()), dtype=np.float32), (rows[known], item_codes[known])),
            shape=(uniq.shape[0], self.n_items_),
        )
        scores = np.empty(uniq.shape[0], dtype=np.float64)
        for block in row_blocks(uniq.shape[0], self.n_items_ * BYTES_PER_ITEM):
            p = (profiles[block].toarray() > 0).astype(np.float32)
            logit = mlp_forward(self.discriminator_state_, np.concatenate([p, p], axis=1),
                                 self.activation)[:, 0]  # fmt: skip
            scores[block] = sigmoid(logit.astype(np.float64))
        return uniq, scores

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags
