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

_ML100K_DEFAULT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ml-100k"


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
