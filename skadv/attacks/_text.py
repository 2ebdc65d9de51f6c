"""Adversarial edits of item texts against a text recommender: TextAttack.

Torch and transformers are only needed once :meth:`TextAttack.attack` encodes texts (through
the model's own :meth:`~skadv.neural.AdversarialTextRecommender.encode_items`); importing
this module needs neither.
"""

import copy
import math
import pickle
import re

import numpy as np
from scipy import sparse
from sklearn.pipeline import Pipeline
from sklearn.utils import Bunch
from sklearn.utils.validation import check_is_fitted

from skadv.attacks._base import BaseModelAttack
from skadv.metrics import target_item_ranks
from skadv.utils._params import NONE, RANDOM_STATE, Interval, Options, validate_params
from skadv.utils._random import check_random_state
from skadv.utils._ranking import row_blocks
from skadv.utils._validation import check_interactions, lookup_ids

__all__ = ["TextAttack"]

#: An editable word: a maximal run of letters (digits, punctuation and spaces stay as they are).
_WORD = re.compile(r"[^\W\d_]+")


def _key_neighbours(rows=("qwertyuiop", "asdfghjkl", "zxcvbnm")):
    """Keys touching each letter on a QWERTY keyboard, whose rows are staggered to the right:
    key ``c`` of a row touches keys ``c`` and ``c + 1`` of the row above and ``c - 1`` and
    ``c`` of the row below (s: a, d, w, e, z, x)."""
    out = {}
    for r, row in enumerate(rows):
        for c, key in enumerate(row):
            near = [(r, c - 1), (r, c + 1), (r - 1, c), (r - 1, c + 1), (r + 1, c - 1), (r + 1, c)]
            out[key] = "".join(
                sorted(rows[i][j] for i, j in near if 0 <= i < len(rows) and 0 <= j < len(rows[i]))
            )
    return out


_KEY_NEIGHBOURS = _key_neighbours()


class TextAttack(BaseModelAttack):
    """Greedy word- and character-level edits of item texts that move the items' rank.

    For each attacked item of a fitted :class:`~skadv.neural.AdversarialTextRecommender`, the
    attack edits the item's text, word by word, to raise (``goal="push"``) or lower
    (``goal="nuke"``) the item's mean rank among the given users, then re-encodes the text
    with the model's own fine-tuned encoder and projection, as a new or edited item would be
    encoded at recommendation time (an item trained with an id embedding keeps it: only the
    text part of its vector changes). At most ``max_edits`` words of a text are changed. The
    model and the texts are never modified: :meth:`perturb` returns a deep copy whose item
    vectors (and texts) are the attacked ones, which the target metrics of
    :mod:`skadv.metrics` (:func:`~skadv.metrics.target_item_ranks`,
    :func:`~skadv.metrics.target_hit_rate_at_k`) measure like any model.

    Parameters
    ----------
    perturbation : {"word", "char", "both"}, default="word"
        ``"word"``: replace a word by one of its ``n_neighbors`` nearest whole-word tokens in
        the encoder's own input-embedding space (cosine; see Notes). ``"char"``: one typo in
        a word: swap two adjacent letters, delete a letter, insert a key adjacent on a QWERTY
        keyboard to the preceding letter, or substitute a letter by an adjacent key (no
        random letters: the candidates of a word are a fixed list). ``"both"``: either kind.
    max_edits : int or float, default=3
        Budget per text in edited words (each word is edited at most once, so this is also
        the number of edits). An int is a count (``0`` leaves every text as it is); a float
        in (0, 1] a fraction of the text's words, rounded up.
    goal : {"push", "nuke"}, default="push"
        Lower (push) or raise (nuke) the item's mean rank over the given users who have not
        interacted with it.
    search : {"greedy", "random"}, default="greedy"
        ``"greedy"``: at each step, encode every candidate edit (or ``n_candidates`` of them
        drawn at random) and keep the one that moves the goal the most; stop at the budget
        or when no candidate helps. ``"random"``: apply ``max_edits`` candidate edits drawn
        uniformly without looking at the model, the control a real attack must beat.
    n_candidates : int or None, default=64
        Candidate edits encoded per greedy step, drawn without replacement from all the
        candidates of the not-yet-edited words; None encodes them all.
    n_neighbors : int, default=10
        Replacement words considered per word (``perturbation="word"`` or ``"both"``).
    items : array-like of shape (n_items,), default=None
        Item ids attacked by :meth:`perturb` and :meth:`attack` when they are called without
        ``items``: the attack's targets, so that it runs where only ``perturb(estimator)``
        is called (:func:`skadv.evaluation.robustness_report` measures its target metrics
        on them). None: ``items`` must be passed to those methods.
    users : array-like of shape (n_users,), default=None
        User ids whose ranking the attack targets when the methods get no ``users``; None
        means every user of the model.
    random_state : int, RandomState instance or None, default=None
        Draws the candidates of each step (and the edits of ``search="random"``).

    See Also
    --------
    skadv.attacks.EmbeddingAttack : Worst-case perturbation of the fitted item vectors.
    skadv.metrics.target_item_ranks : The rank the attack moves.

    Notes
    -----
    The rank of item :math:`t` for user :math:`u` is the pessimistic rank among the items
    :math:`u` did not interact with in training (as in :func:`~skadv.metrics.target_item_ranks`);
    users who interacted with :math:`t` are left out. A greedy step compares candidates by the
    mean rank first and, between equal mean ranks, by the mean score :math:`p_u^\\top q_t`
    (higher for a push, lower for a nuke), so that the search moves towards a rank change on
    plateaus of the discrete rank. The other items' scores do not depend on :math:`t`'s text,
    so each step encodes only the candidate texts of the attacked item, in batches, and ranks
    them against the other items' scores sorted once per item. Several items are attacked
    one after the other, each against the current (already attacked) vectors of the others.
    With ``user_tower="history"`` or ``"both"``, the vectors of the users who interacted with
    an attacked item follow its new vector in the attacked copy, as after a refit of the
    history pooling (they are not among the users whose rank is measured).

    Word neighbours are computed in the fine-tuned encoder's input embedding matrix
    (:meth:`~skadv.neural.AdversarialTextRecommender.input_embeddings`): a word is represented
    by the mean embedding of its word pieces, and the candidates are the vocabulary tokens
    that are whole words (letters only, at least two, read back by the tokenizer as one
    token; special tokens and ``##`` continuations excluded), ranked by cosine similarity.
    Replacements keep the original word's case pattern (lower, Title or UPPER).

    Examples
    --------
    A tiny random BERT, so that the example runs in a second:

    >>> import tempfile
    >>> import torch
    >>> from transformers import BertConfig, BertModel, BertTokenizerFast
    >>> from skadv.neural import AdversarialTextRecommender
    >>> folder = tempfile.mkdtemp()
    >>> vocab = "[PAD] [UNK] [CLS] [SEP] [MASK] star wars trek space war hope love story "
    >>> vocab += "comedy drama night city king lost"
    >>> with open(f"{folder}/vocab.txt", "w") as f:
    ...     _ = f.write("\\n".join(vocab.split()))
    >>> _ = BertTokenizerFast.from_pretrained(folder).save_pretrained(folder)
    >>> _ = torch.manual_seed(0)
    >>> config = BertConfig(vocab_size=len(vocab.split()), hidden_size=16, num_hidden_layers=1,
    ...                     num_attention_heads=2, intermediate_size=16)
    >>> BertModel(config).save_pretrained(folder)
    >>> texts = {0: "star wars", 1: "star trek", 2: "love story", 3: "love comedy",
    ...          4: "lost city", 5: "night drama"}
    >>> X = np.array([[u, i] for u in range(8) for i in range(6) if (u + i) % 3])
    >>> model = AdversarialTextRecommender(folder, n_factors=4, n_epochs=2, random_state=0)
    >>> model = model.fit(X, item_texts=texts)
    >>> attack = TextAttack("word", max_edits=1, goal="push", random_state=0)
    >>> result = attack.attack(model, items=[4], users=range(8))
    >>> result.n_edits_.tolist()
    [1]
    >>> bool(result.mean_rank_after_ < result.mean_rank_before_)
    True
    >>> model.item_texts_[4]  # the model is left as it was
    'lost city'
    """

    _parameter_constraints = {
        "perturbation": [Options("word", "char", "both")],
        "max_edits": [Interval("int", 0, None), Interval("real", 0, 1, closed="right")],
        "goal": [Options("push", "nuke")],
        "search": [Options("greedy", "random")],
        "n_candidates": [NONE, Interval("int", 1, None)],
        "n_neighbors": [Interval("int", 1, None)],
        "random_state": [NONE, RANDOM_STATE],
    }

    def __init__(
        self,
        perturbation="word",
        *,
        max_edits=3,
        goal="push",
        search="greedy",
        n_candidates=64,
        n_neighbors=10,
        items=None,
        users=None,
        random_state=None,
    ):
        self.perturbation = perturbation
        self.max_edits = max_edits
        self.goal = goal
        self.search = search
        self.n_candidates = n_candidates
        self.n_neighbors = n_neighbors
        self.items = items
        self.users = users
        self.random_state = random_state

    def attack(self, model, items=None, users=None):
        """Edit the texts of ``items`` against ``model`` for ``users``.

        Parameters
        ----------
        model : fitted AdversarialTextRecommender or Pipeline ending with one
            Not modified.
        items : array-like of shape (n_items,), default=None
            Distinct item ids of the model (``item_ids_``), attacked in this order; None
            takes the ``items`` parameter.
        users : array-like of shape (n_users,), default=None
            User ids of the model whose ranking the attack targets; None takes the ``users``
            parameter, and when that is None too, every user of the model.

        Returns
        -------
        result : sklearn.utils.Bunch
            ``items`` (the ids), ``texts_`` (list of the attacked texts, aligned with
            ``items``), ``clean_texts_``, ``edits_`` (per item, the list of edits made in
            order, each ``(word_index, old_word, new_word, kind)`` with ``kind`` one of
            ``"word"``, ``"swap"``, ``"delete"``, ``"insert"``, ``"substitute"``),
            ``n_edits_`` (int ndarray of shape (n_items,)), ``rank_before_`` and
            ``rank_after_`` (``target_item_ranks`` of the clean and attacked models,
            shape (n_users, n_items), NaN where the user interacted with the item),
            ``mean_rank_before_`` and ``mean_rank_after_`` (their means over the valid
            pairs), ``n_encoded_`` (texts encoded by the search) and ``model_`` (the
            attacked copy, as :meth:`perturb` returns).

        Raises
        ------
        TypeError
            ``model`` is not an AdversarialTextRecommender (or a Pipeline ending with one).
        ValueError
            A parameter is invalid (the message names it), an item or user is unknown to
            the model, ``items`` has duplicates, or every user interacted with an item.
        """
        validate_params(self)
        final = _check_text_model(model)
        items = self.items if items is None else items
        if items is None:
            raise ValueError(
                "TextAttack needs the items to attack: pass items to attack / perturb, or "
                "give them as the items parameter (TextAttack(items=[...]))."
            )
        users = self.users if users is None else users
        if users is None:
            users = final.user_ids_
        item_ids = _check_ids(items, "items")
        user_ids = _check_ids(users, "users")
        item_codes = lookup_ids(final.item_ids_, item_ids)
        if np.any(item_codes < 0):
            raise ValueError(
                f"items holds ids the model does not know (not in item_ids_): "
                f"{item_ids[item_codes < 0][:5].tolist()}."
            )
        if np.unique(item_codes).shape[0] != item_codes.shape[0]:
            raise ValueError("items holds duplicate ids.")
        user_codes = lookup_ids(final.user_ids_, user_ids)
        if np.any(user_codes < 0):
            raise ValueError(
                f"users holds ids the model does not know (not in user_ids_): "
                f"{user_ids[user_codes < 0][:5].tolist()}; their ranking does not come "
                "from item texts."
            )
        rng = check_random_state(self.random_state)
        attacked = copy.deepcopy(model)
        target = _final_step(attacked)
        words = _Vocabulary(target, self.n_neighbors) if self.perturbation != "char" else None
        clean_texts = [str(final.item_texts_[c]) for c in item_codes]
        texts, edits, n_encoded = [], [], 0
        history = _history_weights(target)
        for code, text in zip(item_codes, clean_texts, strict=True):
            oracle = _RankOracle(target, user_codes, int(code), text)
            # An edited text changes the text part of the vector; a trained item keeps its
            # id embedding (item_id_factors_), as a refit item with the new text would.
            offset = target.item_id_factors_[code]
            new_text, item_edits, vector, count = self._attack_one(
                target, oracle, text, words, rng, offset
            )
            n_encoded += count
            if item_edits:
                if history is not None:
                    # Users whose history holds the item: their pooled vector moves with it.
                    weights = history[:, code].toarray()
                    shift = weights * (vector - target.item_factors_[code])
                    target.user_factors_ = (target.user_factors_ + shift).astype(
                        target.user_factors_.dtype
                    )
                target.item_factors_[code] = vector
                target.item_texts_[code] = new_text
            texts.append(new_text)
            edits.append(item_edits)
        before = target_item_ranks(model, user_ids, item_ids)
        after = target_item_ranks(attacked, user_ids, item_ids)
        return Bunch(
            items=item_ids,
            texts_=texts,
            clean_texts_=clean_texts,
            edits_=edits,
            n_edits_=np.array([len(e) for e in edits], dtype=np.int64),
            rank_before_=before,
            rank_after_=after,
            mean_rank_before_=_nanmean(before),
            mean_rank_after_=_nanmean(after),
            n_encoded_=n_encoded,
            model_=attacked,
        )

    def perturb(self, model, items=None, users=None):
        """Return a deep copy of ``model`` whose ``items`` hold the attacked texts and vectors.

        ``perturb(model)`` (the :class:`~skadv.attacks.BaseModelAttack` contract) attacks
        the ``items`` parameter for the ``users`` parameter.

        Parameters
        ----------
        model, items, users
            As in :meth:`attack`. ``model`` is left untouched.

        Returns
        -------
        attacked : same type as ``model``
            Its (last step's) ``item_texts_`` and ``item_factors_`` rows of ``items`` are
            the attacked ones (and, for a history user tower, the vectors of the users who
            interacted with them); everything else is a copy of ``model``'s.
        """
        return self.attack(model, items, users).model_

    def attack_targets(self, estimator):
        """The ``items`` parameter: the items ``perturb(estimator)`` attacks (or None)."""
        if self.items is None:
            return None
        return _check_ids(self.items, "items")

    # ----------------------------------------------------------------- search
    def _budget(self, n_words):
        if isinstance(self.max_edits, (int, np.integer)):
            return min(int(self.max_edits), n_words)
        # The tolerance keeps 0.1 * 30 (= 3.0000000000000004) at 3.
        return min(n_words, math.ceil(self.max_edits * n_words - 1e-9))

    def _attack_one(self, model, oracle, text, vocabulary, rng, offset):
        """Edits of one text: (new text, edits, new vector or None, texts encoded).

        ``offset``: the item's id part, added to the vector of every encoded text."""

        def encode(texts):
            return model.encode_items(texts) + offset

        text_ = _EditableText(text)
        budget = self._budget(len(text_.words))
        edits = []
        if budget == 0:
            return text, edits, None, 0
        sign = 1.0 if self.goal == "push" else -1.0
        if self.search == "random":
            for _ in range(budget):
                candidates = self._candidates(text_, vocabulary)
                if not candidates:
                    break
                edits.append(text_.apply(candidates[rng.randint(len(candidates))]))
            if not edits:
                return text, edits, None, 0
            return text_.render(), edits, encode([text_.render()])[0], 1
        vector = encode([text])[0]
        best_key = oracle.keys(vector[None], sign)[0]
        n_encoded = 1
        for _ in range(budget):
            candidates = self._candidates(text_, vocabulary)
            if self.n_candidates is not None and len(candidates) > self.n_candidates:
                picked = np.sort(rng.choice(len(candidates), self.n_candidates, replace=False))
                candidates = [candidates[k] for k in picked]
            if not candidates:
                break
            vectors = encode([text_.render(c) for c in candidates])
            n_encoded += len(candidates)
            keys = oracle.keys(vectors, sign)
            # Lexicographic minimum: mean rank (signed) first, then the signed mean score.
            k = int(np.lexsort((keys[:, 1], keys[:, 0]))[0])
            if tuple(keys[k]) >= tuple(best_key):
                break  # no candidate helps
            best_key, vector = keys[k], vectors[k]
            edits.append(text_.apply(candidates[k]))
        if not edits:
            return text, edits, None, n_encoded
        return text_.render(), edits, vector, n_encoded

    def _candidates(self, text_, vocabulary):
        """(word_index, new_word, kind) of every edit of a not-yet-edited word."""
        out = []
        for index in text_.free_positions():
            word = text_.words[index]
            if self.perturbation in ("word", "both"):
                out += [(index, w, "word") for w in vocabulary.neighbors(word)]
            if self.perturbation in ("char", "both"):
                out += [(index, w, kind) for w, kind in _char_edits(word)]
        return out


# ------------------------------------------------------------------ model access
def _final_step(estimator):
    return estimator[-1] if isinstance(estimator, Pipeline) else estimator


def _check_text_model(model):
    final = _final_step(model)
    # Imported here: skadv.neural resolves its classes lazily (no torch at import time).
    from skadv.neural import AdversarialTextRecommender

    if not isinstance(final, AdversarialTextRecommender):
        raise TypeError(
            "model must be a fitted AdversarialTextRecommender (or a Pipeline ending with "
            f"one): TextAttack edits item texts; got {type(final).__name__}."
        )
    check_is_fitted(final)
    return final


def _check_ids(values, name):
    if isinstance(values, (str, bytes)) or np.ndim(values) != 1:
        raise TypeError(f"{name} must be a 1-d array-like of ids.")
    values = np.asarray(values, dtype=object)
    if values.size == 0:
        raise ValueError(f"{name} is empty.")
    ids, _, _ = check_interactions(np.column_stack([values, values]))
    return ids


def _history_weights(model):
    """Row-normalized training matrix (users x items) of a history user tower, else None."""
    if model.user_tower == "id":
        return None
    binary = (model.interactions_ > 0).astype(np.float64)
    counts = np.asarray(binary.sum(axis=1)).ravel()
    return (sparse.diags(1.0 / np.maximum(counts, 1.0)) @ binary).tocsc()


def _nanmean(values):
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else float("nan")


class _RankOracle:
    """Mean rank and mean score of one item for many candidate vectors of it.

    Only the item's own scores change with its text: the other items' scores of each user
    are sorted once (per block of users, kept when they fit ``working_memory``, recomputed
    per call otherwise), then a candidate's rank is one searchsorted per user.
    """

    def __init__(self, model, user_codes, item_code, text):
        seen = model.seen_items(user_codes)[:, [item_code]].toarray().ravel() != 0
        self.users = user_codes[~seen]
        if self.users.size == 0:
            raise ValueError(
                f"Every user in users interacted with the item of text {text!r}: there is "
                "no ranking of it to attack."
            )
        self.model, self.item = model, item_code
        self.factors = model.user_factors_[self.users]
        row_bytes = model.n_items_ * model.item_factors_.itemsize
        self.blocks = row_blocks(self.users.shape[0], row_bytes)
        self.cache = None
        if len(self.blocks) == 1:
            self.cache = [self._sorted(self.blocks[0])]

    def _sorted(self, block):
        codes = self.users[block]
        scores = np.array(self.model.score_users(codes))
        seen = self.model.seen_items(codes).tocoo()
        scores[seen.row, seen.col] = -np.inf  # not candidates
        scores[:, self.item] = -np.inf  # the item itself, counted as the 1 of the rank
        return np.sort(scores, axis=1)

    def keys(self, vectors, sign):
        """(n_candidates, 2): signed mean rank and minus the signed mean score."""
        vectors = np.asarray(vectors, dtype=self.factors.dtype)
        scores = self.factors @ vectors.T  # (n_users, n_candidates)
        ranks = np.empty(scores.shape, dtype=np.float64)
        n_items = self.model.n_items_
        for b, block in enumerate(self.blocks):
            sorted_scores = self.cache[b] if self.cache is not None else self._sorted(block)
            for row, user in enumerate(range(block.start, block.stop)):
                # Pessimistic: 1 + the other candidates scoring at least as high.
                below = np.searchsorted(sorted_scores[row], scores[user], side="left")
                ranks[user] = 1 + n_items - below
        return np.column_stack([sign * ranks.mean(axis=0), -sign * scores.mean(axis=0)])


# ------------------------------------------------------------------ texts and edits
class _EditableText:
    """A text as its words (runs of letters) between fixed separators; each word edited once."""

    def __init__(self, text):
        spans = [m.span() for m in _WORD.finditer(text)]
        self.words = [text[a:b] for a, b in spans]
        starts = [0] + [b for _, b in spans]
        stops = [a for a, _ in spans] + [len(text)]
        self.gaps = [text[a:b] for a, b in zip(starts, stops, strict=True)]
        self.edited = [False] * len(self.words)

    def free_positions(self):
        return [k for k, done in enumerate(self.edited) if not done]

    def render(self, candidate=None):
        words = list(self.words)
        if candidate is not None:
            words[candidate[0]] = candidate[1]
        parts = [self.gaps[0]]
        for word, gap in zip(words, self.gaps[1:], strict=True):
            parts += [word, gap]
        return "".join(parts)

    def apply(self, candidate):
        index, new, kind = candidate
        old = self.words[index]
        self.words[index], self.edited[index] = new, True
        return (index, old, new, kind)


def _char_edits(word):
    """(new_word, kind) of every one-typo edit of ``word``, deduplicated, in a fixed order."""
    out = {}
    n = len(word)

    def add(new, kind):
        if new != word and new not in out:
            out[new] = kind

    for i in range(n - 1):
        add(word[:i] + word[i + 1] + word[i] + word[i + 2 :], "swap")
    if n >= 2:
        for i in range(n):
            add(word[:i] + word[i + 1 :], "delete")
    for i in range(1, n + 1):
        for key in _KEY_NEIGHBOURS.get(word[i - 1].lower(), ""):
            add(word[:i] + _same_case(key, word[i - 1]) + word[i:], "insert")
    for i in range(n):
        for key in _KEY_NEIGHBOURS.get(word[i].lower(), ""):
            add(word[:i] + _same_case(key, word[i]) + word[i + 1 :], "substitute")
    return list(out.items())


def _same_case(new, like):
    return new.upper() if like.isupper() else new


def _case_like(new, like):
    if like.isupper() and len(like) > 1:
        return new.upper()
    if like[:1].isupper():
        return new[:1].upper() + new[1:]
    return new


class _Vocabulary:
    """Nearest whole-word tokens of a word in the model's input embedding space (cached)."""

    def __init__(self, model, n_neighbors):
        self.tokenizer = pickle.loads(model.tokenizer_state_)
        embeddings = np.asarray(model.input_embeddings(), dtype=np.float64)
        n = min(len(self.tokenizer), embeddings.shape[0])
        tokens = self.tokenizer.convert_ids_to_tokens(list(range(n)))
        special = set(self.tokenizer.all_special_tokens)
        ids = [k for k, t in enumerate(tokens) if len(t) >= 2 and t.isalpha() and t not in special]
        # A whole word is a token the tokenizer reads back as that one token.
        back = self.tokenizer([tokens[k] for k in ids], add_special_tokens=False)["input_ids"]
        self.ids = np.array([k for k, b in zip(ids, back, strict=True) if b == [k]], dtype=int)
        self.tokens = [tokens[k] for k in self.ids]
        self.embeddings = embeddings
        rows = embeddings[self.ids]
        self.unit = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
        self.n_neighbors = n_neighbors
        self._cache = {}

    def neighbors(self, word):
        key = word.lower()
        if key not in self._cache:
            self._cache[key] = self._nearest(word)
        return [_case_like(w, word) for w in self._cache[key]]

    def _nearest(self, word):
        pieces = self.tokenizer(word, add_special_tokens=False)["input_ids"]
        if not pieces or self.ids.size == 0:
            return []
        query = self.embeddings[pieces].mean(axis=0)
        similarity = self.unit @ (query / max(np.linalg.norm(query), 1e-12))
        # Ties broken by token id: the same neighbours on every machine.
        order = np.lexsort((self.ids, -similarity))
        own_id = pieces[0] if len(pieces) == 1 else -1
        out = []
        for k in order:
            if self.tokens[k] != word.lower() and self.ids[k] != own_id:
                out.append(self.tokens[k])
                if len(out) == self.n_neighbors:
                    break
        return out
