"""What the torch recommenders of :mod:`skadv.neural` share: the training loop.

``TorchRecommender`` is a :class:`~skadv.base.BaseRecommender` that trains a torch module on
sampled (user, positive item, negative item) triples with BPR (plus optional extra task
losses), taking every step through :func:`~skadv.neural._adversary.adversarial_backward`
(FGM / PGD / FreeLB or clean), with the optimizer, learning-rate schedule, gradient clipping,
early stopping, seeding, threads and device handling written once. A subclass says what the
module is and how a batch is embedded and scored (the ``_make_module``, ``_embed``,
``_batch_loss``, ``_export`` hooks) and how fitted scores are computed.

This module does not import torch at import time: ``fit`` does.
"""

import sys

import numpy as np
from scipy import sparse

from skadv.base import BaseRecommender
from skadv.training import ADVERSARIES, EPSILON_MODES
from skadv.utils._backend import resolve_backend
from skadv.utils._params import BOOL, NONE, RANDOM_STATE, STRING, Interval, Options
from skadv.utils._random import check_random_state, draw_seeds
from skadv.utils._schedule import LR_SCHEDULES, learning_rate_factor
from skadv.utils._threads import effective_n_threads

__all__ = ["OPTIMIZERS", "TRAINING_CONSTRAINTS", "TorchRecommender"]

OPTIMIZERS = ("adamw", "adam", "sgd", "adagrad")

# Shared by every torch recommender; subclasses add their architecture's parameters.
TRAINING_CONSTRAINTS = {
    "n_epochs": [Interval("int", 1, None)],
    "batch_size": [Interval("int", 1, None)],
    "learning_rate": [Interval("real", 0, None, closed="neither")],
    "optimizer": [Options(*OPTIMIZERS)],
    "weight_decay": [Interval("real", 0, None)],
    "lr_schedule": [Options(*LR_SCHEDULES)],
    "warmup_epochs": [Interval("int", 0, None)],
    "clip_grad_norm": [NONE, Interval("real", 0, None, closed="neither")],
    "adversary": [Options(*ADVERSARIES)],
    "epsilon": [Interval("real", 0, None)],
    "epsilon_mode": [Options(*EPSILON_MODES)],
    "adv_reg": [Interval("real", 0, None)],
    "pgd_steps": [Interval("int", 1, None)],
    "pgd_alpha": [NONE, Interval("real", 0, None, closed="neither")],
    "norm": [Options("per-example", "global", "per-token")],
    "adv_start": [Interval("int", 0, None)],
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


class TorchRecommender(BaseRecommender):
    """Base class of the torch recommenders: BPR training with adversarial steps.

    Not used directly. Subclasses define ``__init__`` (with the parameters of
    ``TRAINING_CONSTRAINTS``) and the hooks:

    ``_prepare(fit_params)``
        Called in ``fit`` after the ids are encoded: check and store side inputs.
    ``_make_module()``
        Build the torch module (parameters initialized from the global torch seed).
    ``_embed(module, batch)``
        The tensors the adversary perturbs, as a tuple.
    ``_masks(batch)``
        A mask per tensor of ``_embed`` (zero = never perturbed), or None (the default).
    ``_batch_loss(module, batch, embeddings)``
        The training loss of a batch given (possibly perturbed) embeddings.
    ``_export(module, final=True)``
        Store what inference needs as NumPy arrays: after fit (``final``) and, with early
        stopping, after every epoch (``final=False``: only what scoring needs).

    A batch is a dict of tensors: ``users``, ``pos``, ``neg`` (int64 codes) and ``weight``
    (the interaction weights of the positive pairs, for rating-type tasks).
    """

    _parameter_constraints: dict = TRAINING_CONSTRAINTS

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
        if self.warmup_epochs >= self.n_epochs:
            raise ValueError(
                f"warmup_epochs={self.warmup_epochs} must be smaller than "
                f"n_epochs={self.n_epochs}."
            )
        rng = check_random_state(self.random_state)
        self._fit_interactions(X, y)
        self._prepare(fit_params)
        full = self.interactions_
        coo = full.tocoo()
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
            self.interactions_ = sparse.csr_matrix(
                (pair_weights, (pair_users, pair_items)), shape=full.shape
            )
        try:
            self._train(pair_users, pair_items, pair_weights, rng, X_val)
        finally:
            self.interactions_ = full
        return self

    def _prepare(self, fit_params):
        if fit_params:
            raise TypeError(
                f"{type(self).__name__}.fit got unexpected arguments {sorted(fit_params)}."
            )

    def _train(self, pair_users, pair_items, pair_weights, rng, X_val):
        import torch

        from skadv.neural._adversary import adversarial_backward

        device = torch.device(self.device_)
        seed = int(draw_seeds(rng, 1)[0])
        previous_threads = torch.get_num_threads()
        torch.set_num_threads(effective_n_threads(self.n_jobs))
        fork_devices = [device] if device.type == "cuda" else []
        try:
            with torch.random.fork_rng(devices=fork_devices):
                # The global seed drives initialization and dropout; the generator sampling.
                torch.manual_seed(seed)
                generator = torch.Generator(device=device)
                generator.manual_seed(seed + 1)
                module = self._make_module().to(device)
                sampler = _TripleSampler(
                    self.interactions_, pair_users, pair_items, pair_weights, device, generator
                )
                steps_per_epoch = -(-sampler.n_pairs // self.batch_size)
                optimizer = _make_optimizer(
                    self.optimizer, self._param_groups(module), self.learning_rate,
                    self.weight_decay,
                )  # fmt: skip
                total = self.n_epochs * steps_per_epoch
                warmup = self.warmup_epochs * steps_per_epoch
                scheduler = torch.optim.lr_scheduler.LambdaLR(
                    optimizer,
                    lambda step: learning_rate_factor(
                        min(step, total - 1), total, schedule=self.lr_schedule,
                        warmup_steps=warmup,
                    ),
                )  # fmt: skip
                params = [p for p in module.parameters() if p.requires_grad]
                stopper = _EarlyStopping(self, X_val) if X_val is not None else None
                self.loss_curve_ = []
                self.validation_scores_ = [] if stopper else None
                self.best_validation_score_ = None
                epochs, log = _progress(self.n_epochs, self.verbose)
                for epoch in epochs:
                    adversary = self.adversary if epoch >= self.adv_start else "none"
                    module.train()
                    self._start_epoch(module)
                    epoch_loss = 0.0
                    for batch in sampler.epoch(self.batch_size):
                        batch = self._prepare_batch(module, batch)
                        optimizer.zero_grad(set_to_none=True)

                        def embed(batch=batch):
                            return self._embed(module, batch)

                        def loss_fn(*embeddings, batch=batch):
                            return self._batch_loss(module, batch, embeddings)

                        clean, adv = adversarial_backward(
                            embed, loss_fn, adversary=adversary, epsilon=self.epsilon,
                            adv_reg=self.adv_reg, n_steps=self.pgd_steps,
                            step_size=self.pgd_alpha, norm=self.norm,
                            masks=self._masks(batch), generator=generator,
                            epsilon_mode=self.epsilon_mode,
                        )  # fmt: skip
                        if self.clip_grad_norm is not None:
                            torch.nn.utils.clip_grad_norm_(params, self.clip_grad_norm)
                        optimizer.step()
                        scheduler.step()
                        epoch_loss += (clean + self.adv_reg * adv) * batch["users"].shape[0]
                    epoch_loss /= sampler.n_pairs
                    if not np.isfinite(epoch_loss):
                        raise ValueError(
                            f"Training diverged in epoch {epoch + 1} (loss {epoch_loss}): "
                            "lower learning_rate, or set clip_grad_norm."
                        )
                    self.loss_curve_.append(epoch_loss)
                    module.eval()
                    message = ""
                    stop = False
                    if stopper is not None:
                        stop, message = stopper.after_epoch(module, epoch)
                    if log is not None:
                        log(f"epoch {epoch + 1}/{self.n_epochs} [{adversary}]: loss "
                            f"{epoch_loss:.5f}{message}")  # fmt: skip
                        sys.stdout.flush()
                    if stop:
                        break
                if hasattr(epochs, "close"):
                    epochs.close()
                if stopper is not None:
                    module.load_state_dict(stopper.best_state)
                module.eval()
                self._export(module)
                self.n_iter_ = len(self.loss_curve_)
        finally:
            torch.set_num_threads(previous_threads)

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

    # ---------------------------------------------------------------- persistence
    def __getstate__(self):
        state = self.__dict__.copy()
        # Torch objects rebuilt on demand are never pickled: fitted state is NumPy.
        for key in [k for k in state if k.startswith("_cache_")]:
            del state[key]
        return state


class _EarlyStopping:
    """NDCG@10 on held-out interactions after every epoch; keeps the best module state."""

    def __init__(self, estimator, X_val):
        from skadv.metrics import get_ranking_scorer

        self.estimator, self.X_val = estimator, X_val
        self.scorer = get_ranking_scorer("ndcg@10")
        self.best_state = None
        self.no_improvement = 0

    def after_epoch(self, module, epoch):
        est = self.estimator
        est._export(module, final=False)
        score = self.scorer(est, self.X_val)
        est.validation_scores_.append(score)
        best = est.best_validation_score_
        if best is not None and score < best + est.tol:
            self.no_improvement += 1
        else:
            self.no_improvement = 0
        if best is None or score > best:
            est.best_validation_score_ = score
            self.best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
        # Clean epochs before adv_start never stop training.
        stop = epoch >= est.adv_start and self.no_improvement >= est.n_iter_no_change
        return stop, f", validation NDCG@10 {score:.5f}"


class _TripleSampler:
    """(user, positive, negative) triples on the device, as in the MF torch backend.

    An epoch draws ``n_pairs`` positive pairs uniformly with replacement and, for each, a
    negative item uniformly among the items its user did not interact with (rejection).
    """

    def __init__(self, interactions, pair_users, pair_items, pair_weights, device, generator):
        import torch

        from skadv.mf._cython_backend import _usable_samples

        interactions = interactions.tocsr()
        interactions.sort_indices()
        indptr = np.asarray(interactions.indptr, dtype=np.int64)
        self.n_items = interactions.shape[1]
        # Grouped by user here, so that _usable_samples keeps the order (and the weights
        # stay aligned with their pairs).
        order = np.argsort(pair_users, kind="stable")
        pair_users, pair_items = pair_users[order], pair_items[order]
        pair_weights = np.asarray(pair_weights, dtype=np.float32)[order]
        keep = (np.diff(indptr) < self.n_items)[pair_users]
        users, items = _usable_samples(indptr, pair_users[keep], pair_items[keep], self.n_items)
        pair_weights = pair_weights[keep]
        row_of = np.repeat(np.arange(interactions.shape[0], dtype=np.int64), np.diff(indptr))
        self.pair_keys = torch.from_numpy(row_of * self.n_items + interactions.indices).to(device)
        self.users = torch.from_numpy(users.astype(np.int64)).to(device)
        self.items = torch.from_numpy(items.astype(np.int64)).to(device)
        self.weights = torch.from_numpy(pair_weights).to(device)
        self.n_pairs = users.shape[0]
        self.device, self.generator = device, generator

    def epoch(self, batch_size):
        import torch

        from skadv.mf._torch_backend import _sample_negatives

        for start in range(0, self.n_pairs, batch_size):
            n = min(batch_size, self.n_pairs - start)
            picked = torch.randint(self.n_pairs, (n,), generator=self.generator,
                                   device=self.device)  # fmt: skip
            users = self.users.index_select(0, picked)
            yield {
                "users": users,
                "pos": self.items.index_select(0, picked),
                "neg": _sample_negatives(users, self.pair_keys, self.n_items, self.generator),
                "weight": self.weights.index_select(0, picked),
            }


def _make_optimizer(name, groups, learning_rate, weight_decay):
    import torch

    params = [g for g in groups if g["params"]]
    if not params:
        raise ValueError("The model has no trainable parameter (check trainable_layers).")
    if name == "adamw":
        return torch.optim.AdamW(params, lr=learning_rate, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=learning_rate, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=learning_rate, momentum=0.9,
                               weight_decay=weight_decay)  # fmt: skip
    return torch.optim.Adagrad(params, lr=learning_rate, weight_decay=weight_decay)


def _progress(n_epochs, verbose):
    from skadv.mf._cython_backend import _progress as progress

    return progress(n_epochs, verbose)


def module_state(module):
    """The module's ``state_dict`` as NumPy arrays (picklable without torch)."""
    return {k: v.detach().cpu().numpy().copy() for k, v in module.state_dict().items()}


def load_module_state(module, state):
    """Load NumPy arrays from :func:`module_state` into ``module``."""
    import torch

    module.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in state.items()})
    return module
