"""The disentangling losses the thesis rejected (section 9.1), on the DDN's split encoders.

- `PenaltyAutoencoder`: split encoders f_a, f_b and one decoder g_ab (as in the DDN), trained on
  reconstruction error plus lam x a dependence penalty between the codes: the XCov penalty of
  Cheung et al. (squared cross-covariance) or the MeanNN MI estimate (eq. 9.3-9.4).
- `gmmn_fit`: a Generative Moment Matching Network (MMD with Gaussian kernels, eq. 9.2) mapping
  spherical Gaussian noise onto a target sample, for Fig 9.1.

The networks are `lib.nets.mlp` (Glorot); the autoencoders train with eq. 7.4's RMSprop
(`lib.nets.make_optimiser("rmsprop")`, as the DDN), the GMMN generator with Adam.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from lib.ddn import sq_err
from lib.nets import device, make_optimiser, mlp

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
        from lib.mi import meannn_mi

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
    curve = []
    for _ in range(steps):
        idx = torch.randint(len(t), (batch,), generator=g)
        loss = gaussian_mmd2(gen(torch.randn(batch, n_in, generator=g)), t[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        curve.append(loss.item())
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


def run_penalty(
    kind: str,
    penalty: str,
    lam: float,
    seed: int = 0,
    n: int | None = None,
    epochs: int = 35,
    enc_layers: int = 1,
    dec_layers: int = 1,
    hidden: int = 1000,
    n_code: int = 10,
    lr: float = 1e-3,
    batch_size: int = 128,
    n_score: int = 1000,
    data_seed: int = 0,
    data_dir=None,
    optimiser: str = "rmsprop",
) -> dict:
    """Train a split-encoder autoencoder with a dependence penalty (section 9.1 text) on a
    section-8.2 benchmark; record KSG MI and the truth score every epoch (as for the DDN).
    `optimiser`: a lib.nets.make_optimiser name ("rmsprop" = eq. 7.4, as the DDN)."""
    import time

    from lib.ddn import load_benchmark, score_codes

    comp = load_benchmark(kind, n=n, data_seed=data_seed, data_dir=data_dir)
    dev = device()
    x = torch.from_numpy(comp.x.reshape(len(comp.x), -1).astype(np.float32)).to(dev)
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed + 1)
    model = PenaltyAutoencoder(x.shape[1], n_code, enc_layers, dec_layers, hidden).to(dev)
    opt = make_optimiser(model.parameters(), optimiser, lr)
    rows = np.random.default_rng(data_seed).permutation(len(x))[:n_score]
    hist: dict[str, list] = {}
    t0 = time.process_time()

    def record(log):
        with torch.no_grad():
            za, zb, y = model(x)
        s = score_codes(za.cpu().numpy(), zb.cpu().numpy(), comp, rows)
        s.update(log, recon_mse=float(((y - x) ** 2).mean()))
        for k, v in s.items():
            hist.setdefault(k, []).append(float(v))

    record({"penalty": np.nan})
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=g).to(dev)
        pens = []
        for i in range(0, len(x) - 1, batch_size):
            loss, parts = penalty_loss(model, x[perm[i : i + batch_size]], penalty, lam)
            opt.zero_grad()
            loss.backward()
            opt.step()
            pens.append(parts["penalty"])
        record({"penalty": float(np.mean(pens))})
    out = {k: np.array(v) for k, v in hist.items()}
    out.update(final_mi=out["mi"][-1], final_truth=out["truth"][-1], cpu_s=time.process_time() - t0)
    return out


def run_gmmn_on_codes(
    n: int = 5000,
    code_units: int = 2,
    hidden: int = 256,
    ae_epochs: int = 10,
    gmmn_steps: int = 2000,
    seed: int = 0,
    data_dir=None,
) -> dict:
    """Fig 9.1: train an autoencoder (784 -> hidden -> relu -> code -> hidden -> relu -> 784 ->
    sigmoid) on MNIST, then a GMMN from spherical Gaussian noise onto its code distribution."""
    from lib.data import load_mnist

    mnist = load_mnist(data_dir)
    imgs = np.array(mnist.images[:n], np.float32)
    x = torch.from_numpy(imgs.reshape(len(imgs), -1))
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    enc, dec = mlp(x.shape[1], hidden, 1, code_units), mlp(code_units, hidden, 1, x.shape[1], sigmoid=True)
    params = list(enc.parameters()) + list(dec.parameters())
    opt = make_optimiser(params, "rmsprop", 1e-3)
    for _ in range(ae_epochs):
        perm = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), 128):
            xb = x[perm[i : i + 128]]
            loss = sq_err(dec(enc(xb)), xb)
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        codes = enc(x).numpy()
    return gmmn_fit(codes, hidden=64, steps=gmmn_steps, seed=seed)
