"""Matrix factorization trained with BPR or adversarial BPR (APR): AdversarialMFRecommender."""

import numpy as np
import pandas as pd
from scipy import sparse

from skadv._torch.dispatch import DeviceRankingMixin
from skadv.base import BaseRecommender, dot_product_pair_scores, dot_product_scores
from skadv.mf._divergence import check_loss_curves
from skadv.mf._params import PARAMETER_CONSTRAINTS, check_training_options
from skadv.mf._state import grown_state, initial_state, pairs_matrix
from skadv.mf._trim import damping_weights
from skadv.training import (
    EarlyStopping,
    TrainingSchedule,
    extend_ids,
    resolve_adv_start,
    validation_view,
    warn_if_below_popularity,
)
from skadv.utils._backend import resolve_backend
from skadv.utils._random import check_random_state, normal_matrix
from skadv.utils._record import fit_record
from skadv.utils._threads import effective_n_threads
from skadv.utils._validation import check_interactions

__all__ = ["AdversarialMFRecommender"]


class AdversarialMFRecommender(DeviceRankingMixin, BaseRecommender):
    r"""Matrix factorization trained with adversarial BPR (APR), or plain BPR.

    Scores a (user, item) pair by the dot product of their embeddings (plus an optional item
    bias) and learns the embeddings from implicit feedback with Bayesian Personalized Ranking:
    each observed item should score above an item the user did not interact with. With
    ``adv_reg > 0`` and ``epsilon > 0`` it trains with Adversarial Personalized Ranking (APR):
    the BPR loss is also minimized under the worst-case perturbation of norm ``epsilon`` of the
    embeddings, which makes the ranking robust to small changes of the parameters.

    Parameters
    ----------
    n_factors : int, default=64
        Dimension of the user and item embeddings.
    n_epochs : int, default=400
        Passes over the training interactions in ``fit`` (and ``partial_fit``); an epoch draws
        as many (user, positive, negative) triples as there are distinct training interactions.
        APR wants long schedules (BPR pre-training, then the adversarial phase); the compiled
        kernel makes them cheap.
    learning_rate : float, default=0.05
        Step size of the optimizer (the peak of ``lr_schedule``).
    optimizer : {"adagrad", "sgd", "adam"}, default="adagrad"
        Per-coordinate AdaGrad (the optimizer of APR), plain SGD, or lazy Adam with
        β = (0.9, 0.999) and ε = 1e-8 (see Notes). ``"adam"`` needs ``backend="torch"``:
        with ``"cython"`` (also when ``"auto"`` resolves to it) ``fit`` raises a
        ``ValueError``. Adam usually wants a smaller ``learning_rate`` than AdaGrad.
    lr_schedule : {"constant", "linear", "cosine"}, default="constant"
        Learning rate across the ``n_epochs`` epochs of each ``fit`` / ``partial_fit`` call
        (it restarts with every call; both backends). After the warm-up it stays at
        ``learning_rate`` or decays towards 0: for epoch ``e`` (0-based), with
        ``p = (e - warmup_epochs) / (n_epochs - warmup_epochs)``, the rate is
        ``learning_rate`` times ``1 - p`` (``"linear"``) or ``(1 + cos(pi p)) / 2``
        (``"cosine"``), still positive in the last epoch.
    warmup_epochs : int, default=0
        Epochs of linear warm-up at the start: epoch ``e < warmup_epochs`` trains at
        ``learning_rate * (e + 1) / (warmup_epochs + 1)``. Must be less than ``n_epochs``.
    reg : float, default=0.04
        L2 penalty on the embedding rows (and biases) of each sampled triple. Hard negatives
        (``n_negative_candidates``) overfit without it; plain BPR (``adv_reg=0``, one
        candidate) also needs one: tune it (``benchmarks/README.md`` has MovieLens values).
    adv_reg : float, default=0.3
        Weight λ of the adversarial BPR loss. ``0`` trains plain BPR.
    epsilon : float, default=0.15
        L2 norm ε of the perturbation of each embedding row (see ``epsilon_mode``). ``0``
        trains plain BPR.
    epsilon_mode : {"absolute", "relative", "per-user", "vulnerability"}, default="relative"
        ``"absolute"``: every perturbed row moves by exactly ``epsilon``. ``"relative"``:
        user rows move by ``epsilon`` times the mean row norm of the user factors, item rows
        by ``epsilon`` times that of the item factors, both recomputed at each epoch: one ε
        means the same for models whose rows have different lengths. ``"per-user"``: the
        personalized magnitude of PamaCF (Zhang et al. 2024): the ``"relative"`` radii of a
        sample are multiplied by a factor that grows with the norm of its user's current
        row, 1 for a user of average norm (see Notes). ``"vulnerability"``: VAT's
        vulnerability-aware magnitude (Zhang et al., RecSys 2024): the ``"relative"`` radii
        of a user's samples are multiplied by a factor in (0, 2) that is larger for users
        whose training loss in the previous epoch was below the mean loss (the model fits
        them better: more vulnerable to poisoning), 1 for an average user (see Notes). An
        absolute ε that is large next to the row norms can shrink the embeddings to near
        zero (a ``ConvergenceWarning`` says so).
    adversary : {"fgsm", "random", "none"}, default="fgsm"
        ``"fgsm"``: the fast-gradient perturbation of APR (the gradient of the BPR loss,
        normalized to norm ε per row). ``"random"``: a uniformly random direction with the
        same norm, the control experiment (robustness gained from noise rather than from the
        adversary). ``"none"``: plain BPR, like ``adv_reg=0``.
    adv_start : int or "auto", default="auto"
        Number of plain BPR epochs at the start of each ``fit`` (and ``partial_fit``) before
        adversarial training begins: APR pre-trains with BPR, because the perturbation of
        a freshly initialized model (row norms about ``init_std * sqrt(n_factors)``) can
        be as large as the rows themselves. ``"auto"`` means ``n_epochs // 2``.
    suspect_weight : float in [0, 1], default=0.0
        Weight of the item-side gradients (item rows and biases) of users in a suspected
        push group: users who rated all 4 items of a group whose items share their raters
        far beyond chance (``skadv.mf._trim.suspect_weights``, from the training data
        alone; ``suspected_users_``). Their own rows train as usual; ``0`` stops them moving
        items, ``1`` turns the check off. The user guide's "Defaults" says what it catches.
    n_negative_candidates : int in [1, 32], default=4
        Dynamic negative sampling [5]_: each sample draws this many uniform negatives (among
        the items its user did not interact with) and trains against the one the model
        scores highest now; ``1`` is BPR's uniform negative (about 1.4 times the samples per
        second of 4: for fits where time matters more than ranking quality).
    item_bias : bool, default=True
        Learn one bias per item, added to the score (it carries item popularity, so the
        factors need not).
    init_std : float, default=0.1
        Standard deviation of the normal initialization of the embeddings.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of each user's interactions (with
        :class:`~skadv.model_selection.UserHoldoutSplit`), score NDCG@10 on them after every
        epoch, stop after ``n_iter_no_change`` epochs without an improvement of at least
        ``tol`` and keep the factors of the best epoch.
    validation_fraction : float, default=0.1
        Share of each user's interactions held out with ``early_stopping`` (users with fewer
        than 2 interactions keep them all).
    n_iter_no_change : int, default=5
        Epochs without improvement before stopping (``early_stopping``). The plain BPR
        epochs before ``adv_start`` never stop training, and the count restarts when
        adversarial training begins, so that APR always gets this many epochs. The best epoch
        is chosen among all epochs, pre-training included.
    tol : float, default=1e-4
        Minimum improvement of the validation NDCG@10 that resets the count.
    warm_start : bool, default=False
        Start ``fit`` from the factors (and the AdaGrad or Adam state, when ``optimizer`` is
        unchanged) of the previous fit for the users and items seen then; new ids get fresh
        random rows (and zero optimizer state). The learning-rate schedule starts over.
    dtype : {np.float32, np.float64}, default=np.float32
        Precision of the factors.
    backend : {"auto", "cython", "torch"}, default="auto"
        Training backend: the compiled per-sample kernel (``"cython"``, CPU) or mini-batch
        PyTorch (``"torch"``, CPU or CUDA; ``pip install 'skadv[torch]'``, else an
        ``ImportError``). ``"auto"`` picks ``"torch"`` only when PyTorch is installed and
        ``device`` names a CUDA device (``"cuda"`` or ``"cuda:N"``), else ``"cython"``; in
        particular ``device=None`` trains with ``"cython"`` even when a GPU is present
        (the compiled kernel is the faster one on CPU). Both train the same loss; the
        fitted state is NumPy either way (a model trained on a GPU loads without torch).
    device : str, default=None
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"``. ``None``: ``"cpu"`` for ``"cython"``; for
        ``"torch"`` the current CUDA device when CUDA is available, else ``"cpu"``. A CUDA
        device without CUDA, or with ``backend="cython"``, raises a ``ValueError``.
        With ``"torch"`` on CPU, ``n_jobs`` sets torch's threads during ``fit``; on CUDA
        the gradient sums use atomic adds, so same-seed fits agree to rounding only.
    batch_size : int, default=None
        Triples per optimizer step. ``"cython"`` takes one triple at a time (``None`` or
        ``1``; other values raise a ``ValueError``). ``"torch"`` sums the losses of a
        mini-batch: a row shared by several triples gets the sum of their gradients, and
        APR perturbs it along the normalized gradient of the clean BPR loss of the whole
        batch (the paper's mini-batch APR), where the kernel perturbs per triple;
        ``batch_size=1`` gives the kernel's updates. ``None`` means 4096 for ``"torch"``,
        or fewer on small data, so that an epoch takes at least 16 steps. With
        ``optimizer="sgd"``, large batches may need a lower ``learning_rate`` (popular rows
        get summed gradients).
    n_jobs : int, default=None
        OpenMP threads of the training kernel (and of ``recommend``): ``None`` means 1, ``-1``
        all cores. Threads update the shared factors without locks (Hogwild, on disjoint
        item strata: see Notes): results with ``n_jobs > 1`` are not bitwise reproducible.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialization, the validation split and the sampling. With an int and
        ``n_jobs=1``, two fits give identical factors.
    verbose : int, default=0
        ``0`` silent; ``1`` a progress bar per fit on a terminal (one line per epoch
        elsewhere or without tqdm); ``2`` one line per epoch: clean and adversarial loss,
        learning rate, validation score (see :func:`skadv.training.progress`).
    handle_unknown : {"popularity", "error"}, default="popularity"
        Users/items not seen in ``fit`` (see :class:`skadv.base.BaseRecommender`).
    positive_threshold : float, default=None
        Interactions with ``y`` below this value are dropped. Every remaining interaction is
        one equally weighted positive: weights play no other role.

    Attributes
    ----------
    user_factors_ : ndarray of shape (n_users_, n_factors)
        User embeddings, one row per id in ``user_ids_``.
    item_factors_ : ndarray of shape (n_items_, n_factors)
        Item embeddings, one row per id in ``item_ids_``.
    item_bias_ : ndarray of shape (n_items_,)
        Item biases; only with ``item_bias=True``.
    user_ids_, item_ids_ : ndarray
        Ids seen in ``fit`` and ``partial_fit``, in row order.
    n_users_, n_items_ : int
    interactions_ : scipy.sparse.csr_matrix of shape (n_users_, n_items_)
        All interactions given to ``fit`` / ``partial_fit`` (excluded by ``recommend``).
    item_popularity_ : ndarray of shape (n_items_,)
        Number of distinct users per item (the fallback for unknown users).
    loss_curve_ : list of float
        Mean clean BPR loss per sample of each epoch (L2 penalty excluded). ``partial_fit``
        appends.
    adv_loss_curve_ : list of float
        Mean BPR loss per sample under the perturbation in each adversarial epoch (not
        weighted by ``adv_reg``), NaN in plain BPR epochs: the training objective of an epoch
        is ``loss_curve_[e] + adv_reg * adv_loss_curve_[e]``. ``partial_fit`` appends.
    validation_scores_ : list of float or None
        Validation NDCG@10 after each epoch with ``early_stopping``, else None.
    best_validation_score_ : float or None
        Best of ``validation_scores_`` (the kept epoch), else None.
    n_iter_ : int
        Number of epochs run by the last ``fit`` or ``partial_fit``.
    backend_, device_ : str
        Backend and device that trained the model, e.g. ``"cython"`` and ``"cpu"``.
    n_features_in_ : int
        Always 2: X holds (user, item) pairs.
    suspected_users_ : ndarray
        Ids of the users whose item-side gradients ``suspect_weight`` scaled in the latest
        training call (empty when nobody was flagged or ``suspect_weight=1``).
    fit_record_ : dict
        The settings that reproduce the latest fit: parameters, resolved backend and device,
        library versions and time, as plain data (``skadv.utils._record.fit_record``), so
        it survives pickle, joblib and skops.

    See Also
    --------
    skadv.attacks.EmbeddingAttack : Perturb the embeddings of a fitted model.
    skadv.baseline.PopularityRecommender : The non-personalized baseline.

    Notes
    -----
    For a user :math:`u`, an item :math:`i` it interacted with and an item :math:`j` drawn
    uniformly among the items it did not interact with, let
    :math:`x_{uij} = p_u^\top (q_i - q_j) + b_i - b_j`. BPR minimizes, per sampled triple,

    .. math:: \ell(\Theta) = \log(1 + e^{-x_{uij}}) + \tfrac{\text{reg}}{2}
              \left(\|p_u\|^2 + \|q_i\|^2 + \|q_j\|^2 + b_i^2 + b_j^2\right).

    APR adds the BPR loss under an adversarial perturbation :math:`\Delta` of the embeddings:
    :math:`\ell(\Theta) + \lambda \log(1 + e^{-x_{uij}(\Theta + \Delta)})`, where each row of
    :math:`\Delta` is the row of the gradient :math:`g` of the clean BPR loss, normalized
    to norm ε: :math:`\Delta_r = \varepsilon\, g_r / \|g_r\|_2` for :math:`r \in \{p_u, q_i,
    q_j\}` (biases are not perturbed). Here :math:`\Delta_{p_u} = -\varepsilon (q_i - q_j) /
    \|q_i - q_j\|` and :math:`\Delta_{q_i} = -\Delta_{q_j} = -\varepsilon p_u / \|p_u\|`.
    :math:`\Delta` is held fixed while the gradient of the total loss is taken, as in the
    paper. With ``epsilon_mode="relative"`` the user rows use
    :math:`\varepsilon \cdot \mathrm{mean}_u \|p_u\|` and the item rows
    :math:`\varepsilon \cdot \mathrm{mean}_i \|q_i\|` instead of :math:`\varepsilon`.

    With ``epsilon_mode="per-user"`` both radii of a triple are further multiplied by its
    user's coefficient :math:`c_u = 2\,\sigma(\|p_u\| / \bar n_U - 1)`, computed from the
    current row :math:`p_u` at every update, where :math:`\bar n_U` is the mean user row norm
    at the end of the previous epoch and :math:`\sigma` the logistic function
    (:func:`skadv.training.per_user_scale`): users with longer embeddings get larger
    perturbations, bounded in :math:`(0.54, 2)` times the relative radius. This is PamaCF's
    rule [3]_ (a perturbation magnitude per user, a bounded increasing function of the
    user's embedding norm relative to the average, shared by the item rows of that user's
    samples), written so that an average user gets exactly the ``"relative"`` radius: the
    paper's exact centring and scale of the sigmoid could not be checked here, so read ε
    as the relative radius of an average user, not as the paper's magnitude :math:`\rho`.

    With ``epsilon_mode="vulnerability"`` both radii of the samples of user :math:`u` are
    multiplied by VAT's [4]_ coefficient :math:`c_u = \lambda\, \sigma(\bar L / L_u - 1)`,
    :math:`\lambda = 2`, where :math:`L_u` is the user's mean clean BPR loss over its samples
    of the previous epoch and :math:`\bar L` the mean of :math:`L_u` over the users sampled
    then (``skadv.mf._vulnerability.vulnerability_scale``; users not sampled, and every user
    in the first epoch of a fit, get 1). VAT's code computes :math:`L_u` as the summed loss
    of the user's triples in the current mini-batch; a per-triple kernel has no batch, so
    both backends use the previous epoch, averaged per sample so that the coefficient
    measures how well the user is fitted rather than how active it is.

    **Defaults.** 400 AdaGrad epochs against the hardest of 4 uniform negatives: the first
    half plain BPR (``adv_start="auto"``), then APR with ``epsilon=0.15`` relative and
    ``adv_reg=0.3``, with item biases and ``reg=0.04``. They were chosen on a validation part
    of MovieLens 100k, by ranking quality and by the loss under a relative FGSM attack, and
    confirmed on other splits and synthetic shapes (``benchmarks/bench_defaults.py``);
    ``adv_reg=0, n_negative_candidates=1`` gives plain BPR.

    The compiled kernel computes :math:`\Delta` per sampled triple (a mini-batch of one: the
    paper uses mini-batches) and takes one SGD or AdaGrad step (:math:`a \mathrel{+}= g^2`,
    :math:`\theta \mathrel{-}= \eta\, g / (\sqrt{a} + 10^{-8})`, per coordinate) per
    triple. An epoch draws one positive interaction uniformly per training interaction
    (with replacement) and ``n_negative_candidates`` negative items uniformly by rejection,
    keeping the highest-scored. With ``n_jobs > 1``,
    each thread owns a share of the users, and an epoch runs in ``n_jobs`` phases: the
    items are split into ``n_jobs`` random strata of about equal popularity (redrawn every
    epoch, in chunks of consecutive items), and in each phase each thread draws only its
    interactions with items of its own stratum, negatives from the same stratum, so that
    no two threads write the same row at the same time; over the phases every interaction
    is drawn once per epoch in expectation. Catalogs too small for strata (under about five
    4 KiB chunks of item rows per thread) train with all threads sharing the item rows,
    without locks (Hogwild). Since :math:`\Delta` has a closed form, an APR epoch costs
    little more than a BPR epoch (``adversary="random"`` draws Gaussian directions and is
    slower).

    The positive draws are stratified by user (blocks of about 256 KiB of user rows and
    interactions, visited in random order, each drawn its share of the epoch uniformly):
    every interaction is still drawn once per epoch in expectation, and a block's user rows
    stay in the CPU cache (measurements in ``benchmarks/README.md``).

    ``optimizer="adam"`` (``"torch"``) is lazy Adam, the arithmetic of
    ``torch.optim.SparseAdam``: a step updates the first and second moments :math:`m, v`
    and the parameters of the rows of its batch only,
    :math:`\theta \mathrel{-}= \eta \sqrt{1 - \beta_2^t} / (1 - \beta_1^t) \cdot m /
    (\sqrt{v} + 10^{-8})` with :math:`t` the number of steps taken (one per batch, the same
    for all rows; it carries over with ``warm_start`` and ``partial_fit``). Rows outside the
    batch keep their moments (no stale momentum; a row first seen late gets a large first
    step). ``reg`` enters the gradient (not decoupled weight decay).

    ``partial_fit`` folds in new data: unseen users and items get new rows, and ``n_epochs``
    epochs run on X's interactions only, updating X's users and the new items; known items'
    factors and biases stay fixed.

    References
    ----------
    .. [1] X. He, Z. He, X. Du and T.-S. Chua, "Adversarial Personalized Ranking for
       Recommendation", SIGIR 2018. https://doi.org/10.1145/3209978.3209981
    .. [2] S. Rendle, C. Freudenthaler, Z. Gantner and L. Schmidt-Thieme, "BPR: Bayesian
       Personalized Ranking from Implicit Feedback", UAI 2009. https://arxiv.org/abs/1205.2618
    .. [3] K. Zhang, Q. Cao, Y. Wu, F. Sun, H. Shen and X. Cheng, "Understanding and
       Improving Adversarial Collaborative Filtering for Robust Recommendation", NeurIPS
       2024. https://arxiv.org/abs/2410.22844
    .. [4] K. Zhang, Q. Cao, Y. Wu, F. Sun, H. Shen and X. Cheng, "Improving the Shortest
       Plank: Vulnerability-Aware Adversarial Training for Robust Recommender System",
       RecSys 2024. https://arxiv.org/abs/2409.17476
    .. [5] W. Zhang, T. Chen, J. Wang and Y. Yu, "Optimizing Top-N Collaborative Filtering
       via Dynamic Negative Item Sampling", SIGIR 2013. https://doi.org/10.1145/2484028.2484126

    Examples
    --------
    >>> from skadv.datasets import make_interactions
    >>> from skadv.mf import AdversarialMFRecommender
    >>> X = make_interactions(n_users=50, n_items=40, random_state=0)
    >>> model = AdversarialMFRecommender(n_factors=8, n_epochs=5, random_state=0).fit(X)
    >>> model.user_factors_.shape, model.item_factors_.shape == (model.n_items_, 8)
    ((50, 8), True)
    >>> items, scores = model.recommend([0, 1], n=3)
    >>> items.shape
    (2, 3)

    A cosine-decaying learning rate after one epoch of warm-up:

    >>> model = AdversarialMFRecommender(
    ...     n_factors=8, n_epochs=5, lr_schedule="cosine", warmup_epochs=1, random_state=0
    ... ).fit(X)
    >>> len(model.loss_curve_)
    5
    """

    _parameter_constraints = PARAMETER_CONSTRAINTS

    def __init__(
        self,
        n_factors=64,
        *,
        n_epochs=400,
        learning_rate=0.05,
        optimizer="adagrad",
        lr_schedule="constant",
        warmup_epochs=0,
        reg=0.04,
        adv_reg=0.3,
        epsilon=0.15,
        epsilon_mode="relative",
        adversary="fgsm",
        adv_start="auto",
        suspect_weight=0.0,
        n_negative_candidates=4,
        item_bias=True,
        init_std=0.1,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=5,
        tol=1e-4,
        warm_start=False,
        dtype=np.float32,
        backend="auto",
        device=None,
        batch_size=None,
        n_jobs=None,
        random_state=None,
        verbose=0,
        handle_unknown="popularity",
        positive_threshold=None,
    ):
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.learning_rate = learning_rate
        self.optimizer = optimizer
        self.lr_schedule = lr_schedule
        self.warmup_epochs = warmup_epochs
        self.reg = reg
        self.adv_reg = adv_reg
        self.epsilon = epsilon
        self.epsilon_mode = epsilon_mode
        self.adversary = adversary
        self.adv_start = adv_start
        self.suspect_weight = suspect_weight
        self.n_negative_candidates = n_negative_candidates
        self.item_bias = item_bias
        self.init_std = init_std
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.warm_start = warm_start
        self.dtype = dtype
        self.backend = backend
        self.device = device
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.handle_unknown = handle_unknown
        self.positive_threshold = positive_threshold

    # ------------------------------------------------------------------------------ fit
    def fit(self, X, y=None):
        """Learn the embeddings from interactions ``X``.

        Parameters
        ----------
        X : array-like of shape (n_interactions, 2) or DataFrame
            ``(user, item)`` id pairs (any hashable ids).
        y : array-like of shape (n_interactions,), default=None
            Weights, only used with ``positive_threshold``.

        Returns
        -------
        self : AdversarialMFRecommender
        """
        self._validate_params()
        self.backend_, self.device_ = resolve_backend(self.backend, self.device)
        self._check_training_options()
        dtype = np.dtype(self.dtype)
        rng = check_random_state(self.random_state)
        n_threads = effective_n_threads(self.n_jobs)
        previous = self._previous_state() if self.warm_start else None

        self._fit_interactions(X, y)
        train = self.interactions_
        coo = train.tocoo()
        pair_users = coo.row.astype(np.int32)
        pair_items = coo.col.astype(np.int32)
        init_user, init_item = (
            normal_matrix(rng, (n, self.n_factors), self.init_std, dtype, n_threads)
            for n in (self.n_users_, self.n_items_)
        )
        state = self._initial_state(init_user, init_item, dtype, previous)

        X_val = None
        if self.early_stopping:
            train_idx, val_idx = self._validation_split(pair_users, pair_items, rng)
            X_val = pd.DataFrame(
                {"user": self.user_ids_[pair_users[val_idx]],
                 "item": self.item_ids_[pair_items[val_idx]]}
            )  # fmt: skip
            pair_users, pair_items = pair_users[train_idx], pair_items[train_idx]
            # Validation scores a view of the model that sees only the training part.
            train = pairs_matrix(pair_users, pair_items, train.shape)

        self._set_state(state)
        stopper = self._early_stopping(state, X_val, train) if self.early_stopping else None
        log = self._train(state, train, pair_users, pair_items, rng, n_threads, 0, stopper)
        warn_if_below_popularity(
            validation_view(self, train), log.best_validation_score, X_val,
            "Train longer (n_epochs), or weaken the adversary (epsilon, adv_reg).",
        )  # fmt: skip
        # Again after training: the arrays were updated in place, but Adam's step count is
        # an int, and early stopping keeps another state.
        self._set_state(stopper.best_state if stopper is not None else state)
        self.loss_curve_ = log.loss_curve
        self.adv_loss_curve_ = log.adv_loss_curve
        self.validation_scores_ = log.validation_scores
        self.best_validation_score_ = log.best_validation_score
        self.n_iter_ = log.n_epochs
        return self

    def partial_fit(self, X, y=None):
        """Fold in new interactions: new users and items get rows, then train on ``X``.

        On an unfitted model this is ``fit(X, y)``. Otherwise users and items of ``X`` not
        seen before are appended to ``user_ids_``/``item_ids_`` with fresh random rows,
        ``interactions_`` grows by ``X``, and ``n_epochs`` epochs are run on the triples of
        ``X``'s interactions (negatives drawn among all items): the rows of ``X``'s users and
        of the new items are updated, the factors of previously known items stay fixed.
        Early stopping does not apply.

        Parameters
        ----------
        X : array-like of shape (n_interactions, 2) or DataFrame
            ``(user, item)`` id pairs.
        y : array-like of shape (n_interactions,), default=None
            Weights, only used with ``positive_threshold``.

        Returns
        -------
        self : AdversarialMFRecommender
        """
        if not hasattr(self, "user_factors_"):
            return self.fit(X, y)
        self._validate_params()
        self.backend_, self.device_ = resolve_backend(self.backend, self.device)
        self._check_training_options()
        if self.n_factors != self.user_factors_.shape[1]:
            raise ValueError(
                f"n_factors={self.n_factors} differs from the fitted factors "
                f"({self.user_factors_.shape[1]}); partial_fit cannot change n_factors."
            )
        dtype = np.dtype(self.dtype)
        rng = check_random_state(self.random_state)
        n_threads = effective_n_threads(self.n_jobs)
        users, items, weights = check_interactions(
            X, y, positive_threshold=self.positive_threshold
        )
        n_old_users, n_old_items = self.n_users_, self.n_items_
        self.user_ids_, u = extend_ids(self.user_ids_, users, "X (user column)")
        self.item_ids_, i = extend_ids(self.item_ids_, items, "X (item column)")
        self.n_users_, self.n_items_ = self.user_ids_.shape[0], self.item_ids_.shape[0]
        new_user, new_item = (
            normal_matrix(rng, (n, self.n_factors), self.init_std, dtype, n_threads)
            for n in (self.n_users_ - n_old_users, self.n_items_ - n_old_items)
        )
        state = self._grown_state(new_user, new_item, dtype)

        shape = (self.n_users_, self.n_items_)
        old = self.interactions_.copy()
        old.resize(shape)
        self.interactions_ = (old + sparse.csr_matrix((weights, (u, i)), shape=shape)).tocsr()
        self.interactions_.sum_duplicates()
        self.item_popularity_ = np.bincount(
            self.interactions_.indices, minlength=self.n_items_
        ).astype(np.float64)
        coo = pairs_matrix(u, i, shape).tocoo()
        self._set_state(state)
        log = self._train(
            state, self.interactions_, coo.row.astype(np.int32), coo.col.astype(np.int32),
            rng, n_threads, n_old_items, None,
        )  # fmt: skip
        self._set_state(state)  # Adam's step count (the arrays were updated in place)
        self.fit_record_ = fit_record(self)  # the settings of the latest training call
        self.loss_curve_ = list(getattr(self, "loss_curve_", [])) + log.loss_curve
        self.adv_loss_curve_ = list(getattr(self, "adv_loss_curve_", [])) + log.adv_loss_curve
        self.n_iter_ = log.n_epochs
        return self

    # ------------------------------------------------------------------------------ scoring
    def _user_item_scores(self, user_codes):
        return dot_product_scores(self, user_codes)

    def _pair_scores(self, user_codes, item_codes):
        return dot_product_pair_scores(self, user_codes, item_codes)

    # ------------------------------------------------------------------------------ helpers
    def _schedule(self):
        """The training run's hyper-parameters, read from the parameters."""
        return TrainingSchedule(
            n_epochs=self.n_epochs,
            learning_rate=float(self.learning_rate),
            optimizer=self.optimizer,
            reg=float(self.reg),
            adv_reg=float(self.adv_reg),
            epsilon=float(self.epsilon),
            # VAT scales the relative radii per user: the trainers apply the factors.
            epsilon_mode="relative" if self._vulnerability else self.epsilon_mode,
            adversary=self.adversary,
            adv_start=self._adv_start(),
            use_bias=bool(self.item_bias),
            n_negative_candidates=int(self.n_negative_candidates),
            lr_schedule=self.lr_schedule,
            warmup_epochs=int(self.warmup_epochs),
            divergence_hint="Lower learning_rate (or init_std, or epsilon).",
        )

    def _train(self, state, interactions, users, items, rng, n_threads, item_start, stopper):
        """Train ``state`` with the resolved backend; return its :class:`TrainingLog`."""
        schedule = self._schedule()
        common = dict(
            rng=rng, n_threads=n_threads, item_start=item_start, verbose=self.verbose,
            early_stopping=stopper, vulnerability=self._vulnerability,
            item_weight=self._item_weights(interactions),
        )  # fmt: skip
        if self.backend_ == "torch":
            from skadv.mf import _torch_backend  # imports torch: only when asked for

            log = _torch_backend.train(
                state, interactions, users, items, schedule, device=self.device_,
                batch_size=self.batch_size, **common,
            )  # fmt: skip
        else:
            from skadv.mf import _cython_backend  # the compiled kernel: only when training

            log = _cython_backend.train(state, interactions, users, items, schedule, **common)
        # Finite blow-ups (NaN and inf raised during training already).
        check_loss_curves(
            log.loss_curve, log.adv_loss_curve, epsilon=self.epsilon,
            epsilon_mode=self.epsilon_mode, hint=schedule.divergence_hint,
        )  # fmt: skip
        return log

    def _item_weights(self, interactions):
        """Per-user weights of the item-side gradients (None: all 1); see suspect_weight."""
        weights, flagged = damping_weights(interactions, self.suspect_weight, self.n_jobs)
        self.suspected_users_ = self.user_ids_[flagged]
        return weights

    def _check_training_options(self):
        """Errors of options that depend on each other or on the resolved backend, raised
        before any state changes."""
        check_training_options(self)

    @property
    def _vulnerability(self):
        return self.epsilon_mode == "vulnerability"

    def _adv_start(self):
        return resolve_adv_start(self.adv_start, self.n_epochs)

    def _previous_state(self):
        """Fitted factors keyed by id, for warm starts and fold-in (None if unfitted)."""
        if not hasattr(self, "user_factors_"):
            return None
        if self.user_factors_.shape[1] != self.n_factors:
            raise ValueError(
                f"warm_start=True needs the fitted n_factors ({self.user_factors_.shape[1]}), "
                f"got n_factors={self.n_factors}."
            )
        return {
            "user_ids": self.user_ids_,
            "item_ids": self.item_ids_,
            "user": self.user_factors_,
            "item": self.item_factors_,
            "bias": getattr(self, "item_bias_", None),
            "optimizer_state": self._reusable_optimizer_state(),
        }

    def _reusable_optimizer_state(self):
        """The fitted optimizer state if it belongs to ``self.optimizer``, else None.

        AdaGrad's sums of squared gradients are not Adam's second moments: switching the
        optimizer between fits starts its state from zero.
        """
        fitted = getattr(self, "_optimizer_state", None)
        if fitted is None or fitted["optimizer"] != self.optimizer:
            return None
        return fitted

    def _initial_state(self, init_user, init_item, dtype, previous):
        """FactorState from fresh rows, with the rows of ids known in ``previous`` copied."""
        return initial_state(
            init_user, init_item, dtype, self.optimizer, previous, self.user_ids_, self.item_ids_
        )

    def _grown_state(self, new_user_rows, new_item_rows, dtype):
        """The fitted state with rows appended for new users and items (fold-in)."""
        return grown_state(
            self.user_factors_, self.item_factors_, getattr(self, "item_bias_", None),
            self._reusable_optimizer_state(), new_user_rows, new_item_rows, dtype,
            self.optimizer,
        )  # fmt: skip

    def _set_state(self, state):
        self.user_factors_ = state.user
        self.item_factors_ = state.item
        if self.item_bias:
            self.item_bias_ = state.bias
        elif hasattr(self, "item_bias_"):
            del self.item_bias_
        optimizer = state.optimizer
        # NumPy arrays (and an int), whichever backend trained: warm_start, partial_fit and
        # pickles carry them.
        self._optimizer_state = (
            None
            if optimizer == "sgd"
            else {
                "optimizer": optimizer,
                "acc": (state.user_acc, state.item_acc, state.bias_acc),
                "mom": (state.user_mom, state.item_mom, state.bias_mom),
                "n_steps": int(state.n_steps),
            }
        )

    def _validation_split(self, pair_users, pair_items, rng):
        from skadv.model_selection._split import validation_holdout

        return validation_holdout(pair_users, pair_items, self.validation_fraction, rng)

    def _early_stopping(self, state, X_val, train):
        """The shared rule, scoring NDCG@10 on ``X_val`` (the model seeing the ``train`` part
        only): plain BPR pre-training never stops training, and APR gets its own
        ``n_iter_no_change`` epochs."""
        from skadv.metrics import get_ranking_scorer

        scorer = get_ranking_scorer("ndcg@10")
        schedule = self._schedule()
        return EarlyStopping(
            lambda: scorer(validation_view(self, train), X_val),
            state.copy,
            n_iter_no_change=self.n_iter_no_change,
            tol=self.tol,
            patience_start=schedule.adv_start if schedule.trains_adversarially else 0,
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.n_jobs not in (None, 1)
        return tags
