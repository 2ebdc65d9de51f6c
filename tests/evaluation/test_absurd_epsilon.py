"""An absurd ε (huge, inf, NaN) never yields NaN scores: refused with a ValueError naming
epsilon, or a finite attacked model."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skadv.attacks import EmbeddingAttack
from skadv.evaluation import make_robustness_scorer, robustness_curve
from skadv.mf import AdversarialMFRecommender

_SETTINGS = settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
#: Radii from tiny to the largest float, log-spread (hypothesis alone favours small floats).
EPSILONS = st.one_of(
    st.integers(-3, 308).map(lambda e: 10.0**e), st.floats(0.0, 1e300, allow_nan=False)
)


@pytest.fixture(scope="module")
def model(small_split):
    return AdversarialMFRecommender(n_factors=4, n_epochs=3, random_state=0).fit(small_split[0])


@_SETTINGS
@given(
    epsilon=EPSILONS,
    adversary=st.sampled_from(["fgsm", "pgd", "random"]),
    mode=st.sampled_from(["absolute", "relative", "per-user"]),
    norm=st.sampled_from(["row-l2", "global-l2", "linf"]),
)
def test_embedding_attack_refuses_or_stays_finite(model, epsilon, adversary, mode, norm):
    if mode == "per-user" and norm != "row-l2":
        norm = "row-l2"  # the only norm per-user radii have
    attack = EmbeddingAttack(adversary, epsilon, epsilon_mode=mode, norm=norm, n_steps=2,
                             random_state=0)  # fmt: skip
    try:
        attacked = attack.perturb(model)
    except ValueError as exc:
        assert "epsilon" in str(exc)
        assert epsilon > 1e6  # only absurd radii are refused
        return
    scores = attacked.score_users(np.arange(attacked.user_ids_.shape[0]))
    assert np.all(np.isfinite(scores))
    assert np.all(np.isfinite(attacked.user_factors_)) and np.all(
        np.isfinite(attacked.item_factors_)
    )


@pytest.mark.parametrize("epsilon", [np.inf, -np.inf, np.nan, -1.0])
def test_embedding_attack_refuses_non_finite_or_negative(model, epsilon):
    with pytest.raises(ValueError, match="epsilon"):
        EmbeddingAttack("fgsm", epsilon).perturb(model)


@pytest.mark.parametrize("epsilon", [np.inf, np.nan, -1.0])
def test_curve_refuses_non_finite_or_negative(model, small_split, epsilon):
    with pytest.raises(ValueError, match="epsilons must be finite"):
        robustness_curve(model, small_split[1], [0.0, epsilon])


def test_curve_with_huge_epsilon(model, small_split):
    # Large but representable: a finite curve. Beyond float32: refused, never NaN.
    curve = robustness_curve(model, small_split[1], [0.0, 1e6], random_state=0)
    assert np.all(np.isfinite(curve[["clean", "attacked"]].to_numpy()))
    with pytest.raises(ValueError, match=r"epsilon=1e\+30 .* overflow"):
        robustness_curve(model, small_split[1], [0.0, 1e30], random_state=0)


def test_robustness_scorer_with_huge_epsilon(model, small_split):
    scorer = make_robustness_scorer(EmbeddingAttack("fgsm", 1e300, random_state=0))
    with pytest.raises(ValueError, match="epsilon"):
        scorer(model, small_split[1])
    with pytest.raises(ValueError, match="epsilon"):
        make_robustness_scorer(EmbeddingAttack("fgsm", np.nan))
