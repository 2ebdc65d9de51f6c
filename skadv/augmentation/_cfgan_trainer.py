"""One CFGAN fit's torch side: the generator, the discriminator, their optimizers and epoch.

``CFGANRecommender._train`` owns the schedule, early stopping and the fitted (NumPy) state;
this trainer owns the modules and the draws of one fit, in the order the seeded fits rely on:
modules initialized from torch's global generator (seeded by the caller), every random draw
of training (noise, input dropout, negative masks, user order) from ``generator``.
"""

import torch

from skadv._torch.mlp import mlp
from skadv._torch.utils import make_optimizer
from skadv.augmentation._gan_modules import discriminator_loss, generator_loss


class CFGANTrainer:
    """Generator G(z, c) and discriminator D(r, c) of ``model`` on ``conditions`` (CSR 0/1).

    Parameters
    ----------
    model : CFGANRecommender
        Read for its hyper-parameters only.
    conditions : scipy.sparse.csr_matrix of shape (n_users, n_items), float32
        The users' training interaction patterns c_u.
    device : torch.device
    generator : torch.Generator
        Draws the noise, the input dropout, the negative masks and the user order.
    rec_weight : float
        Weight of the reconstruction term of the generator's loss.
    """

    def __init__(self, model, conditions, device, generator, rec_weight):
        self.model = model
        self.conditions = conditions
        self.device = device
        self.generator = generator
        self.rec_weight = rec_weight
        n_items = conditions.shape[1]
        self.use_zr, self.use_pm = "zr" in model.scheme, "pm" in model.scheme
        self.keep = 1.0 - float(model.input_dropout)
        self.G = mlp(model.noise_dim + n_items, model.generator_layers, n_items,
                     model.activation).to(device)  # fmt: skip
        self.opt_g = make_optimizer(model.generator_optimizer,
                                    [{"params": list(self.G.parameters())}],
                                    model.generator_learning_rate,
                                    model.generator_weight_decay)  # fmt: skip
        self.D = self.opt_d = None
        if model.discriminator:
            self.D = mlp(2 * n_items, model.discriminator_layers, 1, model.activation)
            self.D = self.D.to(device)
            self.opt_d = make_optimizer(
                model.discriminator_optimizer, [{"params": list(self.D.parameters())}],
                model.discriminator_learning_rate, model.discriminator_weight_decay,
            )  # fmt: skip

    def generate(self, c):
        """(sigmoid output, logits) of G for conditions ``c`` with fresh noise."""
        z = torch.randn((c.shape[0], self.model.noise_dim), generator=self.generator,
                        device=self.device)  # fmt: skip
        if self.keep < 1.0:  # denoising: G reads a corrupted condition
            kept = torch.rand(c.shape, generator=self.generator, device=self.device) < self.keep
            c = c * kept.to(c.dtype) / self.keep
        logits = self.G(torch.cat([z, c], dim=1))
        return torch.sigmoid(logits), logits

    def negatives(self, c, ratio):
        """A random mask of about ``ratio`` of each row's non-interactions."""
        draw = torch.rand(c.shape, generator=self.generator, device=self.device)
        return ((draw < ratio) & (c == 0)).to(c.dtype)

    def discriminator_step(self, c):
        with torch.no_grad():
            g = self.generate(c)[0]
        mask = c + self.negatives(c, self.model.pm_ratio) if self.use_pm else c
        d_real = self.D(torch.cat([c, c], dim=1))[:, 0]
        d_fake = self.D(torch.cat([g * mask, c], dim=1))[:, 0]
        loss = discriminator_loss(d_real, d_fake)
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        return loss

    def generator_step(self, c):
        model = self.model
        g, logits = self.generate(c)
        mask = c + self.negatives(c, model.pm_ratio) if self.use_pm else c
        zr = self.negatives(c, model.zr_ratio) if self.use_zr else None
        d_fake = None
        if self.D is not None:
            d_fake = self.D(torch.cat([g * mask, c], dim=1))[:, 0]
        loss = generator_loss(
            g, c, mask, zr, d_fake, alpha=model.alpha,
            reconstruction_weight=self.rec_weight, loss=model.generator_loss,
            logits=logits, reconstruction=model.reconstruction_loss,
        )  # fmt: skip
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        return loss

    def run_epoch(self):
        """One pass over the users in random order: (generator, discriminator) loss sums."""
        model, n_users = self.model, self.conditions.shape[0]
        order = torch.randperm(n_users, generator=self.generator, device=self.device).cpu()
        g_sum = d_sum = 0.0
        self.G.train()
        for start in range(0, n_users, model.batch_size):
            rows = order[start : start + model.batch_size].numpy()
            c = torch.from_numpy(self.conditions[rows].toarray()).to(self.device)
            for _ in range(model.discriminator_steps if self.D is not None else 0):
                loss_d = self.discriminator_step(c)
            for _ in range(model.generator_steps):
                loss_g = self.generator_step(c)
            g_sum += loss_g.item() * rows.shape[0]
            if self.D is not None:
                d_sum += loss_d.item() * rows.shape[0]
        self.G.eval()
        return g_sum, d_sum
