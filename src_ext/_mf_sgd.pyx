# src_ext/_mf_sgd.pyx: SGD epochs for matrix-factorization recommenders (BPR, APR).
# cython: language_level=3
# setup.py compiles with -fno-math-errno: with errno-setting sqrt, gcc guards each square root
# with a branch and leaves the AdaGrad loops scalar; NaN/inf still propagate.
"""Per-sample BPR / APR updates of user and item embeddings (Hogwild SGD or AdaGrad).

One sample is a triple (u, i, j): user ``u``, an item ``i`` it interacted with and an item ``j``
it did not. ``_update`` applies the step on

    BPR(x) + adv_reg * BPR(x_adv) + reg / 2 * (|p_u|^2 + |q_i|^2 + |q_j|^2 + b_i^2 + b_j^2)

with ``x = p_u . (q_i - q_j) + b_i - b_j``, ``BPR(x) = softplus(-x)`` and ``x_adv`` the same score
with the embedding rows moved by a fixed perturbation (APR, He et al. 2018) whose rows each have
L2 norm epsilon. The adversarial perturbation is computed on the batch made of this one triple.
With ``inv_user_norm > 0`` (``epsilon_mode="per-user"``) the radii of a triple are scaled by a
factor of its user's current row norm (``_user_scale``, PamaCF's personalized magnitude).

``sgd_epoch`` samples triples (uniform positive interaction, optionally stratified over blocks
of users; uniform negative item rejected through the CSR rows) in parallel with lock-free
updates; ``sgd_triples`` applies given triples in order, on one thread, so that tests can
compare it with a NumPy reference. Both call the same ``_update``. Nothing here validates
input: ``skadv.mf._cython_backend`` does.

Speed (``benchmarks/bench_mf.py``): on large data an epoch is bound by cache misses, not by
arithmetic, so ``_epoch_chunk`` draws samples several iterations ahead of their update and
prefetches what each step of the draw will read; embedding rows are prefetched for writing
(PREFETCHW), which also keeps Hogwild threads from trading cache lines twice per write. With
sampling blocks a thread samples a few hundred users at a time, so the user side (rows, CSR
rows, pairs) stays in cache however many users there are.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport exp, log, sqrt, sqrtf
from libc.stdint cimport uint8_t, uint64_t, int64_t
from libc.stdlib cimport free, malloc

import numpy as np

# Adversary codes (keep in sync with skadv.mf._cython_backend.ADVERSARIES).
cdef enum:
    ADV_NONE = 0
    ADV_GRADIENT = 1
    ADV_RANDOM = 2

# Added to sqrt(accumulator) in AdaGrad so that a zero gradient on a fresh row is a no-op.
cdef double ADAGRAD_EPS = 1e-8

# AdaGrad gradients of the random adversary are staged through stack buffers of this many
# features (any k works).
cdef enum:
    BLOCK = 128

cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    #define SKADV_PREFETCH(addr) __builtin_prefetch((const void *)(addr))
    #else
    #define SKADV_PREFETCH(addr) ((void)0)
    #endif

    /* Prefetch for writing. x86-64 CPUs with the PRFCHW flag (Intel since Broadwell, AMD)
       fetch the line in the exclusive state with PREFETCHW; a plain read prefetch leaves it
       shared, and with 2 Hogwild threads the write then has to invalidate the other core's
       copy again (with read prefetches two threads were no faster than one). gcc emits
       PREFETCHW only under -mprfchw, hence the asm and the CPUID test. */
    #if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
    #include <cpuid.h>
    static int skadv_prfchw = 0;
    static void skadv_detect_cpu(void) {
        unsigned int a, b, c, d;
        skadv_prfchw = __get_cpuid(0x80000001u, &a, &b, &c, &d) && (c & (1u << 8));
    }
    #define SKADV_PREFETCH_W(addr) do {                                                 \
            if (skadv_prfchw)                                                           \
                __asm__ volatile("prefetchw %0" : : "m"(*(const char *)(addr)));        \
            else                                                                        \
                __builtin_prefetch((const void *)(addr), 1, 3);                         \
        } while (0)
    #elif defined(__GNUC__) || defined(__clang__)
    static void skadv_detect_cpu(void) {}
    #define SKADV_PREFETCH_W(addr) __builtin_prefetch((const void *)(addr), 1, 3)
    #else
    static void skadv_detect_cpu(void) {}
    #define SKADV_PREFETCH_W(addr) ((void)0)
    #endif

    /* One AdaGrad step of the three rows of a triple whose gradients are linear in
       (p, d = qi - qj): see _apply_linear. One fused loop: __restrict (the six rows never
       overlap: a negative item is never the positive one) lets the compiler vectorize it
       without run-time alias checks. On x86-64 glibc systems it is also compiled for AVX2
       and picked at load time (ifunc). Element-wise IEEE operations without FMA give the
       same bits on both paths; the portable build flags stay as they are. */
    #if defined(__x86_64__) && defined(__GLIBC__) && defined(__has_attribute)
    #if __has_attribute(target_clones)
    #define SKADV_AVX2_CLONE __attribute__((target_clones("avx2", "default")))
    #endif
    #endif
    #ifndef SKADV_AVX2_CLONE
    #define SKADV_AVX2_CLONE
    #endif
    #define SKADV_DEFINE_ADAGRAD3(NAME, T, SQRT)                                            \
    SKADV_AVX2_CLONE static void NAME(                                                    \
            T *__restrict p, T *__restrict qi, T *__restrict qj,                          \
            T *__restrict gp, T *__restrict gqi, T *__restrict gqj,                       \
            T a_d, T a_p, T b_p, T b_d, T reg, T lr, T mi, T mj, Py_ssize_t k) {          \
        const T eps = (T)1e-8; /* ADAGRAD_EPS */                                          \
        for (Py_ssize_t f = 0; f < k; f++) {                                              \
            T pf = p[f], qif = qi[f], qjf = qj[f];                                        \
            T df = qif - qjf;                                                             \
            T core = b_p * pf + b_d * df;                                                 \
            T g1 = a_d * df + a_p * pf;                                                   \
            T g2 = mi * (core + reg * qif);                                               \
            T g3 = mj * (reg * qjf - core);                                               \
            T a1 = gp[f] + g1 * g1;                                                       \
            T a2 = gqi[f] + g2 * g2;                                                      \
            T a3 = gqj[f] + g3 * g3;                                                      \
            gp[f] = a1;                                                                   \
            gqi[f] = a2;                                                                  \
            gqj[f] = a3;                                                                  \
            p[f] = pf - lr * g1 / (SQRT(a1) + eps);                                       \
            qi[f] = qif - lr * g2 / (SQRT(a2) + eps);                                     \
            qj[f] = qjf - lr * g3 / (SQRT(a3) + eps);                                     \
        }                                                                                 \
    }
    SKADV_DEFINE_ADAGRAD3(skadv_adagrad3_f, float, sqrtf)
    SKADV_DEFINE_ADAGRAD3(skadv_adagrad3_d, double, sqrt)
    """
    void SKADV_PREFETCH(const void* addr) noexcept nogil
    void SKADV_PREFETCH_W(const void* addr) noexcept nogil
    void skadv_detect_cpu() noexcept nogil
    void skadv_adagrad3_f(float* p, float* qi, float* qj, float* gp, float* gqi, float* gqj,
                          float a_d, float a_p, float b_p, float b_d, float reg, float lr,
                          float mi, float mj, Py_ssize_t k) noexcept nogil
    void skadv_adagrad3_d(double* p, double* qi, double* qj, double* gp, double* gqi,
                          double* gqj, double a_d, double a_p, double b_p, double b_d,
                          double reg, double lr, double mi, double mj,
                          Py_ssize_t k) noexcept nogil

skadv_detect_cpu()  # once, at import: sets the flag SKADV_PREFETCH_W reads


cdef struct Params:
    double lr
    double reg
    double adv_reg
    double eps_user     # norm of the perturbation of a user row
    double eps_item     # norm of the perturbation of an item row
    # epsilon_mode="per-user": 1 / the mean user row norm, and the radii of a triple are
    # scaled by _user_scale of its user's row; 0: the radii are used as given.
    double inv_user_norm
    int adversary       # ADV_NONE, ADV_GRADIENT or ADV_RANDOM
    bint adagrad
    bint use_bias
    Py_ssize_t k
    Py_ssize_t n_items
    Py_ssize_t item_start   # items with a smaller index are frozen (fold-in)


# ----------------------------------------------------------------------------- random numbers
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


# ----------------------------------------------------------------------------- scalar helpers
cdef struct LossSum:
    # Sum of softplus(-x) = max(-x, 0) + log(1 + exp(-|x|)) over samples, without a log per
    # sample: the factors 1 + exp(-|x|), each in (1, 2], are multiplied and their product's log
    # is taken every FLUSH samples (2**FLUSH cannot overflow). Clean and adversarial terms have
    # separate products and sums (the adversarial term is reported unweighted by adv_reg).
    double linear_clean  # max(-x, 0) terms
    double linear_adv
    double log_clean
    double log_adv
    double prod_clean
    double prod_adv
    int n


cdef enum:
    FLUSH = 256


cdef inline void _loss_init(LossSum* acc) noexcept nogil:
    acc.linear_clean = 0.0
    acc.linear_adv = 0.0
    acc.log_clean = 0.0
    acc.log_adv = 0.0
    acc.prod_clean = 1.0
    acc.prod_adv = 1.0
    acc.n = 0


cdef inline void _loss_flush(LossSum* acc) noexcept nogil:
    acc.log_clean = acc.log_clean + log(acc.prod_clean)
    acc.log_adv = acc.log_adv + log(acc.prod_adv)
    acc.prod_clean = 1.0
    acc.prod_adv = 1.0
    acc.n = 0


cdef inline void _loss_totals(LossSum* acc, double* clean, double* adv) noexcept nogil:
    """Sums of the clean and of the (unweighted) adversarial BPR losses."""
    _loss_flush(acc)
    clean[0] = acc.linear_clean + acc.log_clean
    adv[0] = acc.linear_adv + acc.log_adv


cdef inline double _bpr(double x, double* linear, double* prod) noexcept nogil:
    """Add the BPR loss ``softplus(-x)`` to a LossSum's terms; return
    ``sigmoid(-x)``, minus its derivative. One exp of ``-|x|``; nothing overflows."""
    cdef double e = exp(-x if x > 0 else x)
    prod[0] = prod[0] * (1.0 + e)
    if x > 0:
        return e / (1.0 + e)
    linear[0] = linear[0] - x
    return 1.0 / (1.0 + e)


cdef inline floating _sqrt(floating x) noexcept nogil:
    # sqrtf for float32 keeps the AdaGrad loop in single precision (vectorizable).
    if floating is float:
        return sqrtf(x)
    else:
        return sqrt(x)


cdef inline bint _contains(const int* indices, int64_t start, int64_t end, int j) noexcept nogil:
    """Binary search for ``j`` in the sorted ``indices[start:end]`` (one CSR row).

    Branch-free halving (the comparison becomes a conditional move): the probes of a random
    item are unpredictable, and mispredicted branches cost more than the loads.
    """
    cdef int64_t half, n = end - start
    if n <= 0:
        return False
    while n > 1:
        half = n >> 1
        start = start + half if indices[start + half] <= j else start
        n = n - half
    return indices[start] == j


# ----------------------------------------------------------------------------- dot products
# Eight partial sums over contiguous rows: gcc -O3 packs them into SIMD registers (the
# reduction order is fixed by the code, so no -ffast-math is needed), about 2x faster than one
# scalar accumulator. The summation order therefore differs from NumPy's: compare with rtol.
cdef inline double _dot_diff(const floating* p, const floating* qi, const floating* qj,
                             Py_ssize_t k) noexcept nogil:
    """p . (qi - qj)."""
    cdef floating a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0
    cdef Py_ssize_t f, k8 = k - k % 8
    for f in range(0, k8, 8):
        a0 = a0 + p[f] * (qi[f] - qj[f])
        a1 = a1 + p[f + 1] * (qi[f + 1] - qj[f + 1])
        a2 = a2 + p[f + 2] * (qi[f + 2] - qj[f + 2])
        a3 = a3 + p[f + 3] * (qi[f + 3] - qj[f + 3])
        a4 = a4 + p[f + 4] * (qi[f + 4] - qj[f + 4])
        a5 = a5 + p[f + 5] * (qi[f + 5] - qj[f + 5])
        a6 = a6 + p[f + 6] * (qi[f + 6] - qj[f + 6])
        a7 = a7 + p[f + 7] * (qi[f + 7] - qj[f + 7])
    for f in range(k8, k):
        a0 = a0 + p[f] * (qi[f] - qj[f])
    return <double>(((a0 + a4) + (a1 + a5)) + ((a2 + a6) + (a3 + a7)))


cdef inline double _sqnorm(const floating* p, Py_ssize_t k) noexcept nogil:
    """p . p (kept apart from _dot_diff: gcc vectorizes one 8-way sum per loop well, but
    turns a loop with several sums into lane shuffles, 3x slower than three loops)."""
    cdef floating a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0
    cdef Py_ssize_t f, k8 = k - k % 8
    for f in range(0, k8, 8):
        a0 = a0 + p[f] * p[f]
        a1 = a1 + p[f + 1] * p[f + 1]
        a2 = a2 + p[f + 2] * p[f + 2]
        a3 = a3 + p[f + 3] * p[f + 3]
        a4 = a4 + p[f + 4] * p[f + 4]
        a5 = a5 + p[f + 5] * p[f + 5]
        a6 = a6 + p[f + 6] * p[f + 6]
        a7 = a7 + p[f + 7] * p[f + 7]
    for f in range(k8, k):
        a0 = a0 + p[f] * p[f]
    return <double>(((a0 + a4) + (a1 + a5)) + ((a2 + a6) + (a3 + a7)))


cdef inline double _sqnorm_diff(const floating* qi, const floating* qj,
                                Py_ssize_t k) noexcept nogil:
    """|qi - qj|^2."""
    cdef floating a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0
    cdef floating d0, d1, d2, d3, d4, d5, d6, d7
    cdef Py_ssize_t f, k8 = k - k % 8
    for f in range(0, k8, 8):
        d0 = qi[f] - qj[f]
        d1 = qi[f + 1] - qj[f + 1]
        d2 = qi[f + 2] - qj[f + 2]
        d3 = qi[f + 3] - qj[f + 3]
        d4 = qi[f + 4] - qj[f + 4]
        d5 = qi[f + 5] - qj[f + 5]
        d6 = qi[f + 6] - qj[f + 6]
        d7 = qi[f + 7] - qj[f + 7]
        a0 = a0 + d0 * d0
        a1 = a1 + d1 * d1
        a2 = a2 + d2 * d2
        a3 = a3 + d3 * d3
        a4 = a4 + d4 * d4
        a5 = a5 + d5 * d5
        a6 = a6 + d6 * d6
        a7 = a7 + d7 * d7
    for f in range(k8, k):
        d0 = qi[f] - qj[f]
        a0 = a0 + d0 * d0
    return <double>(((a0 + a4) + (a1 + a5)) + ((a2 + a6) + (a3 + a7)))


cdef inline double _dot_delta(const floating* p, const floating* qi, const floating* qj,
                              const floating* du, const floating* di, const floating* dj,
                              Py_ssize_t k) noexcept nogil:
    """(p + du) . ((qi + di) - (qj + dj)): the score margin under an explicit perturbation."""
    cdef floating a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0
    cdef Py_ssize_t f, k8 = k - k % 8
    for f in range(0, k8, 8):
        a0 = a0 + (p[f] + du[f]) * ((qi[f] + di[f]) - (qj[f] + dj[f]))
        a1 = a1 + (p[f + 1] + du[f + 1]) * ((qi[f + 1] + di[f + 1]) - (qj[f + 1] + dj[f + 1]))
        a2 = a2 + (p[f + 2] + du[f + 2]) * ((qi[f + 2] + di[f + 2]) - (qj[f + 2] + dj[f + 2]))
        a3 = a3 + (p[f + 3] + du[f + 3]) * ((qi[f + 3] + di[f + 3]) - (qj[f + 3] + dj[f + 3]))
        a4 = a4 + (p[f + 4] + du[f + 4]) * ((qi[f + 4] + di[f + 4]) - (qj[f + 4] + dj[f + 4]))
        a5 = a5 + (p[f + 5] + du[f + 5]) * ((qi[f + 5] + di[f + 5]) - (qj[f + 5] + dj[f + 5]))
        a6 = a6 + (p[f + 6] + du[f + 6]) * ((qi[f + 6] + di[f + 6]) - (qj[f + 6] + dj[f + 6]))
        a7 = a7 + (p[f + 7] + du[f + 7]) * ((qi[f + 7] + di[f + 7]) - (qj[f + 7] + dj[f + 7]))
    for f in range(k8, k):
        a0 = a0 + (p[f] + du[f]) * ((qi[f] + di[f]) - (qj[f] + dj[f]))
    return <double>(((a0 + a4) + (a1 + a5)) + ((a2 + a6) + (a3 + a7)))


# ----------------------------------------------------------------------------- perturbations
cdef inline void _gradient_coefficients(double pp, double dd, double eps_user, double eps_item,
                                        double* c_p, double* c_d) noexcept nogil:
    """Coefficients of the APR perturbation of one triple, in closed form.

    The clean BPR gradients are ``-s d`` (user row), ``-s p`` (item i) and ``+s p`` (item j),
    with ``s = sigmoid(-x) > 0`` and ``d = qi - qj``; normalised per row they give
    ``delta_u = -c_d d``, ``delta_i = -c_p p`` and ``delta_j = +c_p p`` with
    ``c_d = eps_user / |d|`` and ``c_p = eps_item / |p|``. A zero row gradient (|p| = 0 or
    |d| = 0, or a squared norm that underflows) has no direction: its perturbation is zero.
    """
    c_p[0] = eps_item / sqrt(pp) if pp > 0 else 0.0
    c_d[0] = eps_user / sqrt(dd) if dd > 0 else 0.0


cdef inline double _user_scale(double pp, double inv_user_norm) noexcept nogil:
    """PamaCF-style personalized magnitude: ``2 sigmoid(|p| / mean|p| - 1)`` from ``pp = |p|^2``.

    1 for a user row of average norm, bounded in (2 sigmoid(-1), 2) = (0.54, 2) and increasing
    with the row's norm. Computed from the current row, once per triple.
    """
    return 2.0 / (1.0 + exp(1.0 - sqrt(pp) * inv_user_norm))


cdef inline void _random_direction(floating* out, Py_ssize_t k, double norm,
                                   uint64_t* state) noexcept nogil:
    """A uniformly random direction (normalised Gaussian vector) of L2 norm ``norm``.

    Gaussians come in pairs from Marsaglia's polar method: one log and one sqrt per pair, no
    trigonometric call (half the cost of Box-Muller).
    """
    cdef Py_ssize_t f = 0
    cdef double a, b, r, z, sq = 0.0
    while f < k:
        a = _uniform_sym(state)
        b = _uniform_sym(state)
        r = a * a + b * b
        if r >= 1.0 or r == 0.0:
            continue
        z = sqrt(-2.0 * log(r) / r)
        out[f] = <floating>(a * z)
        sq = sq + <double>out[f] * out[f]
        f = f + 1
        if f < k:
            out[f] = <floating>(b * z)
            sq = sq + <double>out[f] * out[f]
            f = f + 1
    z = norm / sqrt(sq) if sq > 0 else 0.0
    for f in range(k):
        out[f] = <floating>(out[f] * z)


# ----------------------------------------------------------------------------- the update
cdef inline void _adagrad_row(floating* w, floating* acc, const floating* g, Py_ssize_t n,
                              floating lr) noexcept nogil:
    """AdaGrad on one row: acc += g * g; w -= lr * g / (sqrt(acc) + eps)."""
    cdef Py_ssize_t f
    cdef floating eps = <floating>ADAGRAD_EPS
    for f in range(n):
        acc[f] = acc[f] + g[f] * g[f]
        w[f] = w[f] - lr * g[f] / (_sqrt(acc[f]) + eps)


cdef inline void _apply_linear(floating* p, floating* qi, floating* qj,
                               floating* gp, floating* gqi, floating* gqj,
                               floating a_d, floating a_p, floating b_p, floating b_d,
                               floating reg, floating lr, floating mi, floating mj,
                               Py_ssize_t k, bint adagrad) noexcept nogil:
    """Simultaneous update of rows p, qi, qj whose gradients are linear in (p, d = qi - qj).

    grad p = a_d d + a_p p;  grad qi = b_p p + b_d d + reg qi;
    grad qj = -(b_p p + b_d d) + reg qj.
    ``mi``/``mj`` are 1 for trainable items and 0 for frozen ones (fold-in).
    """
    cdef Py_ssize_t f
    cdef floating pf, qif, qjf, df, core, c_pp, c_pd, c_ii, c_jj, lr_i, lr_j, c_ip, c_jp
    if adagrad:
        if floating is float:
            skadv_adagrad3_f(p, qi, qj, gp, gqi, gqj, a_d, a_p, b_p, b_d, reg, lr, mi, mj, k)
        else:
            skadv_adagrad3_d(p, qi, qj, gp, gqi, gqj, a_d, a_p, b_p, b_d, reg, lr, mi, mj, k)
    else:
        # The steps expanded into per-row coefficients: 13 vector operations per feature
        # instead of 19, 10 for BPR with L2 and 7 for plain BPR without L2, because the loop
        # is bound by arithmetic throughput, not by memory.
        c_pp = 1 - lr * a_p
        c_pd = -lr * a_d
        c_ii = 1 - lr * mi * reg
        c_jj = 1 - lr * mj * reg
        lr_i = lr * mi
        lr_j = lr * mj
        if b_d == 0 and a_p == 0 and reg == 0:
            # grad p = a_d d, grad qi = b_p p = -grad qj
            c_ip = lr_i * b_p
            c_jp = lr_j * b_p
            for f in range(k):
                pf = p[f]
                qif = qi[f]
                qjf = qj[f]
                p[f] = pf + c_pd * (qif - qjf)
                qi[f] = qif - c_ip * pf
                qj[f] = qjf + c_jp * pf
        elif b_d == 0:
            # grad p = a_d d + a_p p, grad qi = b_p p + reg qi, grad qj = -b_p p + reg qj
            c_ip = lr_i * b_p
            c_jp = lr_j * b_p
            for f in range(k):
                pf = p[f]
                qif = qi[f]
                qjf = qj[f]
                p[f] = c_pp * pf + c_pd * (qif - qjf)
                qi[f] = c_ii * qif - c_ip * pf
                qj[f] = c_jj * qjf + c_jp * pf
        else:
            for f in range(k):
                pf = p[f]
                qif = qi[f]
                qjf = qj[f]
                df = qif - qjf
                core = b_p * pf + b_d * df
                p[f] = c_pp * pf + c_pd * df
                qi[f] = c_ii * qif - lr_i * core
                qj[f] = c_jj * qjf + lr_j * core


cdef inline void _apply_delta(floating* p, floating* qi, floating* qj,
                              floating* gp, floating* gqi, floating* gqj,
                              const floating* du, const floating* di, const floating* dj,
                              floating s, floating ls_adv, floating reg, floating lr,
                              floating mi, floating mj, Py_ssize_t k, bint adagrad) noexcept nogil:
    """Update with an explicit perturbation (any direction), ``ls_adv = adv_reg * s_adv``.

    grad p = -s d - ls_adv (d + di - dj) + reg p;  grad qi = -s p - ls_adv (p + du) + reg qi;
    grad qj = s p + ls_adv (p + du) + reg qj.
    """
    cdef Py_ssize_t f, start, n, h
    cdef floating pf, qif, qjf, df, core
    cdef floating g_p[BLOCK]
    cdef floating g_i[BLOCK]
    cdef floating g_j[BLOCK]
    start = 0
    while start < k:
        n = min(<Py_ssize_t>BLOCK, k - start)
        for f in range(n):
            h = start + f
            pf = p[h]
            qif = qi[h]
            qjf = qj[h]
            df = qif - qjf
            core = -s * pf - ls_adv * (pf + du[h])
            g_p[f] = -s * df - ls_adv * (df + di[h] - dj[h]) + reg * pf
            g_i[f] = mi * (core + reg * qif)
            g_j[f] = mj * (reg * qjf - core)
        if adagrad:
            _adagrad_row(p + start, gp + start, g_p, n, lr)
            _adagrad_row(qi + start, gqi + start, g_i, n, lr)
            _adagrad_row(qj + start, gqj + start, g_j, n, lr)
        else:
            for f in range(n):
                p[start + f] = p[start + f] - lr * g_p[f]
                qi[start + f] = qi[start + f] - lr * g_i[f]
                qj[start + f] = qj[start + f] - lr * g_j[f]
        start = start + n


cdef inline void _update_bias(floating* b, floating* acc, double g, double lr,
                              bint adagrad) noexcept nogil:
    if adagrad:
        acc[0] = acc[0] + <floating>(g * g)
        b[0] = b[0] - <floating>(lr * g / (sqrt(<double>acc[0]) + ADAGRAD_EPS))
    else:
        b[0] = b[0] - <floating>(lr * g)


cdef inline void _update(floating* p, floating* qi, floating* qj, floating* bi, floating* bj,
                         floating* gp, floating* gqi, floating* gqj,
                         floating* gbi, floating* gbj, bint train_i, bint train_j,
                         const Params* prm, floating* work, uint64_t* state,
                         LossSum* acc) noexcept nogil:
    """One SGD/AdaGrad step on triple (p, qi, qj); adds its loss (no L2 term) to ``acc``.

    ``work`` holds 3 * k scratch values (the random perturbation); ``state`` is the thread's
    RNG. Gradients are taken at the current values of all three rows (simultaneous update).
    """
    cdef Py_ssize_t k = prm.k
    cdef double pd, pp = 0.0, dd = 0.0, x, s, x_adv, s_adv, c_p, c_d, a, lam
    cdef double eps_user = prm.eps_user, eps_item = prm.eps_item, scale
    cdef double bias = (bi[0] - bj[0]) if prm.use_bias else 0.0
    cdef floating mi = 1 if train_i else 0
    cdef floating mj = 1 if train_j else 0
    lam = prm.adv_reg

    pd = _dot_diff(p, qi, qj, k)
    if prm.adversary == ADV_GRADIENT:
        pp = _sqnorm(p, k)
        dd = _sqnorm_diff(qi, qj, k)
    x = pd + bias
    s = _bpr(x, &acc.linear_clean, &acc.prod_clean)
    if prm.inv_user_norm > 0 and prm.adversary != ADV_NONE:
        # A branch rather than a factor of 1: the other modes keep their exact arithmetic.
        if prm.adversary != ADV_GRADIENT:
            pp = _sqnorm(p, k)
        scale = _user_scale(pp, prm.inv_user_norm)
        eps_user = eps_user * scale
        eps_item = eps_item * scale

    if prm.adversary == ADV_NONE:
        _apply_linear(p, qi, qj, gp, gqi, gqj, <floating>(-s), <floating>prm.reg,
                      <floating>(-s), 0, <floating>prm.reg, <floating>prm.lr, mi, mj, k,
                      prm.adagrad)
        a = s
    elif prm.adversary == ADV_GRADIENT:
        # (p - c_d d) . (d - 2 c_p p) expanded: the perturbed margin from the three dots.
        _gradient_coefficients(pp, dd, eps_user, eps_item, &c_p, &c_d)
        x_adv = pd - 2.0 * c_p * pp - c_d * dd + 2.0 * c_p * c_d * pd + bias
        s_adv = _bpr(x_adv, &acc.linear_adv, &acc.prod_adv)
        a = s + lam * s_adv
        # grad p  = -s d - lam s_adv (d - 2 c_p p) + reg p
        # grad qi = -s p - lam s_adv (p - c_d d) + reg qi
        _apply_linear(p, qi, qj, gp, gqi, gqj, <floating>(-a),
                      <floating>(2.0 * lam * s_adv * c_p + prm.reg),
                      <floating>(-a), <floating>(lam * s_adv * c_d), <floating>prm.reg,
                      <floating>prm.lr, mi, mj, k, prm.adagrad)
    else:
        _random_direction(work, k, eps_user, state)
        _random_direction(work + k, k, eps_item, state)
        _random_direction(work + 2 * k, k, eps_item, state)
        x_adv = _dot_delta(p, qi, qj, work, work + k, work + 2 * k, k) + bias
        s_adv = _bpr(x_adv, &acc.linear_adv, &acc.prod_adv)
        a = s + lam * s_adv
        _apply_delta(p, qi, qj, gp, gqi, gqj, work, work + k, work + 2 * k, <floating>s,
                     <floating>(lam * s_adv), <floating>prm.reg, <floating>prm.lr, mi, mj, k,
                     prm.adagrad)

    if prm.use_bias:
        # The biases are not perturbed; d x / d b_i = 1 = -d x / d b_j.
        if train_i:
            _update_bias(bi, gbi, -a + prm.reg * bi[0], prm.lr, prm.adagrad)
        if train_j:
            _update_bias(bj, gbj, a + prm.reg * bj[0], prm.lr, prm.adagrad)
    acc.n = acc.n + 1
    if acc.n == FLUSH:
        _loss_flush(acc)


# ----------------------------------------------------------------------------- epochs
# Sampling is software-pipelined (see _epoch_chunk): a sample is drawn in stages LAG iterations
# apart, each stage prefetching what the next one reads, so that the dependent cache misses of
# one draw (pair -> CSR row bounds -> binary search -> embedding rows) do not stall the update
# on data sets larger than the caches.
cdef enum:
    LAG = 2    # iterations between two stages (1 to 4 measured alike; 2 is marginally best)
    RING = 8   # slots for samples in flight: a power of two >= 3 * LAG + 2
    # Rejected negatives drawn in an item stratum before drawing among all items instead.
    STRATUM_TRIES = 32


cdef struct Pending:
    # One sample on its way through the stages of _epoch_chunk.
    Py_ssize_t pair     # index of the positive pair among the thread's pairs
    int64_t start       # the user's CSR row: indices[start:end]
    int64_t end
    int u
    int i
    int j


cdef inline void _prefetch_lines(const void* first, Py_ssize_t nbytes) noexcept nogil:
    # Every cache line of [first, first + nbytes): NumPy aligns arrays to 16 bytes, not 64,
    # so a 256-byte row usually spans 5 lines.
    cdef const char* line = <const char*>(<size_t>first & ~(<size_t>63))
    cdef const char* end = <const char*>first + nbytes
    while line < end:
        SKADV_PREFETCH(line)
        line = line + 64


cdef inline void _prefetch_lines_w(const void* first, Py_ssize_t nbytes) noexcept nogil:
    cdef const char* line = <const char*>(<size_t>first & ~(<size_t>63))
    cdef const char* end = <const char*>first + nbytes
    while line < end:
        SKADV_PREFETCH_W(line)
        line = line + 64


cdef inline void _prefetch_search(const int* indices, int64_t start,
                                  int64_t end) noexcept nogil:
    # The lines the binary search over indices[start:end] reads: the whole row when short
    # (typical users), else its first three probes.
    cdef int64_t n = end - start
    if n <= 128:
        _prefetch_lines(indices + start, n * sizeof(int))
    else:
        SKADV_PREFETCH(indices + start + n // 2)
        SKADV_PREFETCH(indices + start + n // 4)
        SKADV_PREFETCH(indices + start + n - n // 4)


cdef inline void _prefetch_rows_w(floating* P, floating* Q, floating* b, floating* GP,
                                  floating* GQ, floating* Gb, const Pending* x,
                                  const Params* prm) noexcept nogil:
    # Everything _update writes for sample x, fetched in the exclusive state.
    cdef Py_ssize_t k = prm.k, row_bytes = prm.k * sizeof(floating)
    _prefetch_lines_w(P + x.u * k, row_bytes)
    _prefetch_lines_w(Q + x.i * k, row_bytes)
    _prefetch_lines_w(Q + x.j * k, row_bytes)
    if prm.adagrad:
        _prefetch_lines_w(GP + x.u * k, row_bytes)
        _prefetch_lines_w(GQ + x.i * k, row_bytes)
        _prefetch_lines_w(GQ + x.j * k, row_bytes)
    if prm.use_bias:
        SKADV_PREFETCH_W(b + x.i)
        SKADV_PREFETCH_W(b + x.j)
        if prm.adagrad:
            SKADV_PREFETCH_W(Gb + x.i)
            SKADV_PREFETCH_W(Gb + x.j)


cdef struct ItemStratum:
    # The item stratum of one thread in one phase of a threaded epoch (see sgd_epoch). With
    # ``item_stratum`` NULL there is none: every pair, negatives uniform over all items.
    const uint8_t* item_stratum   # stratum of each item (one byte: the table stays in L1)
    int stratum               # the thread trains on pairs whose positive item is in it...
    const int* items          # ...and draws negatives among its items, items[:n_items]
    Py_ssize_t n_items
    int* scratch              # room for the positions of one block's pairs in the stratum


cdef inline int _draw_negative(uint64_t* state, const ItemStratum* st,
                               Py_ssize_t n_items) noexcept nogil:
    # A candidate negative: uniform over the stratum's items, or over all items.
    if st.item_stratum == NULL:
        return <int>_randint(state, n_items)
    return st.items[_randint(state, st.n_items)]


cdef void _epoch_chunk(floating* P, floating* Q, floating* b,
                         floating* GP, floating* GQ, floating* Gb,
                         const int64_t* indptr, const int* indices,
                         const int* sample_users, const int* sample_items, Py_ssize_t n_pairs,
                         Py_ssize_t n_draws, Py_ssize_t block_pairs, uint64_t seed,
                         floating* work, const Params* prm,
                         const ItemStratum* st, double* sums) noexcept nogil:
    """``n_draws`` sampled updates on one thread, with this thread's own RNG stream; writes
    the summed clean and adversarial losses to ``sums[0]`` and ``sums[1]``.

    Iteration ``s`` advances five samples in flight by one stage each:

    1. sample ``s``: draw a positive pair; prefetch it;
    2. sample ``s - LAG``: read its user and item, draw a candidate negative item; prefetch
       the user's CSR row bounds;
    3. sample ``s - 2 LAG``: read the bounds; prefetch the row for the binary search;
    4. sample ``s - 3 LAG``: redraw the negative while it is one of the user's items
       (rejection sampling); prefetch the rows the update writes, for writing;
    5. sample ``s - 3 LAG - 1``: the update.

    Each sample is one pair and one uniform negative. Pairs come from their own RNG stream,
    negatives and the random adversary's directions from another: the samples drawn do not
    depend on how the stages interleave (``LAG``). Samples of users who interacted with
    every item are skipped.

    Stratified sampling: with ``0 < block_pairs < n_pairs`` the pairs (grouped by user) are
    cut into ``ceil(n_pairs / block_pairs)`` blocks of consecutive pairs, visited in a random
    order (a shuffle on the pair stream); a block gets its share of the ``n_draws`` draws
    (proportional to its pairs, rounded at cumulative counts), each uniform within the block.
    Every pair is still drawn ``n_draws / n_pairs`` times per epoch in expectation; only the
    order changes: while a block is sampled its user rows, CSR rows and pairs stay in cache.
    With one block the pair is uniform among
    all ``n_pairs`` and nothing is drawn for the shuffle: the samples of plain uniform
    sampling.

    Item stratum (``st.item_stratum`` not NULL): only the pairs whose positive item is in
    ``st.stratum`` are drawn, at the same rate ``n_draws / n_pairs`` per pair (each block's
    share counted when the block is entered, rounded at cumulative counts in visiting
    order), and negatives are drawn among the stratum's items. A user with no negative left
    in the stratum would make that rejection loop endless: after ``STRATUM_TRIES``
    rejections the negative is drawn among all items instead.
    """
    cdef uint64_t pair_state = _splitmix64(seed)
    cdef uint64_t state = _splitmix64(pair_state)
    cdef Py_ssize_t s, t, k = prm.k, n_items = prm.n_items
    cdef Pending ring[RING]
    cdef Pending* x
    cdef LossSum acc
    cdef bint stratified = st.item_stratum != NULL
    cdef const uint8_t* item_stratum = st.item_stratum
    cdef int* scratch = st.scratch
    cdef uint8_t stratum = <uint8_t>st.stratum
    cdef const int* block_items
    cdef int tries
    # Blocks: block_pairs <= 0 or >= n_pairs is one block, plain uniform sampling (the
    # shuffle below then draws nothing from the pair stream).
    cdef Py_ssize_t n_blocks = 1, blk, r, visited = 0
    cdef Py_ssize_t block_start = 0, block_len = n_pairs, block_left = 0
    cdef Py_ssize_t block_count = 0, counted = 0, n_drawn = 0
    cdef bint drawing = True
    cdef Py_ssize_t* order = NULL
    cdef double draws_per_pair = <double>n_draws / n_pairs if n_pairs > 0 else 0.0
    if 0 < block_pairs < n_pairs:
        n_blocks = (n_pairs + block_pairs - 1) // block_pairs
        order = <Py_ssize_t*>malloc(n_blocks * sizeof(Py_ssize_t))
        # Without the few bytes of the order (never seen) blocks are visited in sequence:
        # the same samples, only not shuffled.
        for blk in range(n_blocks):
            if order != NULL:
                order[blk] = blk
        for blk in range(n_blocks - 1, 0, -1):  # Fisher-Yates, on the pair stream
            r = _randint(&pair_state, blk + 1)
            if order != NULL:
                order[blk], order[r] = order[r], order[blk]
    _loss_init(&acc)
    # Sample s is drawn in iteration s until the blocks run out (n_drawn samples); the other
    # stages then drain the pipeline.
    s = 0
    while drawing or s < n_drawn + 3 * LAG + 1:
        if drawing:
            while block_left == 0 and visited < n_blocks:  # the next block with draws
                blk = order[visited] if order != NULL else visited
                visited = visited + 1
                block_start = blk * n_pairs // n_blocks
                block_len = (blk + 1) * n_pairs // n_blocks - block_start
                if stratified:
                    block_items = sample_items + block_start
                    # Branch-free compaction of the block's pairs in the stratum: a branch on
                    # the stratum of each pair's item (random) is mispredicted half the time.
                    # Through locals: the extension is built without strict aliasing, so
                    # the fields of *st would be reloaded after every store to scratch.
                    block_count = 0
                    for r in range(block_len):
                        scratch[block_count] = <int>r
                        block_count = block_count + (
                            item_stratum[block_items[r]] == stratum)
                    block_left = (<Py_ssize_t>(draws_per_pair * (counted + block_count) + 0.5)
                                  - <Py_ssize_t>(draws_per_pair * counted + 0.5))
                    counted = counted + block_count
                    continue
                # The block's share of the draws, rounded at cumulative pair counts so that
                # the shares add up to n_draws (the last block takes what rounding left).
                if blk == n_blocks - 1:
                    block_left = n_draws
                else:
                    block_left = <Py_ssize_t>(draws_per_pair * (block_start + block_len) + 0.5)
                block_left = block_left - <Py_ssize_t>(draws_per_pair * block_start + 0.5)
            if block_left == 0:
                drawing = False
            else:
                block_left = block_left - 1
                x = &ring[s & (RING - 1)]
                if stratified:
                    x.pair = block_start + scratch[_randint(&pair_state, block_count)]
                else:
                    x.pair = block_start + _randint(&pair_state, block_len)
                SKADV_PREFETCH(sample_users + x.pair)
                SKADV_PREFETCH(sample_items + x.pair)
                n_drawn = n_drawn + 1
        t = s - LAG
        if 0 <= t < n_drawn:
            x = &ring[t & (RING - 1)]
            x.u = sample_users[x.pair]
            x.i = sample_items[x.pair]
            x.j = _draw_negative(&state, st, n_items)
            SKADV_PREFETCH(indptr + x.u)
            SKADV_PREFETCH(indptr + x.u + 1)  # on the next line when x.u ends its line
        t = s - 2 * LAG
        if 0 <= t < n_drawn:
            x = &ring[t & (RING - 1)]
            x.start = indptr[x.u]
            x.end = indptr[x.u + 1]
            _prefetch_search(indices, x.start, x.end)
        t = s - 3 * LAG
        if 0 <= t < n_drawn:
            x = &ring[t & (RING - 1)]
            if x.end - x.start < n_items:  # else no negative exists: skipped below
                tries = 0
                while _contains(indices, x.start, x.end, x.j):
                    tries = tries + 1
                    if tries < STRATUM_TRIES:
                        x.j = _draw_negative(&state, st, n_items)
                    else:
                        x.j = <int>_randint(&state, n_items)
                _prefetch_rows_w(P, Q, b, GP, GQ, Gb, x, prm)
        t = s - 3 * LAG - 1
        s = s + 1
        if 0 <= t < n_drawn:
            x = &ring[t & (RING - 1)]
            if x.end - x.start >= n_items:
                continue  # the wrapper removes users without negatives beforehand
            _update(P + x.u * k, Q + x.i * k, Q + x.j * k, b + x.i, b + x.j,
                    GP + x.u * k, GQ + x.i * k, GQ + x.j * k, Gb + x.i, Gb + x.j,
                    x.i >= prm.item_start, x.j >= prm.item_start, prm, work, &state, &acc)
    free(order)
    _loss_totals(&acc, &sums[0], &sums[1])


cdef Params _make_params(double lr, double reg, double adv_reg, double eps_user,
                         double eps_item, int adversary, bint adagrad, bint use_bias,
                         Py_ssize_t k, Py_ssize_t n_items, Py_ssize_t item_start,
                         double inv_user_norm):
    cdef Params prm
    prm.lr = lr
    prm.reg = reg
    prm.adv_reg = adv_reg
    prm.eps_user = eps_user
    prm.eps_item = eps_item
    prm.adversary = adversary
    prm.adagrad = adagrad
    prm.use_bias = use_bias
    prm.k = k
    prm.n_items = n_items
    prm.item_start = item_start
    prm.inv_user_norm = inv_user_norm
    return prm


def sgd_epoch(floating[:, ::1] P, floating[:, ::1] Q, floating[::1] bias,
              floating[:, ::1] acc_P, floating[:, ::1] acc_Q, floating[::1] acc_bias,
              const int64_t[::1] indptr, const int[::1] indices,
              const int[::1] sample_users, const int[::1] sample_items,
              const int64_t[::1] offsets, const uint64_t[::1] seeds, floating[:, ::1] work,
              Py_ssize_t n_draws, double lr, double reg, double adv_reg, double eps_user,
              double eps_item, int adversary, bint adagrad, bint use_bias,
              Py_ssize_t item_start, Py_ssize_t block_pairs=0,
              const uint8_t[::1] item_stratum=None, const int[::1] stratum_items=None,
              const int64_t[::1] stratum_offsets=None, Py_ssize_t phase=0,
              int[:, ::1] scratch=None, double inv_user_norm=0.0):
    """One epoch of ``n_draws`` sampled BPR/APR updates, Hogwild-parallel.

    Returns ``(clean, adversarial)``: the sums over the draws of the clean BPR loss and of
    the BPR loss under the perturbation (0 without adversary; not weighted by ``adv_reg``).

    Thread ``t`` of ``len(seeds)`` threads (static schedule) owns the positive pairs
    ``offsets[t]:offsets[t + 1]`` of ``(sample_users, sample_items)`` and makes its share of the
    ``n_draws`` draws (proportional to its pairs) from its own RNG stream seeded by
    ``seeds[t]``: a pair uniformly among its own, a negative item uniformly among those absent
    from the user's (sorted) CSR row ``indices[indptr[u]:indptr[u + 1]]``. When the pairs are
    grouped by user, threads never share a user row; item rows are shared and updated
    without locks. ``block_pairs > 0`` stratifies each thread's draws over blocks of about
    that many consecutive pairs, visited in random order (see ``_epoch_chunk``): the same
    expected draws per pair, in a cache-friendly order; 0 samples uniformly. ``acc_*`` are
    AdaGrad accumulators (any (1, 1)/(1,) arrays with plain SGD); ``work`` has one row of at
    least 3 * k values per thread (random adversary only); items below ``item_start`` are
    kept fixed. Samples of users who interacted with every item are skipped.

    Item strata (``item_stratum`` given): one *phase* of an epoch. The items are split into
    ``S = len(stratum_offsets) - 1`` strata, ``item_stratum[i]`` being item ``i``'s and
    ``stratum_items[stratum_offsets[s]:stratum_offsets[s + 1]]`` the items of stratum ``s``;
    thread ``t`` draws only its pairs whose positive item is in stratum ``(t + phase) % S``,
    at the rate ``n_draws / len(sample_users)`` per pair, and their negatives among that
    stratum's items. With ``S`` = the number of threads, the threads of a phase write
    disjoint item rows, and the ``S`` phases together draw every pair at that rate.
    ``scratch`` needs one row per thread with room for the positions of its longest block:
    ``block_pairs`` entries, or the thread's pairs when they make one block.

    ``inv_user_norm > 0`` (``epsilon_mode="per-user"``, its value 1 / the mean user row
    norm): the radii of each triple are ``eps_user`` and ``eps_item`` times
    ``2 sigmoid(|p_u| * inv_user_norm - 1)`` of its user's current row.
    """
    cdef Py_ssize_t n_threads = seeds.shape[0], n_pairs = sample_users.shape[0]
    cdef Params prm = _make_params(lr, reg, adv_reg, eps_user, eps_item, adversary, adagrad,
                                   use_bias, P.shape[1], Q.shape[0], item_start, inv_user_norm)
    cdef floating* P_ptr = &P[0, 0]
    cdef floating* Q_ptr = &Q[0, 0]
    cdef floating* b_ptr = &bias[0]
    cdef floating* GP_ptr = &acc_P[0, 0]
    cdef floating* GQ_ptr = &acc_Q[0, 0]
    cdef floating* Gb_ptr = &acc_bias[0]
    cdef floating* work_ptr = &work[0, 0]
    cdef Py_ssize_t work_stride = work.shape[1]
    cdef Py_ssize_t tid, start, end
    cdef double clean = 0.0, adv = 0.0
    cdef double* sums = NULL
    cdef double draws_per_pair = <double>n_draws / n_pairs if n_pairs > 0 else 0.0
    # Per-thread strata, filled before the parallel region (one struct per thread).
    cdef ItemStratum* strata = NULL
    cdef ItemStratum no_stratum
    cdef int n_strata, stratum
    no_stratum.item_stratum = NULL
    no_stratum.stratum = 0
    no_stratum.items = NULL
    no_stratum.n_items = 0
    no_stratum.scratch = NULL
    if n_pairs == 0 or n_draws == 0:
        return 0.0, 0.0
    # Taken after the check above: &sample_users[0] of an empty array is out of bounds.
    cdef const int* users_ptr = &sample_users[0]
    cdef const int* items_ptr = &sample_items[0]
    sums = <double*>malloc(2 * n_threads * sizeof(double))
    if sums == NULL:
        raise MemoryError()
    if item_stratum is not None:
        n_strata = stratum_offsets.shape[0] - 1
        strata = <ItemStratum*>malloc(n_threads * sizeof(ItemStratum))
        if strata == NULL:
            free(sums)
            raise MemoryError()
        for tid in range(n_threads):
            stratum = <int>((tid + phase) % n_strata)
            strata[tid].item_stratum = &item_stratum[0]
            strata[tid].stratum = stratum
            strata[tid].items = &stratum_items[stratum_offsets[stratum]]
            strata[tid].n_items = stratum_offsets[stratum + 1] - stratum_offsets[stratum]
            strata[tid].scratch = &scratch[tid, 0]
    with nogil:
        for tid in prange(n_threads, num_threads=n_threads, schedule="static", chunksize=1):
            start = offsets[tid]
            end = offsets[tid + 1]
            _epoch_chunk(
                P_ptr, Q_ptr, b_ptr, GP_ptr, GQ_ptr, Gb_ptr, &indptr[0], &indices[0],
                users_ptr + start, items_ptr + start, end - start,
                <Py_ssize_t>(draws_per_pair * end + 0.5)
                - <Py_ssize_t>(draws_per_pair * start + 0.5),
                block_pairs, seeds[tid], work_ptr + tid * work_stride, &prm,
                &strata[tid] if strata != NULL else &no_stratum, &sums[2 * tid],
            )
    free(strata)
    # Added in thread order: the loss of an epoch does not depend on thread timing.
    for tid in range(n_threads):
        clean += sums[2 * tid]
        adv += sums[2 * tid + 1]
    free(sums)
    return clean, adv


def sgd_triples(floating[:, ::1] P, floating[:, ::1] Q, floating[::1] bias,
                floating[:, ::1] acc_P, floating[:, ::1] acc_Q, floating[::1] acc_bias,
                const int[::1] users, const int[::1] pos_items, const int[::1] neg_items,
                double lr, double reg, double adv_reg, double eps_user, double eps_item,
                int adversary, bint adagrad, bint use_bias, Py_ssize_t item_start,
                uint64_t seed, double inv_user_norm=0.0):
    """Apply the update of each given triple in order, on one thread; returns the loss sums
    ``(clean, adversarial)`` as :func:`sgd_epoch` does.

    Same update as :func:`sgd_epoch`; ``seed`` seeds the random adversary's directions.
    Every triple needs ``pos_items[t] != neg_items[t]`` (as sampled triples have): the update
    assumes its three rows are distinct.
    """
    cdef Params prm = _make_params(lr, reg, adv_reg, eps_user, eps_item, adversary, adagrad,
                                   use_bias, P.shape[1], Q.shape[0], item_start, inv_user_norm)
    cdef Py_ssize_t t, k = P.shape[1]
    cdef int u, i, j
    cdef uint64_t state = _splitmix64(seed)
    cdef floating[::1] work = np.zeros(3 * k + 1, dtype=np.float32 if floating is float
                                       else np.float64)
    cdef LossSum acc
    _loss_init(&acc)
    with nogil:
        for t in range(users.shape[0]):
            u = users[t]
            i = pos_items[t]
            j = neg_items[t]
            _update(&P[u, 0], &Q[i, 0], &Q[j, 0], &bias[i], &bias[j],
                    &acc_P[u, 0] if adagrad else &acc_P[0, 0],
                    &acc_Q[i, 0] if adagrad else &acc_Q[0, 0],
                    &acc_Q[j, 0] if adagrad else &acc_Q[0, 0],
                    &acc_bias[i] if adagrad else &acc_bias[0],
                    &acc_bias[j] if adagrad else &acc_bias[0],
                    i >= item_start, j >= item_start, &prm, &work[0], &state, &acc)
    cdef double clean, adv
    _loss_totals(&acc, &clean, &adv)
    return clean, adv


def perturbation(floating[::1] p, floating[::1] qi, floating[::1] qj, double eps_user,
                 double eps_item, int adversary, uint64_t seed, double inv_user_norm=0.0):
    """The perturbation ``(delta_u, delta_i, delta_j)`` that ``_update`` uses for one triple.

    A test hook for the cdef helpers: ``adversary=1`` (gradient) rebuilds the vectors from the
    closed-form coefficients of the update; ``adversary=2`` (random) draws them with the RNG
    seeded like :func:`sgd_triples` with ``seed``, so a one-triple ``sgd_triples`` call uses
    exactly these vectors. ``inv_user_norm`` as in :func:`sgd_epoch`.
    """
    cdef Py_ssize_t f, k = p.shape[0]
    cdef double pp, dd, c_p, c_d, scale
    cdef uint64_t state = _splitmix64(seed)
    dtype = np.float32 if floating is float else np.float64
    cdef floating[::1] out = np.zeros(3 * k + 1, dtype=dtype)
    if inv_user_norm > 0 and adversary != ADV_NONE:
        scale = _user_scale(_sqnorm(&p[0], k), inv_user_norm)
        eps_user = eps_user * scale
        eps_item = eps_item * scale
    if adversary == ADV_GRADIENT:
        pp = _sqnorm(&p[0], k)
        dd = _sqnorm_diff(&qi[0], &qj[0], k)
        _gradient_coefficients(pp, dd, eps_user, eps_item, &c_p, &c_d)
        for f in range(k):
            out[f] = <floating>(-c_d * (qi[f] - qj[f]))
            out[k + f] = <floating>(-c_p * p[f])
            out[2 * k + f] = <floating>(c_p * p[f])
    elif adversary == ADV_RANDOM:
        _random_direction(&out[0], k, eps_user, &state)
        _random_direction(&out[k], k, eps_item, &state)
        _random_direction(&out[2 * k], k, eps_item, &state)
    arr = np.asarray(out)
    return arr[:k].copy(), arr[k:2 * k].copy(), arr[2 * k:3 * k].copy()


def bpr_loss(double x):
    """``(softplus(-x), sigmoid(-x))`` as the kernel computes them (test hook)."""
    cdef LossSum acc
    _loss_init(&acc)
    cdef double s = _bpr(x, &acc.linear_clean, &acc.prod_clean)
    cdef double clean, adv
    _loss_totals(&acc, &clean, &adv)
    return clean, s


def row_contains(const int[::1] indices, int64_t start, int64_t end, int j):
    """Whether ``j`` is in the sorted ``indices[start:end]``, by the sampler's search.

    A test hook for the binary search of negative sampling.
    """
    if end <= start:
        return False
    return bool(_contains(&indices[0], start, end, j))
