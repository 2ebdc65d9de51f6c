"""Which torch device a fitted dot-product model ranks on (torch-free: imports torch only
when a CUDA-trained model asks)."""

import importlib.util

__all__ = ["DeviceRankingMixin"]


class DeviceRankingMixin:
    """``recommend`` on the CUDA device a dot-product model was trained on.

    Mixed into the torch-backed families ahead of :class:`~skadv.base.BaseRecommender`:
    it overrides the base's ``_device_ranker`` hook (None: rank in NumPy) with a
    ``skadv._torch.ranker.DotProductRanker`` when :meth:`_scoring_device` names a device.
    Only the top-n of each block of users come back from the device.
    """

    def _scoring_device(self):
        """The CUDA device to rank on, or None for the NumPy path: a model that scores by a
        dot product and was trained on CUDA ranks there when CUDA is available; a model
        loaded on a machine without one ranks in NumPy."""
        device = getattr(self, "device_", None)
        if device is None or not str(device).startswith("cuda"):
            return None
        if self.factors() is None:  # ranks on the device only what a dot product scores
            return None
        if importlib.util.find_spec("torch") is None:
            return None
        import torch

        return device if torch.cuda.is_available() else None

    def _device_ranker(self):
        device = self._scoring_device()
        if device is None:
            return None
        from skadv._torch.ranker import DotProductRanker

        return DotProductRanker(self, device)
