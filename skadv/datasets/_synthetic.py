"""Synthetic implicit-feedback data with planted low-rank structure and long-tail popularity."""

import numpy as np
import pandas as pd

from skadv.utils._params import BOOL, Interval, check_params
from skadv.utils._random import check_random_state

__all__ = ["make_interactions"]

# Dirichlet concentrations of the latent factors. Small values make users focus on a few
# factors and items belong mostly to one: a structure a rank-n_factors model can recover and
# item popularity alone cannot.
_USER_CONCENTRATION = 0.1
_ITEM_CONCENTRATION = 0.02
# Spread of user activity (log-normal sigma): a few heavy users, many light ones, as in
# MovieLens (ml-100k: median 65, mean 106 ratings per user).
_ACTIVITY_SIGMA = 0.8
# Sampling rounds with replacement before the exact dense fallback takes over.
_MAX_ROUNDS = 4
# Dense fallback works on blocks of about this many cells (float64: 32 MiB).
_BLOCK_CELLS = 1 << 22
# Timestamps: users start within three years after 2000-01-01, then about one event a day.
_T0 = 946_684_800
_T_SPAN = 3 * 365 * 86_400
_MEAN_GAP = 86_400.0


def make_interactions(
    n_users=100,
    n_items=80,
    *,
    n_factors=8,
    density=0.05,
    popularity_skew=1.0,
    noise=0.1,
    min_interactions_per_user=1,
    return_preferences=False,
    return_timestamps=False,
    as_frame=False,
    random_state=None,
):
    r"""Generate implicit-feedback (user, item) interactions with a known preference structure.

    Each user's items are drawn without replacement from a preference distribution that
    mixes a planted non-negative low-rank part (user and item latent factors) with a long-tail
    item popularity. A matrix-factorization model with about ``n_factors`` factors can recover
    the structure; a popularity ranking cannot, so it is a clearly weaker baseline.

    Parameters
    ----------
    n_users : int, default=100
        Number of users; every user id ``0..n_users-1`` has at least one interaction.
    n_items : int, default=80
        Size of the item catalogue; item ids are ``0..n_items-1`` (unpopular items may end up
        with no interaction).
    n_factors : int, default=8
        Rank of the planted structure (number of latent "topics").
    density : float in (0, 1], default=0.05
        Expected fraction of the user-item matrix observed, before the per-user minimum and
        the cap at ``n_items`` are applied.
    popularity_skew : float >= 0, default=1.0
        Exponent ``s`` of the Zipf-like item propensity ``(rank + 1) ** -s`` (ranks are a random
        permutation of the items). ``0`` means uniform; larger values give a longer tail.
    noise : float in [0, 1], default=0.1
        Weight of the non-personalized component: each draw comes from the item propensity
        alone with this probability, from the user's latent factors otherwise. ``1`` leaves no
        personal structure at all.
    min_interactions_per_user : int, default=1
        Lower bound on each user's number of interactions (at most ``n_items``).
    return_preferences : bool, default=False
        Also return the ground-truth preference matrix, a dense ``(n_users, n_items)``
        array: only ask for it when that fits in memory.
    return_timestamps : bool, default=False
        Also return one Unix timestamp (int64 seconds) per interaction. Timestamps are
        strictly increasing within a user and carry no preference signal (each user's items
        are put in a random order).
    as_frame : bool, default=False
        Return a ``pandas.DataFrame`` with ``user`` and ``item`` columns (and ``timestamp``
        when ``return_timestamps=True``) instead of arrays.
    random_state : int, RandomState or Generator instance or None, default=None
        Seed of the whole generation: a fixed int gives identical output.

    Returns
    -------
    X : ndarray of shape (n_interactions, 2), int64, or DataFrame
        ``(user, item)`` pairs sorted by user then item, with no duplicate pair.
    timestamps : ndarray of shape (n_interactions,), int64
        Only when ``return_timestamps=True`` and ``as_frame=False`` (with ``as_frame=True``
        they are the ``timestamp`` column of ``X``).
    preferences : ndarray of shape (n_users, n_items), float64
        Only when ``return_preferences=True``: row ``u`` is the distribution user ``u``'s items
        were sampled from (rows sum to 1). It is always last in the returned tuple.

    See Also
    --------
    skadv.datasets.load_movielens : Real interaction data (MovieLens).
    skadv.model_selection.train_test_split_interactions : Per-user holdout of ``X``.

    Notes
    -----
    With item propensity :math:`p_i \propto (r_i + 1)^{-s}`, user factors
    :math:`\theta_u \sim \mathrm{Dirichlet}(0.1)` over the ``n_factors`` topics and item
    memberships :math:`m_i \sim \mathrm{Dirichlet}(0.02)`, topic :math:`t` draws item :math:`i`
    with probability :math:`\phi_{ti} \propto p_i m_{it}`, and the preference of user
    :math:`u` is

    .. math:: P_{ui} = (1 - \text{noise}) \sum_t \theta_{ut} \phi_{ti} + \text{noise}\, p_i ,

    a non-negative matrix of rank at most ``n_factors + 1``. User :math:`u` gets
    :math:`n_u = \mathrm{clip}(\mathrm{Poisson}(\text{density}\cdot n_{items}\, a_u),
    \text{min}, n_{items})` items with a log-normal activity :math:`a_u` of mean 1, drawn
    from :math:`P_u` without replacement (successive sampling).

    Sampling never forms :math:`P`: it draws a topic, then an item from the topic's
    cumulative distribution through a guide table (about two comparisons per draw), and
    drops repeated items (the distinct items in order of first appearance are exactly a draw
    without replacement). Users still short after a few rounds, or who need more than half of
    the catalogue, finish with the Gumbel-top-k trick on their dense row, which continues the
    same draw exactly. Time and memory are :math:`O(n_{interactions})` plus
    :math:`O((n_{users} + n_{items})\, n_{factors})`.

    Examples
    --------
    >>> X = make_interactions(n_users=50, n_items=40, random_state=0)
    >>> X.shape[1], X.dtype.name
    (2, 'int64')
    >>> int(X[:, 0].min()), int(X[:, 0].max()), len(np.unique(X[:, 0]))
    (0, 49, 50)
    >>> X, P = make_interactions(n_users=5, n_items=6, return_preferences=True, random_state=0)
    >>> P.shape, np.round(P.sum(axis=1), 6).tolist()
    ((5, 6), [1.0, 1.0, 1.0, 1.0, 1.0])
    >>> make_interactions(n_users=3, n_items=4, as_frame=True, return_timestamps=True,
    ...                   random_state=0).columns.tolist()
    ['user', 'item', 'timestamp']
    """
    _validate(
        n_users=n_users,
        n_items=n_items,
        n_factors=n_factors,
        density=density,
        popularity_skew=popularity_skew,
        noise=noise,
        min_interactions_per_user=min_interactions_per_user,
        return_preferences=return_preferences,
        return_timestamps=return_timestamps,
        as_frame=as_frame,
    )
    rng = check_random_state(random_state)
    n_users, n_items, n_factors = int(n_users), int(n_items), int(n_factors)
    noise = float(noise)

    # Zipf-like propensity over a random ranking, so item ids carry no popularity information.
    ranks = rng.permutation(n_items)
    propensity = (ranks + 1.0) ** -float(popularity_skew)
    propensity /= propensity.sum()

    theta = rng.dirichlet(np.full(n_factors, _USER_CONCENTRATION), size=n_users)
    membership = rng.dirichlet(np.full(n_factors, _ITEM_CONCENTRATION), size=n_items)
    phi = membership * propensity[:, None]
    totals = phi.sum(axis=0)
    # A topic no item belongs to (possible for tiny catalogues) falls back to the propensity.
    phi[:, totals == 0] = propensity[:, None]
    phi /= phi.sum(axis=0)
    # Component k of each user's mixture is the popularity-only "noise" component.
    mixture = np.hstack([(1.0 - noise) * theta, np.full((n_users, 1), noise)])
    components = np.hstack([phi, propensity[:, None]]).T  # (n_factors + 1, n_items)

    activity = rng.lognormal(-0.5 * _ACTIVITY_SIGMA**2, _ACTIVITY_SIGMA, size=n_users)
    counts = rng.poisson(float(density) * n_items * activity)
    counts = np.clip(counts, int(min_interactions_per_user), n_items).astype(np.int64)

    users, items = np.divmod(
        _sample_without_replacement(mixture, components, counts, rng), n_items
    )

    timestamps = _timestamps(users, rng) if return_timestamps else None
    if as_frame:
        data = {"user": users, "item": items}
        if return_timestamps:
            data["timestamp"] = timestamps
        out = [pd.DataFrame(data)]
    else:
        out = [np.column_stack([users, items])]
        if return_timestamps:
            out.append(timestamps)
    if return_preferences:
        out.append(mixture @ components)
    return out[0] if len(out) == 1 else tuple(out)


def _validate(**params):
    positive_int = [Interval("int", 1, None)]
    constraints = {
        "n_users": positive_int,
        "n_items": positive_int,
        "n_factors": positive_int,
        "density": [Interval("real", 0.0, 1.0, closed="right")],
        "popularity_skew": [Interval("real", 0.0, None)],
        "noise": [Interval("real", 0.0, 1.0)],
        "return_preferences": [BOOL],
        "return_timestamps": [BOOL],
        "as_frame": [BOOL],
    }
    check_params(
        {name: (params[name], c) for name, c in constraints.items()}, caller="make_interactions"
    )
    # Its upper bound is n_items, checked above.
    check_params(
        {
            "min_interactions_per_user": (
                params["min_interactions_per_user"],
                [Interval("int", 1, params["n_items"])],
            )
        },
        caller="make_interactions",
    )


def _sample_without_replacement(mixture, components, counts, rng):
    """Draw ``counts[u]`` distinct items for each user ``u`` from ``mixture[u] @ components``.

    Returns the sorted keys ``user * n_items + item`` of the drawn pairs.
    """
    n_users, n_comp = mixture.shape
    n_items = components.shape[1]
    # Offsetting row r of a cumulative table by r turns one searchsorted over the flattened
    # table into a per-row inverse-CDF draw, without a Python loop over users or topics.
    comp_table = _sampling_table(components)
    mix_table = _sampling_table(mixture)

    kept = np.empty(0, dtype=np.int64)  # accepted keys user * n_items + item
    have = np.zeros(n_users, dtype=np.int64)
    # Users needing more than half the catalogue would mostly redraw items they already have.
    dense = counts > n_items // 2
    drawn = np.zeros(n_users, dtype=np.int64)
    for round_ in range(_MAX_ROUNDS):
        active = np.flatnonzero((have < counts) & ~dense)
        if active.size == 0:
            break
        need = counts[active] - have[active]
        # Oversample by the duplicate rate seen so far (1.25 at first): few users need a
        # next round, and those that do get a larger batch.
        rate = np.where(drawn[active] > 0, drawn[active] / np.maximum(have[active], 1), 1.25)
        n_draw = np.ceil(need * np.minimum(rate, 8.0) * 1.1).astype(np.int64) + 2
        drawn[active] += n_draw
        rows = np.repeat(active, n_draw)
        comp = _draw_rows(mix_table, rows, n_comp, rng)
        item = _draw_rows(comp_table, comp, n_items, rng)
        seq = rows * n_items + item
        if round_:
            # Earlier rounds' items first, then the new draws in order; a stable sort by user
            # regroups them, so the first occurrence of an item is its position in the
            # without-replacement sequence.
            in_active = np.zeros(n_users, dtype=bool)
            in_active[active] = True
            old = in_active[kept // n_items]
            seq = np.concatenate([kept[old], seq])
            kept = kept[~old]
            seq = seq[np.argsort(seq // n_items, kind="stable")]
        seq = seq[~pd.Series(seq).duplicated(keep="first").to_numpy()]
        owner = seq // n_items
        per_user = np.bincount(owner, minlength=n_users)
        rank = np.arange(seq.shape[0]) - (np.cumsum(per_user) - per_user)[owner]
        seq = seq[rank < counts[owner]]
        kept = np.concatenate([kept, seq])
        have[active] = np.minimum(per_user[active], counts[active])

    short = np.flatnonzero(have < counts)
    if short.size:
        kept = _finish_dense(kept, short, mixture, components, counts, have, rng)
    return np.sort(kept)


def _sampling_table(probs):
    """Inverse-CDF sampling table for each row of ``probs`` (a guide table, Chen 1974).

    Row ``r``'s cumulative distribution is offset by ``r`` so that all rows live in one
    sorted array; ``guide[r * width + j]`` is the first position whose value reaches
    ``r + j / width``. A draw starts at its guide entry and steps forward, about two steps on
    average instead of the ``log2(width)`` of a binary search.
    """
    n_rows, width = probs.shape
    cdf = np.cumsum(probs, axis=1)
    cdf /= cdf[:, -1:]
    cdf += np.arange(n_rows)[:, None]
    flat = cdf.ravel()
    targets = np.arange(n_rows)[:, None] + np.arange(width) / width
    return flat, np.searchsorted(flat, targets.ravel(), side="left")


def _draw_rows(table, rows, width, rng):
    """Draw one column per entry of ``rows`` from the table built by ``_sampling_table``."""
    flat, guide = table
    u = 1.0 - rng.random_sample(rows.shape[0])  # in (0, 1]: a zero-probability column never wins
    query = rows + u
    bucket = np.minimum((u * width).astype(np.int64), width - 1)
    pos = guide[rows * width + bucket]
    # u * width can round up to the next bucket, whose guide entry may lie past the answer.
    back = np.flatnonzero((pos > 0) & (flat[np.maximum(pos - 1, 0)] >= query))
    while back.size:
        pos[back] -= 1
        back = back[(pos[back] > 0) & (flat[np.maximum(pos[back] - 1, 0)] >= query[back])]
    todo = np.flatnonzero(flat[pos] < query)
    while todo.size:
        pos[todo] += 1
        todo = todo[flat[pos[todo]] < query[todo]]
    # rows + u rounds onto the row boundary when u is within one ulp of 0, and the search
    # then stops in the previous row: clip that (probability ~1e-13) case back into the row.
    return np.clip(pos - rows * width, 0, width - 1)


def _finish_dense(kept, short, mixture, components, counts, have, rng):
    """Complete users in ``short`` with Gumbel-top-k on their dense preference rows.

    Gumbel-top-k over the items not drawn yet continues a successive sample exactly.
    """
    n_items = components.shape[1]
    is_short = np.zeros(mixture.shape[0], dtype=bool)
    is_short[short] = True
    mine = np.sort(kept[is_short[kept // n_items]])  # drawn so far, grouped by user
    block = max(1, _BLOCK_CELLS // n_items)
    extra = []
    for start in range(0, short.shape[0], block):
        users = short[start : start + block]
        with np.errstate(divide="ignore"):
            keys = np.log(mixture[users] @ components)
        keys += rng.gumbel(size=keys.shape)
        # Zero-probability items rank after every reachable one but before drawn ones.
        keys[np.isneginf(keys)] = -np.finfo(np.float64).max
        lo, hi = np.searchsorted(mine // n_items, [users[0], users[-1] + 1])
        drawn = mine[lo:hi]
        keys[np.searchsorted(users, drawn // n_items), drawn % n_items] = -np.inf
        need = counts[users] - have[users]
        # Top need[u] keys of each row: partition around the largest need, then order only
        # those candidates: O(n_items + top log top) per row instead of a full sort.
        top = int(need.max())
        cand = np.argpartition(-keys, top - 1, axis=1)[:, :top]
        order = np.take_along_axis(
            cand, np.argsort(-np.take_along_axis(keys, cand, axis=1), axis=1), axis=1
        )
        take = np.arange(top)[None, :] < need[:, None]
        extra.append(np.repeat(users, need) * n_items + order[take])
    return np.concatenate([kept, *extra])


def _timestamps(users, rng):
    """Strictly increasing Unix times within each user (users given sorted), random order."""
    n = users.shape[0]
    order = np.lexsort((rng.random_sample(n), users))
    gaps = rng.exponential(_MEAN_GAP, size=n).astype(np.int64) + 1
    starts = _T0 + rng.randint(0, _T_SPAN, size=int(users.max()) + 1 if n else 0)
    sorted_users = users[order]
    cum = np.cumsum(gaps)
    first = np.searchsorted(sorted_users, sorted_users, side="left")
    # Subtract the running sum before each user's first event: per-user cumulative gaps.
    offset = np.concatenate([[0], cum])[first]
    times = np.empty(n, dtype=np.int64)
    times[order] = starts[sorted_users] + cum - offset
    return times
