"""EmbeddingAttack and robustness_curve on AdversarialTextRecommender's towers."""

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "attacks"))
from test_every_model import check_attackable

from skadv.neural import AdversarialTextRecommender

TITLES = ["star wars", "star trek", "space war", "space hope", "love story", "love drama",
          "romantic comedy", "comedy night"]  # fmt: skip


def test_attacks_work_on_the_text_towers(tiny_bert_path):
    rng = np.random.RandomState(0)
    X = np.array([(u, i) for u in range(16) for i in range(8)
                  if (i < 4) == (u < 8) and rng.rand() < 0.8])  # fmt: skip
    # Trained long enough to rank the two blocks apart: the contract wants an attack to
    # lower the held-out score, which a 2-epoch, near-random model need not show.
    model = AdversarialTextRecommender(encoder=tiny_bert_path, n_factors=8, n_epochs=10,
                                       batch_size=16, random_state=0)  # fmt: skip
    model.fit(X, item_texts=dict(enumerate(TITLES)))
    check_attackable(model, X)
