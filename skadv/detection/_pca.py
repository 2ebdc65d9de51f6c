r"""``PCADetector``: unsupervised selection of suspicious users by principal components.

PCA-VarSelect (Mehta & Nejdl 2009) treats users as the variables of the z-scored
user × item matrix :math:`Z` (row :math:`u`: :math:`(a_{ui} - m_u) / s_u` over **all**
items, :math:`a_{ui}` the rating or 1, 0 where :math:`u` has no interaction; :math:`m_u`,
:math:`s_u` the row's mean and standard deviation). With :math:`Z \approx U S V^T` (the top
``n_components`` singular triplets, from a sparse solver: the centring is applied inside
the matrix-vector products, :math:`Z` is never formed), user :math:`u` contributes
:math:`U_{uj}^2` to component :math:`j` (each column of :math:`U` sums to 1).

The score's sign depends on the components, which is why a single rule fails:

- Components spread over the population (genuine tastes) hold little of a fake profile,
  whose fillers are random: the paper's rule, *low* contribution is suspicious.
- Profiles of one attack batch are highly correlated with each other; once
  ``n_components`` is large enough, the batch gets components of its own, and on those the
  fakes contribute the *most*. (The paper's rule alone then ranks the fakes as the most
  genuine users: ROC-AUC 0.01 on ml-100k with 10 components.)

A component is an attack component when its participation ratio
:math:`PR_j = 1 / (n \sum_u U_{uj}^4)` (1: every user takes part equally; :math:`b / n`:
:math:`b` users carry it) is below ``max_participation`` (default
:data:`ATTACK_PARTICIPATION`). Genuine taste clusters can fall below it too (on
``make_interactions`` data, whose planted topics each hold about a tenth of the users,
:math:`PR_j` is 0.14-0.17, and ``PCADetector()`` flags 4-90 % of the genuine users there:
``benchmarks/bench_defaults.py --section detection``): a lower cut, such as the 0.1 of
:class:`CombinedDetector`'s default, keeps batches of up to about a tenth of the users but
misses a 5 % batch of a few hundred users (its component is shared with genuine users and
reaches 0.11). Use it alone only where genuine taste clusters are larger than a fifth of the
users; :class:`FakeUserFilter` defaults to :class:`CombinedDetector`.
With :math:`c_u` the contribution of :math:`u` to the attack components and :math:`g_u` to
the others,

.. math:: \text{proba}_u = (1 + c_u - g_u) / 2 \in [0, 1],

which ranks by low contribution to the genuine components when no attack component exists,
and puts members of an attack batch above 1/2 (``threshold="auto"``).

The rule assumes an attack batch forms components of its own. It does on ml-100k at
1-5 % attack sizes (``benchmarks/README.md``); it may not on small, very sparse data whose
real profiles are as short as the fake ones (``make_interactions`` with 80 items and
5-item fillers: ROC-AUC below 0.1, as no component reaches the participation cut).
"""

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import LinearOperator, svds

from skadv.detection._base import (
    _DOC_ATTRIBUTES,
    _DOC_DECISION,
    DECISION_CONSTRAINTS,
    BaseShillingDetector,
)
from skadv.utils._params import NONE, RANDOM_STATE, Interval, validate_params
from skadv.utils._random import check_random_state
from skadv.utils._validation import check_interactions, encode_ids

__all__ = ["PCADetector"]

#: Components carried by fewer than this fraction of users (participation ratio) are
#: attack components: an attack batch of up to about a fifth of the users.
ATTACK_PARTICIPATION = 0.2


class PCADetector(BaseShillingDetector):
    __doc__ = f"""Unsupervised shilling detection by principal components (PCA-VarSelect).

    Needs no attack model and no labels: ``fit(X, y=None)`` scores every user of ``X`` from
    the top principal components of the z-scored user × item matrix. See the module
    docstring for the score and why its sign is decided per component.

    Parameters
    ----------
    n_components : int, default=10
        Singular triplets computed (at most ``min(n_users, n_items) - 1``).
    max_participation : float in (0, 1], default=0.2
        Components with a participation ratio below it are attack components (see the
        module docstring).{_DOC_DECISION}
    random_state : int, RandomState instance or None, default=None
        Seeds the start vector of the sparse SVD solver.

    Attributes
    ----------{_DOC_ATTRIBUTES}
    participation_ratio_ : ndarray of shape (n_components_,)
        :math:`PR_j` of each component.
    attack_components_ : ndarray of bool, shape (n_components_,)
        Components below ``max_participation``.
    n_components_ : int

    See Also
    --------
    ShillingDetector : Supervised, trained on generated fake profiles.

    References
    ----------
    .. [1] B. Mehta and W. Nejdl, "Unsupervised strategies for shilling detection and
       robust collaborative filtering", User Modeling and User-Adapted Interaction 19,
       2009.

    Examples
    --------
    >>> from skadv.attacks import RandomAttack
    >>> from skadv.datasets import make_interactions
    >>> from sklearn.metrics import roc_auc_score
    >>> X = make_interactions(n_users=300, n_items=200, random_state=0)
    >>> attack = RandomAttack(attack_size=0.05, filler_size=10, random_state=1)
    >>> X_poisoned, _ = attack.fit_resample(X)
    >>> detector = PCADetector(random_state=0).fit(X_poisoned)
    >>> is_fake = np.isin(detector.user_ids_, attack.fake_user_ids_)
    >>> round(roc_auc_score(is_fake, detector.decision_function(detector.user_ids_)), 2)
    1.0
    """

    _parameter_constraints = {
        "n_components": [Interval("int", 1, None)],
        "max_participation": [Interval("real", 0, 1, closed="right")],
        **DECISION_CONSTRAINTS,
        "random_state": [NONE, RANDOM_STATE],
    }

    def __init__(self, n_components=10, *, max_participation=ATTACK_PARTICIPATION,
                 threshold="auto", contamination=None, random_state=None):  # fmt: skip
        self.n_components = n_components
        self.max_participation = max_participation
        self.threshold = threshold
        self.contamination = contamination
        self.random_state = random_state

    def fit(self, X, y=None):
        """Score every user of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_interactions, 2) or DataFrame
        y : array-like of shape (n_interactions,), default=None
            Ratings; None: every interaction counts 1.

        Returns
        -------
        self
        """
        validate_params(self)
        users, items, weights = check_interactions(X, y)
        rng = check_random_state(self.random_state)
        user_ids, u = encode_ids(users)
        _, i = encode_ids(items)
        n_users, n_items = user_ids.shape[0], int(i.max()) + 1
        k = min(self.n_components, min(n_users, n_items) - 1)
        if k < 1:
            raise ValueError(
                f"PCADetector needs at least 2 users and 2 items in X; got {n_users} users "
                f"and {n_items} items."
            )
        A = sparse.csr_matrix((weights, (u, i)), shape=(n_users, n_items))
        A.sum_duplicates()
        U = _top_left_vectors(_zscore_operator(A), k, rng)
        ratio = 1.0 / (n_users * np.sum(U**4, axis=0))
        attack = ratio < self.max_participation
        share = U**2
        proba = (1.0 + share[:, attack].sum(axis=1) - share[:, ~attack].sum(axis=1)) / 2.0
        self.participation_ratio_, self.attack_components_ = ratio, attack
        self.n_components_ = k
        return self._decide(user_ids, np.clip(proba, 0.0, 1.0), 0.5)


def _zscore_operator(A):
    """Z = diag(1/s) (A - m 1^T) as a LinearOperator: A stays sparse."""
    n_items = A.shape[1]
    m = np.asarray(A.sum(axis=1)).ravel() / n_items
    var = np.asarray(A.multiply(A).sum(axis=1)).ravel() / n_items - m**2
    s = np.sqrt(np.maximum(var, 0.0))
    s[s <= 1e-12] = 1.0  # a constant row (rare) stays centred, unscaled
    ones = np.ones(n_items)

    def matvec(v):
        v = np.asarray(v).ravel()
        return (A @ v - m * (ones @ v)) / s

    def rmatvec(w):
        w = np.asarray(w).ravel() / s
        return A.T @ w - ones * (m @ w)

    return LinearOperator(A.shape, matvec=matvec, rmatvec=rmatvec, dtype=np.float64)


def _top_left_vectors(Z, k, rng):
    v0 = rng.uniform(-1.0, 1.0, size=min(Z.shape))
    U, _, _ = svds(Z, k=k, v0=v0)
    return U
