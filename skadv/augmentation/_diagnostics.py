"""CFGAN's profiles and collapse diagnostics: NumPy helpers shared by the model and the augmenter.

The conditions ``c_u`` (the 0/1 pattern of the interactions), drawing items from generated
vectors, and the five diagnostics ``CFGANRecommender`` records each epoch to tell a healthy
generator from a collapsed one (``collapse_``).
"""

import numpy as np
from scipy.stats import wasserstein_distance

#: Users the collapse diagnostic follows during training (a fixed random subset).
DIAGNOSTIC_USERS = 256
#: Identity collapse: the generator's top items are the condition's (overlap at least this)
#: and it puts almost no mass outside the condition (at most this, per condition item).
IDENTITY_OVERLAP, IDENTITY_OFF_MASS = 0.99, 0.05
#: Profile-length collapse, judged on the mean generated profile length over the mean real
#: one (``profile_length_ratio_``): profiles shrunk towards a few items (at most this ratio,
#: e.g. 1 item against 68) ...
SHORT_PROFILES = 0.2
#: ... or swollen to at least half the catalogue and at least twice the real length (every
#: item generated as an interaction). A healthy generator can be several times too long
#: (few negatives) without either: the Wasserstein distance alone is no collapse test.
LONG_PROFILES_CATALOGUE, LONG_PROFILES_RATIO = 0.5, 2.0
#: The collapse test is only run after this many epochs: before, the generator's outputs are
#: still near their initial 0.5 and every profile looks half the catalogue long.
COLLAPSE_MIN_EPOCHS = 10
#: Bytes per item and user of the dense blocks of scoring and sampling.
BYTES_PER_ITEM = 16


DIAGNOSTIC_NAMES = (
    "condition_overlap",
    "off_condition_mass",
    "profile_length_distance",
    "profile_length_ratio",
    "popularity_distance",
)


def binary_pattern(matrix):
    """The 0/1 float32 pattern of a CSR matrix (the conditions c_u)."""
    out = matrix.tocsr().astype(np.float32, copy=True)
    out.data[:] = 1.0
    return out


def draw_items(g, lengths, rng, weights, exclude=None):
    """Item codes drawn without replacement per row: ``lengths[r]`` items of row ``r`` with
    probabilities proportional to ``g[r] * weights`` (Gumbel top-k), never ``exclude``."""
    with np.errstate(divide="ignore"):
        keys = np.log(np.maximum(g.astype(np.float64), 1e-30)) + np.log(weights)
    keys = keys + rng.gumbel(size=g.shape)
    if exclude is not None:
        keys[exclude] = -np.inf
    order = np.argsort(-keys, axis=1, kind="stable")
    take = np.arange(g.shape[1])[None, :] < np.asarray(lengths)[:, None]
    return order[take]


def collapse_diagnostics(g, c):
    """The five collapse diagnostics of generated vectors ``g`` against conditions ``c``."""
    lengths = c.sum(axis=1)
    has = lengths > 0
    g, c, lengths = g[has], c[has], lengths[has]
    if g.shape[0] == 0:
        return (float("nan"),) * 5
    order = np.argsort(-g, axis=1, kind="stable")
    top = np.arange(g.shape[1])[None, :] < lengths[:, None]
    in_condition = np.take_along_axis(c, order, axis=1) > 0
    overlap = float(np.mean((in_condition & top).sum(axis=1) / lengths))
    off_mass = float(np.mean((g * (c == 0)).sum(axis=1) / lengths))
    gen_lengths = g.sum(axis=1)
    length_dist = float(wasserstein_distance(gen_lengths, lengths) / lengths.mean())
    length_ratio = float(gen_lengths.mean() / lengths.mean())
    p, q = g.sum(axis=0), c.sum(axis=0)
    pop_dist = float(0.5 * np.abs(p / max(p.sum(), 1e-30) - q / q.sum()).sum())
    return overlap, off_mass, length_dist, length_ratio, pop_dist


def collapse_kind(model, mean_length):
    """The collapse test of ``collapse_`` (``mean_length``: of the real diagnostic profiles)."""
    if model.n_iter_ < COLLAPSE_MIN_EPOCHS:
        return None
    if model.condition_overlap_ >= IDENTITY_OVERLAP and (
        model.off_condition_mass_ <= IDENTITY_OFF_MASS
    ):
        return "identity"
    ratio = model.profile_length_ratio_
    if ratio <= SHORT_PROFILES or (
        ratio >= LONG_PROFILES_RATIO
        and ratio * mean_length >= LONG_PROFILES_CATALOGUE * model.n_items_
    ):
        return "profile-length"
    return None


def collapse_message(model):
    if model.collapse_ == "identity":
        return (
            f"The CFGAN generator collapsed into a copy of its condition: "
            f"{model.condition_overlap_:.1%} of its top items are the user's own and it puts "
            f"{model.off_condition_mass_:.3f} of mass per item outside them, so it cannot rank "
            "unseen items. Turn the noise on (noise_dim > 0), use partial masking "
            "(scheme='zr+pm') or a smaller generator."
        )
    return (
        f"The CFGAN generator's profiles collapsed in length: they are "
        f"{model.profile_length_ratio_:.2f} times as long as real ones on average (distance of "
        f"generated to real profile lengths {model.profile_length_distance_:.2f} of the mean "
        f"real length, popularity distance {model.popularity_distance_:.2f}). Train longer, "
        + (
            "use generator_loss='non-saturating' (minimax often collapses this way), "
            if model.generator_loss == "minimax"
            else ""
        )
        + "lower discriminator_learning_rate or set reconstruction_weight > 0."
    )
