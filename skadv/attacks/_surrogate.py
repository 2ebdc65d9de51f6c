r"""``SurrogateAttack``: fake profiles optimized against a surrogate matrix factorization.

The attack of Tang, Wen and Wang (2020), made affordable on a CPU. The fake users' profiles
are a relaxed matrix :math:`Z \in \mathbb{R}^{n_{fake} \times n_{items}}`; each outer
iteration projects it to a binary profile matrix :math:`B` (the targets plus each row's
``n_filler`` highest entries), fits a surrogate weighted MF (WMF, implicit ALS) on the real
interactions plus :math:`B`, unrolls a few differentiable ALS steps from that fit, and moves
:math:`Z` along the gradient of an attack loss of the real users' predicted scores. The best
:math:`B` seen (by the surrogate's loss) is the attack. Needs PyTorch for the gradient
(imported by ``fit_resample``).

Notes
-----
Surrogate. WMF (Hu et al. 2008) on binary data :math:`x_{ui}` (every real interaction, and
the fake profiles :math:`B`): minimize
:math:`\sum_{u,i} c_{ui}(x_{ui} - p_u^\top q_i)^2 + \lambda(\|P\|^2 + \|Q\|^2)` with
confidence :math:`c_{ui} = 1 + (\alpha - 1) x_{ui}`, by alternating closed-form updates
(:math:`p_u = (Q^\top C_u Q + \lambda I)^{-1} Q^\top C_u x_u`, likewise :math:`q_i`), the
implicit-ALS identity :math:`Q^\top C_u Q = Q^\top Q + (\alpha - 1)\sum_{i \in u} q_i q_i^\top`
keeping every step sparse in the real users (no users × items matrix).

Attack loss (push). Over a fixed sample :math:`S` of real users and the targets :math:`T`
each of them has not interacted with, the multinomial cross-entropy of Tang et al.,
:math:`L = -\frac{1}{|\{(u, t)\}|}\sum_{u \in S}\sum_{t \in T \setminus I_u}
\log \mathrm{softmax}_{j \notin I_u}(p_u^\top q_j)_t`: a smooth surrogate of the targets' rank
among each user's unseen items (``goal="nuke"`` maximizes it). ``objective="rank"`` takes
instead :math:`\frac{1}{|\{(u, t)\}|}\sum_{u, t}\frac{1}{|J_u|}\sum_{j \in J_u}
\sigma((s_{uj} - s_{ut}) / \tau_u)`, with :math:`J_u` the user's unseen items,
:math:`s = P Q^\top` and :math:`\tau_u` a tenth of the standard deviation of the user's scores.
``objective="hit"`` takes :math:`-\frac{1}{|\{(u, t)\}|}\sum_{u, t}
\sigma((s_{ut} - \theta_u) / \tau_u)` with :math:`\theta_u` the user's ``top_k``-th highest
unseen score (held fixed in the gradient) and :math:`\tau_u` half the standard deviation of
the user's scores: a smoothed T-HR@``top_k`` (Fang et al. 2020 smooth the same hit with a
sigmoid of the score margin). Its gradient vanishes for users far below their top-k, so the
profiles are shaped for the users a hit can reach rather than for the mean rank.

Gradient. From the surrogate's fit :math:`(P, Q)` on :math:`(X, B)`, ``unroll_steps``
differentiable half-sweeps update the fake users' factors, then the item factors, as
functions of :math:`B` (real users' factors held fixed); :math:`\partial L / \partial B`
follows by autograd through the batched linear solves. The targets' columns are fixed
(ones for push) and get no step; each row's gradient is L2-normalized (steepest descent in
L2, as Tang et al.) and :math:`Z \leftarrow Z - \eta\,(\text{momentum } 0.9)`.

Differences from Tang et al. (2020): their surrogate is WMF trained by Adam with the last
``unroll_steps`` epochs unrolled through ``higher`` (or ALS with the user factors fixed);
here the surrogate is fitted by ALS, warm-started across outer iterations (``n_epochs``
sweeps for the first fit, ``refit_epochs`` after), and unrolled as ALS half-sweeps in which
the fake users' factors move too (so fillers act through the fake users, as they do in the
victim). Their projection thresholds :math:`Z` at 0.5; here it keeps exactly ``n_filler``
items per profile (the budget of the other attacks), and :math:`Z` is not reset to
:math:`B` between iterations. The loss is taken on a sample of at most ``max_users`` real
users, and the best profiles are chosen by the surrogate's loss rather than its T-HR@50
(too coarse on small samples).
"""

import numpy as np
from scipy import sparse
from threadpoolctl import threadpool_limits

from skadv.attacks._poisoning import (
    _DOC_ATTRIBUTES,
    _DOC_PARAMETERS,
    _ShillingAttack,
)
from skadv.utils._params import NONE, Interval, Options
from skadv.utils._ranking import row_blocks
from skadv.utils._threads import effective_n_threads

__all__ = ["SurrogateAttack"]

#: Momentum of the outer (profile) updates, as in Tang et al.'s SGD on the fake data.
MOMENTUM = 0.9
#: Temperature of the smoothed rank (``objective="rank"``), in units of a user's score spread.
RANK_TEMPERATURE = 0.1
#: Temperature of the smoothed top-k hit (``objective="hit"``), in units of a user's score spread.
HIT_TEMPERATURE = 0.5


class SurrogateAttack(_ShillingAttack):
    __doc__ = f"""Fake profiles optimized by gradient against a surrogate WMF model.

    Each fake profile holds the targets (rated :math:`r_{{max}}`, or :math:`r_{{min}}` with
    ``goal="nuke"``) and ``filler_size`` fillers chosen to move the targets up (down) the
    real users' rankings of a surrogate weighted matrix factorization fitted on the
    poisoned data: projected gradient descent on relaxed profiles through unrolled ALS
    steps (Tang et al. 2020; see the module notes for the exact algorithm). Fillers start
    as the items of random real users (Tang et al.'s initialization) and are rated around
    each item's mean, as :class:`AverageAttack` does, when ``y`` is given. The surrogate
    is implicit: every real rating counts as an interaction, and with ``goal="nuke"`` the
    fake users' targets are absent from its data (a minimum rating has no implicit
    counterpart) while the fillers are chosen to sink the targets. Needs PyTorch.

    Parameters
    ----------{_DOC_PARAMETERS}
    n_factors : int, default=32
        Dimension of the surrogate's factors.
    reg : float, default=1.0
        L2 regularization :math:`\\lambda` of the surrogate.
    confidence : float, default=5.0
        Confidence :math:`\\alpha \\ge 1` of an observed interaction in WMF.
    n_epochs : int, default=10
        ALS sweeps of the surrogate's first fit.
    refit_epochs : int, default=3
        ALS sweeps of each refit on the updated profiles (warm-started).
    unroll_steps : int, default=2
        Differentiable ALS half-sweep pairs (fake users, then items) the gradient goes
        through.
    n_iter : int, default=20
        Outer iterations (profile updates).
    learning_rate : float, default=30.0
        Step size of the outer updates on the row-normalized gradient. Large on purpose:
        the projection reads only the order of each row of :math:`Z`, and a step of 30
        lets the accumulated gradient, not the initial profile, decide it within a few
        iterations.
    max_users : int, default=512
        Real users in the attack loss (a fixed random sample).
    objective : {"cross-entropy", "rank", "hit"}, default="cross-entropy"
        Attack loss: Tang et al.'s cross-entropy of the targets under a softmax over each
        user's unseen items, a smoothed rank (the sigmoid-weighted share of unseen items
        scored above each target), a direct surrogate of the rank shift, or a smoothed
        top-``top_k`` hit (the sigmoid of each target's margin over the user's
        ``top_k``-th best unseen score), a direct surrogate of T-HR@``top_k``. The first two
        move the targets' mean rank; ``"hit"`` spends the budget on the users whose
        top-``top_k`` the targets can reach, and is the one to use when the attack is
        judged by the targets' hit rate (on MovieLens 100k against tuned BPR with 5 % fake
        users, T-HR@50 about seven times the cross-entropy's, for a smaller mean rank
        shift: see ``benchmarks/bench_strong_attack.py``).
    top_k : int, default=50
        Cut-off of ``objective="hit"`` (ignored by the other objectives).
    n_jobs : int, default=None
        Torch and BLAS threads (None: 1; -1: all cores).

    Attributes
    ----------{_DOC_ATTRIBUTES}
    loss_curve_ : list of float
        The surrogate's attack loss after each outer step (lower: a stronger attack; for
        ``goal="nuke"`` the push loss negated).
    best_iteration_ : int
        Iteration whose profiles were kept (0: the initial ones).

    See Also
    --------
    AverageAttack, BandwagonAttack, GANAttack

    References
    ----------
    .. [1] J. Tang, H. Wen and K. Wang, "Revisiting adversarially learned injection attacks
       in recommender systems", NeurIPS 2020.
    .. [2] B. Li, Y. Wang, A. Singh and Y. Vorobeychik, "Data poisoning attacks on
       factorization-based collaborative filtering", NeurIPS 2016.
    .. [3] Y. Hu, Y. Koren and C. Volinsky, "Collaborative filtering for implicit feedback
       datasets", ICDM 2008.
    .. [4] M. Fang, N. Z. Gong and J. Liu, "Influence function based data poisoning attacks
       to top-N recommender systems", WWW 2020.

    Examples
    --------
    >>> from skadv.attacks import SurrogateAttack
    >>> from skadv.datasets import make_interactions
    >>> X = make_interactions(n_users=100, n_items=50, random_state=0)
    >>> attack = SurrogateAttack(filler_size=4, n_factors=4, n_iter=3, random_state=0)
    >>> X_poisoned, _ = attack.fit_resample(X)
    >>> attack.n_fake_users_, int(attack.sample_mask_.sum()), len(attack.loss_curve_)
    (5, 45, 3)
    """

    _parameter_constraints = {
        **_ShillingAttack._parameter_constraints,
        "n_factors": [Interval("int", 1, None)],
        "reg": [Interval("real", 0, None, closed="neither")],
        "confidence": [Interval("real", 1, None)],
        "n_epochs": [Interval("int", 1, None)],
        "refit_epochs": [Interval("int", 0, None)],
        "unroll_steps": [Interval("int", 1, None)],
        "n_iter": [Interval("int", 1, None)],
        "learning_rate": [Interval("real", 0, None, closed="neither")],
        "max_users": [Interval("int", 1, None)],
        "objective": [Options("cross-entropy", "rank", "hit")],
        "top_k": [Interval("int", 1, None)],
        "n_jobs": [NONE, Interval("int", None, None)],
    }

    def __init__(self, target_items=None, *, n_targets=5, target_popularity="unpopular",
                 attack_size=0.05, filler_size=0.01, goal="push", rating_range=None,
                 n_factors=32, reg=1.0, confidence=5.0, n_epochs=10, refit_epochs=3,
                 unroll_steps=2, n_iter=20, learning_rate=30.0, max_users=512,
                 objective="cross-entropy", top_k=50, n_jobs=None,
                 random_state=None):  # fmt: skip
        super().__init__(target_items, n_targets=n_targets,
                         target_popularity=target_popularity, attack_size=attack_size,
                         filler_size=filler_size, goal=goal, rating_range=rating_range,
                         random_state=random_state)  # fmt: skip
        self.n_factors = n_factors
        self.reg = reg
        self.confidence = confidence
        self.n_epochs = n_epochs
        self.refit_epochs = refit_epochs
        self.unroll_steps = unroll_steps
        self.n_iter = n_iter
        self.learning_rate = learning_rate
        self.max_users = max_users
        self.objective = objective
        self.top_k = top_k
        self.n_jobs = n_jobs

    def _filler_ratings(self, fillers, stats, rng):
        return stats.around_item_means(fillers, rng)

    def _draw_fillers(self, candidates, n_fake, n_filler, popularity, rng, *, targets, pairs):
        try:
            import torch  # noqa: F401
        except ImportError as exc:  # pragma: no cover - torch is installed in the tests
            raise ImportError(
                "SurrogateAttack needs PyTorch for its gradient: pip install 'skadv[torch]'"
            ) from exc
        from skadv._torch.utils import torch_threads

        n_users, n_items = self.user_ids_.shape[0], self.item_ids_.shape[0]
        R = sparse.csr_matrix(
            (np.ones(pairs.shape[0]), (pairs[:, 0], pairs[:, 1])), shape=(n_users, n_items)
        )
        is_candidate = np.zeros(n_items, dtype=bool)
        is_candidate[candidates] = True
        Z = _initial_profiles(R, is_candidate, n_fake, n_filler, popularity, rng)
        sample = np.sort(rng.choice(n_users, size=min(self.max_users, n_users), replace=False))
        n_threads = effective_n_threads(self.n_jobs)
        with torch_threads(n_threads), threadpool_limits(n_threads):
            best, self.loss_curve_, self.best_iteration_ = _optimize(
                self, R, Z, targets, is_candidate, n_filler, sample, rng
            )
        return [np.flatnonzero(row) for row in best]


# ------------------------------------------------------------------------------ helpers
def _initial_profiles(R, is_candidate, n_fake, n_filler, popularity, rng):
    """(n_fake, n_items) 0/1 fillers: a random real user's candidate items each, cut to
    ``n_filler`` at random or topped up by popularity-weighted draws."""
    Z = np.zeros((n_fake, R.shape[1]))
    weights = (popularity + 1.0) * is_candidate
    for k, u in enumerate(rng.randint(R.shape[0], size=n_fake)):
        own = R.indices[R.indptr[u] : R.indptr[u + 1]]
        own = own[is_candidate[own]]
        if own.shape[0] > n_filler:
            own = rng.choice(own, size=n_filler, replace=False)
        Z[k, own] = 1.0
        missing = n_filler - own.shape[0]
        if missing:
            p = weights * (Z[k] == 0)
            Z[k, rng.choice(R.shape[1], size=missing, replace=False, p=p / p.sum())] = 1.0
    return Z


#: Rows of the relaxed profiles projected at once (bounds the sort's temporaries).
PROJECT_ROWS = 64


def _project(Z, is_candidate, n_filler):
    """0/1 fillers: each row's ``n_filler`` highest candidate entries (ties: lower code)."""
    B = np.zeros_like(Z)
    for start in range(0, Z.shape[0], PROJECT_ROWS):
        rows = slice(start, start + PROJECT_ROWS)
        scores = np.where(is_candidate, Z[rows], -np.inf)
        top = np.argsort(-scores, axis=1, kind="stable")[:, :n_filler]
        np.put_along_axis(B[rows], top, 1.0, axis=1)
    return B


def _optimize(attack, R, Z, targets, is_candidate, n_filler, sample, rng):
    """The outer loop: returns the best 0/1 fillers, the loss curve and the best iteration."""
    import torch

    alpha, reg, k = float(attack.confidence), float(attack.reg), attack.n_factors
    n_users, n_items = R.shape
    push = attack.goal == "push"
    target_value = 1.0 if push else 0.0
    seed = int(rng.randint(2**31))
    gen = torch.Generator().manual_seed(seed)
    Q = 0.1 * torch.randn(n_items, k, generator=gen, dtype=torch.float64).numpy()
    RT = R.T.tocsr()
    Rs = R[sample]
    # Pairs of the loss: sampled users x targets they have not interacted with.
    seen_targets = Rs[:, targets].toarray() > 0
    mask_seen = torch.from_numpy(Rs.toarray() > 0)
    pair_weight = torch.from_numpy((~seen_targets) / max(1, (~seen_targets).sum()))
    targets_t = torch.from_numpy(targets)

    velocity = np.zeros_like(Z)
    best, best_loss, best_iter, curve = None, np.inf, 0, []
    for it in range(attack.n_iter + 1):
        B = _project(Z, is_candidate, n_filler)
        B[:, targets] = target_value
        sweeps = attack.n_epochs if it == 0 else attack.refit_epochs
        for _ in range(sweeps):
            P, Q = _als_sweep(R, RT, B, Q, alpha, reg)
        # Differentiable: B -> fake users' factors -> item factors -> sampled users' scores.
        B_t = torch.tensor(B, requires_grad=True)
        Q_t = torch.from_numpy(Q)
        P_real = torch.from_numpy(P)
        # Per item, the real users' part of the item update (their factors held fixed).
        PP_real = torch.from_numpy(RT @ _outer_products(P))
        b_real = torch.from_numpy(alpha * (RT @ P))
        eye = reg * torch.eye(k, dtype=torch.float64)
        G_real = P_real.T @ P_real
        for _ in range(attack.unroll_steps):
            P_f = _solve_rows(B_t, Q_t, alpha, eye)
            PP_f = _outer_products(P_f)
            W1 = (alpha - 1.0) * B_t
            A = (G_real + P_f.T @ P_f + eye) + (alpha - 1.0) * PP_real.reshape(-1, k, k)
            A = A + (W1.T @ PP_f).reshape(-1, k, k)
            rhs = b_real + (alpha * B_t).T @ P_f
            Q_t = torch.linalg.solve(A, rhs.unsqueeze(-1)).squeeze(-1)
        loss = _attack_loss(P_real[sample] @ Q_t.T, mask_seen, targets_t, pair_weight,
                            attack.objective, attack.top_k)  # fmt: skip
        value = float(loss.detach()) if push else -float(loss.detach())
        if it > 0:
            curve.append(value)
        if value < best_loss:
            best, best_loss, best_iter = B.copy(), value, it
        if it == attack.n_iter:
            break
        (grad,) = torch.autograd.grad(loss if push else -loss, B_t)
        grad = grad.numpy()
        grad[:, targets] = 0.0
        grad[:, ~is_candidate] = 0.0
        grad /= np.maximum(np.linalg.norm(grad, axis=1, keepdims=True), 1e-12)
        # In place: Z and velocity are the largest arrays of the attack (n_fake x n_items).
        velocity *= MOMENTUM
        velocity += grad
        Z -= attack.learning_rate * velocity
    best[:, targets] = 0.0
    return best, curve, best_iter


def _attack_loss(scores, mask_seen, targets, pair_weight, objective, top_k=50):
    """The attack loss of a push (lower: targets ranked higher), over the sampled users."""
    import torch

    if objective == "hit":
        # A sigmoid-smoothed top-k hit: the target's margin over the user's k-th best unseen
        # score (held fixed), on the scale of the user's score spread. Users far from their
        # top-k get almost no gradient: the loss spends the budget where a hit is reachable.
        masked = scores.detach().masked_fill(mask_seen, -torch.inf)
        k = min(top_k, masked.shape[1])
        threshold = torch.topk(masked, k, dim=1).values[:, -1:]
        spread = scores.detach().std(dim=1, keepdim=True).clamp_min(1e-12) * HIT_TEMPERATURE
        hit = torch.sigmoid((scores[:, targets] - threshold) / spread)
        return -(pair_weight * hit).sum()

    if objective == "cross-entropy":
        log_p = torch.log_softmax(scores.masked_fill(mask_seen, -torch.inf), dim=1)[:, targets]
        log_p = torch.where(torch.isfinite(log_p), log_p, torch.zeros_like(log_p))
        return -(pair_weight * log_p).sum()
    # "rank": a sigmoid-smoothed rank, the share of unseen items scored above each target,
    # on the scale of each user's score spread.
    scale = scores.detach().std(dim=1, keepdim=True).clamp_min(1e-12) * RANK_TEMPERATURE
    above = torch.sigmoid((scores[:, None, :] - scores[:, targets, None]) / scale[:, :, None])
    unseen = (~mask_seen).to(scores.dtype)
    share = (above * unseen[:, None, :]).sum(dim=2) / unseen.sum(dim=1, keepdim=True)
    return (pair_weight * share).sum()


def _outer_products(F):
    """Row-wise outer products ``f f^T`` of ``F``, flattened: shape (n_rows, k*k)."""
    k = F.shape[1]
    return (F[:, :, None] * F[:, None, :]).reshape(-1, k * k)


def _solve_rows(B, Q, alpha, eye):
    """Closed-form WMF factors of dense rows ``B`` given item factors ``Q`` (torch,
    differentiable in both)."""
    import torch

    k = Q.shape[1]
    A = (Q.T @ Q + eye) + ((alpha - 1.0) * B @ _outer_products(Q)).reshape(-1, k, k)
    return torch.linalg.solve(A, ((alpha * B) @ Q).unsqueeze(-1)).squeeze(-1)


def _wmf_rows(M, F, alpha, reg, gram=None, extra=None):
    """Closed-form WMF factors of the rows of ``M`` (sparse or dense, entries in [0, 1])
    given the other side's factors ``F``: ``(F^T C F + reg I)^{-1} F^T C m`` with
    ``C = 1 + (alpha - 1) m``. ``gram`` is the Gram matrix of every row of the other side
    (``F^T F`` by default); ``extra`` adds ``(outer, rhs)`` sums of other rows. NumPy, in
    row blocks."""
    k = F.shape[1]
    gram = F.T @ F if gram is None else gram
    FF = _outer_products(F)
    out = np.empty((M.shape[0], k))
    for block in row_blocks(M.shape[0], 3 * k * k * 8):
        rows = M[block]
        outer, rhs = rows @ FF, alpha * (rows @ F)
        if extra is not None:
            outer, rhs = outer + extra[0][block], rhs + extra[1][block]
        A = (gram + reg * np.eye(k)) + (alpha - 1.0) * outer.reshape(-1, k, k)
        out[block] = np.linalg.solve(A, rhs[:, :, None])[:, :, 0]
    return out


def _als_sweep(R, RT, B, Q, alpha, reg):
    """One ALS sweep of WMF on the real rows ``R`` (sparse, binary) and fake rows ``B``
    (dense): users (real and fake), then items. NumPy, no gradient."""
    P = _wmf_rows(R, Q, alpha, reg)
    P_fake = _wmf_rows(B, Q, alpha, reg)
    gram = P.T @ P + P_fake.T @ P_fake
    extra = (B.T @ _outer_products(P_fake), alpha * (B.T @ P_fake))
    Q = _wmf_rows(RT, P, alpha, reg, gram=gram, extra=extra)
    return P, Q
