# src_ext/_rng.pxi: the kernels' random number generator (xorshift64*, seeded through
# splitmix64) and its integers and uniforms, included by _mf_sgd_update.pxi and _normal.pyx.
from libc.stdint cimport uint64_t


cdef inline uint64_t _splitmix64(uint64_t x) noexcept nogil:
    # Scrambles a seed so that nearby seeds give unrelated xorshift streams.
    x = x + 0x9E3779B97F4A7C15ULL
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL
    x = x ^ (x >> 31)
    return x if x != 0 else 0x2545F4914F6CDD1DULL  # xorshift state must be non-zero


cdef inline uint64_t _next(uint64_t* state) noexcept nogil:
    # xorshift64*: 3 shifts and a multiply, good enough for sampling and noise directions.
    cdef uint64_t x = state[0]
    x = x ^ (x >> 12)
    x = x ^ (x << 25)
    x = x ^ (x >> 27)
    state[0] = x
    return x * 0x2545F4914F6CDD1DULL


cdef inline Py_ssize_t _randint(uint64_t* state, Py_ssize_t n) noexcept nogil:
    # Lemire's multiply-shift on the high 32 bits: uniform in [0, n) for n < 2**32 without
    # a division (bias below n / 2**32).
    return <Py_ssize_t>(((_next(state) >> 32) * <uint64_t>n) >> 32)


cdef inline double _uniform_sym(uint64_t* state) noexcept nogil:
    # Uniform in [-1, 1).
    return <double>(_next(state) >> 11) * (2.0 / 9007199254740992.0) - 1.0


cdef inline double _open_uniform(uint64_t* state) noexcept nogil:
    # Uniform in (0, 1]: safe under log.
    return (<double>(_next(state) >> 11) + 1.0) / 9007199254740992.0
