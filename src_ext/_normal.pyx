# src_ext/_normal.pyx: standard normal numbers drawn by threads, for the initial factors of
# large models (skadv.utils._random.normal_matrix).
#
# NumPy's float32 ziggurat took 8-9 ns a number here, longer than a training epoch for the
# factor matrices of a 100 k-user model (its sign test is a coin flip the branch predictor
# always loses). This is the same method (Marsaglia and Tsang, 2000, 256 layers) with a
# branch-free sign, on the kernels' xorshift64* stream, one stream per chunk of the output.
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport exp, log, sqrt
from libc.stdint cimport uint64_t

include "_rng.pxi"

# Right edge of the outermost layer and the common area of the layers (256 layers).
cdef double _R = 3.6541528853610088
cdef double _AREA = 4.92867323399e-3
# 53-bit uniforms: u / 2**53 is uniform in [0, 1).
cdef double _TWO53 = 9007199254740992.0
cdef uint64_t _MASK53 = (<uint64_t>1 << 53) - 1
# Chunk seeds are splitmix64 of seed + chunk * this (Weyl sequence: distinct streams).
cdef uint64_t _GOLDEN = 0x9E3779B97F4A7C15ULL

cdef double _W[256]
cdef double _F[256]
cdef uint64_t _K[256]


cdef void _tables() noexcept:
    # Marsaglia and Tsang's zigset for 256 layers: layer i > 0 spans [0, x_i] with
    # x_i = _W[i] * 2**53; a uniform u below _K[i] = x_{i-1} / x_i * 2**53 is inside the
    # layer below and accepted at once (about 99 % of draws).
    cdef double dn = _R, tn = _R, q = _AREA / exp(-0.5 * _R * _R)
    cdef int i
    _K[0] = <uint64_t>((dn / q) * _TWO53)
    _K[1] = 0
    _W[0] = q / _TWO53
    _W[255] = dn / _TWO53
    _F[0] = 1.0
    _F[255] = exp(-0.5 * dn * dn)
    for i in range(254, 0, -1):
        dn = sqrt(-2.0 * log(_AREA / dn + exp(-0.5 * dn * dn)))
        _K[i + 1] = <uint64_t>((dn / tn) * _TWO53)
        tn = dn
        _F[i] = exp(-0.5 * dn * dn)
        _W[i] = dn / _TWO53


_tables()


cdef inline double _standard_normal(uint64_t* state) noexcept nogil:
    cdef uint64_t r, u
    cdef int layer
    cdef double sign, x, y
    while True:
        r = _next(state)
        # The high bits of xorshift64* are its best: layer from the top 8, then the sign.
        layer = <int>(r >> 56)
        sign = 1.0 - 2.0 * <double>((r >> 55) & 1)
        u = (r >> 2) & _MASK53
        x = <double>u * _W[layer]
        if u < _K[layer]:
            return sign * x
        if layer == 0:  # the tail beyond _R
            while True:
                x = -log(_open_uniform(state)) / _R
                y = -log(_open_uniform(state))
                if y + y >= x * x:
                    return sign * (_R + x)
        if _F[layer] + _open_uniform(state) * (_F[layer - 1] - _F[layer]) < exp(-0.5 * x * x):
            return sign * x


cdef void _fill_chunk(floating* out, Py_ssize_t start, Py_ssize_t stop, uint64_t seed,
                      double scale) noexcept nogil:
    cdef uint64_t state = _splitmix64(seed)
    cdef Py_ssize_t i
    for i in range(start, stop):
        out[i] = <floating>(scale * _standard_normal(&state))


def fill_normal(floating[::1] out, uint64_t seed, double scale, Py_ssize_t chunk,
                int n_threads):
    """Fill ``out`` with draws from N(0, ``scale``²).

    Chunk ``c`` of ``chunk`` elements is drawn from its own stream, seeded by ``seed`` and
    ``c``: the result depends on ``seed`` and ``chunk``, not on ``n_threads``.

    Parameters
    ----------
    out : memoryview of float32 or float64, C-contiguous
        Written in place.
    seed : uint64
    scale : float
    chunk : int
        At least 1.
    n_threads : int
        OpenMP threads, over chunks.
    """
    cdef Py_ssize_t n = out.shape[0], c, n_chunks
    if chunk < 1:
        raise ValueError(f"chunk must be at least 1, got {chunk}.")
    n_chunks = (n + chunk - 1) // chunk
    if n == 0:
        return
    with nogil:
        for c in prange(n_chunks, num_threads=n_threads, schedule="static"):
            _fill_chunk(&out[0], c * chunk, min(n, (c + 1) * chunk), seed + c * _GOLDEN,
                        scale)
