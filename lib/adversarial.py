"""An adversarial-independence autoencoder: the positive control of chapter 9's toys (issue 22).

Two encoders f_a, f_b (or one encoder split in two) map x to codes z_a, z_b; one decoder g
reconstructs x from (z_a, z_b); a discriminator D tells joint pairs (z_a(x_i), z_b(x_i)) from pairs
shuffled across the batch (z_a(x_i), z_b(x_pi(i))), whose distribution is q(z_a) q(z_b). This is
FactorVAE's total-correlation term (Kim and Mnih 2018) with the factors taken as the two codes,
as in Brakel and Bengio (2017): D is trained by cross-entropy (joint = 1, shuffled = 0), and its
logit on joint pairs estimates log q(z_a, z_b) / q(z_a) q(z_b), whose mean is the KL divergence
I(z_a; z_b). The autoencoder minimises::

    |g(z_a, z_b) - x|^2 + gamma * mean_i logit D(z_a(x_i), z_b(x_i))

The DDN's aim (section 9.2: codes that cannot be predicted from each other, eq. 9.5-9.7) by a
different route: D sees the joint distribution, not a regression of one code on the other, so
it detects any dependence, not only a predictable mean. Codes are standardised per batch (batch
norm without affine parameters, as the DDN's ``code_norm="batch"``) so a code cannot fool D by
shrinking. The decoder's output is linear (the additive toys reach 2). Adam throughout.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from lib.nets import device as choose_device
from lib.nets import make_optimiser, mlp
from lib.training import fit_epochs, training_state


@dataclass(frozen=True)
class AdversarialConfig:
    """Sizes and optimiser settings; ``gamma`` weighs the total-correlation term."""

    n_code: int = 4  # units per code
    hidden: int = 256  # units of each network's one hidden layer
    gamma: float = 1.0  # weight of the independence term
    lr: float = 3e-4  # autoencoder (encoders and decoder), Adam
    lr_disc: float = 1e-3  # discriminator, Adam
    disc_steps: int = 5  # discriminator updates per autoencoder update (1: D is outrun)
    batch_size: int = 128
    shared_encoder: bool = False  # one encoder whose output is split into (z_a, z_b)

    def __post_init__(self):
        for name in ("n_code", "hidden", "disc_steps", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.gamma < 0 or self.lr <= 0 or self.lr_disc <= 0:
            raise ValueError("need gamma >= 0, lr > 0 and lr_disc > 0")


class AdversarialAE(nn.Module):
    """Encoders, decoder and discriminator."""

    def __init__(self, in_dim: int, cfg: AdversarialConfig):
        super().__init__()
        self.cfg = cfg
        n, h = cfg.n_code, cfg.hidden
        if cfg.shared_encoder:
            self.enc = mlp(in_dim, h, 1, 2 * n)
        else:
            self.enc_a, self.enc_b = mlp(in_dim, h, 1, n), mlp(in_dim, h, 1, n)
        self.norm = nn.BatchNorm1d(2 * n, affine=False)
        self.dec = mlp(2 * n, h, 1, in_dim)
        self.disc = mlp(2 * n, h, 1, 1)

    def autoencoder_parameters(self) -> list[nn.Parameter]:
        mods = [self.enc] if self.cfg.shared_encoder else [self.enc_a, self.enc_b]
        return [p for m in [*mods, self.dec] for p in m.parameters()]

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.enc(x) if self.cfg.shared_encoder else torch.cat([self.enc_a(x), self.enc_b(x)], 1)
        return self.norm(z).chunk(2, dim=1)

    def forward(self, x):
        za, zb = self.encode(x)
        return {"y": self.dec(torch.cat([za, zb], 1)), "z_a": za, "z_b": zb}


def shuffled(za: torch.Tensor, zb: torch.Tensor, generator=None) -> torch.Tensor:
    """Pairs (z_a(x_i), z_b(x_pi(i))) for a random permutation pi: samples of q(z_a) q(z_b)."""
    perm = torch.randperm(len(zb), generator=generator).to(zb.device)
    return torch.cat([za, zb[perm]], 1)


class AdversarialTrainer:
    """Trains an AdversarialAE on a fixed dataset through ``lib.training.fit_epochs``."""

    def __init__(self, x: np.ndarray, cfg: AdversarialConfig, seed: int = 0, device=None):
        x = np.asarray(x, dtype=np.float32).reshape(len(x), -1)
        if len(x) < 2 or not np.all(np.isfinite(x)):
            raise ValueError(f"x must hold at least 2 finite samples, got shape {x.shape}")
        self.device = choose_device(device)
        self.cfg = cfg
        torch.manual_seed(seed)
        self.gen = torch.Generator().manual_seed(seed + 1)
        self.x = torch.from_numpy(x).to(self.device)
        self.model = AdversarialAE(x.shape[1], cfg).to(self.device)
        self.opt_ae = make_optimiser(self.model.autoencoder_parameters(), "adam", cfg.lr)
        self.opt_disc = make_optimiser(self.model.disc.parameters(), "adam", cfg.lr_disc)

    def step(self, xb: torch.Tensor) -> dict:
        """One autoencoder update (reconstruction + gamma x TC estimate), then D's updates."""
        out = self.model(xb)
        recon = ((out["y"] - xb) ** 2).sum(1).mean()
        tc = self.model.disc(torch.cat([out["z_a"], out["z_b"]], 1)).mean()
        self.opt_ae.zero_grad()
        (recon + self.cfg.gamma * tc).backward()
        self.opt_ae.step()
        za, zb = out["z_a"].detach(), out["z_b"].detach()
        ones = torch.ones(len(xb), 1, device=xb.device)
        zeros = torch.zeros_like(ones)
        for _ in range(self.cfg.disc_steps):
            joint = self.model.disc(torch.cat([za, zb], 1))
            indep = self.model.disc(shuffled(za, zb, self.gen))
            d_loss = F.binary_cross_entropy_with_logits(joint, ones)
            d_loss = d_loss + F.binary_cross_entropy_with_logits(indep, zeros)
            self.opt_disc.zero_grad()
            d_loss.backward()
            self.opt_disc.step()
        return {"recon": recon.item(), "tc": tc.item(), "disc": d_loss.item()}

    def fit(self, epochs: int, progress=None) -> list:
        """``epochs`` passes over the data; returns fit_epochs' history (empty: no callbacks)."""

        def batches(epoch):
            self.model.train()
            perm = torch.randperm(len(self.x), generator=self.gen).to(self.device)
            for i in range(0, len(perm), self.cfg.batch_size):
                idx = perm[i : i + self.cfg.batch_size]
                if len(idx) > 1:
                    yield self.x[idx]

        return fit_epochs(
            lambda xb, epoch: self.step(xb),
            batches,
            int(epochs),
            state=training_state(self.model, [self.opt_ae, self.opt_disc], self.gen),
            progress=progress,
            desc="adversarial AE epochs",
        )

    @torch.no_grad()
    def codes(self, x=None) -> tuple[np.ndarray, np.ndarray]:
        """(z_a, z_b) of x (default: the training data), in eval mode."""
        self.model.eval()
        xt = self.x if x is None else torch.as_tensor(np.asarray(x, np.float32).reshape(len(x), -1))
        za, zb = self.model.encode(xt.to(self.device))
        return za.cpu().numpy(), zb.cpu().numpy()
