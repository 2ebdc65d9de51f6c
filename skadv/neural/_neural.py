"""Neural recommenders over id embeddings trained adversarially: AdversarialNeuralRecommender."""

import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from skadv._torch.numpy_twin import ACTIVATIONS, linear, linear_names
from skadv.base import dot_product_pair_scores, dot_product_scores
from skadv.neural._base import TRAINING_CONSTRAINTS, TorchRecommender
from skadv.utils._params import NONE, Interval, Options, TupleOf
from skadv.utils._validation import check_interactions

__all__ = ["AdversarialNeuralRecommender"]

TASKS = ("click", "rating")


class AdversarialNeuralRecommender(TorchRecommender):
    r"""Two-tower or NeuMF recommender, trained with adversarial perturbations of its embeddings.

    Learns user and item id embeddings (optionally with user and item feature vectors) and an
    MLP on top, from implicit feedback with BPR, and with explicit feedback (ratings) as a
    second task if asked. Adversarial training (FGSM, PGD or FreeLB) perturbs the embedding
    rows of each batch in the direction that hurts the loss most and trains on the clean and
    the perturbed loss: the neural counterpart of APR
    (:class:`~skadv.mf.AdversarialMFRecommender`).
    Training needs PyTorch (``pip install 'skadv[torch]'``); a fitted model scores with
    NumPy only.

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
    hidden_layers : tuple of int, default=()
        Widths of the hidden layers of the towers (or of NeuMF's MLP). The default, no
        hidden layer, makes each tower a linear map of its id embedding and features (with
        no features: matrix factorization trained with AdamW); deeper towers, e.g.
        ``(128,)``, ranked below it on MovieLens 100k and at popularity's level on a sparse,
        skewed synthetic catalogue (``benchmarks/bench_defaults.py``). Give NeuMF's MLP a
        hidden layer.
    activation : {"relu", "gelu", "tanh"}, default="relu"
        Activation of the hidden layers (``"gelu"``: the exact form
        :math:`x \Phi(x)`, as torch's default).
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
    n_epochs : int, default=40
        Passes over the training interactions (one triple per interaction and epoch).
    batch_size : int or "auto", default="auto"
        Triples per optimizer step; ``"auto"``: about 64 steps per epoch, at least 64 and at
        most 1024 triples (``n_interactions // 64`` clipped to [64, 1024]), so that small
        data sets get enough steps and large ones fast epochs.
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
        Perturbation of the embedding rows of a batch (see ``norm``): ``"fgsm"`` one
        normalized gradient step of size ``epsilon``; ``"pgd"`` ``pgd_steps`` projected
        steps of size ``pgd_alpha``; ``"freelb"`` ``pgd_steps`` ascent steps from a random
        start, each adding its gradients; ``"random"`` a random direction of norm
        ``epsilon`` (the control that tells the adversarial direction from mere noise).
        ``"none"``: clean training. The clean loss is always kept: the step minimizes
        ``loss + adv_reg * perturbed loss``.
    epsilon : float, default=0.15
        Radius (L2) of the perturbation, in units of the mean embedding norm with the default
        ``epsilon_mode``; ``0`` trains without adversary.
    epsilon_mode : {"absolute", "relative"}, default="relative"
        ``"absolute"``: ``epsilon`` is the radius. ``"relative"``: the radius is ``epsilon``
        times the mean norm (per unit of ``norm``) of the batch's clean embeddings, so that
        one ε means the same for embeddings of any scale. (``"per-user"`` is for matrix
        factorization only and raises a ``ValueError`` here.)
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
    adv_start : int or "auto", default="auto"
        Clean epochs before adversarial training starts; ``"auto"``: half of ``n_epochs``
        (:func:`skadv.training.resolve_adv_start`, the rule of every family).
    precision : {"fp32", "bf16", "fp16"}, default="fp32"
        Forward passes under :func:`torch.autocast` in bfloat16 or float16 (parameters,
        gradients and optimizer state stay float32; fp16 adds a gradient scaler); the
        adversaries' perturbation norms are always computed in float32. ``"fp32"`` runs
        no autocast (the results of earlier versions, bit for bit).
    accumulate_steps : int, default=1
        Micro-batches per optimizer step: each batch of ``batch_size`` triples is cut into
        ``accumulate_steps`` parts whose gradients are summed before the step (the same
        update as one batch of ``batch_size``, within float rounding, with the memory of
        one part; each part gets its own adversarial perturbation). Under ``torchrun``
        each rank takes its share of the batch and gradients are averaged across ranks
        (see :mod:`skadv.neural.launch`).
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
        ``0`` silent; ``1`` a progress bar per fit on a terminal (one line per epoch
        elsewhere or without tqdm); ``2`` one line per epoch: clean and adversarial loss,
        learning rate, validation score (see :func:`skadv.training.progress`).
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
    user_factors_, item_factors_ : ndarray of shape (n_users_ or n_items_, n_factors)
        ``"two-tower"`` only: tower outputs, so that scores are
        ``user_factors_ @ item_factors_.T + item_bias_`` (the names of matrix
        factorization, so that :class:`skadv.attacks.EmbeddingAttack` applies). NeuMF has
        no such factors and does not set them.
    item_bias_ : ndarray of shape (n_items_,)
        ``"two-tower"`` only.
    module_state_ : dict of str to ndarray
        The trained parameters (torch ``state_dict`` as NumPy arrays), from which scores
        and ratings are computed.
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
    fit_record_ : dict
        The settings that reproduce the latest fit: parameters, resolved backend and device,
        library versions and time, as plain data (``skadv.utils._record.fit_record``), so
        it survives pickle, joblib and skops.

    See Also
    --------
    skadv.mf.AdversarialMFRecommender : APR matrix factorization on compiled kernels.
    skadv.neural.AdversarialTextRecommender : Items encoded from their text.

    Notes
    -----
    Fitted state is NumPy, and so is inference: a model trained on a GPU pickles and loads
    on a machine without torch, where :meth:`recommend`, :meth:`predict`, :meth:`score`
    and :meth:`predict_rating` run a NumPy forward pass of ``module_state_`` (float32 like
    torch, dropout off; scores equal the torch module's to float32 rounding). NeuMF's MLP
    runs on every (user, item) pair; it is evaluated in blocks of about 16 MB of
    activations, with the first layer's user and item parts computed once per user and
    per item.

    **Defaults.** The adversarial vocabulary means what it means for matrix factorization:
    ``epsilon=0.15`` relative to the mean embedding norm, ``adv_reg=1``, clean training for
    the first half of the 40 epochs (``adv_start="auto"``), towers without hidden layers.
    Chosen on a validation part of MovieLens 100k (relative ε after a clean first half
    ranked best there, 40 epochs above 20, no hidden layer above one of 128) and confirmed on
    other splits and synthetic shapes
    (``benchmarks/bench_defaults.py``). This model ranks below
    :class:`~skadv.mf.AdversarialMFRecommender` on plain interaction data; it is the
    family for side features and several tasks.

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
    >>> model.item_factors_.shape == (model.n_items_, 8), len(model.loss_curve_)
    (True, 3)
    >>> model.recommend([0, 1], n=3)[0].shape
    (2, 3)
    """

    _parameter_constraints = {
        **TRAINING_CONSTRAINTS,
        "architecture": [Options("two-tower", "neumf")],
        "n_factors": [Interval("int", 1, None)],
        "hidden_layers": [TupleOf(Interval("int", 1, None))],
        "activation": [Options("relu", "gelu", "tanh")],
        "dropout": [Interval("real", 0, 1, closed="left")],
        "init_std": [Interval("real", 0, None, closed="neither")],
        "tasks": [TupleOf(Options(*TASKS), min_length=1)],
        "task_weights": [NONE, TupleOf(Interval("real", 0, None))],
    }

    def __init__(
        self,
        architecture="two-tower",
        *,
        n_factors=64,
        hidden_layers=(),
        activation="relu",
        dropout=0.2,
        init_std=0.1,
        tasks=("click",),
        task_weights=None,
        n_epochs=40,
        batch_size="auto",
        learning_rate=0.005,
        optimizer="adamw",
        weight_decay=0.01,
        lr_schedule="constant",
        warmup_epochs=0,
        clip_grad_norm=None,
        adversary="fgsm",
        epsilon=0.15,
        epsilon_mode="relative",
        adv_reg=1.0,
        pgd_steps=3,
        pgd_alpha=None,
        norm="per-example",
        adv_start="auto",
        precision="fp32",
        accumulate_steps=1,
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
        self.precision = precision
        self.accumulate_steps = accumulate_steps
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
            In a :class:`~sklearn.pipeline.Pipeline`, pass them as
            ``rec__user_features=...``; :class:`~sklearn.model_selection.GridSearchCV` and
            the other cross-validation tools pass them on to every fit, but they slice any
            fit parameter with exactly ``len(X)`` rows per fold, as if it held one row per
            interaction: a feature table of that length would lose rows. Such a table
            raises a ``UserWarning``; give it another number of rows (a row for an id
            absent from ``X`` is harmless).

        Returns
        -------
        self : AdversarialNeuralRecommender
        """
        self._validate_params()
        self._check_architecture_params(y)
        for name, table in (("user_features", user_features), ("item_features", item_features)):
            _warn_if_interaction_length(table, X, name)
        return super().fit(X, y, user_features=user_features, item_features=item_features)

    def _check_architecture_params(self, y):
        """Checks that relate parameters to each other or to ``y`` (each parameter alone is
        checked by ``_parameter_constraints``)."""
        tasks = tuple(self.tasks)
        if "click" not in tasks or len(set(tasks)) != len(tasks):
            raise ValueError(
                f"tasks must be distinct names from {TASKS} containing 'click', got "
                f"{self.tasks!r}."
            )
        if "rating" in tasks and y is None:
            raise ValueError("tasks with 'rating' need the ratings: pass y to fit.")
        if self.task_weights is not None and len(self.task_weights) != len(tasks):
            raise ValueError(
                f"task_weights must hold one weight per task ({len(tasks)}), got "
                f"{self.task_weights!r}."
            )

    def _prepare(self, fit_params):
        self.user_features_ = _feature_matrix(
            fit_params.pop("user_features"), self.user_ids_, "user_features"
        )
        self.item_features_ = _feature_matrix(
            fit_params.pop("item_features"), self.item_ids_, "item_features"
        )
        super()._prepare(fit_params)

    def _make_module(self, train):
        from skadv.neural._neural_modules import build_module

        tasks = tuple(self.tasks)
        weights = (1.0,) * len(tasks) if self.task_weights is None else self.task_weights
        data = train.data
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
        from skadv._torch.utils import module_state

        self.module_state_ = module_state(module)
        if self._module_config["architecture"] == "two-tower":
            forward = _TwoTowerForward(self.module_state_, self._module_config)
            self.user_factors_ = forward.user_vectors()
            self.item_factors_ = forward.item_vectors()
            self.item_bias_ = self.module_state_["item_bias"].copy()
        else:
            # NeuMF does not score by a dot product: no factors (of an earlier fit) to attack.
            for name in ("user_factors_", "item_factors_", "item_bias_"):
                self.__dict__.pop(name, None)

    # ----------------------------------------------------------------- inference
    # Everything below runs on NumPy arrays only: a fitted model scores without torch.
    def _two_tower(self):
        return self._module_config["architecture"] == "two-tower"

    def _forward(self):
        """The NumPy forward pass of the fitted model."""
        if self._two_tower():
            # The tower outputs are fitted attributes (which an attack may have perturbed):
            # only the heads are left to apply, so nothing is worth caching.
            factors = (self.user_factors_, self.item_factors_)
            return _TwoTowerForward(self.module_state_, self._module_config, factors)
        # NeuMF precomputes its per-user and per-item tables once per fitted state.
        cached = getattr(self, "_cache_forward", None)
        if cached is None or cached[0] is not self.module_state_:
            cached = (self.module_state_, _NeuMFForward(self.module_state_, self._module_config))
            self._cache_forward = cached
        return cached[1]

    def _user_item_scores(self, user_codes):
        if self._two_tower():
            return dot_product_scores(self, user_codes)
        return self._forward().grid("click", np.asarray(user_codes))

    def _pair_scores(self, user_codes, item_codes):
        if self._two_tower():
            return dot_product_pair_scores(self, user_codes, item_codes)
        return self._forward().pairs("click", user_codes, item_codes)

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
        if "rating" not in self._module_config["tasks"]:
            raise ValueError("predict_rating needs a model fitted with 'rating' in tasks.")
        users, items, _ = check_interactions(X, allow_empty=True)
        u, i = self._encode_users(users), self._encode_items(items)
        out = np.full(u.shape[0], self._module_config["rating_mean"], dtype=np.float64)
        known = (u >= 0) & (i >= 0)
        if known.any():
            out[known] = self._forward().pairs("rating", u[known], i[known])
        return out


# ------------------------------------------------------------- NumPy forward pass
# Inference mirrors the torch modules of ``_neural_modules`` in eval mode (dropout off), in
# float32 like torch, so that scores match the module's to float32 rounding.

#: Bytes of intermediate activations one block of rows or (user, item) pairs may take.
_BLOCK_BYTES = 16 * 2**20


def _block_rows(widths):
    """Rows per block so that a (rows, max(widths)) float32 array stays near _BLOCK_BYTES."""
    return max(1, _BLOCK_BYTES // (4 * max([1, *widths])))


class _Forward:
    """What both architectures share: the state, the activation, pair blocks of both heads."""

    def __init__(self, state, config):
        self.state = {k: np.asarray(v) for k, v in state.items()}
        self.activation = ACTIVATIONS[config["activation"]]
        self.n_items = self.state["item_features"].shape[0]

    def pairs(self, head, users, items):
        """Score (``"click"``) or rating (``"rating"``) of pairs of user and item codes."""
        users, items = np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64)
        out = np.empty(users.shape[0], dtype=np.float64)
        step = self.pair_block
        for s in range(0, users.shape[0], step):
            out[s : s + step] = self._pairs(head, users[s : s + step], items[s : s + step])
        return out

    def grid(self, head, users):
        """Scores of every item for each user code: ndarray (len(users), n_items)."""
        users = np.asarray(users, dtype=np.int64)
        out = np.empty((users.shape[0], self.n_items), dtype=np.float64)
        flat = out.reshape(-1)  # a view: blocks are written into ``out``
        step = self.pair_block
        # Blocks of the flattened (user, item) grid: a block can span several users, or
        # part of one when there are many items.
        for s in range(0, flat.shape[0], step):
            pair = np.arange(s, min(s + step, flat.shape[0]))
            flat[s : s + step] = self._pairs(head, users[pair // self.n_items],
                                             pair % self.n_items)  # fmt: skip
        return out


class _TwoTowerForward(_Forward):
    """Towers (id embedding + features -> MLP -> n_factors), then dot product or head."""

    def __init__(self, state, config, factors=None):
        super().__init__(state, config)
        # (user tower outputs, item tower outputs), computed on first use when not given.
        self.factors = factors
        k = self.state["user_emb.weight"].shape[1]
        self.pair_block = _block_rows([k])

    def _tower(self, side, codes):
        state = self.state
        emb = state[f"{side}_emb.weight"][codes]
        names = linear_names(state, f"{side}_tower")
        if not names:  # no hidden layer and no feature: the tower is the identity
            return emb
        x = np.concatenate([emb, state[f"{side}_features"][codes]], axis=1)
        for name in names[:-1]:
            x = self.activation(linear(x, state, name))
        return linear(x, state, names[-1])

    def _vectors(self, side):
        n = self.state[f"{side}_emb.weight"].shape[0]
        names = linear_names(self.state, f"{side}_tower")
        widths = [self.state[name + ".weight"].shape[0] for name in names]
        step = _block_rows([*widths, self.state[f"{side}_emb.weight"].shape[1]])
        blocks = [self._tower(side, np.arange(s, min(s + step, n))) for s in range(0, n, step)]
        return np.concatenate(blocks, axis=0)

    def user_vectors(self):
        """Tower outputs of every user: ndarray (n_users, n_factors), float32."""
        return self._vectors("user")

    def item_vectors(self):
        """Tower outputs of every item: ndarray (n_items, n_factors), float32."""
        return self._vectors("item")

    def _pairs(self, head, users, items):
        if self.factors is None:
            self.factors = (self.user_vectors(), self.item_vectors())
        user_factors, item_factors = self.factors
        product = user_factors[users] * item_factors[items]
        if head == "click":
            return product.sum(axis=1) + self.state["item_bias"][items]
        return linear(product, self.state, "rating_head")[:, 0]


class _NeuMFForward(_Forward):
    """NeuMF: heads over ``[p_u * q_i, MLP([p'_u, q'_i, user features, item features])]``.

    The first MLP layer is linear in its concatenated input, so its user and item parts are
    computed once per user and per item, and a pair only adds them: the pair blocks then
    cost one addition instead of the first matrix product. Without hidden layers the heads
    read the concatenated input directly, and split the same way.
    """

    def __init__(self, state, config):
        super().__init__(state, config)
        st = self.state
        k = st["gmf_user.weight"].shape[1]
        n_uf, n_if = st["user_features"].shape[1], st["item_features"].shape[1]
        # Column ranges of the MLP input [p'_u, q'_i, user features, item features].
        user_cols = np.r_[0:k, 2 * k : 2 * k + n_uf]
        item_cols = np.r_[k : 2 * k, 2 * k + n_uf : 2 * k + n_uf + n_if]
        user_in = np.concatenate([st["mlp_user.weight"], st["user_features"]], axis=1)
        item_in = np.concatenate([st["mlp_item.weight"], st["item_features"]], axis=1)
        self.k = k
        self.layers = linear_names(st, "mlp")
        self.heads = {}
        for head in ("click", "rating"):
            if f"{head}_head.weight" not in st:
                continue
            w = st[f"{head}_head.weight"][0]
            self.heads[head] = {"gmf": w[:k], "rest": w[k:], "bias": st[f"{head}_head.bias"][0]}
            if not self.layers:
                rest = w[k:]
                self.heads[head]["user"] = user_in @ rest[user_cols]
                self.heads[head]["item"] = item_in @ rest[item_cols]
        if self.layers:
            first = self.layers[0]
            weight = st[first + ".weight"]
            self.user_part = user_in @ weight[:, user_cols].T + st[first + ".bias"]
            self.item_part = item_in @ weight[:, item_cols].T
        widths = [st[name + ".weight"].shape[0] for name in self.layers]
        self.pair_block = _block_rows([*widths, k])

    def _pairs(self, head, users, items):
        st, h = self.state, self.heads[head]
        gmf = st["gmf_user.weight"][users] * st["gmf_item.weight"][items]
        out = gmf @ h["gmf"]
        if not self.layers:
            return out + h["user"][users] + h["item"][items] + h["bias"]
        x = self.activation(self.user_part[users] + self.item_part[items])
        for name in self.layers[1:]:
            x = self.activation(linear(x, st, name))
        return out + x @ h["rest"] + h["bias"]


def _warn_if_interaction_length(table, X, name):
    """Warn when a feature table has as many rows as ``X``: sklearn's CV would slice it."""
    if table is None or not hasattr(table, "__len__") or not hasattr(X, "__len__"):
        return
    if len(table) == len(X):
        warnings.warn(
            f"{name} has as many rows ({len(table)}) as X has interactions: scikit-learn's "
            f"cross-validation (GridSearchCV, cross_validate, ...) slices such fit parameters "
            f"per fold as if they held one row per interaction, which drops feature rows. "
            f"Give {name} another number of rows (a row for an id absent from X is ignored).",
            UserWarning,
            stacklevel=3,
        )


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
