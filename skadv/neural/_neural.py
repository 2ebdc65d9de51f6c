"""Neural recommenders over id embeddings trained adversarially: AdversarialNeuralRecommender."""

import numbers
from collections.abc import Mapping

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from skadv.neural._base import TRAINING_CONSTRAINTS, TorchRecommender
from skadv.utils._params import NONE, SEQUENCE, Interval, Options
from skadv.utils._validation import check_interactions

__all__ = ["AdversarialNeuralRecommender"]

TASKS = ("click", "rating")


class AdversarialNeuralRecommender(TorchRecommender):
    r"""Two-tower or NeuMF recommender, trained with adversarial perturbations of its embeddings.

    Learns user and item id embeddings (optionally with user and item feature vectors) and an
    MLP on top, from implicit feedback with BPR, and with explicit feedback (ratings) as a
    second task if asked. Adversarial training (FGM, PGD or FreeLB) perturbs the embedding
    rows of each batch in the direction that hurts the loss most and trains on the clean and
    the perturbed loss: the neural counterpart of APR
    (:class:`~skadv.mf.AdversarialMFRecommender`).
    Needs PyTorch (``pip install 'skadv[torch]'``).

    Parameters
    ----------
    architecture : {"two-tower", "neumf"}, default="two-tower"
        ``"two-tower"``: a user tower and an item tower (id embedding, concatenated with the
        features, through ``hidden_layers``, then a linear map to ``n_factors``) scored by a
        dot product plus an item bias; no hidden layer and no features is matrix
        factorization. ``"neumf"``: NeuMF, a generalized-MF product of one pair of
        embeddings next to an MLP over another pair, read by a linear head.
    n_factors : int, default=64
        Dimension of the id embeddings (and of the tower outputs).
    hidden_layers : tuple of int, default=(128,)
        Widths of the hidden layers of the towers (or of NeuMF's MLP).
    activation : {"relu", "gelu", "tanh"}, default="relu"
    dropout : float, default=0.2
        Dropout after each hidden layer during training.
    init_std : float, default=0.1
        Standard deviation of the normal initialization of the embeddings.
    tasks : tuple of {"click", "rating"}, default=("click",)
        Training tasks sharing the embeddings and towers, each with its own head:
        ``"click"`` ranks observed items above sampled negatives (BPR) and gives the ranking
        scores; ``"rating"`` regresses the interaction weight ``y`` of observed pairs
        (squared error; :meth:`predict_rating`). ``"click"`` is required.
    task_weights : tuple of float, default=None
        Weight of each task's loss; None means 1 for every task.
    n_epochs : int, default=20
        Passes over the training interactions (one triple per interaction and epoch).
    batch_size : int, default=1024
        Triples per optimizer step.
    learning_rate : float, default=0.005
        Peak learning rate.
    optimizer : {"adamw", "adam", "sgd", "adagrad"}, default="adamw"
        ``"sgd"`` uses momentum 0.9.
    weight_decay : float, default=0.01
        Decoupled weight decay (AdamW) or L2 penalty (the others), on all parameters.
    lr_schedule : {"constant", "linear", "cosine"}, default="constant"
        Decay of the learning rate over the training steps, after the warm-up.
    warmup_epochs : int, default=0
        Epochs of linear warm-up of the learning rate (must be < ``n_epochs``).
    clip_grad_norm : float, default=None
        Clip the global L2 norm of the gradients at each step; None: no clipping.
    adversary : {"none", "fgsm", "pgd", "freelb", "random"}, default="fgsm"
        Perturbation of the embedding rows of a batch (see ``norm``): ``"fgm"`` one
        normalized gradient step of size ``epsilon``; ``"pgd"`` ``pgd_steps`` projected
        steps of size ``pgd_alpha``; ``"freelb"`` ``pgd_steps`` ascent steps from a random
        start, each adding its gradients. ``"none"``: clean training. The clean loss is
        always kept: the step minimizes ``loss + adv_reg * perturbed loss``.
    epsilon : float, default=0.1
        Radius (L2) of the perturbation; ``0`` trains without adversary.
    epsilon_mode : {"absolute", "relative"}, default="absolute"
        ``"absolute"``: ``epsilon`` is the radius. ``"relative"``: the radius is ``epsilon``
        times the mean norm (per unit of ``norm``) of the batch's clean embeddings, so that
        one ε means the same for embeddings of any scale.
    adv_reg : float, default=1.0
        Weight λ of the perturbed loss; ``0`` trains without adversary.
    pgd_steps : int, default=3
        Ascent steps of PGD and FreeLB.
    pgd_alpha : float, default=None
        Ascent step size of PGD and FreeLB; None: ``epsilon / pgd_steps`` (PGD) and
        ``epsilon`` (FreeLB).
    norm : {"per-example", "global", "per-token"}, default="per-example"
        What has norm ``epsilon``: each embedding row of each example (as in APR;
        ``"per-token"`` is the same for id embeddings), or the whole batch of rows.
    adv_start : int, default=0
        Clean epochs before adversarial training starts.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of each user's interactions, score NDCG@10 on them
        after every epoch, stop after ``n_iter_no_change`` epochs without an improvement of
        ``tol`` (never before ``adv_start``) and keep the best epoch's parameters.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=5
    tol : float, default=1e-4
    device : str, default=None
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"``; None: CUDA when available, else CPU.
    n_jobs : int, default=None
        Torch threads on CPU during ``fit`` (None: 1, -1: all cores).
    random_state : int, RandomState instance or None, default=None
        Seeds initialization, dropout, sampling and the validation split: on CPU, same
        seed and ``n_jobs`` give the same model.
    verbose : int, default=0
        Print the loss (and validation score) of each epoch.
    handle_unknown : {"popularity", "error"}, default="popularity"
        Users/items not seen in ``fit`` (see :class:`skadv.base.BaseRecommender`).
    positive_threshold : float, default=None
        Interactions with ``y`` below this are dropped before training.

    Attributes
    ----------
    user_ids_, item_ids_ : ndarray
        Ids seen in ``fit``, in row order.
    n_users_, n_items_ : int
    user_features_, item_features_ : ndarray of shape (n_users_ or n_items_, n_features)
        Feature rows aligned with the ids (zeros for ids without features; 0 columns
        without features).
    user_embeddings_, item_embeddings_ : ndarray of shape (n_users_ or n_items_, n_factors)
        ``"two-tower"`` only: tower outputs, so that scores are
        ``user_embeddings_ @ item_embeddings_.T + item_bias_``.
    item_bias_ : ndarray of shape (n_items_,)
        ``"two-tower"`` only.
    module_state_ : dict of str to ndarray
        The trained parameters (torch ``state_dict`` as NumPy arrays).
    interactions_ : scipy.sparse.csr_matrix of shape (n_users_, n_items_)
    item_popularity_ : ndarray of shape (n_items_,)
    loss_curve_ : list of float
        Mean training loss per triple of each epoch (clean + ``adv_reg`` x perturbed).
    validation_scores_ : list of float or None
        Validation NDCG@10 per epoch with ``early_stopping``.
    best_validation_score_ : float or None
    n_iter_ : int
        Epochs run.
    backend_, device_ : str
        ``"torch"`` and the device that trained the model.
    n_features_in_ : int
        Always 2.

    See Also
    --------
    skadv.mf.AdversarialMFRecommender : APR matrix factorization on compiled kernels.
    skadv.neural.AdversarialTextRecommender : Items encoded from their text.

    Notes
    -----
    Fitted state is NumPy: a model trained on a GPU pickles and loads on a CPU machine (a
    ``"neumf"`` model or :meth:`predict_rating` rebuild the torch module there, so they
    need torch; two-tower ranking does not).

    References
    ----------
    .. [1] T. Miyato, A. M. Dai and I. Goodfellow, "Adversarial Training Methods for
       Semi-Supervised Text Classification", ICLR 2017.
    .. [2] X. He, L. Liao, H. Zhang, L. Nie, X. Hu and T.-S. Chua, "Neural Collaborative
       Filtering", WWW 2017.
    .. [3] A. Madry et al., "Towards Deep Learning Models Resistant to Adversarial Attacks",
       ICLR 2018; C. Zhu et al., "FreeLB", ICLR 2020.

    Examples
    --------
    >>> from skadv.datasets import make_interactions
    >>> from skadv.neural import AdversarialNeuralRecommender
    >>> X = make_interactions(n_users=40, n_items=30, random_state=0)
    >>> model = AdversarialNeuralRecommender(n_factors=8, hidden_layers=(16,), n_epochs=3,
    ...                                      batch_size=64, random_state=0).fit(X)
    >>> model.item_embeddings_.shape == (model.n_items_, 8), len(model.loss_curve_)
    (True, 3)
    >>> model.recommend([0, 1], n=3)[0].shape
    (2, 3)
    """

    _parameter_constraints = {
        **TRAINING_CONSTRAINTS,
        "architecture": [Options("two-tower", "neumf")],
        "n_factors": [Interval("int", 1, None)],
        "hidden_layers": [SEQUENCE],
        "activation": [Options("relu", "gelu", "tanh")],
        "dropout": [Interval("real", 0, 1, closed="left")],
        "init_std": [Interval("real", 0, None, closed="neither")],
        "tasks": [SEQUENCE],
        "task_weights": [NONE, SEQUENCE],
    }

    def __init__(
        self,
        architecture="two-tower",
        *,
        n_factors=64,
        hidden_layers=(128,),
        activation="relu",
        dropout=0.2,
        init_std=0.1,
        tasks=("click",),
        task_weights=None,
        n_epochs=20,
        batch_size=1024,
        learning_rate=0.005,
        optimizer="adamw",
        weight_decay=0.01,
        lr_schedule="constant",
        warmup_epochs=0,
        clip_grad_norm=None,
        adversary="fgsm",
        epsilon=0.1,
        epsilon_mode="absolute",
        adv_reg=1.0,
        pgd_steps=3,
        pgd_alpha=None,
        norm="per-example",
        adv_start=0,
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
        self.architecture = architecture
        self.n_factors = n_factors
        self.hidden_layers = hidden_layers
        self.activation = activation
        self.dropout = dropout
        self.init_std = init_std
        self.tasks = tasks
        self.task_weights = task_weights
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.lr_schedule = lr_schedule
        self.warmup_epochs = warmup_epochs
        self.clip_grad_norm = clip_grad_norm
        self.adversary = adversary
        self.epsilon = epsilon
        self.epsilon_mode = epsilon_mode
        self.adv_reg = adv_reg
        self.pgd_steps = pgd_steps
        self.pgd_alpha = pgd_alpha
        self.norm = norm
        self.adv_start = adv_start
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
    def fit(self, X, y=None, *, user_features=None, item_features=None):
        """Train on interactions ``X``.

        Parameters
        ----------
        X : array-like of shape (n_interactions, 2) or DataFrame
            ``(user, item)`` id pairs.
        y : array-like of shape (n_interactions,), default=None
            Interaction weights: filtered by ``positive_threshold``, and the target of the
            ``"rating"`` task (required with it).
        user_features, item_features : DataFrame or dict, default=None
            Feature vectors by id: a DataFrame indexed by id with numeric columns, or a
            mapping ``id -> 1-d array``. Ids without a row get zeros; rows of ids absent
            from ``X`` are ignored. Missing or non-finite values raise a ``ValueError``.

        Returns
        -------
        self : AdversarialNeuralRecommender
        """
        self._validate_params()
        self._check_architecture_params(y)
        return super().fit(X, y, user_features=user_features, item_features=item_features)

    def _check_architecture_params(self, y):
        tasks = tuple(self.tasks) if isinstance(self.tasks, (tuple, list)) else self.tasks
        if not isinstance(tasks, tuple) or not tasks or "click" not in tasks or any(
            t not in TASKS for t in tasks
        ) or len(set(tasks)) != len(tasks):  # fmt: skip
            raise ValueError(
                f"tasks must be a tuple of distinct names from {TASKS} containing 'click', "
                f"got {self.tasks!r}."
            )
        if "rating" in tasks and y is None:
            raise ValueError("tasks with 'rating' need the ratings: pass y to fit.")
        if self.task_weights is not None:
            weights = tuple(self.task_weights)
            if len(weights) != len(tasks) or not all(
                isinstance(w, numbers.Real) and not isinstance(w, bool) and np.isfinite(w)
                and w >= 0 for w in weights
            ):  # fmt: skip
                raise ValueError(
                    f"task_weights must hold one finite non-negative float per task "
                    f"({len(tasks)}), got {self.task_weights!r}."
                )
        layers = self.hidden_layers
        if not all(isinstance(w, numbers.Integral) and not isinstance(w, bool) and w >= 1
                   for w in layers):  # fmt: skip
            raise ValueError(
                f"hidden_layers must be a tuple of positive ints, got {self.hidden_layers!r}."
            )

    def _prepare(self, fit_params):
        self.user_features_ = _feature_matrix(
            fit_params.pop("user_features"), self.user_ids_, "user_features"
        )
        self.item_features_ = _feature_matrix(
            fit_params.pop("item_features"), self.item_ids_, "item_features"
        )
        super()._prepare(fit_params)

    def _make_module(self):
        from skadv.neural._neural_modules import build_module

        tasks = tuple(self.tasks)
        weights = (1.0,) * len(tasks) if self.task_weights is None else self.task_weights
        data = self.interactions_.data
        config = {
            "architecture": self.architecture,
            "n_users": self.n_users_,
            "n_items": self.n_items_,
            "n_factors": self.n_factors,
            "hidden_layers": tuple(int(w) for w in self.hidden_layers),
            "activation": self.activation,
            "dropout": float(self.dropout),
            "init_std": float(self.init_std),
            "tasks": tasks,
            "task_weights": tuple(float(w) for w in weights),
            "rating_mean": float(data.mean()) if data.size else 0.0,
        }
        self._module_config = config
        return build_module(config, self.user_features_, self.item_features_)

    def _embed(self, module, batch):
        return module.embed(batch["users"], batch["pos"], batch["neg"])

    def _batch_loss(self, module, batch, embeddings):
        return module.loss(batch, embeddings)

    def _export(self, module, final=True):
        import torch

        from skadv.neural._torch_utils import module_state

        self.module_state_ = module_state(module)
        self._cache_module = module
        if self.architecture == "two-tower":
            with torch.no_grad():
                dev = module.item_bias.device
                users = torch.arange(self.n_users_, device=dev)
                items = torch.arange(self.n_items_, device=dev)
                self.user_embeddings_ = module.user_vectors(users).cpu().numpy()
                self.item_embeddings_ = module.item_vectors(items).cpu().numpy()
                self.item_bias_ = module.item_bias.cpu().numpy().copy()

    # ----------------------------------------------------------------- inference
    def _module(self):
        """The trained torch module on CPU, rebuilt from ``module_state_`` after unpickling."""
        module = getattr(self, "_cache_module", None)
        if module is None:
            from skadv.neural._neural_modules import build_module
            from skadv.neural._torch_utils import load_module_state

            module = build_module(self._module_config, self.user_features_, self.item_features_)
            module = load_module_state(module, self.module_state_).eval()
            self._cache_module = module
        return module

    def _user_item_scores(self, user_codes):
        if self.architecture == "two-tower":
            scores = self.user_embeddings_[user_codes] @ self.item_embeddings_.T
            return (scores + self.item_bias_).astype(np.float64)
        items = np.arange(self.n_items_)
        out = np.empty((len(user_codes), self.n_items_), dtype=np.float64)
        for row, user in enumerate(user_codes):
            out[row] = self._torch_pairs("score", np.full(self.n_items_, user), items)
        return out

    def _pair_scores(self, user_codes, item_codes):
        if self.architecture == "two-tower":
            u, i = self.user_embeddings_[user_codes], self.item_embeddings_[item_codes]
            return np.einsum("ij,ij->i", u, i).astype(np.float64) + self.item_bias_[item_codes]
        return self._torch_pairs("score", user_codes, item_codes)

    def _torch_pairs(self, head, user_codes, item_codes, chunk=65536):
        import torch

        module = self._module()
        dev = next(module.parameters()).device
        out = np.empty(len(user_codes), dtype=np.float64)
        with torch.no_grad():
            for s in range(0, len(user_codes), chunk):
                u = torch.as_tensor(np.asarray(user_codes[s : s + chunk]), device=dev).long()
                i = torch.as_tensor(np.asarray(item_codes[s : s + chunk]), device=dev).long()
                out[s : s + chunk] = getattr(module, head)(u, i).double().cpu().numpy()
        return out

    def predict_rating(self, X):
        """Predicted interaction weight (rating) of (user, item) pairs (``"rating"`` task).

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2) or DataFrame
            ``(user, item)`` id pairs.

        Returns
        -------
        ratings : ndarray of shape (n_pairs,)
            Pairs with an unknown user or item get the mean training weight
            (``handle_unknown="popularity"``), or raise a ``ValueError`` (``"error"``).
        """
        check_is_fitted(self)
        if "rating" not in tuple(self.tasks):
            raise ValueError("predict_rating needs a model fitted with 'rating' in tasks.")
        users, items, _ = check_interactions(X, allow_empty=True)
        u, i = self._encode_users(users), self._encode_items(items)
        out = np.full(u.shape[0], self._module_config["rating_mean"], dtype=np.float64)
        known = (u >= 0) & (i >= 0)
        if known.any():
            out[known] = self._torch_pairs("rating", u[known], i[known])
        return out


def _feature_matrix(features, ids, name):
    """Feature rows aligned with ``ids`` (zeros where an id has none); (n, 0) for None."""
    if features is None:
        return np.zeros((ids.shape[0], 0), dtype=np.float32)
    if isinstance(features, pd.DataFrame):
        frame = features
    elif isinstance(features, Mapping):
        try:
            frame = pd.DataFrame.from_dict(
                {k: np.asarray(v, dtype=np.float64).ravel() for k, v in features.items()},
                orient="index",
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must map ids to numeric vectors: {exc}") from None
    else:
        raise TypeError(
            f"{name} must be a pandas DataFrame indexed by id or a mapping id -> vector, "
            f"got {type(features).__name__}."
        )
    if frame.shape[1] == 0:
        raise ValueError(f"{name} has no columns.")
    if not frame.index.is_unique:
        raise ValueError(f"{name} has duplicate ids in its index.")
    try:
        values = frame.to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must hold numbers only.") from None
    if not np.isfinite(values).all():
        raise ValueError(f"{name} holds missing or non-finite values.")
    codes = pd.Index(frame.index).get_indexer(pd.Index(ids))
    out = np.zeros((ids.shape[0], values.shape[1]), dtype=np.float32)
    out[codes >= 0] = values[codes[codes >= 0]]
    return out
