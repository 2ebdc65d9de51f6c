"""What ``AdversarialTextRecommender`` accepts: its parameter constraints and item texts.

``item_texts`` (and the texts of ``add_items`` / ``encode_items``) come as a mapping item id ->
text, a pandas Series indexed by item id, a callable, or a list; these helpers check them and
read the texts of given ids, with messages that name the argument.
"""

from collections.abc import Mapping

import numpy as np
import pandas as pd

from skadv.neural._base import TRAINING_CONSTRAINTS
from skadv.utils._params import BOOL, NONE, PATH, STRING, Interval, Options, TupleOf

#: ``AdversarialTextRecommender._parameter_constraints``.
TEXT_CONSTRAINTS = {
    **TRAINING_CONSTRAINTS,
    "encoder": [PATH],
    "max_length": [Interval("int", 2, None)],
    "trainable_layers": [NONE, Interval("int", 0, None)],
    "user_tower": [Options("id", "history", "both")],
    "n_factors": [Interval("int", 1, None)],
    "init_std": [Interval("real", 0, None, closed="neither")],
    "encoder_learning_rate": [NONE, Interval("real", 0, None, closed="neither")],
    "item_id_embedding": [BOOL],
    "id_dropout": [Interval("real", 0, 1, closed="left")],
    "adv_target": [Options("factors", "text", "tokens")],
    "pooling": [Options("mean", "cls", "last")],
    "gradient_checkpointing": [BOOL],
    "item_cache_steps": [NONE, Interval("int", 1, None)],
    "adapter": [NONE, Options("lora")],
    "lora_rank": [Interval("int", 1, None)],
    "lora_alpha": [Interval("int", 1, None)],
    "lora_dropout": [Interval("real", 0, 1, closed="left")],
    "lora_targets": [NONE, TupleOf(STRING, min_length=1)],
}


_GRID_HINT = (
    " (GridSearchCV and cross_validate slice a fit parameter whose length equals len(X): "
    "pass a callable, e.g. item_texts=texts.get; see the Notes of fit.)"
)


def check_text_source(source, name):
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


def texts_of(source, ids, name):
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


def check_text_list(texts, name):
    if isinstance(texts, str) or not hasattr(texts, "__len__"):
        raise TypeError(f"{name} must be a sequence of str, got {type(texts).__name__}.")
    texts = list(texts)
    for position, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"{name}[{position}] is {type(text).__name__}, not str.")
    return texts
