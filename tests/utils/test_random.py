"""Seeded draws: ``normal_matrix`` (NumPy's stream for small arrays, the compiled ziggurat
for large ones)."""

import numpy as np
import pytest
from scipy import stats

from skadv._ext import _normal
from skadv.utils._random import KERNEL_DRAW_CHUNK, KERNEL_DRAW_MIN, normal_matrix

LARGE = (KERNEL_DRAW_MIN // 64 + 1, 64)


def test_small_arrays_keep_numpys_stream():
    # The seeded fits of models with up to KERNEL_DRAW_MIN factors are those of earlier
    # versions: one seed from the RandomState, then PCG64's float32 ziggurat.
    rng = np.random.RandomState(3)
    seed = np.random.RandomState(3).randint(1, np.iinfo(np.uint32).max, dtype=np.int64)
    want = np.random.Generator(np.random.PCG64(seed)).standard_normal((943, 64), np.float32)
    got = normal_matrix(rng, (943, 64), 0.5, np.float32)
    np.testing.assert_array_equal(got, want * np.float32(0.5))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_arrays_do_not_depend_on_threads(dtype):
    one = normal_matrix(np.random.RandomState(0), LARGE, 0.1, dtype)
    two = normal_matrix(np.random.RandomState(0), LARGE, 0.1, dtype, n_threads=2)
    assert one.dtype == dtype and one.shape == LARGE and one.flags.c_contiguous
    np.testing.assert_array_equal(one, two)
    other = normal_matrix(np.random.RandomState(1), LARGE, 0.1, dtype)
    assert np.mean(one == other) < 1e-4


def test_the_kernel_draws_a_standard_normal():
    x = np.empty(2_000_000)
    _normal.fill_normal(x, 12345, 1.0, KERNEL_DRAW_CHUNK, 1)
    assert abs(x.mean()) < 0.003 and abs(x.std() - 1) < 0.003
    assert stats.kstest(x[::2], "norm").pvalue > 1e-3
    # 100 equiprobable bins, and the tails the ziggurat samples separately (beyond 3.65).
    edges = stats.norm.ppf(np.linspace(0, 1, 101)[1:-1])
    assert stats.chisquare(np.bincount(np.searchsorted(edges, x), minlength=100)).pvalue > 1e-3
    for threshold in (2.0, 3.0, 3.6541528853610088, 4.0):
        expected = 2 * stats.norm.sf(threshold) * x.size
        assert abs((np.abs(x) > threshold).sum() - expected) < 5 * np.sqrt(expected)
    # Neighbouring chunks are unrelated streams.
    chunks = x[: 4 * KERNEL_DRAW_CHUNK].reshape(4, -1)
    assert np.abs(np.corrcoef(chunks)[np.triu_indices(4, 1)]).max() < 0.02


def test_the_kernel_scales_and_refuses_a_bad_chunk():
    x = np.empty(10, np.float32)
    _normal.fill_normal(x, 1, 0.0, 4, 1)
    assert (x == 0).all()
    with pytest.raises(ValueError, match="chunk"):
        _normal.fill_normal(x, 1, 1.0, 0, 1)
    _normal.fill_normal(np.empty(0), 1, 1.0, 4, 1)  # nothing to draw
