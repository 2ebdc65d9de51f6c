r"""Training loop of :class:`~skadv.mf.AdversarialMFRecommender` on PyTorch (CPU or CUDA).

Imported by the estimator's ``fit`` only when ``backend_ == "torch"``: importing this module
imports torch, ``import skadv`` does not.

It trains the objective of the compiled kernel (``src_ext/_mf_sgd.pyx``) by mini-batches of
``batch_size`` triples instead of one triple at a time. A step on a batch :math:`B` minimizes
the *sum* of the per-triple losses of the kernel,

.. math:: L_B(\Theta) = \sum_{(u,i,j) \in B} \ell_{uij}(\Theta)
          + \lambda\, \mathrm{BPR}_{uij}(\Theta + \Delta),

so a row touched by several triples of the batch receives the sum of their gradients, the L2
penalty included once per occurrence, and a row touched once gets exactly the kernel's gradient.
The perturbation is that of the paper for a mini-batch: :math:`\Delta_r = \varepsilon\, g_r /
\|g_r\|_2` with :math:`g_r` the gradient of the clean BPR loss *of the whole batch* with
respect to row :math:`r`, i.e. the per-triple gradients of the triples that touch :math:`r`,
summed. The compiled kernel is the case ``batch_size=1``, where every triple gets its own
:math:`\Delta`; with larger batches a popular item gets one :math:`\Delta` for all the triples
that share it. ``adversary="random"`` draws one Gaussian direction per row of the batch.
:math:`\Delta` is held fixed (no gradient flows through it), and the gradients are written in
closed form (the model is bilinear), not taken by autograd.

Each step is sparse: it gathers the rows of the batch, sums the gradients per distinct row
(``torch.unique`` + ``index_add_``), and updates those rows and their optimizer state only:
SGD and AdaGrad with the kernel's formulas (:math:`a \mathrel{+}= g^2`, :math:`\theta
\mathrel{-}= \eta\, g / (\sqrt{a} + 10^{-8})`), and lazy Adam as
``torch.optim.SparseAdam`` computes it: for the rows of the batch only,
:math:`m \mathrel{+}= (1 - \beta_1)(g - m)`, :math:`v \mathrel{+}= (1 - \beta_2)(g^2 - v)`,
:math:`\theta \mathrel{-}= \eta \sqrt{1 - \beta_2^t} / (1 - \beta_1^t) \cdot m /
(\sqrt{v} + 10^{-8})` with :math:`t` the number of steps taken on the state (one per batch,
all rows alike), :math:`\beta = (0.9, 0.999)`. Rows outside the batch keep their parameters
and moments (dense Adam would move them by their momentum).

Triples are drawn on the device from a ``torch.Generator`` seeded from the estimator's
``RandomState``: a positive pair uniformly with replacement, a negative item uniformly,
rejected (and redrawn) while it is one of the user's items, checked with ``searchsorted`` on
the sorted keys ``user * n_items + item``.

On CPU the tensors are views of the :class:`~skadv.training.FactorState` arrays
(updated in place). On CUDA they are copies, written back into those arrays after every epoch,
so that early stopping, the finiteness and collapse checks and the fitted model see NumPy
arrays; the fitted state never holds a tensor.
"""

import math

import numpy as np
import torch
import torch.nn.functional as F

from skadv._torch.adversary import normalize
from skadv._torch.sampling import TripleSampler
from skadv._torch.utils import mean_row_norm, torch_threads
from skadv.mf._vulnerability import vulnerability_scale
from skadv.training import FactorState, check_finite, per_user_scale, run_epochs
from skadv.utils._random import draw_seeds

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "MIN_STEPS",
    "adam_step_size",
    "default_batch_size",
    "batch_step",
    "on_device",
    "row_perturbation",
    "train",
    "write_back",
]

#: Triples per step when the estimator's ``batch_size`` is None (large batches keep a GPU
#: busy)...
DEFAULT_BATCH_SIZE = 4096
#: ...but at most 1 / MIN_STEPS of an epoch, so that small data sets still take this many
#: steps per epoch (one step per epoch would leave them almost untrained).
MIN_STEPS = 16

# Added to sqrt(accumulator) in AdaGrad, as in the compiled kernel.
ADAGRAD_EPS = 1e-8
# Adam's decay rates of the first and second moments and its epsilon: the defaults of
# torch.optim.(Sparse)Adam and of the Adam paper.
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8


def on_device(state, device):
    """A :class:`~skadv.training.FactorState` of tensors on ``device``: views of ``state``'s
    arrays on CPU, copies elsewhere (written back by :func:`write_back`)."""
    device = torch.device(device)
    tensors = {
        name: None if a is None else torch.from_numpy(a).to(device)
        for name, a in state.arrays().items()
    }
    return FactorState(**tensors, n_steps=state.n_steps)


def write_back(factors, state):
    """Copy the tensors of ``factors`` into ``state``'s arrays (only the step count when they
    are views of them)."""
    state.n_steps = factors.n_steps
    if factors.user.device.type == "cpu":
        return
    for name, array in state.arrays().items():
        tensor = getattr(factors, name)
        if tensor is not None:
            np.copyto(array, tensor.cpu().numpy())


def row_perturbation(sd, sp, inv_u, inv_i, inv_j, n_user_rows, n_item_rows, *, eps_user,
                     eps_item, adversary, generator=None, user_scale=None):  # fmt: skip
    """Perturbation of each distinct row of a batch, gathered back per triple.

    Parameters
    ----------
    sd, sp : Tensor of shape (batch, k)
        ``s * (q_i - q_j)`` and ``s * p_u`` of each triple, with ``s = sigmoid(-x)``: the
        clean BPR gradients of a triple are ``-sd`` (user row), ``-sp`` (positive item) and
        ``+sp`` (negative item).
    inv_u : Tensor of shape (batch,)
        Index of each triple's user among the batch's ``n_user_rows`` distinct users.
    inv_i, inv_j : Tensor of shape (batch,)
        Indexes of the positive and negative items among the ``n_item_rows`` distinct items.
    eps_user, eps_item : float
        L2 norm of the perturbation of a user row, of an item row.
    adversary : {"fgsm", "random"}
        The normalized batch gradient of the clean BPR loss, or a Gaussian direction.
    generator : torch.Generator, default=None
        Source of the random directions.
    user_scale : Tensor of shape (batch,), default=None
        ``epsilon_mode="per-user"``: each triple's perturbations (of its user row and both
        item rows) get radii ``eps_user * user_scale`` and ``eps_item * user_scale``, the
        scale of its user (:func:`skadv.training.per_user_scale`). An item row shared by
        triples of different users keeps one direction, scaled per triple.

    Returns
    -------
    du, di, dj : Tensor of shape (batch, k)
        The perturbation of the user, positive item and negative item row of each triple.
    """
    k = sd.shape[1]
    if adversary == "fgsm":
        # Per-triple gradients summed over the triples that share a row.
        g_user = sd.new_zeros((n_user_rows, k)).index_add_(0, inv_u, sd, alpha=-1)
        g_item = sd.new_zeros((n_item_rows, k)).index_add_(0, inv_i, sp, alpha=-1)
        g_item.index_add_(0, inv_j, sp)
    else:
        like = dict(generator=generator, device=sd.device, dtype=sd.dtype)
        g_user = torch.randn((n_user_rows, k), **like)
        g_item = torch.randn((n_item_rows, k), **like)
    if user_scale is not None:
        scale = user_scale[:, None]
        dir_user = normalize(g_user, 1.0, "per-example").index_select(0, inv_u)
        dir_item = normalize(g_item, 1.0, "per-example")
        item_scale = scale * eps_item
        return (
            dir_user * (scale * eps_user),
            dir_item.index_select(0, inv_i) * item_scale,
            dir_item.index_select(0, inv_j) * item_scale,
        )
    delta_user = normalize(g_user, eps_user, "per-example")
    delta_item = normalize(g_item, eps_item, "per-example")
    return (
        delta_user.index_select(0, inv_u),
        delta_item.index_select(0, inv_i),
        delta_item.index_select(0, inv_j),
    )


def _apply(param, acc, mom, rows, grad, lr, *, adam_step_size=None, trainable=None):
    """SGD, AdaGrad or lazy Adam step on the distinct ``rows`` of ``param``.

    ``grad`` holds the gradient of each row of ``rows`` (zero for frozen rows). With Adam
    (``mom`` not None), ``adam_step_size`` is the bias-corrected step size and
    ``trainable`` (None: all rows) is 1 for the rows to update, 0 for frozen ones: a zero
    gradient would still decay a frozen row's moments and move it by its momentum.
    """
    if mom is not None:
        _adam(param, acc, mom, rows, grad, adam_step_size, trainable)
        return
    if acc is None:
        param.index_add_(0, rows, grad, alpha=-lr)
        return
    rows_acc = acc.index_select(0, rows).addcmul_(grad, grad)
    acc.index_copy_(0, rows, rows_acc)
    # In place: ``grad`` and ``rows_acc`` are scratch from here on.
    param.index_add_(0, rows, grad.div_(rows_acc.sqrt_().add_(ADAGRAD_EPS)), alpha=-lr)


def _adam(param, v, m, rows, grad, step_size, trainable):
    """Lazy Adam on ``rows`` (``torch.optim.SparseAdam``'s arithmetic, rows only)."""
    beta1, beta2 = ADAM_BETAS
    rows_m, rows_v = m.index_select(0, rows), v.index_select(0, rows)
    # SparseAdam's form of the moving averages: m + (1 - beta1) (g - m).
    dm = (grad - rows_m).mul_(1 - beta1)
    dv = (grad * grad).sub_(rows_v).mul_(1 - beta2)
    if trainable is not None:
        dm *= trainable
        dv *= trainable
    rows_m += dm
    rows_v += dv
    m.index_copy_(0, rows, rows_m)
    v.index_copy_(0, rows, rows_v)
    update = rows_m.div_(rows_v.sqrt_().add_(ADAM_EPS))  # rows_m, rows_v: scratch from here
    if trainable is not None:
        update *= trainable
    param.index_add_(0, rows, update, alpha=-step_size)


def adam_step_size(lr, n_steps):
    """Adam's bias-corrected step size after ``n_steps`` steps (the current one included).

    Examples
    --------
    >>> round(adam_step_size(0.1, 1), 4)  # sqrt(1 - 0.999) / (1 - 0.9) * 0.1
    0.0316
    """
    beta1, beta2 = ADAM_BETAS
    return lr * math.sqrt(1.0 - beta2**n_steps) / (1.0 - beta1**n_steps)


def batch_step(factors, users, pos, neg, *, lr, reg, adv_reg, eps_user, eps_item, adversary,
               use_bias, item_start=0, generator=None, mean_user_norm=0.0,
               vulnerability=None):  # fmt: skip
    """One simultaneous step on the triples ``(users, pos, neg)`` of a mini-batch.

    Parameters
    ----------
    factors : skadv.training.FactorState of tensors (see :func:`on_device`)
        Updated in place; the optimizer is SGD, AdaGrad or Adam as its state holds no
        accumulators, accumulators only, or moments too (Adam also counts the step).
    users, pos, neg : Tensor of shape (batch,), int64
        The triples, on the factors' device; ``pos[t] != neg[t]``.
    lr, reg, adv_reg : float
        Learning rate, L2 penalty per occurrence of a row, weight λ of the adversarial loss.
    eps_user, eps_item : float
        Norm of the perturbation of a user row, of an item row.
    adversary : {"none", "fgsm", "random"}
        ``"none"``: plain BPR step.
    use_bias : bool
        Score with (and update) the item biases.
    item_start : int, default=0
        Items with a smaller index are not updated (fold-in).
    generator : torch.Generator, default=None
        Source of the random adversary's directions.
    mean_user_norm : float, default=0.0
        ``epsilon_mode="per-user"``: the mean user row norm; each triple's radii are scaled
        by :func:`skadv.training.per_user_scale` of its user's current row (as the compiled
        kernel does). 0: the radii are used as given.
    vulnerability : tuple of Tensor, default=None
        ``epsilon_mode="vulnerability"`` (VAT): ``(user_scale, user_loss)``, float64 tensors
        of shapes (n_users,) and (n_users, 2). With an adversary each triple's radii are
        multiplied by its user's ``user_scale``; every triple's clean loss and a count of 1
        are added to its user's row of ``user_loss`` (as the compiled kernel does).

    ``factors.item_weight`` (an attribute that :func:`train` sets, Tensor of shape (n_users,)
    or None): each triple's gradients on its item rows and biases (L2 term included) are
    multiplied by its user's weight, as the compiled kernel's ``item_weight`` does.

    Returns
    -------
    clean_loss, adversarial_loss : Tensor of shape (), float64
        Sums over the triples of the clean BPR loss and of the perturbed BPR loss (0 with
        ``"none"``; not weighted by ``adv_reg``; no L2 term).
    """
    # Written to keep the number of passes over (batch, k) tensors low (about 20): on CPU
    # and GPU alike a step is bound by memory traffic, not arithmetic.
    P, Q, b = factors.user, factors.item, factors.bias
    n, k = users.shape[0], P.shape[1]
    # index_select rather than P[users]: the same gather, 3x faster on CPU.
    p, qi, qj = P.index_select(0, users), Q.index_select(0, pos), Q.index_select(0, neg)
    d = qi - qj
    x = (p * d).sum(dim=1)
    if use_bias:
        b_diff = b.index_select(0, pos) - b.index_select(0, neg)
        x = x + b_diff
    # In float32, s underflows to 0 for x > ~88: such a triple adds nothing to the direction
    # of its rows (the kernel, in double, would still perturb it); its loss is ~0 anyway.
    s = torch.sigmoid(-x)
    triple_loss = F.softplus(-x)
    loss = triple_loss.sum(dtype=torch.float64)
    if vulnerability is not None:
        record = torch.stack(
            [triple_loss.to(torch.float64), torch.ones_like(x, dtype=torch.float64)], 1
        )
        vulnerability[1].index_add_(0, users, record)
    adv_loss = torch.zeros((), dtype=torch.float64, device=x.device)
    sd, sp = s[:, None] * d, s[:, None] * p

    rows_user, inv_u, count_user = torch.unique(users, return_inverse=True, return_counts=True)
    rows_item, inv_item = torch.unique(torch.cat([pos, neg]), return_inverse=True)
    inv_i, inv_j = inv_item[:n], inv_item[n:]

    # Minus the gradient of a triple's loss without L2: ``g_user`` for its user row,
    # ``-core`` for its positive item and ``core`` for its negative item (a: for the biases).
    if adversary == "none":
        g_user, core, a = sd, sp, s
    else:
        user_scale = _user_radius_scale(p, users, vulnerability, mean_user_norm)
        du, di, dj = row_perturbation(
            sd, sp, inv_u, inv_i, inv_j, rows_user.shape[0], rows_item.shape[0],
            eps_user=eps_user, eps_item=eps_item, adversary=adversary, generator=generator,
            user_scale=user_scale,
        )  # fmt: skip
        p_adv, d_adv = p + du, d + (di - dj)
        x_adv = (p_adv * d_adv).sum(dim=1)
        if use_bias:
            x_adv = x_adv + b_diff  # biases are not perturbed
        w = adv_reg * torch.sigmoid(-x_adv)
        adv_loss = F.softplus(-x_adv).sum(dtype=torch.float64)
        g_user = torch.addcmul(sd, w[:, None], d_adv)
        core = torch.addcmul(sp, w[:, None], p_adv)
        a = s + w

    grad_user = P.new_zeros((rows_user.shape[0], k)).index_add_(0, inv_u, g_user, alpha=-1)
    core, a, count_item = _item_side(factors, users, core, a, inv_item, rows_item.shape[0])
    grad_item = Q.new_zeros((rows_item.shape[0], k)).index_add_(0, inv_i, core, alpha=-1)
    grad_item.index_add_(0, inv_j, core)
    if reg:
        # The L2 term of every occurrence of a row is the same: reg * count * row.
        grad_user += (reg * count_user.to(P.dtype))[:, None] * P.index_select(0, rows_user)
        grad_item += (reg * count_item.to(Q.dtype))[:, None] * Q.index_select(0, rows_item)
    # Frozen items get a zero gradient, which leaves the row and its accumulator unchanged
    # (a multiplication rather than a boolean selection: no device-to-host synchronization);
    # Adam also needs the mask itself (see _apply).
    trainable = (rows_item >= item_start).to(Q.dtype) if item_start > 0 else None
    if trainable is not None:
        grad_item *= trainable[:, None]
    adam = {}
    if factors.user_mom is not None:
        factors.n_steps += 1  # one step of the whole state: SparseAdam's per-tensor count
        adam = dict(adam_step_size=adam_step_size(lr, factors.n_steps))
    _apply(P, factors.user_acc, factors.user_mom, rows_user, grad_user, lr, **adam)
    _apply(Q, factors.item_acc, factors.item_mom, rows_item, grad_item, lr, **adam,
           trainable=None if trainable is None else trainable[:, None])  # fmt: skip
    if use_bias:
        grad_bias = b.new_zeros(rows_item.shape[0]).index_add_(0, inv_i, a, alpha=-1)
        grad_bias.index_add_(0, inv_j, a)
        if reg:
            grad_bias += reg * count_item.to(b.dtype) * b.index_select(0, rows_item)
        if trainable is not None:
            grad_bias *= trainable
        _apply(b, factors.bias_acc, factors.bias_mom, rows_item, grad_bias, lr, **adam,
               trainable=trainable)  # fmt: skip
    return loss, adv_loss


def _item_side(factors, users, core, a, inv_item, n_rows):
    """``(core, a, count_item)`` weighted by the users' ``factors.item_weight`` (if any):
    each triple's item-row and bias gradients, and each item row's (weighted) occurrences."""
    weight = getattr(factors, "item_weight", None)
    if weight is None:
        return core, a, torch.bincount(inv_item, minlength=n_rows)
    tw = weight.index_select(0, users).to(core.dtype)
    return core * tw[:, None], a * tw, torch.bincount(inv_item, torch.cat([tw, tw]), n_rows)


def _user_radius_scale(p, users, vulnerability, mean_user_norm):
    """Per-triple factor of the radii: VAT's user scale, PamaCF's per-user scale, or None."""
    if vulnerability is not None:
        return vulnerability[0].index_select(0, users).to(p.dtype)
    if mean_user_norm > 0:
        # Norms in float64, as the kernel computes them.
        norms = torch.linalg.vector_norm(p, dim=1, dtype=torch.float64)
        return per_user_scale(norms, mean_user_norm).to(p.dtype)
    return None


class _VulnerabilityTables:
    """VAT's per-user tables on the device: each user's radius factor and its (clean loss
    sum, sample count) of the current epoch; :meth:`refresh` computes the next factors."""

    def __init__(self, n_users, device):
        self.scale = torch.ones(n_users, dtype=torch.float64, device=device)
        self.loss = torch.zeros((n_users, 2), dtype=torch.float64, device=device)

    @property
    def tables(self):
        return self.scale, self.loss

    def refresh(self):
        # n_users numbers each way: computed on the host, as the compiled backend does.
        self.scale.copy_(torch.from_numpy(vulnerability_scale(self.loss.cpu().numpy())))


def default_batch_size(n_draws):
    """Triples per step for ``batch_size=None``: 4096, or fewer on small data sets.

    Examples
    --------
    >>> default_batch_size(80_000), default_batch_size(1_600), default_batch_size(5)
    (4096, 100, 1)
    """
    return int(min(DEFAULT_BATCH_SIZE, max(1, -(-n_draws // MIN_STEPS))))


def train(
    state,
    interactions,
    sample_users,
    sample_items,
    schedule,
    *,
    rng,
    n_threads,
    device="cpu",
    batch_size=None,
    item_start=0,
    verbose=0,
    early_stopping=None,
    vulnerability=False,
    item_weight=None,
):
    """Run ``schedule.n_epochs`` epochs of mini-batch BPR/APR on ``state`` (updated in place).

    The contract of :func:`skadv.mf._cython_backend.train`, plus ``device`` and
    ``batch_size``.

    Parameters
    ----------
    state : skadv.training.FactorState
        C-contiguous float32 or float64 arrays, all of one dtype.
    interactions : scipy.sparse.csr_matrix of shape (n_users, n_items)
        Positives of every user: negatives are drawn among the other items.
    sample_users, sample_items : ndarray of shape (n_pairs,)
        Positive pairs to sample from (uniformly, ``n_pairs`` draws per epoch).
    schedule : skadv.training.TrainingSchedule
    rng : numpy.random.RandomState
        Seeds the torch generator (sampling and random directions).
    n_threads : int
        Intra-op threads of torch on CPU during training (restored afterwards).
    device : str, default="cpu"
        A device name that torch accepts, e.g. ``"cpu"`` or ``"cuda:0"``.
    batch_size : int or None, default=None
        Triples per step; None means :func:`default_batch_size` of the number of pairs.
    item_start : int, default=0
        Items with a smaller code are kept fixed (fold-in of new users and items).
    verbose : int, default=0
        Print one line per epoch (with a tqdm progress bar when installed).
    early_stopping : skadv.training.EarlyStopping, default=None
    vulnerability : bool, default=False
        ``epsilon_mode="vulnerability"`` (VAT), as in the compiled backend: each user's
        clean losses are recorded in every epoch, and the next adversarial epoch scales its
        radii by :func:`skadv.mf._vulnerability.vulnerability_scale` of them.
    item_weight : ndarray of shape (n_users,), default=None
        Weight of each user's gradients on the item rows and biases (see
        :func:`skadv.mf._cython_backend.train`); None: 1 for every user.

    Returns
    -------
    log : skadv.training.TrainingLog

    Raises
    ------
    ValueError
        If there is no pair to sample from, or if training diverged (lower
        ``learning_rate``).
    """
    device = torch.device(device)
    generator = torch.Generator(device=device)
    generator.manual_seed(int(draw_seeds(rng, 1)[0]))
    sampler = TripleSampler(interactions, sample_users, sample_items, device, generator)
    n_draws = sampler.n_pairs
    batch_size = default_batch_size(n_draws) if batch_size is None else int(batch_size)
    factors = on_device(state, device)
    hyper = dict(
        reg=schedule.reg, adv_reg=schedule.adv_reg, use_bias=schedule.use_bias,
        item_start=item_start, generator=generator,
    )  # fmt: skip
    if item_weight is not None:  # read by batch_step (see there)
        factors.item_weight = torch.as_tensor(np.asarray(item_weight, np.float64), device=device)

    vat = _VulnerabilityTables(factors.user.shape[0], device) if vulnerability else None

    def score(users, items):  # the candidates of dynamic negative sampling
        scores = (factors.user[users] * factors.item[items]).sum(-1)
        return scores + factors.bias[items] if schedule.use_bias else scores

    def run_epoch(plan):
        clean = torch.zeros((), dtype=torch.float64, device=device)
        adv = torch.zeros((), dtype=torch.float64, device=device)
        if vat is not None:
            vat.loss.zero_()
        for batch in sampler.epoch(batch_size, schedule.n_negative_candidates, score):
            batch_clean, batch_adv = batch_step(
                factors, batch["users"], batch["pos"], batch["neg"], eps_user=plan.eps_user,
                eps_item=plan.eps_item, adversary=plan.adversary, lr=plan.learning_rate,
                mean_user_norm=plan.mean_user_norm,
                vulnerability=None if vat is None else vat.tables, **hyper,
            )  # fmt: skip
            clean += batch_clean
            adv += batch_adv
        if vat is not None:
            vat.refresh()
        if early_stopping is not None:
            write_back(factors, state)  # early stopping scores (and copies) the NumPy state
        return clean.item(), adv.item()

    def check(loss, epoch):
        # On the device: copying the factors to the host for the check would cost more
        # than a GPU epoch. The host-side check runs (and raises) only on a failure.
        if not (np.isfinite(loss) and all(
            bool(torch.isfinite(t).all()) for t in (factors.user, factors.item, factors.bias)
        )):  # fmt: skip
            write_back(factors, state)
            check_finite(loss, (state.user, state.item, state.bias), epoch,
                         schedule.divergence_hint)  # fmt: skip

    with torch_threads(n_threads), torch.no_grad():
        log = run_epochs(
            schedule, run_epoch, n_draws=n_draws, check=check,
            row_norms=lambda: (mean_row_norm(factors.user), mean_row_norm(factors.item)),
            early_stopping=early_stopping, verbose=verbose,
        )  # fmt: skip
    write_back(factors, state)
    return log
