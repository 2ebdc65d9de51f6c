"""Fake-user (shilling) detection: profile features, detectors and a filtering sampler."""

from skadv.detection._detector import FakeUserFilter, ShillingDetector
from skadv.detection._features import ProfileFeatures

__all__ = ["FakeUserFilter", "ProfileFeatures", "ShillingDetector"]
