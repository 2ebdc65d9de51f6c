"""scikit-learn's estimator checks on every public skadv estimator.

X for a recommender is exactly two id columns, so checks that build X with 3, 4, 5 or 10
feature columns (or need a numeric-feature regressor/classifier/transformer contract) cannot
apply. They are listed below with a reason and run as strict xfails, so a check that starts
passing is noticed.
"""

import importlib.util

from sklearn.base import BaseEstimator
from sklearn.utils.estimator_checks import parametrize_with_checks

from skadv import (
    AdversarialMFRecommender,
    EASERecommender,
    ImplicitALSRecommender,
    ItemKNNRecommender,
    PopularityRecommender,
)
from skadv.attacks import AverageAttack, BandwagonAttack, RandomAttack, SegmentAttack
from skadv.detection import (
    BaseShillingDetector,
    CamouflageAttack,
    CombinedDetector,
    CoRatingDetector,
    FakeUserFilter,
    PCADetector,
    ProfileFeatures,
    ShillingDetector,
)
from skadv.neural import AdversarialNeuralRecommender

_TWO_ID_COLUMNS = "X must be (n, 2) id pairs; the check builds X with other column counts"

# Checks that generate X with a number of columns other than two (the shape sklearn's
# checks use for numeric features), with the shape each one builds.
_NOT_TWO_COLUMNS = {
    "check_complex_data": "(10, 1)",
    "check_dict_unchanged": "(20, 3)",
    "check_dont_overwrite_parameters": "(20, 3)",
    "check_dtype_object": "(10, 3)",
    "check_estimators_dtypes": "(20, 5)",
    "check_estimators_empty_data_messages": "(12, 0)",
    "check_estimators_nan_inf": "(10, 3)",
    "check_estimators_pickle": "(30, 3)",
    "check_estimators_pickle(readonly_memmap=True)": "(30, 3)",
    "check_f_contiguous_array_estimator": "(20, 3)",
    "check_fit2d_1feature": "(10, 1)",
    "check_fit2d_1sample": "(1, 10)",
    "check_fit2d_predict1d": "(20, 3)",
    "check_fit_score_takes_y": "(30, 3)",
    "check_methods_sample_order_invariance": "(20, 3)",
    "check_methods_subset_invariance": "(20, 3)",
    "check_n_features_in_after_fitting": "(15, 4)",
    "check_pipeline_consistency": "(30, 3)",
    "check_positive_only_tag_during_fit": "(150, 4)",
}
RECOMMENDER_EXPECTED_FAILED = {
    name: f"{_TWO_ID_COLUMNS}: X of shape {shape} is rejected by check_interactions"
    for name, shape in _NOT_TWO_COLUMNS.items()
}


# Detection (skadv.detection). ProfileFeatures returns one row per user, not per input row,
# and needs at transform the ratings it was fitted with; the detectors are transductive:
# predict / decision_function take ids of the users of the fitted X, not rows of a new X.
PROFILE_FEATURES_EXPECTED_FAILED = {
    **RECOMMENDER_EXPECTED_FAILED,
    "check_transformer_general": f"{_TWO_ID_COLUMNS}: X of shape (30, 3)",
    "check_transformer_general(readonly_memmap=True)": f"{_TWO_ID_COLUMNS}: X of shape (30, 3)",
    "check_transformer_preserve_dtypes": f"{_TWO_ID_COLUMNS}: X of shape (30, 3)",
    "check_transformer_data_not_an_array": (
        "X is a _NotAnArray wrapper (no shape, no columns), which check_interactions rejects "
        "as it rejects any non-array-like"
    ),
    "check_fit_idempotent": (
        "fit gets ratings y, so transform needs them too, and the check transforms without y"
    ),
}
DETECTOR_EXPECTED_FAILED = {
    **RECOMMENDER_EXPECTED_FAILED,
    "check_fit_idempotent": (
        "predict / decision_function score the users of the fitted X by id; the check "
        "passes rows of a held-out X, whose values are not user ids"
    ),
}


def _expected_failed_checks(estimator):
    if isinstance(estimator, ProfileFeatures):
        return PROFILE_FEATURES_EXPECTED_FAILED
    if isinstance(estimator, BaseShillingDetector):
        return DETECTOR_EXPECTED_FAILED
    return RECOMMENDER_EXPECTED_FAILED


ESTIMATORS = [
    PopularityRecommender(),
    AdversarialMFRecommender(n_factors=4, n_epochs=2, random_state=0),
    ItemKNNRecommender(n_neighbors=5),
    EASERecommender(),
    ImplicitALSRecommender(n_factors=4, n_iter=2, random_state=0),
    # Samplers (fit_resample; fit returns self): the same two-column failures, no others.
    RandomAttack(random_state=0),
    AverageAttack(random_state=0),
    BandwagonAttack(random_state=0),
    SegmentAttack(random_state=0),
    FakeUserFilter(ShillingDetector(cv=2), random_state=0),
    FakeUserFilter(PCADetector(n_components=2, random_state=0)),
    FakeUserFilter(random_state=0),
    CamouflageAttack(random_state=0),
    ProfileFeatures(n_neighbors=2),
    ShillingDetector(cv=2, random_state=0),
    PCADetector(n_components=2, random_state=0),
    CoRatingDetector(),
    CombinedDetector([CoRatingDetector(), PCADetector(n_components=2)], random_state=0),
]
# AdversarialTextRecommender is left out: it cannot fit without item texts and an encoder
# folder, which the checks cannot supply (tests/neural/test_text.py covers its contract).
if importlib.util.find_spec("torch") is not None:
    from skadv.attacks import GANAttack, SurrogateAttack
    from skadv.augmentation import CFGANRecommender, GANAugmenter
    from skadv.detection import DiscriminatorDetector

    ESTIMATORS.append(
        AdversarialNeuralRecommender(
            n_factors=4, hidden_layers=(4,), n_epochs=2, batch_size=16, random_state=0
        )  # fmt: skip
    )
    _TINY_GAN = CFGANRecommender((4,), (4,), noise_dim=2, n_epochs=2, random_state=0)
    ESTIMATORS += [
        SurrogateAttack(n_factors=2, n_epochs=2, n_iter=2, random_state=0),
        GANAttack(gan=_TINY_GAN, random_state=0),
        _TINY_GAN,
        GANAugmenter(
            _TINY_GAN,
            PopularityRecommender(),
            min_interactions=3,
            n_synthetic_users=2,
            random_state=0,
        ),  # fmt: skip
        DiscriminatorDetector(_TINY_GAN),
    ]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


#: Public estimators left out of the list above, with the reason and where they are checked.
NOT_IN_SKLEARN_CHECKS = {
    "AdversarialTextRecommender": (
        "fit needs item texts and an encoder folder, which the checks cannot supply "
        "(tests/test_common_samplers.py::test_text_recommender_common, tests/neural/test_text.py)"
    ),
    "TextEncoder": (
        "transforms texts (a list of str), not numeric rows, with pretrained weights "
        "(tests/test_common_samplers.py::test_text_encoder_common)"
    ),
}


def test_every_public_estimator_is_checked():
    # Found by walking skadv (tests/_discovery.py): a new public estimator fails here until
    # it is added to ESTIMATORS above or to NOT_IN_SKLEARN_CHECKS with a reason.
    from _discovery import HAS_TORCH, NEEDS_TORCH, public_classes

    checked = {type(est).__name__ for est in ESTIMATORS}
    estimators = {
        name
        for name, cls in public_classes().items()
        if issubclass(cls, BaseEstimator) and callable(getattr(cls, "fit", None))
    }
    if not HAS_TORCH:
        estimators -= NEEDS_TORCH
    assert estimators - checked - set(NOT_IN_SKLEARN_CHECKS) == set()
    assert set(NOT_IN_SKLEARN_CHECKS) <= estimators | NEEDS_TORCH
