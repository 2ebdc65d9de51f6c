"""Fake-user (shilling) detection: profile features, detectors and a filtering sampler.

Detectors (``fit(X, y=None)``, then ``predict`` / ``predict_proba`` / ``decision_function``
of user ids): :class:`ShillingDetector` (supervised, over :class:`ProfileFeatures`),
:class:`PCADetector` (unsupervised, principal components) and :class:`DiscriminatorDetector`
(unsupervised, a GAN discriminator; needs PyTorch to train).
"""

from skadv.detection._base import BaseShillingDetector
from skadv.detection._detector import FakeUserFilter, ShillingDetector
from skadv.detection._discriminator import DiscriminatorDetector
from skadv.detection._features import ProfileFeatures
from skadv.detection._pca import PCADetector

__all__ = [
    "BaseShillingDetector",
    "DiscriminatorDetector",
    "FakeUserFilter",
    "PCADetector",
    "ProfileFeatures",
    "ShillingDetector",
]
