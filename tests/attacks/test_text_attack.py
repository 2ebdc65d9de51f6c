"""TextAttack: greedy word / character edits of item texts, on the tiny random BERT."""

import copy

import numpy as np
import pytest
import sklearn
from scipy import sparse

pytest.importorskip("torch")
pytest.importorskip("transformers")

from skadv import AdversarialMFRecommender, PopularityRecommender
from skadv.attacks import TextAttack
from skadv.attacks._text import _char_edits, _EditableText
from skadv.metrics import target_item_ranks
from skadv.neural import AdversarialTextRecommender

TITLES = [
    "star wars", "star trek", "space war", "space adventure", "lost empire",
    "war of the worlds", "love story", "romantic comedy", "love drama", "comedy night",
    "new hope", "romance in the city",
]  # fmt: skip
SPACE = set(range(6))
TARGETS = [4, 5, 10, 11]
USERS = np.arange(20)


def _blocks():
    """Users 0-9 like space items, 10-19 romance items (each misses a few)."""
    rng = np.random.RandomState(0)
    return np.array([(u, i) for u in range(20) for i in range(12)
                     if (i in SPACE) == (u < 10) and rng.rand() < 0.7])  # fmt: skip


def _fit(path, **params):
    base = dict(encoder=path, n_factors=8, n_epochs=10, batch_size=16, learning_rate=0.01,
                adversary="none", n_jobs=1, random_state=0)  # fmt: skip
    model = AdversarialTextRecommender(**{**base, **params})
    return model.fit(_blocks(), item_texts=dict(enumerate(TITLES)))


@pytest.fixture(scope="module")
def model(tiny_bert_path):
    return _fit(tiny_bert_path)


def _attack(model, **params):
    base = dict(max_edits=2, n_candidates=None, random_state=0)
    return TextAttack(**{**base, **params}).attack(model, items=TARGETS, users=USERS)


# ------------------------------------------------------------------ the goal
@pytest.mark.parametrize("perturbation", ["word", "char", "both"])
def test_push_raises_the_targets_more_than_random_edits(model, perturbation):
    greedy = _attack(model, perturbation=perturbation, goal="push")
    control = _attack(model, perturbation=perturbation, goal="push", search="random")
    np.testing.assert_array_equal(control.n_edits_, greedy.n_edits_.max())  # same budget used
    assert greedy.mean_rank_after_ < greedy.mean_rank_before_
    assert greedy.mean_rank_after_ < control.mean_rank_after_


@pytest.mark.parametrize("perturbation", ["word", "char", "both"])
def test_nuke_lowers_the_targets_more_than_random_edits(model, perturbation):
    greedy = _attack(model, perturbation=perturbation, goal="nuke")
    control = _attack(model, perturbation=perturbation, goal="nuke", search="random")
    assert greedy.mean_rank_after_ > greedy.mean_rank_before_
    assert greedy.mean_rank_after_ > control.mean_rank_after_


def test_rank_record_is_the_target_metric_of_the_attacked_copy(model):
    result = _attack(model, perturbation="word")
    np.testing.assert_array_equal(result.rank_before_, target_item_ranks(model, USERS, TARGETS))
    np.testing.assert_array_equal(
        result.rank_after_, target_item_ranks(result.model_, USERS, TARGETS)
    )
    assert result.mean_rank_after_ == pytest.approx(np.nanmean(result.rank_after_))


def test_attacked_copy_holds_the_new_texts_and_their_encodings(model):
    attacked = TextAttack("word", max_edits=1, random_state=0).perturb(model, [4], USERS)
    assert isinstance(attacked, AdversarialTextRecommender) and attacked is not model
    changed = np.flatnonzero(attacked.item_texts_ != model.item_texts_)
    np.testing.assert_array_equal(changed, [4])
    # The new text's vector plus the item's own id embedding (kept by the edit).
    encoded = model.encode_items([attacked.item_texts_[4]])[0] + model.item_id_factors_[4]
    assert np.abs(model.item_id_factors_[4]).sum() > 0
    np.testing.assert_allclose(attacked.item_factors_[4], encoded, atol=1e-6)
    others = np.arange(model.n_items_) != 4
    np.testing.assert_array_equal(attacked.item_factors_[others], model.item_factors_[others])
    np.testing.assert_array_equal(attacked.user_factors_, model.user_factors_)


def test_history_users_follow_the_attacked_item(tiny_bert_path):
    model = _fit(tiny_bert_path, user_tower="history", n_epochs=2)
    attacked = TextAttack("char", max_edits=2, random_state=0).perturb(model, [4, 10], USERS)
    binary = (model.interactions_ > 0).astype(np.float64)
    history = sparse.diags(1 / np.asarray(binary.sum(axis=1)).ravel()) @ binary
    assert not np.allclose(attacked.user_factors_, model.user_factors_)
    np.testing.assert_allclose(attacked.user_factors_, history @ attacked.item_factors_,
                               atol=1e-5)  # fmt: skip


# ------------------------------------------------------------------ budget and edits
@pytest.mark.parametrize(("max_edits", "budget"), [(0, 0), (1, 1), (2, 2), (0.5, 2), (1.0, 4)])
@pytest.mark.parametrize("perturbation", ["word", "char", "both"])
@pytest.mark.parametrize("search", ["greedy", "random"])
def test_budget_counts_edited_words(model, perturbation, search, max_edits, budget):
    result = TextAttack(perturbation, max_edits=max_edits, search=search, n_candidates=20,
                        random_state=0).attack(model, items=[5], users=USERS)  # fmt: skip
    clean = _EditableText(result.clean_texts_[0]).words  # "war of the worlds": 4 words
    attacked = _EditableText(result.texts_[0]).words
    changed = [k for k, (a, b) in enumerate(zip(clean, attacked, strict=True)) if a != b]
    assert len(changed) <= budget
    assert sorted(e[0] for e in result.edits_[0]) == changed
    assert result.n_edits_[0] == len(changed)
    if search == "random":
        assert len(changed) == budget
    if budget == 0:
        assert result.texts_ == result.clean_texts_ and result.n_encoded_ == 0


def test_word_edits_come_from_the_encoders_own_vocabulary(model, tiny_vocab):
    result = _attack(model, perturbation="word", max_edits=3)
    whole_words = {t for t in tiny_vocab if t.isalpha() and len(t) >= 2}
    new_words = {new.lower() for edits in result.edits_ for _, _, new, _ in edits}
    assert new_words and new_words <= whole_words
    assert all(old != new and kind == "word" for e in result.edits_ for _, old, new, kind in e)


def test_char_edits_are_single_typos():
    edits = dict(_char_edits("Star"))
    assert edits["tSar"] == "swap" and edits["Sar"] == "delete"
    assert edits["Stat"] == "substitute"  # r -> t: neighbouring keys
    assert edits["Stasr"] == "insert"  # s, next to a, after the a
    assert "Star" not in edits and all(len(w) in (3, 4, 5) for w in edits)
    # Neighbours of s on the staggered keyboard, upper case like the S they replace.
    first = sorted(w[0] for w, kind in edits.items() if kind == "substitute" and w[1:] == "tar")
    assert first == list("ADEWXZ")
    assert _char_edits("aa")[0] == ("a", "delete")  # swapping equal letters is no edit


def test_search_stops_when_no_candidate_helps(model):
    # With the full budget of a 2-word text and every candidate, the greedy search stops
    # early once no edit lowers the (rank, score) key; the record says how far it went.
    result = TextAttack("char", max_edits=2, n_candidates=None, random_state=0).attack(
        model, items=[0], users=USERS
    )
    assert result.n_edits_[0] <= 2 and result.mean_rank_after_ <= result.mean_rank_before_


# ------------------------------------------------------------------ contract
def test_same_seed_same_attack(model):
    a = _attack(model, perturbation="both", n_candidates=10)
    b = _attack(model, perturbation="both", n_candidates=10)
    assert a.texts_ == b.texts_ and a.edits_ == b.edits_
    np.testing.assert_array_equal(a.rank_after_, b.rank_after_)
    np.testing.assert_array_equal(a.model_.item_factors_, b.model_.item_factors_)


def test_blocked_ranking_matches_the_cached_one(model):
    cached = _attack(model, perturbation="word")
    with sklearn.config_context(working_memory=1e-4):  # one user per block, recomputed
        blocked = _attack(model, perturbation="word")
    assert blocked.texts_ == cached.texts_
    np.testing.assert_array_equal(blocked.rank_after_, cached.rank_after_)


def test_model_and_inputs_are_not_modified(model):
    before = copy.deepcopy(
        {k: v for k, v in vars(model).items() if k.endswith("_") and not k.startswith("_")}
    )
    params = model.get_params()
    items, users = list(TARGETS), list(USERS)
    attack = TextAttack("both", max_edits=2, random_state=np.random.RandomState(0))
    attack_params = attack.get_params()
    attack.attack(model, items=items, users=users)
    assert items == TARGETS and users == list(USERS)
    assert model.get_params() == params and attack.get_params() == attack_params
    for name, value in before.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(getattr(model, name), value)
    assert list(model.item_texts_) == TITLES


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"goal": "promote"}, "goal"),
        ({"max_edits": -1}, "max_edits"),
        ({"max_edits": 1.5}, "max_edits"),
        ({"perturbation": "sentence"}, "perturbation"),
        ({"search": "beam"}, "search"),
        ({"n_candidates": 0}, "n_candidates"),
        ({"n_neighbors": 0}, "n_neighbors"),
    ],
)
def test_bad_parameters_are_named(model, params, match):
    with pytest.raises(ValueError, match=match):
        TextAttack(**params).attack(model, items=[0], users=USERS)


@pytest.mark.parametrize(
    ("items", "users", "match"),
    [
        ([99], USERS, "items holds ids the model does not know"),
        ([0, 0], USERS, "duplicate"),
        ([0], [0, 999], "users holds ids the model does not know"),
        ([], USERS, "items is empty"),
        ([0], [0, 1, 2], "Every user in users interacted"),  # users 0-2 all saw item 0
    ],
)
def test_bad_items_and_users(model, items, users, match):
    with pytest.raises(ValueError, match=match):
        TextAttack().attack(model, items=items, users=users)


@pytest.mark.parametrize(
    "other",
    [AdversarialMFRecommender(n_epochs=1, random_state=0), PopularityRecommender()],
    ids=["mf", "popularity"],
)
def test_model_without_item_texts_is_a_type_error(other):
    other.fit(_blocks())
    with pytest.raises(TypeError, match="AdversarialTextRecommender"):
        TextAttack().attack(other, items=[0], users=USERS)


def test_item_ids_given_as_a_scalar_is_a_type_error(model):
    with pytest.raises(TypeError, match="items"):
        TextAttack().attack(model, items=4, users=USERS)


@pytest.mark.slow
@pytest.mark.minilm
def test_word_push_on_minilm(minilm_path):
    model = _fit(minilm_path, trainable_layers=0, n_epochs=2, n_factors=16)
    result = TextAttack("word", max_edits=2, n_candidates=32, random_state=0).attack(
        model, items=TARGETS, users=USERS
    )
    assert result.mean_rank_after_ < result.mean_rank_before_
    assert all(new.isalpha() for e in result.edits_ for _, _, new, _ in e)


def test_perturb_estimator_contract_takes_targets_from_the_parameters(model):
    """perturb(estimator) alone (BaseModelAttack): the items / users parameters."""
    from skadv.attacks import BaseModelAttack

    explicit = TextAttack("word", max_edits=1, random_state=0).perturb(model, [4], USERS)
    attack = TextAttack("word", max_edits=1, items=[4], users=USERS, random_state=0)
    assert isinstance(attack, BaseModelAttack)
    implicit = attack.perturb(model)
    np.testing.assert_array_equal(implicit.item_factors_, explicit.item_factors_)
    assert attack.attack_targets(model).tolist() == [4]
    # users=None: every user of the model.
    every = TextAttack("word", max_edits=1, items=[4], random_state=0).attack(model)
    assert every.rank_before_.shape == (model.n_users_, 1)
    with pytest.raises(ValueError, match="needs the items to attack"):
        TextAttack().perturb(model)
    assert TextAttack().attack_targets(model) is None


def test_robustness_report_measures_a_text_attack_on_its_targets(tiny_bert_path):
    from skadv.evaluation import robustness_report

    base = dict(encoder=tiny_bert_path, n_factors=8, n_epochs=3, batch_size=16,
                adversary="none", n_jobs=1, random_state=0)  # fmt: skip
    X = _blocks()
    texts = dict(enumerate(TITLES))

    class WithTexts(AdversarialTextRecommender):
        def fit(self, X, y=None):
            return super().fit(X, y, item_texts=texts)

    model = WithTexts(**base)
    attack = TextAttack("word", max_edits=1, items=[4, 10], random_state=0)
    report = robustness_report(model, X[::2], X[1::2], [attack],
                               metrics=("ndcg@10", "target_rank"))  # fmt: skip
    assert report["threat"].tolist() == ["model", "model"]
    assert report["metric"].tolist() == ["ndcg@10", "target_rank"]
    row = report.set_index("metric").loc["target_rank"]
    assert np.isfinite(row["clean"]) and row["attacked"] <= row["clean"]
