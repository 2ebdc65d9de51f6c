"""Adversarial perturbations of the embeddings of a fitted dot-product recommender.

``EmbeddingAttack`` maximises the training BPR loss of a fitted model with respect to its user
and item embedding matrices, within one L2 ball of radius ε per row (APR's threat model), one
L2 ball per matrix, or an elementwise box: FGSM (one normalised gradient step, the attack of
APR), PGD (projected gradient ascent, Madry et al.) and random noise of the same size (the
control). It is the measuring stick of :func:`skadv.evaluation.robustness_curve`.
"""

import copy

import numpy as np
from scipy import sparse
from scipy.special import expit
from sklearn.utils.validation import check_is_fitted

from skadv.attacks._base import BaseModelAttack
from skadv.training import EPSILON_MODES, normalize_rows, perturbation_radii
from skadv.utils._estimators import final_estimator
from skadv.utils._params import NONE, RANDOM_STATE, Interval, Options, validate_params
from skadv.utils._random import check_random_state

__all__ = ["EmbeddingAttack"]

# Triples are scored in chunks so that the gathered (chunk, n_factors) blocks stay small
# (2**16 x 64 float64 = 32 MiB) whatever the number of interactions.
_CHUNK = 1 << 16
# Score matrices up to this many times the number of triples are computed densely.
_DENSE_RATIO = 64

#: The perturbation sets (threat models) of the attack, see the ``norm`` parameter.
NORMS = ("row-l2", "global-l2", "linf")


class EmbeddingAttack(BaseModelAttack):
    """Worst-case (or random) perturbation of the user and item embeddings of a fitted model.

    The adversary maximises the model's training BPR loss by adding to every embedding row a
    perturbation of L2 norm at most ε (or, with ``norm``, to every matrix a perturbation of
    Frobenius norm at most ε, or of largest entry at most ε). Works on any fitted recommender
    that scores a pair by the dot product of ``user_factors_`` and ``item_factors_`` rows plus
    an optional ``item_bias_`` — :class:`skadv.mf.AdversarialMFRecommender` (either backend), the
    two-tower :class:`skadv.neural.AdversarialNeuralRecommender` and
    :class:`skadv.neural.AdversarialTextRecommender` (their tower outputs) — alone or as the
    last step of a :class:`~sklearn.pipeline.Pipeline`. The model is never modified:
    :meth:`perturb` returns a perturbed deep copy.

    Parameters
    ----------
    adversary : {"fgsm", "pgd", "random"}, default="fgsm"
        ``"fgsm"``: one step to the boundary of the ball along the gradient, normalised in the
        ball's norm (per row: the attack used by APR). ``"pgd"``: ``n_steps`` projected
        gradient-ascent steps. ``"random"``: a uniformly random direction on the boundary
        (a random sign per entry with ``norm="linf"``), the control an attack must beat.
    epsilon : float, default=0.5
        Radius ε of the ball (see ``norm`` and ``epsilon_mode``); ``0`` leaves the model
        unchanged.
    n_steps : int, default=10
        Number of PGD steps (ignored by the other adversaries).
    step_size : float, default=None
        Length of each PGD step, in the units of ε (so relative to the mean row norm with
        ``epsilon_mode="relative"``). ``None`` means ``2.5 * epsilon / n_steps`` (Madry et al.),
        enough to reach the boundary of the ball from any point inside it.
    epsilon_mode : {"absolute", "relative", "per-user"}, default="absolute"
        ``"absolute"``: ε is the radius itself. ``"relative"``: the radius is ε times the mean
        L2 row norm of the matrix being perturbed (user and item matrices each get their own),
        so that one ε means the same thing for models whose embeddings have different scales;
        with ``norm="global-l2"`` times also ``sqrt(n_rows)``, with ``"linf"`` divided by
        ``sqrt(n_factors)`` (see Notes). ``"per-user"`` (``norm="row-l2"`` only): each row's
        radius is ε times that row's own L2 norm, users and items alike, so that every row
        moves by the same fraction of its length. :meth:`effective_epsilon` returns the
        resulting radii.
    norm : {"row-l2", "global-l2", "linf"}, default="row-l2"
        The perturbation set of each target matrix. ``"row-l2"``: an L2 ball of radius ε
        around every row (APR's threat model). ``"global-l2"``: one L2 ball of radius ε
        around the whole matrix (Frobenius norm): the adversary may spend its budget on the
        rows that matter most. ``"linf"``: a box, every entry moves by at most ε (FGSM
        becomes ε times the sign of the gradient; PGD projects by clipping).
    target : {"both", "users", "items"}, default="both"
        Which embedding matrices are perturbed; the other gets a zero perturbation.
    n_negatives : int, default=1
        Negative items sampled, uniformly among the items the user did not interact with,
        for every training interaction in the BPR loss.
    random_state : int, RandomState instance or None, default=None
        Seeds negative sampling (``"fgsm"``, ``"pgd"``, :meth:`bpr_loss`) and the random
        directions (``"random"``). An int gives the same triples and perturbation on every
        call, so that :meth:`bpr_loss` and an attack with the same seed see the same loss.

    See Also
    --------
    skadv.evaluation.robustness_curve : Ranking quality of a model under attacks of growing ε.
    skadv.evaluation.make_robustness_scorer : Robustness as a scorer for model selection.

    Notes
    -----
    With user embeddings :math:`P`, item embeddings :math:`Q` and item biases :math:`b`, the
    adversary maximises the BPR loss summed over the training interactions :math:`(u, i)` (each
    stored entry of ``interactions_`` counts once, whatever its weight) and
    :math:`n_{neg}` negatives :math:`j` per interaction, sampled once per call:

    .. math::

        L(P, Q) = \\sum_{(u, i, j)} \\log\\left(1 + e^{-x_{uij}}\\right), \\qquad
        x_{uij} = p_u^\\top (q_i - q_j) + b_i - b_j .

    With :math:`g_r` the gradient of :math:`L` with respect to row :math:`r` of :math:`P` or
    :math:`Q`, evaluated at the current perturbed point:

    * FGSM (Goodfellow et al.; per row as in APR, He et al.):
      :math:`\\Delta_r = \\epsilon \\, g_r / \\lVert g_r \\rVert_2`.
    * PGD (Madry et al.): from :math:`\\Delta^{(0)} = 0`,
      :math:`\\Delta_r^{(t+1)} = \\Pi_{\\epsilon}\\big(\\Delta_r^{(t)} + \\alpha\\, g_r /
      \\lVert g_r \\rVert_2\\big)` with :math:`\\Pi_\\epsilon(d) = d \\min(1, \\epsilon /
      \\lVert d \\rVert_2)`, the projection onto the ball, and step size :math:`\\alpha`. The
      sampled triples stay fixed across the steps, so PGD ascends one objective.
    * random: :math:`\\Delta_r = \\epsilon\\, z_r / \\lVert z_r \\rVert_2`,
      :math:`z_r \\sim \\mathcal{N}(0, I)`: uniform on the sphere.

    These are the ``norm="row-l2"`` forms. With ``"global-l2"`` the same formulas hold with
    the whole matrix in place of a row (:math:`\\Delta = \\epsilon\\, G / \\lVert G
    \\rVert_F`, projection :math:`D \\min(1, \\epsilon / \\lVert D \\rVert_F)`); with
    ``"linf"``, FGSM is :math:`\\Delta = \\epsilon\\, \\mathrm{sign}(G)`, a PGD step
    :math:`\\mathrm{clip}_{[-\\epsilon, \\epsilon]}(\\Delta + \\alpha\\,
    \\mathrm{sign}(G))` and random noise :math:`\\epsilon\\, \\mathrm{sign}(z)`. Each of
    the three maximises the first-order change of the loss over its set.

    ``epsilon_mode="relative"`` scales ε by the mean row norm :math:`\\bar n` of the matrix
    (of :math:`n` rows and :math:`k` columns) so that the three sets compare at one ε: the
    global radius is :math:`\\epsilon \\bar n \\sqrt{n}`, the Frobenius norm of a
    perturbation that moves every row by the relative row radius :math:`\\epsilon \\bar n`,
    so the global ball contains the row balls of the same ε (the attack is at least as
    strong); the box's half-width is :math:`\\epsilon \\bar n / \\sqrt{k}`, so that its
    corners (where linf-FGSM lands) lie on the sphere of the row radius and the box lies
    inside the row ball. (The Frobenius norm of the matrix, :math:`\\sqrt{\\sum_r \\lVert
    p_r \\rVert^2} \\ge \\bar n \\sqrt{n}`, was not chosen: a few long rows would then
    inflate every other row's budget.) ``"per-user"`` gives row :math:`r` the radius
    :math:`\\epsilon \\lVert p_r \\rVert_2` (a PGD step :math:`\\alpha \\lVert p_r
    \\rVert_2`): an attack relative to each row's own length. It is not the training rule of
    ``AdversarialMFRecommender(epsilon_mode="per-user")``, whose bounded per-user factor
    needs a triple's user; this one perturbs whole matrices.

    A row whose gradient is exactly zero gets no perturbation (it is not random): such a row
    has no first-order effect on the loss (a user whose every item is a positive, so that no
    negative can be sampled; an item no triple touches; or all-zero embeddings on the other
    side), and a random direction there would only add noise to a deterministic attack. This
    is also what the reference implementation of APR does (``tf.nn.l2_normalize``). So every
    row of an FGSM perturbation has norm ε or 0, and every PGD row at most ε (with
    ``"linf"``, every entry of a zero gradient stays 0).

    The gradient is :math:`\\nabla_P L = C Q` and :math:`\\nabla_Q L = C^\\top P` with the
    sparse :math:`C = \\sum_{(u,i,j)} -\\sigma(-x_{uij}) \\, e_u (e_i - e_j)^\\top`: one sparse
    product per matrix, no Python loop over interactions.

    References
    ----------
    .. [1] He, X., He, Z., Du, X. and Chua, T.-S. "Adversarial Personalized Ranking for
       Recommendation". SIGIR 2018.
    .. [2] Goodfellow, I., Shlens, J. and Szegedy, C. "Explaining and Harnessing Adversarial
       Examples". ICLR 2015.
    .. [3] Madry, A., Makelov, A., Schmidt, L., Tsipras, D. and Vladu, A. "Towards Deep Learning
       Models Resistant to Adversarial Attacks". ICLR 2018.
    .. [4] Rendle, S., Freudenthaler, C., Gantner, Z. and Schmidt-Thieme, L. "BPR: Bayesian
       Personalized Ranking from Implicit Feedback". UAI 2009.

    Examples
    --------
    >>> from skadv.datasets import make_interactions
    >>> from skadv.mf import AdversarialMFRecommender
    >>> X = make_interactions(n_users=50, n_items=40, random_state=0)
    >>> model = AdversarialMFRecommender(n_factors=8, n_epochs=5, random_state=0).fit(X)
    >>> attack = EmbeddingAttack("fgsm", epsilon=0.1, random_state=0)
    >>> d_users, d_items = attack.perturbation(model)
    >>> d_users.shape == model.user_factors_.shape
    True
    >>> round(float(np.linalg.norm(d_users, axis=1).max()), 6)
    0.1
    >>> attacked = attack.perturb(model)
    >>> bool(attack.bpr_loss(attacked) > attack.bpr_loss(model))
    True
    """

    _parameter_constraints = {
        "adversary": [Options("fgsm", "pgd", "random")],
        "epsilon": [Interval("real", 0, None)],
        "n_steps": [Interval("int", 1, None)],
        "step_size": [NONE, Interval("real", 0, None, closed="neither")],
        "epsilon_mode": [Options(*EPSILON_MODES)],
        "norm": [Options(*NORMS)],
        "target": [Options("both", "users", "items")],
        "n_negatives": [Interval("int", 1, None)],
        "random_state": [NONE, RANDOM_STATE],
    }

    def __init__(
        self,
        adversary="fgsm",
        epsilon=0.5,
        *,
        n_steps=10,
        step_size=None,
        epsilon_mode="absolute",
        norm="row-l2",
        target="both",
        n_negatives=1,
        random_state=None,
    ):
        self.adversary = adversary
        self.epsilon = epsilon
        self.n_steps = n_steps
        self.step_size = step_size
        self.epsilon_mode = epsilon_mode
        self.norm = norm
        self.target = target
        self.n_negatives = n_negatives
        self.random_state = random_state

    # ----------------------------------------------------------------- public API
    def effective_epsilon(self, estimator):
        """Radii of the perturbation sets of the user and item matrices, in embedding units.

        Parameters
        ----------
        estimator : fitted recommender or Pipeline
            A model with ``user_factors_`` and ``item_factors_`` (see the class docstring).

        Returns
        -------
        epsilon_users, epsilon_items : float
            ``epsilon`` itself (``epsilon_mode="absolute"``), or ``epsilon`` times the mean L2
            row norm of ``user_factors_`` / ``item_factors_`` (``"relative"``; times
            ``sqrt(n_rows)`` with ``norm="global-l2"``, over ``sqrt(n_factors)`` with
            ``"linf"``): the row radius, the radius of the matrix, or the half-width of the
            box. With ``"per-user"``, the mean of the row radii (ε times the mean row norm).
            Reported for both matrices whatever ``target`` is.
        """
        validate_params(self)
        self._check_norm()
        model = _check_dot_product_model(estimator)
        radii = self._radii(self.epsilon, model)
        return tuple(float(np.mean(r)) for r in radii)

    def perturbation(self, estimator):
        """Compute the perturbation of the embeddings of a fitted model.

        Parameters
        ----------
        estimator : fitted recommender or Pipeline
            A model with ``user_factors_`` of shape (n_users_, n_factors), ``item_factors_`` of
            shape (n_items_, n_factors), optionally ``item_bias_`` of shape (n_items_,), and the
            training matrix ``interactions_`` (every :class:`skadv.base.BaseRecommender` has
            it). For a Pipeline, its last step. Not modified.

        Returns
        -------
        delta_users : ndarray of shape (n_users_, n_factors), float64
            Added to ``user_factors_``; zero when ``target="items"``.
        delta_items : ndarray of shape (n_items_, n_factors), float64
            Added to ``item_factors_``; zero when ``target="users"``.

        Raises
        ------
        NotFittedError
            If ``estimator`` is not fitted.
        TypeError
            If ``estimator`` has no embedding matrices to attack.
        ValueError
            If a parameter is invalid (the message names it), or ``epsilon`` is so large
            that the attacked scores could overflow the factors' dtype (about 1e19 for
            float32 factors of norm 1): a huge ε is refused, never turned into inf/NaN scores.
        """
        validate_params(self)
        self._check_norm()
        model = _check_dot_product_model(estimator)
        rng = check_random_state(self.random_state)
        eps_u, eps_i = self._radii(self.epsilon, model)
        self._check_scores_fit(model, eps_u, eps_i, final_estimator(estimator).factors())
        step, project = _STEPS[self.norm], _PROJECTIONS[self.norm]
        want_u = self.target in ("both", "users")
        want_i = self.target in ("both", "items")
        d_users = np.zeros_like(model.P)
        d_items = np.zeros_like(model.Q)
        if self.adversary == "random":
            # Users first, then items: the draw order is part of the seeded contract.
            if want_u:
                d_users = step(rng.standard_normal(model.P.shape), eps_u)
            if want_i:
                d_items = step(rng.standard_normal(model.Q.shape), eps_i)
            return d_users, d_items

        u, i, j = _sample_triples(model.interactions, self.n_negatives, rng)
        if self.adversary == "fgsm":
            _, g_users, g_items = _bpr_loss_grad(model.P, model.Q, model.b, u, i, j)
            if want_u:
                d_users = step(g_users, eps_u)
            if want_i:
                d_items = step(g_items, eps_i)
            return d_users, d_items

        # PGD. step_size is in the units of epsilon, so it scales with each matrix's radius.
        alpha = 2.5 * self.epsilon / self.n_steps if self.step_size is None else self.step_size
        alpha_u, alpha_i = self._radii(alpha, model)
        pattern = _CoefficientPattern(u, i, j, (model.P.shape[0], model.Q.shape[0]))
        for _ in range(self.n_steps):
            _, g_users, g_items = _bpr_loss_grad(
                model.P + d_users, model.Q + d_items, model.b, u, i, j, pattern=pattern
            )
            if want_u:
                d_users = project(d_users + step(g_users, alpha_u), eps_u)
            if want_i:
                d_items = project(d_items + step(g_items, alpha_i), eps_i)
        return d_users, d_items

    def perturb(self, estimator):
        """Return a deep copy of ``estimator`` with perturbed embeddings.

        Parameters
        ----------
        estimator : fitted recommender or Pipeline
            See :meth:`perturbation`. Left untouched.

        Returns
        -------
        perturbed : same type as ``estimator``
            A deep copy whose ``user_factors_`` and ``item_factors_`` (of the last step, for a
            Pipeline) hold the clean embeddings plus :meth:`perturbation`, in the original
            dtype.
        """
        d_users, d_items = self.perturbation(estimator)
        perturbed = copy.deepcopy(estimator)
        final = final_estimator(perturbed)
        for name, delta in (("user_factors_", d_users), ("item_factors_", d_items)):
            clean = getattr(final, name)
            setattr(final, name, (np.asarray(clean, dtype=np.float64) + delta).astype(clean.dtype))
        return perturbed

    def bpr_loss(self, estimator):
        """Training BPR loss of ``estimator``: the objective the attack maximises.

        Negatives are drawn from ``random_state`` exactly as :meth:`perturbation` draws them,
        so with an int seed the clean and the attacked model are compared on the same triples.

        Parameters
        ----------
        estimator : fitted recommender or Pipeline
            See :meth:`perturbation`.

        Returns
        -------
        loss : float
            :math:`\\sum_{(u,i,j)} \\log(1 + e^{-x_{uij}})` (see Notes of the class docstring).
        """
        validate_params(self)
        model = _check_dot_product_model(estimator)
        rng = check_random_state(self.random_state)
        u, i, j = _sample_triples(model.interactions, self.n_negatives, rng)
        loss, _, _ = _bpr_loss_grad(model.P, model.Q, model.b, u, i, j, grad=False)
        return loss

    # ----------------------------------------------------------------- radii
    def _check_norm(self):
        if self.epsilon_mode == "per-user" and self.norm != "row-l2":
            raise ValueError(
                f"epsilon_mode='per-user' gives every row its own radius and needs "
                f"norm='row-l2', got norm={self.norm!r}."
            )

    def _check_scores_fit(self, model, eps_u, eps_i, factors):
        """Refuse an ε so large that the attacked scores overflow the factors' dtype.

        A perturbed row has norm at most its clean norm plus the row radius (times
        sqrt(n_factors) for a box), so by Cauchy-Schwarz every score (and partial sum) is
        within the bound below; 4 times it must be finite (BPR takes score differences)."""
        scale = np.sqrt(model.P.shape[1]) if self.norm == "linf" else 1.0
        reach = [float(np.max(np.linalg.norm(M, axis=1), initial=0.0)) + float(np.max(r)) * scale
                 for M, r in ((model.P, eps_u), (model.Q, eps_i))]  # fmt: skip
        bias = 0.0 if model.b is None else float(np.max(np.abs(model.b), initial=0.0))
        dtype = np.result_type(factors.user, factors.item, np.float32)
        limit = float(np.finfo(dtype).max) / 4.0
        with np.errstate(over="ignore"):
            bound = reach[0] * reach[1] + bias
        if not bound < limit:
            raise ValueError(
                f"epsilon={self.epsilon!r} ({self.epsilon_mode}) moves the embeddings so far "
                f"that scores could reach {bound:.3g}, beyond what {dtype} holds ({limit:.3g}): "
                "they would overflow to inf/NaN. Use a smaller epsilon."
            )

    def _radii(self, epsilon, model):
        """``(users, items)`` radii of ``epsilon`` for ``norm``: floats, or columns of one
        radius per row (``"per-user"``)."""
        matrices = (model.P, model.Q)
        if self.epsilon_mode == "per-user":
            return tuple(epsilon * np.linalg.norm(M, axis=1, keepdims=True) for M in matrices)
        radii = perturbation_radii(epsilon, self.epsilon_mode, *matrices)
        if self.epsilon_mode == "absolute" or self.norm == "row-l2":
            return radii
        if self.norm == "global-l2":  # the norm of a perturbation moving every row by r
            return tuple(r * np.sqrt(M.shape[0]) for r, M in zip(radii, matrices, strict=True))
        # linf: the half-width whose box corners lie on the sphere of the row radius
        return tuple(r / np.sqrt(max(M.shape[1], 1)) for r, M in zip(radii, matrices, strict=True))


# --------------------------------------------------------------------- estimator access
class _DotProductModel:
    """The float64 arrays an attack needs, read from a fitted estimator."""

    def __init__(self, P, Q, b, interactions):
        self.P, self.Q, self.b, self.interactions = P, Q, b, interactions


def _check_dot_product_model(estimator):
    final = final_estimator(estimator)
    if not hasattr(final, "fit"):
        raise TypeError(
            f"estimator must be a fitted recommender with user_factors_ and item_factors_, "
            f"got a {type(final).__name__} (not an estimator)."
        )
    check_is_fitted(final)
    factors = final.factors() if hasattr(final, "factors") else None
    if factors is None or getattr(final, "interactions_", None) is None:
        raise TypeError(
            f"estimator must be a fitted recommender that scores by the dot product of "
            f"user_factors_ and item_factors_ rows (its factors() gives them); "
            f"{type(final).__name__} does not."
        )
    P = np.asarray(factors.user, dtype=np.float64)
    Q = np.asarray(factors.item, dtype=np.float64)
    if P.ndim != 2 or Q.ndim != 2 or P.shape[1] != Q.shape[1]:
        raise ValueError(
            f"estimator has user_factors_ of shape {P.shape} and item_factors_ of shape "
            f"{Q.shape}; expected 2-d arrays with the same number of columns."
        )
    interactions = final.interactions_
    if not sparse.issparse(interactions) or interactions.shape != (P.shape[0], Q.shape[0]):
        raise ValueError(
            f"estimator.interactions_ must be a sparse matrix of shape "
            f"{(P.shape[0], Q.shape[0])} (n_users_, n_items_)."
        )
    b = factors.item_bias
    if b is not None:
        b = np.asarray(b, dtype=np.float64)
        if b.shape != (Q.shape[0],):
            raise ValueError(
                f"estimator.item_bias_ has shape {b.shape}; expected ({Q.shape[0]},)."
            )
    if not (np.isfinite(P).all() and np.isfinite(Q).all()):
        raise ValueError("estimator has non-finite user_factors_ or item_factors_.")
    return _DotProductModel(P, Q, b, interactions)


# --------------------------------------------------------------------- numerics
def _project_rows(D, radius):
    """Project each row onto the L2 ball of the given radius (a float or a column)."""
    norms = np.linalg.norm(D, axis=1, keepdims=True)
    shrink = np.minimum(1.0, np.divide(radius, norms, out=np.ones_like(norms), where=norms > 0))
    return D * shrink


def _normalize_global(G, radius):
    """``G`` scaled to Frobenius norm ``radius``; all-zero ``G`` stays zero.

    Divided by its largest entry first, as :func:`skadv.training.normalize_rows` does: tiny
    gradients would otherwise square to a zero norm.
    """
    scale = float(np.abs(G).max()) if G.size else 0.0
    if scale == 0.0:
        return np.zeros_like(G)
    G = G / scale
    return G * (radius / np.linalg.norm(G))


def _project_global(D, radius):
    """Project ``D`` onto the Frobenius ball of the given radius."""
    norm = float(np.linalg.norm(D))
    return D * (radius / norm) if norm > radius else D


def _sign_step(G, radius):
    return radius * np.sign(G)


def _clip(D, radius):
    return np.clip(D, -radius, radius)


# The step to the boundary along a direction (FGSM, a PGD step, the random control) and the
# projection onto the set, for each ``norm``.
_STEPS = {"row-l2": normalize_rows, "global-l2": _normalize_global, "linf": _sign_step}
_PROJECTIONS = {"row-l2": _project_rows, "global-l2": _project_global, "linf": _clip}


def _sample_triples(interactions, n_negatives, rng):
    """BPR triples: every stored positive (u, i), ``n_negatives`` times, with a uniform negative.

    Exact and loop-free: with ``m_0 < m_1 < ...`` the items of user u, the r-th item *not* in
    the row is ``r + #{t : m_t - t <= r}`` (``m_t - t`` counts the non-items before ``m_t``),
    found for all draws at once by one ``searchsorted`` on keys ``u * (n_items + 1) + m_t - t``.
    Users who interacted with every item have no negative: their interactions are skipped.

    Returns
    -------
    u, i, j : ndarray of int64, sorted by ``u``
    """
    M = sparse.csr_matrix(interactions, copy=True)
    M.eliminate_zeros()
    M.sum_duplicates()  # also sorts the column indices of each row
    n_users, n_items = M.shape
    indptr = M.indptr.astype(np.int64)
    items = M.indices.astype(np.int64)
    deg = np.diff(indptr)
    row = np.repeat(np.arange(n_users, dtype=np.int64), deg)
    n_free = n_items - deg
    keep = n_free[row] > 0
    u = np.repeat(row[keep], n_negatives)
    i = np.repeat(items[keep], n_negatives)
    if u.size == 0:
        return u, i, i.copy()
    r = np.floor(rng.random_sample(u.shape[0]) * n_free[u]).astype(np.int64)
    np.minimum(r, n_free[u] - 1, out=r)  # guards the (measure-zero) rounding up to n_free
    local = np.arange(items.shape[0], dtype=np.int64) - indptr[row]
    keys = row * (n_items + 1) + (items - local)
    k = np.searchsorted(keys, u * (n_items + 1) + r, side="right") - indptr[u]
    return u, i, r + k


def _triple_margins(P, Q, u, i, j):
    """``p_u . q_i - p_u . q_j`` for every triple (``u`` sorted), without Python-level loops.

    Dense blocks ``P[a:b] @ Q.T`` (BLAS) when the score matrix is small next to the number of
    triples (BLAS beats gathering rows there); otherwise chunked row
    gathers, whose memory stays bounded for large catalogues.
    """
    n_users, n_items = P.shape[0], Q.shape[0]
    out = np.empty(u.shape[0], dtype=np.float64)
    if n_users * n_items <= _DENSE_RATIO * u.shape[0]:
        block = max(1, _CHUNK * 64 // max(n_items, 1))
        bounds = np.searchsorted(u, np.arange(0, n_users + block, block))
        for b, start in enumerate(range(0, n_users, block)):
            sl = slice(bounds[b], bounds[b + 1])
            scores = P[start : start + block] @ Q.T
            rows = u[sl] - start
            out[sl] = scores[rows, i[sl]] - scores[rows, j[sl]]
        return out
    for start in range(0, u.shape[0], _CHUNK):
        sl = slice(start, start + _CHUNK)
        out[sl] = np.einsum("ij,ij->i", P[u[sl]], Q[i[sl]] - Q[j[sl]])
    return out


class _CoefficientPattern:
    """Sparsity pattern of ``C = sum_t c_t e_u (e_i - e_j)^T``, built once per set of triples.

    PGD needs ``C`` at every step with new ``c`` but the same (u, i, j): sorting and merging
    the duplicate entries once, then summing values with ``np.add.reduceat``, makes a step
    ~2x cheaper than a COO -> CSR conversion each time.
    """

    def __init__(self, u, i, j, shape):
        n_users, n_items = shape
        rows = np.concatenate([u, u])
        keys = rows * n_items + np.concatenate([i, j])
        self._order = np.argsort(keys, kind="stable")
        sorted_keys = keys[self._order]
        first = np.ones(sorted_keys.shape[0], dtype=bool)
        first[1:] = sorted_keys[1:] != sorted_keys[:-1]
        self._starts = np.flatnonzero(first)
        unique_keys = sorted_keys[self._starts]
        self._indices = unique_keys % n_items
        counts = np.bincount(unique_keys // n_items, minlength=n_users)
        self._indptr = np.concatenate([[0], np.cumsum(counts)])
        self._shape = shape

    def matrix(self, c):
        values = np.concatenate([c, -c])[self._order]
        data = np.add.reduceat(values, self._starts) if values.size else values
        return sparse.csr_matrix((data, self._indices, self._indptr), shape=self._shape)


def _bpr_loss_grad(P, Q, b, u, i, j, *, grad=True, pattern=None):
    """Summed BPR loss of the triples and its gradients with respect to P and Q.

    ``pattern`` is a :class:`_CoefficientPattern` of the same triples, to reuse across calls.

    Returns
    -------
    loss : float
    grad_P : ndarray like P, or None when ``grad=False``
    grad_Q : ndarray like Q, or None when ``grad=False``
    """
    x = _triple_margins(P, Q, u, i, j)
    if b is not None:
        x += b[i] - b[j]
    loss = float(np.logaddexp(0.0, -x).sum())
    if not grad:
        return loss, None, None
    if pattern is None:
        pattern = _CoefficientPattern(u, i, j, (P.shape[0], Q.shape[0]))
    C = pattern.matrix(-expit(-x))  # -expit(-x) = d log(1 + exp(-x)) / dx
    return loss, C @ Q, C.T @ P
