"""Arrays that start on a cache line, for the rows the training kernels read and write.

NumPy aligns its buffers to 16 bytes. A factor row of 64 float32 values (256 bytes) then
starts 16 bytes into a cache line and spans five lines instead of four: a memory-bound
sampling kernel moves a quarter more lines per row than it needs, and two threads that
write neighbouring rows share the line between them.
"""

import numpy as np

__all__ = ["CACHE_LINE_BYTES", "aligned_empty", "aligned_like", "aligned_zeros"]

#: Bytes of a cache line on x86-64 and most ARM cores.
CACHE_LINE_BYTES = 64


def _aligned(shape, dtype, allocate):
    dtype = np.dtype(dtype)
    n_bytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = allocate(n_bytes + CACHE_LINE_BYTES, dtype=np.uint8)
    offset = -raw.ctypes.data % CACHE_LINE_BYTES
    return raw[offset : offset + n_bytes].view(dtype).reshape(shape)


def aligned_empty(shape, dtype):
    """An uninitialized C-contiguous array whose data starts on a cache line.

    Examples
    --------
    >>> a = aligned_empty((3, 5), np.float32)
    >>> a.shape, a.dtype, a.ctypes.data % CACHE_LINE_BYTES, a.flags.c_contiguous
    ((3, 5), dtype('float32'), 0, True)
    """
    return _aligned(shape, dtype, np.empty)


def aligned_zeros(shape, dtype):
    """Zeros, C-contiguous, starting on a cache line (``calloc``: no fill pass).

    Examples
    --------
    >>> a = aligned_zeros((2, 3), np.float64)
    >>> float(a.sum()), a.ctypes.data % CACHE_LINE_BYTES
    (0.0, 0)
    """
    return _aligned(shape, dtype, np.zeros)


def aligned_like(array, dtype=None):
    """``array`` as a C-contiguous array of ``dtype`` starting on a cache line: ``array``
    itself when it already is one, else a copy (the input is never modified).

    Examples
    --------
    >>> a = np.arange(6.0).reshape(2, 3)
    >>> b = aligned_like(a, np.float32)
    >>> b.dtype, b.ctypes.data % CACHE_LINE_BYTES, bool((b == a).all())
    (dtype('float32'), 0, True)
    >>> aligned_like(b) is b
    True
    """
    array = np.asarray(array)
    dtype = array.dtype if dtype is None else np.dtype(dtype)
    if (array.dtype == dtype and array.flags.c_contiguous
            and array.ctypes.data % CACHE_LINE_BYTES == 0):  # fmt: skip
        return array
    out = aligned_empty(array.shape, dtype)
    out[...] = array
    return out
