"""What the torch recommenders of :mod:`skadv.neural` share: the training loop.

``TorchRecommender`` is a :class:`~skadv.base.BaseRecommender` that trains a torch module on
sampled (user, positive item, negative item) triples with BPR (plus optional extra task
losses), taking every step through :func:`~skadv._torch.adversary.adversarial_backward`
(FGSM, PGD, FreeLB, random or clean), under the epoch loop and early-stopping rule of
:mod:`skadv.training`, with the optimizer, learning-rate schedule, gradient clipping,
seeding, threads and device handling written once. A subclass says what the
module is and how a batch is embedded and scored (the ``_make_module``, ``_embed``,
``_batch_loss``, ``_export`` hooks) and how fitted scores are computed.

This module does not import torch at import time: ``fit`` does.
"""

import numpy as np
from scipy import sparse

from skadv._torch import OPTIMIZERS
from skadv._torch.dispatch import DeviceRankingMixin
from skadv.base import BaseRecommender
from skadv.training import (
    ADVERSARIES,
    EPOCH_TRAINING_CONSTRAINTS,
    MEAN_NORM_EPSILON_MODES,
    EarlyStopping,
    TrainingSchedule,
    check_finite,
    check_warmup,
    resolve_adv_start,
    run_epochs,
    validation_view,
    warn_if_below_popularity,
)
from skadv.utils._backend import resolve_backend
from skadv.utils._params import NONE, Interval, Options
from skadv.utils._random import check_random_state, draw_seeds
from skadv.utils._schedule import LR_SCHEDULES, learning_rate_factor
from skadv.utils._threads import effective_n_threads

__all__ = ["OPTIMIZERS", "TRAINING_CONSTRAINTS", "TorchRecommender"]

# Shared by every torch recommender; subclasses add their architecture's parameters.
TRAINING_CONSTRAINTS = {
    **EPOCH_TRAINING_CONSTRAINTS,
    "n_epochs": [Interval("int", 1, None)],
    "batch_size": [Options("auto"), Interval("int", 1, None)],
    "learning_rate": [Interval("real", 0, None, closed="neither")],
    "optimizer": [Options(*OPTIMIZERS)],
    "weight_decay": [Interval("real", 0, None)],
    "lr_schedule": [Options(*LR_SCHEDULES)],
    "warmup_epochs": [Interval("int", 0, None)],
    "clip_grad_norm": [NONE, Interval("real", 0, None, closed="neither")],
    "adversary": [Options(*ADVERSARIES)],
    "epsilon": [Interval("real", 0, None)],
    # "per-user" (a radius per row) is implemented by AdversarialMFRecommender only: say so.
    "epsilon_mode": [
        Options(
            *MEAN_NORM_EPSILON_MODES,
            description="'absolute' or 'relative' (epsilon_mode='per-user' is implemented by "
            "skadv.mf.AdversarialMFRecommender only)",
        )
    ],
    "adv_reg": [Interval("real", 0, None)],
    "pgd_steps": [Interval("int", 1, None)],
    "pgd_alpha": [NONE, Interval("real", 0, None, closed="neither")],
    "norm": [Options("per-example", "global", "per-token")],
    "adv_start": [Options("auto"), Interval("int", 0, None)],
    "precision": [Options("fp32", "bf16", "fp16")],
    "accumulate_steps": [Interval("int", 1, None)],
}


def resolve_batch_size(batch_size, n_pairs):
    """Triples per step: ``"auto"`` is about 64 steps per epoch, between 64 and 1024 triples.

    A fixed large batch leaves a small data set a handful of optimizer steps per epoch (a
    default that silently does nothing there); a fixed small one makes large data slow.

    Examples
    --------
    >>> resolve_batch_size("auto", 3_000), resolve_batch_size("auto", 80_000)
    (64, 1024)
    >>> resolve_batch_size("auto", 20_000), resolve_batch_size(256, 20_000)
    (312, 256)
    """
    if batch_size != "auto":
        return int(batch_size)
    return int(min(1024, max(64, n_pairs // 64)))


class TorchRecommender(DeviceRankingMixin, BaseRecommender):
    """Base class of the torch recommenders: BPR training with adversarial steps.

    Not used directly. Subclasses define ``__init__`` (with the parameters of
    ``TRAINING_CONSTRAINTS``) and the hooks:

    ``_prepare(fit_params)``
        Called in ``fit`` after the ids are encoded: check and store side inputs.
    ``_make_module(train)``
        Build the torch module (parameters initialized from the global torch seed) for the
        training interactions ``train`` (CSR, the fit's training part: with early stopping,
        ``interactions_`` less the validation part).
    ``_embed(module, batch)``
        The tensors the adversary perturbs, as a tuple.
    ``_masks(batch)``
        A mask per tensor of ``_embed`` (zero = never perturbed), or None (the default).
    ``_batch_loss(module, batch, embeddings)``
        The training loss of a batch given (possibly perturbed) embeddings.
    ``_start_epoch(module)``, ``_after_step(module)``
        Run before every epoch and after every optimizer step (no-ops by default).
    ``_export(module, final=True)``
        Store what inference needs as NumPy arrays: after fit (``final``) and, with early
        stopping, after every epoch (``final=False``: only what scoring needs).

    A batch is a dict of tensors: ``users``, ``pos``, ``neg`` (int64 codes) and ``weight``
    (the interaction weights of the positive pairs, for rating-type tasks).
    """

    _parameter_constraints: dict = TRAINING_CONSTRAINTS
    #: What the below-popularity warning of an early-stopped fit tells the user to change.
    _below_popularity_hint = (
        "Train longer (n_epochs) or faster (learning_rate), or weaken the adversary "
        "(epsilon, adv_reg)."
    )

    # ------------------------------------------------------------------------ fit
    def fit(self, X, y=None, **fit_params):
        """Train on interactions ``X``.

        Parameters
        ----------
        X : array-like of shape (n_interactions, 2) or DataFrame
            ``(user, item)`` id pairs.
        y : array-like of shape (n_interactions,), default=None
            Interaction weights (ratings): filtered by ``positive_threshold`` and, for a
            model with a ``"rating"`` task, its regression target.
        **fit_params : dict
            Side inputs of the model (see the subclass).

        Returns
        -------
        self
        """
        self._validate_params()
        _, self.device_ = resolve_backend("torch", self.device)
        self.backend_ = "torch"
        check_warmup(self.warmup_epochs, self.n_epochs)
        rng = check_random_state(self.random_state)
        self._fit_interactions(X, y)
        self._prepare(fit_params)
        train = self.interactions_
        coo = train.tocoo()
        pair_users, pair_items, pair_weights = coo.row, coo.col, coo.data

        X_val = None
        if self.early_stopping:
            from skadv.model_selection._split import validation_holdout

            train_idx, val_idx = validation_holdout(
                pair_users, pair_items, self.validation_fraction, rng
            )
            X_val = np.column_stack(
                [self.user_ids_[pair_users[val_idx]], self.item_ids_[pair_items[val_idx]]]
            )
            pair_users, pair_items = pair_users[train_idx], pair_items[train_idx]
            pair_weights = pair_weights[train_idx]
            # Validation scores a view of the model that sees only the training part.
            train = sparse.csr_matrix((pair_weights, (pair_users, pair_items)), shape=train.shape)
        self._train(train, pair_users, pair_items, pair_weights, rng, X_val)
        warn_if_below_popularity(
            validation_view(self, train), self.best_validation_score_, X_val,
            self._below_popularity_hint,
        )  # fmt: skip
        return self

    def _prepare(self, fit_params):
        if fit_params:
            raise TypeError(
                f"{type(self).__name__}.fit got unexpected arguments {sorted(fit_params)}."
            )

    def _train(self, train, pair_users, pair_items, pair_weights, rng, X_val):
        import torch

        from skadv._torch.sampling import TripleSampler
        from skadv._torch.utils import torch_threads

        device = torch.device(self.device_)
        seed = int(draw_seeds(rng, 1)[0])
        schedule = TrainingSchedule(
            n_epochs=self.n_epochs, learning_rate=self.learning_rate, adversary=self.adversary,
            adv_reg=float(self.adv_reg), epsilon=float(self.epsilon),
            epsilon_mode=self.epsilon_mode,
            adv_start=resolve_adv_start(self.adv_start, self.n_epochs),
            lr_schedule=self.lr_schedule, warmup_epochs=self.warmup_epochs,
            divergence_hint="Lower learning_rate, or set clip_grad_norm.",
        )  # fmt: skip
        fork_devices = [device] if device.type == "cuda" else []
        with (
            torch_threads(effective_n_threads(self.n_jobs)),
            torch.random.fork_rng(devices=fork_devices),
        ):
            # The global seed drives initialization and dropout; the generator sampling.
            torch.manual_seed(seed)
            generator = torch.Generator(device=device)
            generator.manual_seed(seed + 1)
            module = self._make_module(train).to(device)
            sampler = TripleSampler(train, pair_users, pair_items, device,
                                    generator, pair_weights)  # fmt: skip
            batch_size = resolve_batch_size(self.batch_size, sampler.n_pairs)
            steps_per_epoch = -(-sampler.n_pairs // batch_size)
            step = _Stepper(self, module, schedule, generator, steps_per_epoch)

            def run_epoch(plan):
                module.train()
                self._start_epoch(module)
                clean_sum = adv_sum = 0.0
                for batch in sampler.epoch(batch_size):
                    clean, adv = step(batch, plan)
                    clean_sum += clean
                    adv_sum += adv
                module.eval()
                return step.reduce(clean_sum, adv_sum)

            stopper = None
            if X_val is not None:
                stopper = self._early_stopping(module, X_val, schedule, train)
            log = run_epochs(
                schedule, run_epoch, n_draws=sampler.n_pairs,
                check=lambda loss, epoch: check_finite(loss, (), epoch,
                                                       schedule.divergence_hint),
                early_stopping=stopper, verbose=self.verbose,
            )  # fmt: skip
            if stopper is not None:
                module.load_state_dict(stopper.best_state)
            module.eval()
            self._export(module)
        self.loss_curve_ = log.loss_curve
        self.adv_loss_curve_ = log.adv_loss_curve
        self.validation_scores_ = log.validation_scores
        self.best_validation_score_ = log.best_validation_score
        self.n_iter_ = log.n_epochs

    def _early_stopping(self, module, X_val, schedule, train):
        """The shared rule (:class:`~skadv.training.EarlyStopping`) on NDCG@10 of ``X_val``,
        scored on the model seeing the ``train`` part only."""
        from skadv.metrics import get_ranking_scorer

        scorer = get_ranking_scorer("ndcg@10")

        def score():
            self._export(module, final=False)
            return scorer(validation_view(self, train), X_val)

        def snapshot():
            return {k: v.detach().clone() for k, v in module.state_dict().items()}

        return EarlyStopping(
            score, snapshot, n_iter_no_change=self.n_iter_no_change, tol=self.tol,
            patience_start=schedule.adv_start if schedule.trains_adversarially else 0,
        )  # fmt: skip

    def _masks(self, batch):
        return None

    def _prepare_batch(self, module, batch):
        """Hook: add to a batch what every pass of the step needs (computed once)."""
        return batch

    def _param_groups(self, module):
        """Hook: optimizer parameter groups (one group of all trainable parameters)."""
        return [{"params": [p for p in module.parameters() if p.requires_grad]}]

    def _start_epoch(self, module):
        """Hook run before every epoch (e.g. refresh cached tables)."""

    def _after_step(self, module):
        """Hook run after every optimizer step (e.g. count steps to a cache refresh)."""

    # ---------------------------------------------------------------- persistence
    def __getstate__(self):
        state = self.__dict__.copy()
        # Torch objects rebuilt on demand are never pickled: fitted state is NumPy.
        for key in [k for k in state if k.startswith("_cache_")]:
            del state[key]
        return state


class _Stepper:
    """One optimizer step of a :class:`TorchRecommender` fit: ``stepper(batch, plan)``.

    Owns the optimizer, the per-step learning-rate schedule, the precision (autocast and
    the fp16 scaler), gradient accumulation (``accumulate_steps`` micro-batches per step)
    and the data-parallel share of each batch under a process group
    (:mod:`skadv._torch.distributed`). With the defaults (fp32, one micro-batch, one
    process) a step is exactly the plain loop: zero the gradients, prepare the batch, one
    :func:`~skadv._torch.adversary.adversarial_backward`, clip, step.
    """

    def __init__(self, model, module, schedule, generator, steps_per_epoch):
        import torch

        from skadv._torch.distributed import world
        from skadv._torch.precision import Precision
        from skadv._torch.utils import make_optimizer

        self.model, self.module = model, module
        self.schedule, self.generator = schedule, generator
        self.rank, self.world_size = world()
        self.accumulate_steps = int(model.accumulate_steps)
        self.precision = Precision(model.precision, next(module.parameters()).device)
        self.optimizer = make_optimizer(
            model.optimizer, model._param_groups(module), model.learning_rate,
            model.weight_decay,
        )  # fmt: skip
        # The learning rate follows the schedule per step (the epoch's plan is not read).
        total = model.n_epochs * steps_per_epoch
        warmup = model.warmup_epochs * steps_per_epoch
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer,
            lambda step: learning_rate_factor(
                min(step, total - 1), total, schedule=model.lr_schedule, warmup_steps=warmup,
            ),
        )  # fmt: skip
        self.params = [p for p in module.parameters() if p.requires_grad]

    def __call__(self, batch, plan):
        """Train on ``batch``; return its clean and adversarial losses summed over triples
        (this rank's share of them under a process group)."""
        import torch

        from skadv._torch.distributed import all_reduce_gradients, batch_parts

        model, module = self.model, self.module
        self.optimizer.zero_grad(set_to_none=True)
        clean_sum = adv_sum = 0.0
        parts = batch_parts(batch, self.accumulate_steps, self.rank, self.world_size)
        for part, weight in parts:
            part = model._prepare_batch(module, part)
            clean, adv = self._backward(part, plan, weight)
            n = part["users"].shape[0]
            clean_sum += clean * n
            adv_sum += adv * n
        all_reduce_gradients(self.params, self.world_size)
        self.precision.unscale(self.optimizer)
        if model.clip_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(self.params, model.clip_grad_norm)
        self.precision.step(self.optimizer)
        self.scheduler.step()
        model._after_step(module)
        return clean_sum, adv_sum

    def _backward(self, batch, plan, weight):
        """Forward and backward passes of one micro-batch, its loss scaled by ``weight``
        (its share of the step) and by the fp16 loss scale; the losses come back unscaled."""
        from skadv._torch.adversary import adversarial_backward

        model, module, precision = self.model, self.module, self.precision
        factor = weight * precision.scale

        def embed():
            with precision.autocast():
                return model._embed(module, batch)

        def loss_fn(*embeddings):
            with precision.autocast():
                loss = model._batch_loss(module, batch, embeddings)
            return loss if factor == 1.0 else loss * factor

        clean, adv = adversarial_backward(
            embed, loss_fn, adversary=plan.adversary, epsilon=plan.eps_user,
            adv_reg=self.schedule.adv_reg, n_steps=model.pgd_steps,
            step_size=model.pgd_alpha, norm=model.norm, masks=model._masks(batch),
            generator=self.generator, epsilon_mode=self.schedule.epsilon_mode,
        )  # fmt: skip
        return clean / factor, adv / factor

    def reduce(self, clean_sum, adv_sum):
        """An epoch's summed losses, over every rank."""
        from skadv._torch.distributed import all_reduce_sum

        return tuple(all_reduce_sum((clean_sum, adv_sum), self.world_size))
