"""Test helpers for the compiled kernel: its ``Step`` dict and the test-only module."""

from skadv._ext import _mf_sgd_testing as testing  # noqa: F401 (re-exported for the tests)
from skadv.mf._cython_backend import KERNEL_ADVERSARY_CODES


def step(lr, reg, adv_reg, eps_user, eps_item, adversary, adagrad, use_bias, item_start=0,
         inv_user_norm=0.0, n_candidates=1):  # fmt: skip
    """The kernel's ``Step`` dict; ``adversary`` by name ("none", "fgsm", "random")."""
    return dict(
        lr=lr, reg=reg, adv_reg=adv_reg, eps_user=eps_user, eps_item=eps_item,
        inv_user_norm=inv_user_norm, adversary=KERNEL_ADVERSARY_CODES[adversary],
        adagrad=adagrad, use_bias=use_bias, item_start=item_start,
        n_candidates=n_candidates,
    )  # fmt: skip
