"""Fake-user (shilling) detection: profile features, detectors and a filtering sampler.

Detectors (``fit(X, y=None)``, then ``predict`` / ``predict_proba`` / ``decision_function``
of user ids): :class:`ShillingDetector` (supervised, over :class:`ProfileFeatures`, trained
on the mixture of :func:`training_attacks`), :class:`PCADetector` (unsupervised, principal
components), :class:`CoRatingDetector` (unsupervised, item co-occurrence),
:class:`CombinedDetector` (any of several; the default of :class:`FakeUserFilter`) and
:class:`DiscriminatorDetector` (unsupervised, a GAN discriminator; needs PyTorch to train).
"""

from skadv.detection._base import BaseShillingDetector
from skadv.detection._combined import CombinedDetector
from skadv.detection._corating import CoRatingDetector
from skadv.detection._detector import FakeUserFilter, ShillingDetector
from skadv.detection._discriminator import DiscriminatorDetector
from skadv.detection._features import ProfileFeatures
from skadv.detection._mixture import CamouflageAttack, training_attacks
from skadv.detection._pca import PCADetector

__all__ = [
    "BaseShillingDetector",
    "CamouflageAttack",
    "CoRatingDetector",
    "CombinedDetector",
    "DiscriminatorDetector",
    "FakeUserFilter",
    "PCADetector",
    "ProfileFeatures",
    "ShillingDetector",
    "training_attacks",
]
