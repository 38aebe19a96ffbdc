"""The disentangling losses the thesis rejected (section 9.1), on the DDN's split encoders.

- `PenaltyAutoencoder`: split encoders f_a, f_b and one decoder g_ab (as in the DDN), trained on
  reconstruction error plus lam x a dependence penalty between the codes: the XCov penalty of
  Cheung et al. (squared cross-covariance) or the MeanNN MI estimate (eq. 9.3-9.4).
- `gmmn_fit`: a Generative Moment Matching Network (Li et al. 2015; MMD with Gaussian kernels,
  eq. 9.2) mapping spherical Gaussian noise onto a target sample, for Fig 9.1.

The networks are `lib.nets.mlp` (Glorot); the autoencoders train with eq. 7.4's RMSprop
(`lib.nets.make_optimiser("rmsprop")`, as the DDN), the GMMN generator with Adam, both through
`lib.training.fit_epochs`. The experiments that train them (`run_penalty`, `run_gmmn_on_codes`)
are chapter 9's runs, in `lib.ddn_runs`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from lib.ddn import sq_err
from lib.mi import meannn_mi
from lib.nets import make_optimiser, mlp
from lib.training import fit_epochs

PENALTIES = ("xcov", "meannn")


def xcov(za: torch.Tensor, zb: torch.Tensor) -> torch.Tensor:
    """XCov = 1/2 sum_ij C_ij^2, C the batch cross-covariance of z_a and z_b (Cheung et al. 2014)."""
    ca, cb = za - za.mean(0), zb - zb.mean(0)
    c = ca.T @ cb / len(za)
    return 0.5 * (c**2).sum()


def dependence_penalty(kind: str, za: torch.Tensor, zb: torch.Tensor) -> torch.Tensor:
    """The penalty `kind` ("xcov" or "meannn", eq. 9.4) between two batches of codes."""
    if kind == "xcov":
        return xcov(za, zb)
    if kind == "meannn":
        return meannn_mi(za, zb)
    raise ValueError(f"penalty must be one of {PENALTIES}, got {kind!r}")


class PenaltyAutoencoder(nn.Module):
    """Split encoders (eq. 9.13) and a joint decoder g_ab (eq. 9.15) with a dependence penalty."""

    def __init__(
        self, in_dim: int, n_code: int = 10, enc_layers: int = 1, dec_layers: int = 1, hidden: int = 1000
    ):
        super().__init__()
        self.enc_a = mlp(in_dim, hidden, enc_layers, n_code)
        self.enc_b = mlp(in_dim, hidden, enc_layers, n_code)
        self.dec = mlp(2 * n_code, hidden, dec_layers, in_dim, sigmoid=True)

    def forward(self, x):
        za, zb = self.enc_a(x), self.enc_b(x)
        return za, zb, self.dec(torch.cat([za, zb], 1))


def penalty_loss(model: PenaltyAutoencoder, x, penalty: str, lam: float) -> tuple[torch.Tensor, dict]:
    """Reconstruction error + lam x dependence penalty; returns the loss and its parts."""
    za, zb, y = model(x)
    rec, pen = sq_err(y, x), dependence_penalty(penalty, za, zb)
    return rec + lam * pen, {"recon_loss": rec.item(), "penalty": pen.item()}


def gaussian_mmd2(x: torch.Tensor, y: torch.Tensor, bandwidths=(0.1, 0.3, 1.0, 3.0)) -> torch.Tensor:
    """Biased MMD^2 between samples x and y with a sum of Gaussian kernels (eq. 9.2 kernelised)."""
    z = torch.cat([x, y], 0)
    d2 = torch.cdist(z, z) ** 2
    k = sum(torch.exp(-d2 / (2 * s * s)) for s in bandwidths)
    n = len(x)
    return k[:n, :n].mean() + k[n:, n:].mean() - 2 * k[:n, n:].mean()


def gmmn_fit(
    target: np.ndarray,
    n_in: int | None = None,
    hidden: int = 64,
    steps: int = 2000,
    batch: int = 256,
    lr: float = 1e-3,
    seed: int = 0,
) -> dict:
    """Train a GMMN (Li et al. 2015) from spherical Gaussian noise onto `target` by minimising
    MMD^2. Returns the generator's input and output samples, the MMD^2 curve and baselines."""
    target = np.asarray(target, np.float32)
    if target.ndim != 2 or len(target) < 2 * batch:
        raise ValueError(f"target must be (n, d) with n >= {2 * batch}, got {target.shape}")
    torch.manual_seed(seed)
    d = target.shape[1]
    n_in = n_in or d
    mu, sd = target.mean(0), target.std(0) + 1e-8
    t = torch.from_numpy((target - mu) / sd)
    gen = mlp(n_in, hidden, 2, d, init=False)  # torch's default initialisation
    opt = make_optimiser(gen.parameters(), "adam", lr)
    g = torch.Generator().manual_seed(seed)

    def batches(k):  # one minibatch of the target per step
        yield torch.randint(len(t), (batch,), generator=g)

    def step(idx, k):
        loss = gaussian_mmd2(gen(torch.randn(batch, n_in, generator=g)), t[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"mmd2": loss.item()}

    curve = fit_epochs(step, batches, steps, on_epoch=lambda k, log: log["mmd2"], desc="GMMN steps")
    return _gmmn_summary(gen, t, n_in, mu, sd, np.array(curve), g)


@torch.no_grad()
def _gmmn_summary(gen, t, n_in, mu, sd, curve, g) -> dict:
    n = min(len(t) // 2, 1000)
    z = torch.randn(n, n_in, generator=g)
    out = gen(z)
    perm = torch.randperm(len(t), generator=g)
    a, b = t[perm[:n]], t[perm[n : 2 * n]]
    return {
        "input": z.numpy(),
        "output": out.numpy() * sd + mu,
        "target": a.numpy() * sd + mu,
        "mmd2_curve": curve,
        "mmd2_output": float(gaussian_mmd2(out, a)),  # generator vs target
        "mmd2_noise": float(gaussian_mmd2(z[:, : t.shape[1]], a)) if n_in >= t.shape[1] else float("nan"),
        "mmd2_target_halves": float(gaussian_mmd2(b, a)),
    }  # two target samples
