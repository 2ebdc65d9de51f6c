# src_ext/_mf_sgd_update.pxi: the BPR/APR update of one triple and its helpers, included
# by _mf_sgd.pyx (the training epochs) and _mf_sgd_testing.pyx (test entry points).
# A textual include rather than a .pxd: the helpers are fused `cdef inline` functions, which
# must be compiled into each module that calls them.

from cython cimport floating
from libc.math cimport exp, fabs, log, log1p, sqrt, sqrtf
from libc.stdint cimport int64_t, uint64_t

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


cdef struct Step:
    # The hyper-parameters of one epoch's updates. Python passes them as a dict with exactly
    # these keys (Cython converts it; a missing key raises): see _cython_backend.step_params.
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
    Py_ssize_t item_start   # items with a smaller index are frozen (fold-in)
    # Dynamic negative sampling: candidate negatives drawn per sample, the one the model
    # scores highest is the sample's negative (1: the plain uniform negative).
    int n_candidates


cdef struct Params:
    # What _update reads: the Step and the shapes, taken from the arrays by the kernel.
    Step step
    Py_ssize_t k
    Py_ssize_t n_items
    # epsilon_mode="vulnerability" (VAT), else NULL: each user's radius factor (read in
    # adversarial epochs) and its (clean loss sum, sample count) of the epoch (written).
    const double* user_scale
    double* user_loss
    # A weight per user (float64), else NULL: multiplies the gradients a user's triples send
    # to the item rows and biases (their user row trains at full weight). 0 keeps a user's
    # samples from moving any item (fake-user damping; see skadv.mf._trim).
    const double* item_weight


cdef inline Params _params(Step step, Py_ssize_t k, Py_ssize_t n_items) noexcept nogil:
    cdef Params prm
    prm.step = step
    prm.k = k
    prm.n_items = n_items
    prm.user_scale = NULL
    prm.user_loss = NULL
    prm.item_weight = NULL
    return prm


# ----------------------------------------------------------------------------- random numbers
include "_rng.pxi"


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


cdef inline double _item_score(const floating* p, const floating* q, const floating* b,
                               Py_ssize_t k, bint use_bias) noexcept nogil:
    """``p . q (+ b)``: a candidate negative's score (8 partial sums, as _sqnorm)."""
    cdef floating a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0
    cdef Py_ssize_t f, k8 = k - k % 8
    for f in range(0, k8, 8):
        a0 = a0 + p[f] * q[f]
        a1 = a1 + p[f + 1] * q[f + 1]
        a2 = a2 + p[f + 2] * q[f + 2]
        a3 = a3 + p[f + 3] * q[f + 3]
        a4 = a4 + p[f + 4] * q[f + 4]
        a5 = a5 + p[f + 5] * q[f + 5]
        a6 = a6 + p[f + 6] * q[f + 6]
        a7 = a7 + p[f + 7] * q[f + 7]
    for f in range(k8, k):
        a0 = a0 + p[f] * q[f]
    a0 = ((a0 + a4) + (a1 + a5)) + ((a2 + a6) + (a3 + a7))
    return <double>(a0 + b[0] if use_bias else a0)


cdef inline int _highest_scored(const floating* p, const floating* Q, const floating* b,
                                const int* candidates, int n_candidates, Py_ssize_t k,
                                bint use_bias) noexcept nogil:
    """The candidate with the highest score ``p . Q[j] (+ b[j])``; the first one on ties."""
    cdef int c, best = candidates[0]
    cdef double score, top = _item_score(p, Q + best * k, b + best, k, use_bias)
    for c in range(1, n_candidates):
        score = _item_score(p, Q + candidates[c] * k, b + candidates[c], k, use_bias)
        if score > top:
            top = score
            best = candidates[c]
    return best


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
                         LossSum* acc, const double* user_scale,
                         double* user_loss, double item_w) noexcept nogil:
    """One SGD/AdaGrad step on triple (p, qi, qj); adds its loss (no L2 term) to ``acc``.

    ``work`` holds 3 * k scratch values (the random perturbation); ``state`` is the thread's
    RNG. Gradients are taken at the current values of all three rows (simultaneous update).
    ``user_scale`` (the user's VAT factor) multiplies both radii; ``user_loss`` gets the
    triple's clean loss and a count of 1 added (both NULL outside the VAT mode).
    ``item_w`` (the user's ``item_weight``, 1 without) multiplies the item rows' and
    biases' gradients: the steps of AdaGrad and SGD, and AdaGrad's accumulated squares.
    """
    cdef Py_ssize_t k = prm.k
    cdef double pd, pp = 0.0, dd = 0.0, x, s, x_adv, s_adv, c_p, c_d, a, lam
    cdef double eps_user = prm.step.eps_user, eps_item = prm.step.eps_item, scale
    cdef double bias = (bi[0] - bj[0]) if prm.step.use_bias else 0.0
    # item_w = 1 leaves every product below exact: the unweighted arithmetic is unchanged.
    cdef floating mi = <floating>item_w if train_i else 0
    cdef floating mj = <floating>item_w if train_j else 0
    lam = prm.step.adv_reg

    pd = _dot_diff(p, qi, qj, k)
    if prm.step.adversary == ADV_GRADIENT:
        pp = _sqnorm(p, k)
        dd = _sqnorm_diff(qi, qj, k)
    x = pd + bias
    s = _bpr(x, &acc.linear_clean, &acc.prod_clean)
    if user_loss != NULL:
        # softplus(-x), stable: the user's loss of this epoch, for its next radius (VAT).
        user_loss[0] = user_loss[0] + (-x if x < 0 else 0.0) + log1p(exp(-fabs(x)))
        user_loss[1] = user_loss[1] + 1.0
    if user_scale != NULL and prm.step.adversary != ADV_NONE:
        eps_user = eps_user * user_scale[0]
        eps_item = eps_item * user_scale[0]
    if prm.step.inv_user_norm > 0 and prm.step.adversary != ADV_NONE:
        # A branch rather than a factor of 1: the other modes keep their exact arithmetic.
        if prm.step.adversary != ADV_GRADIENT:
            pp = _sqnorm(p, k)
        scale = _user_scale(pp, prm.step.inv_user_norm)
        eps_user = eps_user * scale
        eps_item = eps_item * scale

    if prm.step.adversary == ADV_NONE:
        _apply_linear(p, qi, qj, gp, gqi, gqj, <floating>(-s), <floating>prm.step.reg,
                      <floating>(-s), 0, <floating>prm.step.reg, <floating>prm.step.lr, mi, mj, k,
                      prm.step.adagrad)
        a = s
    elif prm.step.adversary == ADV_GRADIENT:
        # (p - c_d d) . (d - 2 c_p p) expanded: the perturbed margin from the three dots.
        _gradient_coefficients(pp, dd, eps_user, eps_item, &c_p, &c_d)
        x_adv = pd - 2.0 * c_p * pp - c_d * dd + 2.0 * c_p * c_d * pd + bias
        s_adv = _bpr(x_adv, &acc.linear_adv, &acc.prod_adv)
        a = s + lam * s_adv
        # grad p  = -s d - lam s_adv (d - 2 c_p p) + reg p
        # grad qi = -s p - lam s_adv (p - c_d d) + reg qi
        _apply_linear(p, qi, qj, gp, gqi, gqj, <floating>(-a),
                      <floating>(2.0 * lam * s_adv * c_p + prm.step.reg),
                      <floating>(-a), <floating>(lam * s_adv * c_d), <floating>prm.step.reg,
                      <floating>prm.step.lr, mi, mj, k, prm.step.adagrad)
    else:
        _random_direction(work, k, eps_user, state)
        _random_direction(work + k, k, eps_item, state)
        _random_direction(work + 2 * k, k, eps_item, state)
        x_adv = _dot_delta(p, qi, qj, work, work + k, work + 2 * k, k) + bias
        s_adv = _bpr(x_adv, &acc.linear_adv, &acc.prod_adv)
        a = s + lam * s_adv
        _apply_delta(p, qi, qj, gp, gqi, gqj, work, work + k, work + 2 * k, <floating>s,
                     <floating>(lam * s_adv), <floating>prm.step.reg, <floating>prm.step.lr,
                     mi, mj, k, prm.step.adagrad)

    if prm.step.use_bias:
        # The biases are not perturbed; d x / d b_i = 1 = -d x / d b_j.
        if train_i:
            _update_bias(bi, gbi, item_w * (-a + prm.step.reg * bi[0]), prm.step.lr,
                         prm.step.adagrad)
        if train_j:
            _update_bias(bj, gbj, item_w * (a + prm.step.reg * bj[0]), prm.step.lr,
                         prm.step.adagrad)
    acc.n = acc.n + 1
    if acc.n == FLUSH:
        _loss_flush(acc)
