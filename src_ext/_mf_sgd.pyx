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
updates. The update itself lives in ``_mf_sgd_update.pxi``, which ``_mf_sgd_testing.pyx``
includes too: its test entry points (``sgd_triples`` applies given triples in order, on one
thread) compare the same ``_update`` with a NumPy reference. Nothing here validates input:
``skadv.mf._cython_backend`` does.

Speed (``benchmarks/bench_mf.py``): on large data an epoch is bound by cache misses, not by
arithmetic, so ``_epoch_chunk`` draws samples several iterations ahead of their update and
prefetches what each step of the draw will read; embedding rows are prefetched for writing
(PREFETCHW), which also keeps Hogwild threads from trading cache lines twice per write. With
sampling blocks a thread samples a few hundred users at a time, so the user side (rows, CSR
rows, pairs) stays in cache however many users there are.
"""


include "_mf_sgd_update.pxi"

from cython.parallel cimport prange
from libc.stdint cimport uint8_t
from libc.stdlib cimport free, malloc


cdef extern from *:
    """
    /* Wall-clock seconds of a thread's share of an epoch (benchmarks only: see sgd_epoch). */
    #ifdef _OPENMP
    #include <omp.h>
    static double skadv_wtime(void) { return omp_get_wtime(); }
    #else
    #include <time.h>
    static double skadv_wtime(void) { return (double)clock() / CLOCKS_PER_SEC; }
    #endif
    """
    double skadv_wtime() noexcept nogil


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
    # Most candidate negatives of one sample (keep in sync with
    # skadv.mf._params.MAX_NEGATIVE_CANDIDATES; sgd_epoch checks it).
    MAX_CANDIDATES = 32


cdef struct Pending:
    # One sample on its way through the stages of _epoch_chunk.
    Py_ssize_t pair     # index of the positive pair among the thread's pairs
    int64_t start       # the user's CSR row: indices[start:end]
    int64_t end
    int u
    int i
    int j
    int candidates[MAX_CANDIDATES]  # with step.n_candidates > 1: the candidate negatives


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
    if prm.step.adagrad:
        _prefetch_lines_w(GP + x.u * k, row_bytes)
        _prefetch_lines_w(GQ + x.i * k, row_bytes)
        _prefetch_lines_w(GQ + x.j * k, row_bytes)
    if prm.step.use_bias:
        SKADV_PREFETCH_W(b + x.i)
        SKADV_PREFETCH_W(b + x.j)
        if prm.step.adagrad:
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


cdef inline int _negative_of(const int* indices, int64_t start, int64_t end, int j,
                             uint64_t* state, const ItemStratum* st,
                             Py_ssize_t n_items) noexcept nogil:
    # ``j``, redrawn while it is one of the user's items (``indices[start:end]``).
    cdef int tries = 0
    while _contains(indices, start, end, j):
        tries = tries + 1
        if tries < STRATUM_TRIES:
            j = _draw_negative(state, st, n_items)
        else:
            j = <int>_randint(state, n_items)
    return j


cdef struct Chunk:
    # One thread's share of an epoch: its positive pairs (grouped by user) and its draws.
    const int64_t* indptr       # the CSR rows of every user's positives (shared)
    const int* indices
    const int* sample_users     # the thread's pairs: sample_users[:n_pairs], sample_items[...]
    const int* sample_items
    Py_ssize_t n_pairs
    Py_ssize_t n_draws
    Py_ssize_t block_pairs      # sampling blocks (see _epoch_chunk); <= 0: none


cdef Py_ssize_t* _block_order(Py_ssize_t n_blocks, uint64_t* pair_state) noexcept nogil:
    """A random order of ``n_blocks`` blocks (Fisher-Yates on the pair stream), malloc'ed.

    Without the few bytes of the order (never seen) blocks are visited in sequence: the same
    samples, only not shuffled (the draws are made all the same). NULL then.
    """
    cdef Py_ssize_t blk, r
    cdef Py_ssize_t* order = <Py_ssize_t*>malloc(n_blocks * sizeof(Py_ssize_t))
    for blk in range(n_blocks):
        if order != NULL:
            order[blk] = blk
    for blk in range(n_blocks - 1, 0, -1):
        r = _randint(pair_state, blk + 1)
        if order != NULL:
            order[blk], order[r] = order[r], order[blk]
    return order


cdef void _epoch_chunk(floating* P, floating* Q, floating* b,
                       floating* GP, floating* GQ, floating* Gb, const Chunk* c,
                       uint64_t seed, floating* work, const Params* prm,
                       const ItemStratum* st, double* sums) noexcept nogil:
    """``n_draws`` sampled updates on one thread, with this thread's own RNG stream; writes
    the summed clean and adversarial losses to ``sums[0]`` and ``sums[1]``.

    Iteration ``s`` advances five samples in flight by one stage each:

    1. sample ``s``: draw a positive pair; prefetch it;
    2. sample ``s - LAG``: read its user and item, draw a candidate negative item (or
       ``n_candidates`` of them, prefetching their rows and the user's); prefetch the user's
       CSR row bounds;
    3. sample ``s - 2 LAG``: read the bounds; prefetch the row for the binary search;
    4. sample ``s - 3 LAG``: redraw the negative while it is one of the user's items
       (rejection sampling; each candidate on its own, then the highest-scored one is kept);
       prefetch the rows the update writes, for writing;
    5. sample ``s - 3 LAG - 1``: the update.

    Each sample is one pair and one uniform negative, or with ``step.n_candidates > 1`` the
    highest-scored of that many uniform negatives (dynamic negative sampling; scores of the
    factors as they are when the sample reaches stage 4). Pairs come from their own RNG stream,
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
    # The chunk's fields as locals: the loop below keeps them in registers.
    cdef const int64_t* indptr = c.indptr
    cdef const int* indices = c.indices
    cdef const int* sample_users = c.sample_users
    cdef const int* sample_items = c.sample_items
    cdef Py_ssize_t n_pairs = c.n_pairs, n_draws = c.n_draws, block_pairs = c.block_pairs
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
    cdef int cand, n_candidates = prm.step.n_candidates
    cdef Py_ssize_t row_bytes = k * sizeof(floating)
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
        order = _block_order(n_blocks, &pair_state)
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
            if n_candidates > 1:
                x.candidates[0] = x.j
                _prefetch_lines(P + x.u * k, row_bytes)
                _prefetch_lines(Q + x.j * k, row_bytes)
                for cand in range(1, n_candidates):
                    x.candidates[cand] = _draw_negative(&state, st, n_items)
                    _prefetch_lines(Q + x.candidates[cand] * k, row_bytes)
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
                x.j = _negative_of(indices, x.start, x.end, x.j, &state, st, n_items)
                if n_candidates > 1:
                    x.candidates[0] = x.j
                    for cand in range(1, n_candidates):
                        x.candidates[cand] = _negative_of(
                            indices, x.start, x.end, x.candidates[cand], &state, st, n_items)
                    x.j = _highest_scored(P + x.u * k, Q, b, x.candidates, n_candidates, k,
                                          prm.step.use_bias)
                _prefetch_rows_w(P, Q, b, GP, GQ, Gb, x, prm)
        t = s - 3 * LAG - 1
        s = s + 1
        if 0 <= t < n_drawn:
            x = &ring[t & (RING - 1)]
            if x.end - x.start >= n_items:
                continue  # the wrapper removes users without negatives beforehand
            _update(P + x.u * k, Q + x.i * k, Q + x.j * k, b + x.i, b + x.j,
                    GP + x.u * k, GQ + x.i * k, GQ + x.j * k, Gb + x.i, Gb + x.j,
                    x.i >= prm.step.item_start, x.j >= prm.step.item_start, prm, work,
                    &state, &acc,
                    prm.user_scale + x.u if prm.user_scale != NULL else NULL,
                    prm.user_loss + 2 * x.u if prm.user_loss != NULL else NULL,
                    prm.item_weight[x.u] if prm.item_weight != NULL else 1.0)
    free(order)
    _loss_totals(&acc, &sums[0], &sums[1])


cdef int* _thread_scratch(const int64_t[::1] offsets, Py_ssize_t block_pairs,
                          int** rows) noexcept nogil:
    """One block's worth of positions per thread for stratified draws (``rows[t]``)."""
    cdef Py_ssize_t tid, n, total = 0, n_threads = offsets.shape[0] - 1
    cdef int* scratch
    for tid in range(n_threads):
        n = offsets[tid + 1] - offsets[tid]
        total = total + (block_pairs + 1 if 0 < block_pairs < n else n)
    scratch = <int*>malloc(max(total, 1) * sizeof(int))
    if scratch == NULL:
        return NULL
    total = 0
    for tid in range(n_threads):
        rows[tid] = scratch + total
        n = offsets[tid + 1] - offsets[tid]
        total = total + (block_pairs + 1 if 0 < block_pairs < n else n)
    return scratch


cdef void _thread_plans(Chunk* chunks, ItemStratum* st, const int64_t* indptr,
                        const int* indices, const int* users, const int* items,
                        const int64_t[::1] offsets, Py_ssize_t n_draws, Py_ssize_t block_pairs,
                        tuple strata, int** rows, Py_ssize_t phase):
    """Fill each thread's Chunk (its pairs and draws) and ItemStratum (none: NULL table)."""
    cdef Py_ssize_t tid, start, end, n_threads = offsets.shape[0] - 1
    cdef double draws_per_pair = <double>n_draws / offsets[n_threads]
    cdef const uint8_t[::1] item_stratum
    cdef const int[::1] stratum_items
    cdef const int64_t[::1] stratum_offsets
    cdef int stratum
    if strata is not None:
        item_stratum, stratum_items, stratum_offsets = strata[:3]
    for tid in range(n_threads):
        start, end = offsets[tid], offsets[tid + 1]
        chunks[tid].indptr = indptr
        chunks[tid].indices = indices
        # Pointer arithmetic: a thread without pairs starts at the end of the arrays.
        chunks[tid].sample_users = users + start
        chunks[tid].sample_items = items + start
        chunks[tid].n_pairs = end - start
        chunks[tid].n_draws = (<Py_ssize_t>(draws_per_pair * end + 0.5)
                               - <Py_ssize_t>(draws_per_pair * start + 0.5))
        chunks[tid].block_pairs = block_pairs
        st[tid].item_stratum = NULL  # no stratum: every pair, negatives among all items
        st[tid].stratum = 0
        st[tid].items = NULL
        st[tid].n_items = 0
        st[tid].scratch = NULL
        if strata is not None:
            stratum = <int>((tid + phase) % (stratum_offsets.shape[0] - 1))
            st[tid].item_stratum = &item_stratum[0]
            st[tid].stratum = stratum
            st[tid].items = &stratum_items[stratum_offsets[stratum]]
            st[tid].n_items = stratum_offsets[stratum + 1] - stratum_offsets[stratum]
            st[tid].scratch = rows[tid]


cdef void _free_all(void* a, void* b, void* c, void* d, void* e, void* f) noexcept:
    free(a)
    free(b)
    free(c)
    free(d)
    free(e)
    free(f)


def sgd_epoch(floating[:, ::1] P, floating[:, ::1] Q, floating[::1] bias,
              floating[:, ::1] acc_P, floating[:, ::1] acc_Q, floating[::1] acc_bias,
              dict pairs, const uint64_t[::1] seeds, Step step, tuple strata=None,
              tuple vulnerability=None, double[::1] thread_seconds=None,
              const double[::1] item_weight=None):
    """One epoch of ``pairs["n_draws"]`` sampled BPR/APR updates, Hogwild-parallel.

    Returns ``(clean, adversarial)``: the sums over the draws of the clean BPR loss and of
    the BPR loss under the perturbation (0 without adversary; not weighted by ``adv_reg``).

    ``P``, ``Q``, ``bias`` are the factors, ``acc_*`` their AdaGrad accumulators (any
    (1, 1)/(1,) arrays with plain SGD). ``step`` is a dict of the :c:type:`Step` fields (the
    hyper-parameters). ``pairs`` (built once per fit by ``skadv.mf._cython_backend``) holds

    - ``indptr``, ``indices``: every user's positives as sorted CSR rows (int64, int32);
    - ``users``, ``items``: the positive pairs to draw from, grouped by user (int32);
    - ``offsets``: ``len(seeds) + 1`` int64 bounds of each thread's pairs;
    - ``n_draws``: draws per epoch; ``block_pairs``: sampling blocks (0: none).

    Thread ``t`` of ``len(seeds)`` threads (static schedule) owns the pairs
    ``offsets[t]:offsets[t + 1]`` and makes its share of the draws (proportional to its
    pairs) from its own RNG stream seeded by ``seeds[t]``: a pair uniformly among its own, a
    negative item uniformly among those absent from the user's CSR row. When the pairs are
    grouped by user, threads never share a user row; item rows are shared and updated
    without locks. ``block_pairs > 0`` stratifies each thread's draws over blocks of about
    that many consecutive pairs, visited in random order (see ``_epoch_chunk``): the same
    expected draws per pair, in a cache-friendly order. Items below ``step["item_start"]``
    are kept fixed. Samples of users who interacted with every item are skipped.

    Item strata (``strata = (item_stratum, stratum_items, stratum_offsets, phase)``): one
    *phase* of an epoch. The items are split into ``S = len(stratum_offsets) - 1`` strata,
    ``item_stratum[i]`` (uint8) being item ``i``'s and ``stratum_items[stratum_offsets[s]:
    stratum_offsets[s + 1]]`` the items of stratum ``s``; thread ``t`` draws only its pairs
    whose positive item is in stratum ``(t + phase) % S``, at the rate ``n_draws /
    len(users)`` per pair, and their negatives among that stratum's items. With ``S`` = the
    number of threads, the threads of a phase write disjoint item rows, and the ``S`` phases
    together draw every pair at that rate.

    ``step["inv_user_norm"] > 0`` (``epsilon_mode="per-user"``, 1 / the mean user row
    norm): the radii of each triple are ``eps_user`` and ``eps_item`` times
    ``2 sigmoid(|p_u| * inv_user_norm - 1)`` of its user's current row.

    ``vulnerability = (user_scale, user_loss)`` (``epsilon_mode="vulnerability"``, VAT):
    in adversarial epochs both radii of a triple are multiplied by ``user_scale[u]``
    (float64, one per user); in every epoch each triple's clean loss and a count of 1 are
    added to ``user_loss[u]`` (float64, shape (n_users, 2); a user's row is written by the
    thread that owns the user only).

    ``item_weight`` (float64, one per user): the gradients of a user's triples on the item
    rows and biases are multiplied by ``item_weight[u]`` (the user row's are not).

    ``thread_seconds`` (float64, one per thread; benchmarks): each thread writes the
    wall-clock seconds of its share, to tell load imbalance from slow sampling.
    """
    cdef const int64_t[::1] indptr = pairs["indptr"]
    cdef const int[::1] indices = pairs["indices"]
    cdef const int[::1] sample_users = pairs["users"]
    cdef const int[::1] sample_items = pairs["items"]
    cdef const int64_t[::1] offsets = pairs["offsets"]
    cdef Py_ssize_t n_draws = pairs["n_draws"], block_pairs = pairs["block_pairs"]
    cdef Py_ssize_t n_threads = seeds.shape[0], n_pairs = sample_users.shape[0]
    cdef Params prm = _params(step, P.shape[1], Q.shape[0])
    cdef const double[::1] user_scale
    cdef double[:, ::1] user_loss
    cdef Py_ssize_t tid, phase = 0
    cdef Py_ssize_t work_width = 3 * prm.k + 1 if step.adversary == ADV_RANDOM else 1
    cdef double clean = 0.0, adv = 0.0
    if not 1 <= step.n_candidates <= MAX_CANDIDATES:  # a sample keeps them on the stack
        raise ValueError(f"step['n_candidates'] must be in [1, {MAX_CANDIDATES}], got "
                         f"{step.n_candidates}")
    if n_pairs == 0 or n_draws == 0:
        return 0.0, 0.0
    if strata is not None:
        phase = strata[3]
    if vulnerability is not None:
        user_scale, user_loss = vulnerability
        prm.user_scale = &user_scale[0]
        prm.user_loss = &user_loss[0, 0]
    if item_weight is not None:
        prm.item_weight = &item_weight[0]
    # Per-thread buffers, chunks and strata (one of each per thread), made before the
    # parallel region and released together.
    cdef double* sums = <double*>malloc(2 * n_threads * sizeof(double))
    cdef Chunk* chunks = <Chunk*>malloc(n_threads * sizeof(Chunk))
    cdef ItemStratum* st = <ItemStratum*>malloc(n_threads * sizeof(ItemStratum))
    cdef int** rows = <int**>malloc(n_threads * sizeof(int*))
    cdef floating* work = <floating*>malloc(n_threads * work_width * sizeof(floating))
    cdef int* scratch = NULL
    if strata is not None and rows != NULL:
        scratch = _thread_scratch(offsets, block_pairs, rows)
    if (sums == NULL or chunks == NULL or st == NULL or rows == NULL or work == NULL
            or (strata is not None and scratch == NULL)):
        _free_all(sums, chunks, st, rows, work, scratch)
        raise MemoryError()
    _thread_plans(chunks, st, &indptr[0], &indices[0], &sample_users[0], &sample_items[0],
                  offsets, n_draws, block_pairs, strata, rows, phase)
    cdef double* seconds = &thread_seconds[0] if thread_seconds is not None else NULL
    cdef double started
    with nogil:
        for tid in prange(n_threads, num_threads=n_threads, schedule="static", chunksize=1):
            started = skadv_wtime() if seconds != NULL else 0.0
            _epoch_chunk(&P[0, 0], &Q[0, 0], &bias[0], &acc_P[0, 0], &acc_Q[0, 0],
                         &acc_bias[0], &chunks[tid], seeds[tid], work + tid * work_width,
                         &prm, &st[tid], &sums[2 * tid])
            if seconds != NULL:
                seconds[tid] = skadv_wtime() - started
    # Added in thread order: the loss of an epoch does not depend on thread timing.
    for tid in range(n_threads):
        clean += sums[2 * tid]
        adv += sums[2 * tid + 1]
    _free_all(sums, chunks, st, rows, work, scratch)
    return clean, adv
