"""Discriminative Disentangling Network (DDN), thesis chapter 9 (sections 9.2-9.3).

Two encoders f_a, f_b map the input x to codes z_a, z_b; two predictors try to predict one code
from the other (q_ba: z_b -> z_a, q_ab: z_a -> z_b); three decoders g_a, g_b, g_ab reconstruct x.

Training (algorithms 5 and 6):
- stage 1: predictors minimise their squared error on noisy inputs (eq. 9.5, 9.12); each encoder
  minimises the dot product of its own code with the predictor's prediction of it (eq. 9.6). The
  parameter sets and losses are paired exactly as eq. 9.7: no encoder gets a predictor's gradient,
  no predictor an encoder's.
- stage 2: decoders on their reconstruction errors (eq. 9.10), codes fixed.
- stage 3: everything at once, the encoders with alpha x the reconstruction error of g_ab added
  (eq. 9.11); alpha may be annealed (section 9.4.4).

Our changes (not in the thesis), compared in `book/ch09_ddn.md`:
- `code_norm="batch"`: each code is standardised per batch (batch norm without affine parameters)
  at the encoder output, so an encoder cannot shrink its code to nothing.
- `pred_steps`: predictor updates per encoder update (the thesis's "the predictor must learn
  faster than the encoder", section 9.2.2, by steps instead of learning rate).
- `recon_reduce="mean"`: a reading of eq. 9.11 the thesis leaves open, its reconstruction term
  averaged over pixels (as Keras's and Lasagne's mean squared error) instead of summed, which
  weighs it 1/n_pixels as much against the encoding loss.

Optimiser (section 9.3 "RMSprop ... momentum 0.9"): eq. 7.4's RMSprop (`lib.nets.RMSprop`, eps
1e-6 inside the square root, Lasagne's form) with decay `rms_alpha` = 0.9 read as that "momentum"
and no heavy-ball term; `momentum=0.9` adds a literal heavy-ball momentum on top of eq. 7.4.
`optimizer="torch-rmsprop"` is the book's earlier torch.optim.RMSprop (eps outside the root),
kept to measure the difference.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from lib.metrics import code_scores, disentanglement_where_scorable, reconstruction_score
from lib.nets import check_rmsprop_args, make_optimiser, mlp
from lib.nets import device as choose_device
from lib.training import as_checkpoint, rng_states, set_rng_states

CODE_NORMS = ("none", "batch")
RECON_REDUCES = ("sum", "mean")
OPTIMIZERS = ("rmsprop", "sgd", "torch-rmsprop")


@dataclass
class DDNConfig:
    """Architecture and optimiser settings (section 9.3, eq. 9.13-9.15)."""

    n_code: int = 10  # N, units per cause
    enc_layers: int = 1  # L_e
    pred_layers: int = 1  # L_p
    dec_layers: int = 1  # L_d
    hidden: int = 1000  # units per hidden layer
    lr_enc: float = 1e-4
    lr_pred: float = 1e-3
    lr_dec: float = 1e-3
    optimizer: str = "rmsprop"  # eq. 7.4; "sgd" for Fig 9.4; "torch-rmsprop": the earlier torch one
    rms_alpha: float = 0.9  # RMSprop squared-gradient decay gamma ("rho" in Keras/Lasagne)
    rms_eps: float = 1e-6  # RMSprop eps (inside the root for eq. 7.4; Lasagne's default)
    rms_form: str = "lasagne"  # eq. 7.4's accumulator: "lasagne" (1 - gamma) g^2 or "printed" g^2
    momentum: float = 0.0  # heavy-ball momentum on top of eq. 7.4 (SGD: eq. 7.3's momentum)
    sigma: float = 0.1  # denoising noise on the predictor input (eq. 9.12)
    alpha: float = 0.1  # reconstruction weight in stage 3 (eq. 9.11)
    alpha_end: float | None = None  # if set, alpha is annealed linearly to this over stage 3
    batch_size: int = 128
    shared_encoder: bool = False  # section 9.5.1: one encoder outputs both codes
    code_norm: str = "none"  # "batch": our change, standardised codes
    pred_steps: int = 1  # predictor updates per encoder update
    recon_reduce: str = "sum"  # eq. 9.11's reconstruction term: summed or averaged over pixels

    def __post_init__(self):
        if self.code_norm not in CODE_NORMS:
            raise ValueError(f"code_norm must be one of {CODE_NORMS}, got {self.code_norm!r}")
        if self.recon_reduce not in RECON_REDUCES:
            raise ValueError(f"recon_reduce must be one of {RECON_REDUCES}, got {self.recon_reduce!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        try:
            check_rmsprop_args(
                min(self.lr_enc, self.lr_pred, self.lr_dec),
                self.rms_alpha,
                self.rms_eps,
                self.momentum,
                self.rms_form,
            )
        except ValueError as err:
            raise ValueError(
                f"{err} (DDNConfig: lr is lr_enc/lr_pred/lr_dec, gamma is rms_alpha, eps is "
                "rms_eps, form is rms_form)"
            ) from None
        for name in (
            "n_code",
            "enc_layers",
            "pred_layers",
            "dec_layers",
            "hidden",
            "batch_size",
            "pred_steps",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


class DDN(nn.Module):
    """Encoders, predictors and decoders of fig. 9.3."""

    def __init__(self, in_dim: int, cfg: DDNConfig):
        super().__init__()
        self.cfg = cfg
        n, h = cfg.n_code, cfg.hidden
        if cfg.shared_encoder:
            self.enc = mlp(in_dim, h, cfg.enc_layers, 2 * n)
        else:
            self.enc_a = mlp(in_dim, h, cfg.enc_layers, n)
            self.enc_b = mlp(in_dim, h, cfg.enc_layers, n)
        self.norm_a = nn.BatchNorm1d(n, affine=False) if cfg.code_norm == "batch" else nn.Identity()
        self.norm_b = nn.BatchNorm1d(n, affine=False) if cfg.code_norm == "batch" else nn.Identity()
        self.pred_ab = mlp(n, h, cfg.pred_layers, n)
        self.pred_ba = mlp(n, h, cfg.pred_layers, n)
        self.dec_a = mlp(n, h, cfg.dec_layers, in_dim, sigmoid=True)
        self.dec_b = mlp(n, h, cfg.dec_layers, in_dim, sigmoid=True)
        self.dec_ab = mlp(2 * n, h, cfg.dec_layers, in_dim, sigmoid=True)

    def encoder_parameters(self) -> list[nn.Parameter]:
        mods = [self.enc] if self.cfg.shared_encoder else [self.enc_a, self.enc_b]
        return [p for m in mods for p in m.parameters()]

    def predictor_parameters(self) -> list[nn.Parameter]:
        return list(self.pred_ab.parameters()) + list(self.pred_ba.parameters())

    def decoder_parameters(self) -> list[nn.Parameter]:
        return [p for m in (self.dec_a, self.dec_b, self.dec_ab) for p in m.parameters()]

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z_a = f_a(x), z_b = f_b(x)."""
        if self.cfg.shared_encoder:
            za, zb = self.enc(x).chunk(2, dim=1)
        else:
            za, zb = self.enc_a(x), self.enc_b(x)
        return self.norm_a(za), self.norm_b(zb)

    def decode(self, za: torch.Tensor, zb: torch.Tensor) -> torch.Tensor:
        """y_ab = g_ab(z_a, z_b)."""
        return self.dec_ab(torch.cat([za, zb], dim=1))


def sq_err(y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Squared error summed over units, mean over the batch."""
    return ((y - t) ** 2).sum(dim=1).mean()


def predictive_losses(model: DDN, za, zb, sigma: float, generator=None) -> tuple[torch.Tensor, torch.Tensor]:
    """l^P_ba = |q_ba(z_b + eps) - z_a|^2, l^P_ab = |q_ab(z_a + eps) - z_b|^2 (eq. 9.5, 9.12).

    Codes are detached: these losses train the predictors only (eq. 9.7)."""
    za, zb = za.detach(), zb.detach()
    noise = lambda z: sigma * torch.randn(z.shape, generator=generator, device=z.device)
    l_ba = sq_err(model.pred_ba(zb + noise(zb)), za)
    l_ab = sq_err(model.pred_ab(za + noise(za)), zb)
    return l_ba, l_ab


def encoding_losses(model: DDN, za, zb) -> tuple[torch.Tensor, torch.Tensor]:
    """l^E_a = z_a . q_ba(z_b), l^E_b = z_b . q_ab(z_a) (eq. 9.6), mean over the batch.

    Predictions are detached: f_a is trained by l^E_a through z_a only (eq. 9.7)."""
    with torch.no_grad():
        pa, pb = model.pred_ba(zb), model.pred_ab(za)
    return (za * pa).sum(1).mean(), (zb * pb).sum(1).mean()


def scale_grad(z: torch.Tensor, alpha: float) -> torch.Tensor:
    """Identity forward; the gradient flowing back into z is multiplied by alpha."""
    return alpha * z + (1 - alpha) * z.detach()


def reconstruction_losses(model: DDN, x, za, zb, alpha: float = 0.0) -> tuple[torch.Tensor, ...]:
    """l^R_a, l^R_b, l^R_ab (eq. 9.10). The decoders get the full gradient; with alpha > 0 the
    encoders get alpha x the gradient of l^R_ab (the reconstruction term of eq. 9.11)."""
    da, db = za.detach(), zb.detach()
    l_a = sq_err(model.dec_a(da), x)
    l_b = sq_err(model.dec_b(db), x)
    if alpha > 0:
        l_ab = sq_err(model.decode(scale_grad(za, alpha), scale_grad(zb, alpha)), x)
    else:
        l_ab = sq_err(model.decode(da, db), x)
    return l_a, l_b, l_ab


def make_optimizer(params, lr: float, cfg: DDNConfig) -> torch.optim.Optimizer:
    """The optimiser `cfg` names for one parameter set: eq. 7.4's RMSprop (section 9.3), plain SGD
    (Fig 9.4) or the earlier torch RMSprop (lib.nets.make_optimiser)."""
    if cfg.optimizer == "sgd":
        return make_optimiser(params, "sgd", lr, momentum=cfg.momentum)
    kw = dict(gamma=cfg.rms_alpha, eps=cfg.rms_eps, momentum=cfg.momentum)
    if cfg.optimizer == "rmsprop":
        kw["form"] = cfg.rms_form
    return make_optimiser(params, cfg.optimizer, lr, **kw)


class DDNTrainer:
    """Runs stages 1-3 of algorithm 6 on a fixed dataset, one epoch at a time."""

    def __init__(self, x: np.ndarray, cfg: DDNConfig, seed: int = 0, device: str | None = None):
        x = np.array(x, dtype=np.float32).reshape(len(x), -1)
        if x.ndim != 2 or len(x) < 2:
            raise ValueError(f"x must hold at least 2 samples, got shape {x.shape}")
        self.device = choose_device(device)
        self.cfg = cfg
        torch.manual_seed(seed)
        self.gen = torch.Generator(device="cpu").manual_seed(seed + 1)
        self.x = torch.from_numpy(x).to(self.device)
        self.model = DDN(x.shape[1], cfg).to(self.device)
        self.opt_enc = make_optimizer(self.model.encoder_parameters(), cfg.lr_enc, cfg)
        self.opt_pred = make_optimizer(self.model.predictor_parameters(), cfg.lr_pred, cfg)
        self.opt_dec = make_optimizer(self.model.decoder_parameters(), cfg.lr_dec, cfg)

    def state(self) -> dict:
        """Everything training changes: weights, the three optimisers, the RNG states (for a
        per-epoch checkpoint; plain tensors and dicts, loadable with weights_only=True)."""
        return {
            "model": self.model.state_dict(),
            "opt_enc": self.opt_enc.state_dict(),
            "opt_pred": self.opt_pred.state_dict(),
            "opt_dec": self.opt_dec.state_dict(),
            "rng": rng_states(self.gen),
        }

    def load_state(self, state: dict) -> None:
        """Continue from a ``state()``: the rest of the run is exactly the uninterrupted one."""
        self.model.load_state_dict(state["model"])
        for name in ("opt_enc", "opt_pred", "opt_dec"):
            getattr(self, name).load_state_dict(state[name])
        set_rng_states(state["rng"], self.gen)

    def batches(self):
        perm = torch.randperm(len(self.x), generator=self.gen)
        for i in range(0, len(perm), self.cfg.batch_size):
            idx = perm[i : i + self.cfg.batch_size]
            if len(idx) > 1:
                yield self.x[idx.to(self.device)]

    def _noise_gen(self):
        return self.gen if self.device == "cpu" else None

    def extra_predictor_steps(self, xb) -> None:
        """pred_steps - 1 predictor-only updates on this batch before the joint update."""
        for _ in range(self.cfg.pred_steps - 1):
            with torch.no_grad():
                za, zb = self.model.encode(xb)
            l_ba, l_ab = predictive_losses(self.model, za, zb, self.cfg.sigma, self._noise_gen())
            self.opt_pred.zero_grad()
            (l_ba + l_ab).backward()
            self.opt_pred.step()

    def stage1_step(self, xb) -> dict:
        """One minibatch of the four updates of eq. 9.7 (simultaneous, from the same state)."""
        self.extra_predictor_steps(xb)
        za, zb = self.model.encode(xb)
        l_ba, l_ab = predictive_losses(self.model, za, zb, self.cfg.sigma, self._noise_gen())
        e_a, e_b = encoding_losses(self.model, za, zb)
        self.opt_enc.zero_grad()
        self.opt_pred.zero_grad()
        (l_ba + l_ab + e_a + e_b).backward()
        self.opt_enc.step()
        self.opt_pred.step()
        return {"pred_loss_ba": l_ba.item(), "pred_loss_ab": l_ab.item()}

    def stage2_step(self, xb) -> dict:
        """One minibatch of decoder training on eq. 9.10 with the codes fixed."""
        with torch.no_grad():
            za, zb = self.model.encode(xb)
        l_a, l_b, l_ab = reconstruction_losses(self.model, xb, za, zb)
        self.opt_dec.zero_grad()
        (l_a + l_b + l_ab).backward()
        self.opt_dec.step()
        return {"recon_loss": l_ab.item()}

    def stage3_step(self, xb, alpha: float) -> dict:
        """One minibatch of end-to-end fine-tuning: encoders on eq. 9.11, decoders on 9.10,
        predictors on 9.12."""
        self.extra_predictor_steps(xb)
        za, zb = self.model.encode(xb)
        l_ba, l_ab = predictive_losses(self.model, za, zb, self.cfg.sigma, self._noise_gen())
        e_a, e_b = encoding_losses(self.model, za, zb)
        if self.cfg.recon_reduce == "mean":
            alpha = alpha / xb.shape[1]  # alpha x (reconstruction error averaged over pixels)
        r_a, r_b, r_ab = reconstruction_losses(self.model, xb, za, zb, alpha=alpha)
        # eq. 9.11 adds alpha*l^R_ab to each encoder's loss; scale_grad routes alpha*grad to
        # both encoders (each encoder's parameters only see their own code's path).
        for opt in (self.opt_enc, self.opt_pred, self.opt_dec):
            opt.zero_grad()
        (l_ba + l_ab + e_a + e_b + r_a + r_b + r_ab).backward()
        for opt in (self.opt_enc, self.opt_pred, self.opt_dec):
            opt.step()
        return {"pred_loss_ba": l_ba.item(), "pred_loss_ab": l_ab.item(), "recon_loss": r_ab.item()}

    def epoch(self, stage: int, alpha: float | None = None) -> dict:
        """One pass over the data in stage 1, 2 or 3; returns the mean of the batch losses."""
        if stage not in (1, 2, 3):
            raise ValueError(f"stage must be 1, 2 or 3, got {stage}")
        self.model.train()
        step = {
            1: self.stage1_step,
            2: self.stage2_step,
            3: lambda xb: self.stage3_step(xb, self.cfg.alpha if alpha is None else alpha),
        }[stage]
        logs = [step(xb) for xb in self.batches()]
        return {k: float(np.mean([d[k] for d in logs])) for k in logs[0]}

    @torch.no_grad()
    def codes(self, x=None) -> tuple[np.ndarray, np.ndarray]:
        """Codes (z_a, z_b) of x (default: the training data), in eval mode."""
        self.model.eval()
        x = (
            self.x
            if x is None
            else torch.as_tensor(np.asarray(x, np.float32).reshape(len(x), -1)).to(self.device)
        )
        za, zb = self.model.encode(x)
        return za.cpu().numpy(), zb.cpu().numpy()

    @torch.no_grad()
    def reconstruct(self, x) -> dict:
        """y_a, y_b, y_ab for the inputs x (fig. 9.7)."""
        self.model.eval()
        xt = torch.as_tensor(np.asarray(x, np.float32).reshape(len(x), -1)).to(self.device)
        za, zb = self.model.encode(xt)
        out = {"y_a": self.model.dec_a(za), "y_b": self.model.dec_b(zb), "y_ab": self.model.decode(za, zb)}
        return {k: v.cpu().numpy() for k, v in out.items()}

    @torch.no_grad()
    def cross(self, x) -> np.ndarray:
        """Cross plot (fig. 9.6): out[i, j] = g_ab(z_a of input j, z_b of input i)."""
        self.model.eval()
        xt = torch.as_tensor(np.asarray(x, np.float32).reshape(len(x), -1)).to(self.device)
        za, zb = self.model.encode(xt)
        n = len(xt)
        ya = za.unsqueeze(0).expand(n, n, -1).reshape(n * n, -1)  # column j -> z_a of input j
        yb = zb.unsqueeze(1).expand(n, n, -1).reshape(n * n, -1)  # row i -> z_b of input i
        return self.model.decode(ya, yb).cpu().numpy().reshape(n, n, -1)


def alpha_schedule(cfg: DDNConfig, epoch: int, n_epochs: int) -> float:
    """alpha for stage-3 epoch `epoch` (0-based): constant, or annealed linearly upward to
    alpha_end (section 9.4.4: 'alpha annealed to increase the contribution of reconstruction')."""
    if cfg.alpha_end is None or n_epochs <= 1:
        return cfg.alpha
    return cfg.alpha + (cfg.alpha_end - cfg.alpha) * epoch / (n_epochs - 1)


def config_dict(cfg: DDNConfig) -> dict:
    return asdict(cfg)


# ----------------------------------------------------------------------------- experiments
# Section 9.4: (L_e, L_p, L_d) and epochs of stages (1, 2, 3) per benchmark; MNIST anneals alpha.
BENCHMARKS = {
    "simple": {"layers": (1, 1, 1), "epochs": (35, 10, 5)},
    "additive": {"layers": (2, 2, 1), "epochs": (60, 10, 40)},
    "occlusive": {"layers": (2, 3, 3), "epochs": (50, 10, 50)},
    "mnist": {"layers": (2, 2, 2), "epochs": (20, 10, 100), "alpha_end": 1.0},
}


def load_benchmark(kind: str, n=None, data_seed: int = 0, data_dir=None):
    """The composite of section 8.2 (binarised digits), flattened, with its labels and parts."""
    from lib.data import make_composite

    if kind not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {kind!r}; choose one of {', '.join(BENCHMARKS)}")
    return make_composite(kind, n=n, seed=data_seed, data_dir=data_dir, binarise=True)


def ink(x: np.ndarray) -> np.ndarray:
    """Mean pixel value of each image: a stroke-thickness proxy for plain MNIST (fig. 9.15)."""
    return np.asarray(x, np.float64).reshape(len(x), -1).mean(1)


def ridge_r2(code: np.ndarray, target: np.ndarray, random_state: int = 0) -> float:
    """Held-out R^2 of a ridge regression predicting target from code (30% test split)."""
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import train_test_split

    tr_x, te_x, tr_y, te_y = train_test_split(code, target, test_size=0.3, random_state=random_state)
    return float(RidgeCV(alphas=np.logspace(-3, 3, 7)).fit(tr_x, tr_y).score(te_x, te_y))


def score_codes(za, zb, comp, rows) -> dict:
    """Per-epoch record: KSG MI (lib.metrics.code_scores) and the ground-truth score.

    For composites the truth score is the label-probe score; for plain MNIST (one digit, no second
    label) it is how much of the digit label each code carries (normalised probe accuracy)."""
    s = code_scores(za[rows], zb[rows], comp.label_a[rows], np.maximum(comp.label_b[rows], 0), n_mi=len(rows))
    norm = np.asarray(s["normalised"])
    out = {"mi": s["mi"], "truth": s["score"], "label_a_from_a": norm[0, 0], "label_a_from_b": norm[1, 0]}
    if comp.kind == "mnist":
        out["truth"] = abs(norm[0, 0] - norm[1, 0])
    return out


def run_ddn(
    kind: str,
    seed: int = 0,
    n: int | None = None,
    epochs=None,
    layers=None,
    n_show: int = 10,
    n_score: int = 1000,
    data_seed: int = 0,
    data_dir=None,
    score_every: int = 1,
    checkpoint=None,
    **cfg_kw,
) -> dict:
    """Train one DDN on a section-8.2 benchmark through stages 1-3 and record everything.

    epochs: (stage 1, stage 2, stage 3), default the thesis's for `kind`; layers: (L_e, L_p, L_d).
    Records every `score_every` epochs of stages 1 and 3: KSG MI between the codes, the truth
    score, predictor losses, reconstruction error. Returns curves, final scores, reconstructions
    of `n_show` images (one per class of label_a) and cross plots after stage 2 (no fine-tuning, fig. 9.8) and
    after stage 3 (fig. 9.6).

    checkpoint: a path or a ``lib.training.Checkpoint`` (the sweep passes one per run, outside the
    configuration). After every epoch of every stage the trainer's state, the stage/epoch counter
    and the record so far are saved there; a rerun resumes from it with exactly the result of an
    uninterrupted run (same machine), and the file is deleted when the run finishes."""
    import time

    spec = BENCHMARKS[kind] if kind in BENCHMARKS else None
    comp = load_benchmark(kind, n=n, data_seed=data_seed, data_dir=data_dir)
    e1, e2, e3 = spec["epochs"] if epochs is None else epochs
    le, lp, ld = spec["layers"] if layers is None else layers
    cfg_kw.setdefault("alpha_end", spec.get("alpha_end"))
    cfg = DDNConfig(enc_layers=le, pred_layers=lp, dec_layers=ld, **cfg_kw)
    x = comp.x.reshape(len(comp.x), -1)
    tr = DDNTrainer(x, cfg, seed=seed)
    rows = np.random.default_rng(data_seed).permutation(len(x))[:n_score]
    hist: dict[str, list] = {}
    t0 = time.process_time()

    def record(epoch, stage, log):
        s = score_codes(*tr.codes(), comp, rows)
        s.update(
            epoch=epoch,
            stage=stage,
            pred_loss=log.get("pred_loss_ba", np.nan) + log.get("pred_loss_ab", np.nan),
            recon_loss=log.get("recon_loss", np.nan),
        )
        for k, v in s.items():
            hist.setdefault(k, []).append(float(v))

    show = x[show_indices(comp.label_a, n_show)]
    ckpt = as_checkpoint(checkpoint)
    saved = ckpt.load() if ckpt else None
    if saved is not None:  # resume after the last finished epoch (counted over all stages)
        tr.load_state(saved["trainer"])
        hist, done, before = saved["hist"], saved["done"], saved["before"]
    else:
        done, before = 0, None
        record(0, 1, {})

    def snapshot():  # after stage 2, before fine-tuning (fig. 9.8)
        nonlocal before
        if before is None and done == e1 + e2:
            before = {
                "cross_no_stage3": tr.cross(show),
                **{k + "_no_stage3": v for k, v in tr.reconstruct(show).items()},
                "mse_no_stage3": float(np.mean((tr.reconstruct(x)["y_ab"] - x) ** 2)),
            }

    snapshot()
    while done < e1 + e2 + e3:
        if done < e1:
            e = done + 1
            log = tr.epoch(1)
            if e % score_every == 0 or e == e1:
                record(e, 1, log)
        elif done < e1 + e2:
            tr.epoch(2)
        else:
            e = done - e1 - e2
            log = tr.epoch(3, alpha=alpha_schedule(cfg, e, e3))
            if (e + 1) % score_every == 0 or e == e3 - 1:
                record(e1 + e + 1, 3, log)
        done += 1
        snapshot()
        if ckpt:
            ckpt.save({"trainer": tr.state(), "hist": hist, "done": done, "before": before})
    if ckpt:
        ckpt.remove()
    return {
        **{k: np.array(v) for k, v in hist.items()},
        **before,
        **final_scores(tr, comp, x, rows),
        "x_show": show,
        "cross": tr.cross(show),
        **tr.reconstruct(show),
        "shape": np.array(comp.x.shape[1:]),
        "cpu_s": time.process_time() - t0 + (ckpt.cpu_before if ckpt else 0.0),
    }


def show_indices(labels: np.ndarray, n_show: int) -> np.ndarray:
    """Inputs for the cross plots: the first image of each class in turn (the thesis hand-picked
    inputs showing a range of digits), padded with the first images."""
    firsts = [int(np.flatnonzero(labels == c)[0]) for c in np.unique(labels)]
    rest = [i for i in range(len(labels)) if i not in firsts][:n_show]
    return np.array((firsts + rest)[:n_show])


def final_scores(tr: DDNTrainer, comp, x, rows) -> dict:
    """End-of-training numbers: MI, truth score, code spread, reconstruction error, and what each
    code carries (digit label of each part; for MNIST also ink, a stroke-thickness proxy)."""
    za, zb = tr.codes()
    s = code_scores(za, zb, comp.label_a, np.maximum(comp.label_b, 0), n_mi=len(rows))
    d = disentanglement_where_scorable(za[rows], zb[rows], comp.label_a[rows], comp.label_b[rows])
    rec = tr.reconstruct(x)
    out = {
        "final_mi": s["mi"],
        "final_truth": s["score"],
        "final_acc": np.array(s["acc"]),
        "final_disentanglement": float(d["score"]) if d else float("nan"),
        "final_disentangled": bool(d and d["disentangled"]),
        "final_normalised": np.array(s["normalised"]),
        "code_std_a": float(za.std(0).mean()),
        "code_std_b": float(zb.std(0).mean()),
        "recon_mse": float(np.mean((rec["y_ab"] - x) ** 2)),
    }
    if comp.kind == "mnist":
        norm = np.array(s["normalised"])
        out["final_truth"] = float(abs(norm[0, 0] - norm[1, 0]))
        out["ink_r2"] = np.array([ridge_r2(z, ink(x)) for z in (za, zb)])
    else:
        parts = [p.reshape(len(p), -1) for p in (comp.part_a, comp.part_b)]
        out["recon_truth"] = reconstruction_score(rec["y_a"], rec["y_b"], *parts)["score"]
    return out


def run_chase(
    seed: int = 0,
    n: int | None = None,
    epochs: int = 24,
    snapshots=(20, 22, 24),
    lr_enc: float = 0.01,
    lr_pred: float = 0.01,
    n_code: int = 2,
    hidden: int = 1000,
    n_plot: int = 500,
    data_seed: int = 0,
    data_dir=None,
    **cfg_kw,
) -> dict:
    """Fig 9.4: stage 1 with plain SGD on Simple MNIST, 2 units per cause. Returns z_a and its
    prediction q_ba(z_b) for `n_plot` images at each snapshot epoch, the predictor's R^2 on z_a
    and how far z_a moved between consecutive snapshots (relative to its spread)."""
    comp = load_benchmark("simple", n=n, data_seed=data_seed, data_dir=data_dir)
    x = comp.x.reshape(len(comp.x), -1)
    cfg = DDNConfig(n_code=n_code, hidden=hidden, optimizer="sgd", lr_enc=lr_enc, lr_pred=lr_pred, **cfg_kw)
    tr = DDNTrainer(x, cfg, seed=seed)
    out = {"label_a": comp.label_a[:n_plot], "snapshots": np.array(snapshots)}
    za_s, pa_s, r2 = [], [], []
    for e in range(1, epochs + 1):
        tr.epoch(1)
        if e in snapshots:
            za, zb = tr.codes()
            with torch.no_grad():
                pa = tr.model.pred_ba(torch.from_numpy(zb).to(tr.device)).cpu().numpy()
            za_s.append(za[:n_plot]), pa_s.append(pa[:n_plot])
            r2.append(1 - ((pa - za) ** 2).sum() / max(((za - za.mean(0)) ** 2).sum(), 1e-12))
    za_s, pa_s = np.array(za_s), np.array(pa_s)
    spread = np.sqrt(((za_s - za_s.mean(1, keepdims=True)) ** 2).sum(2).mean(1))
    moves = np.sqrt(((za_s[1:] - za_s[:-1]) ** 2).sum(2).mean(1)) / np.maximum(spread[:-1], 1e-12)
    out.update(za=za_s, pred_za=pa_s, pred_r2=np.array(r2), code_spread=spread, moves=moves)
    return out


MI_THRESHOLD = 0.1  # final KSG MI below this: disentangled by the thesis's criterion (ch. 8)
TRUTH_THRESHOLD = 0.5  # final probe score at least this: disentangled by the ground truth


def stage_end(run: dict, stage: int, key: str) -> float:
    """The recorded value of `key` at the last epoch of `stage` (1 or 3) of one run."""
    at = np.flatnonzero(np.asarray(run["stage"]) == stage)
    return float(np.asarray(run[key])[at[-1]]) if len(at) else float("nan")


def summarise(runs: list[dict], mi_key: str = "final_mi", truth_key: str = "final_truth") -> dict:
    """Mean and spread of final MI and truth score over runs, the share of runs disentangled by
    each criterion (MI < MI_THRESHOLD, truth >= TRUTH_THRESHOLD), and the means at the end of stage 1."""
    mi = np.array([float(r[mi_key]) for r in runs])
    truth = np.array([float(r[truth_key]) for r in runs])
    s1_mi = np.array([stage_end(r, 1, "mi") for r in runs])
    s1_truth = np.array([stage_end(r, 1, "truth") for r in runs])
    out = {
        "stage1_mi_mean": float(np.nanmean(s1_mi)),
        "stage1_truth_mean": float(np.mean(s1_truth)),
        "final_mi_mean": float(np.nanmean(mi)),
        "final_mi_sd": float(np.nanstd(mi)),
        "truth_score_mean": float(np.mean(truth)),
        "truth_score_sd": float(np.std(truth)),
        "share_disentangled_mi": float(np.mean(mi < MI_THRESHOLD)),
        "share_disentangled_truth": float(np.mean(truth >= TRUTH_THRESHOLD)),
        "share_low_mi_not_disentangled": float(np.mean((mi < MI_THRESHOLD) & (truth < TRUTH_THRESHOLD))),
    }
    if runs and all("final_disentangled" in r for r in runs):
        # the ground-truth disentangling score of the final codes (lib.metrics.disentanglement):
        # ``share_disentangled`` counts its ``disentangled`` flag (both codes informative and
        # exclusive, above the permutation null); ``share_both`` also needs MI < MI_THRESHOLD
        score = np.array([float(r["final_disentanglement"]) for r in runs])
        good = np.array([bool(r["final_disentangled"]) for r in runs])
        low = np.where(np.isfinite(mi), mi, np.inf) < MI_THRESHOLD
        out.update(
            disentanglement_mean=float(np.nanmean(score)) if np.isfinite(score).any() else float("nan"),
            disentanglement_sd=float(np.nanstd(score)) if np.isfinite(score).any() else float("nan"),
            share_disentangled=float(np.mean(good)),
            share_both=float(np.mean(low & good)),
            share_low_mi_not_disentangled_score=float(np.mean(low & ~good)),
        )
    return out


# ----------------------------------------------------------------------------- figures
def cross_figure(run: dict, title: str | None = None):
    """Cross plot (fig. 9.6): top row and left column are the inputs; cell (i, j) decodes z_a of
    the input above it (column j) with z_b of the input left of it (row i)."""
    import matplotlib.pyplot as plt

    h, w = (int(v) for v in run["shape"])
    xs, grid = np.asarray(run["x_show"]).reshape(-1, h, w), np.asarray(run["cross"])
    n = len(xs)
    canvas = np.full(((n + 1) * (h + 2), (n + 1) * (w + 2)), 0.5)
    put = lambda i, j, img: canvas.__setitem__(
        (slice(i * (h + 2) + 1, i * (h + 2) + 1 + h), slice(j * (w + 2) + 1, j * (w + 2) + 1 + w)), img
    )
    for k in range(n):
        put(0, k + 1, xs[k])
        put(k + 1, 0, xs[k])
        for j in range(n):
            put(k + 1, j + 1, grid[k, j].reshape(h, w))
    fig, ax = plt.subplots(figsize=(0.75 * (n + 1) * w / 28 + 0.4, 0.75 * (n + 1) + 0.4))
    ax.imshow(canvas, cmap="gray", vmin=0, vmax=1)
    ax.set_xticks([]), ax.set_yticks([])
    ax.set_xlabel("z_a from the input in the top row"), ax.set_ylabel("z_b from the input in the left column")
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def reconstruction_figure(runs: list[dict], names: list[str], n_rows: int = 6, suffix: str = ""):
    """Fig. 9.7: for each run, columns input, y_a (z_a only), y_b (z_b only), y_ab (both)."""
    import matplotlib.pyplot as plt

    h, w = (int(v) for v in runs[0]["shape"])
    cols = ["x_show", "y_a" + suffix, "y_b" + suffix, "y_ab" + suffix]
    fig, axes = plt.subplots(
        n_rows, 4 * len(runs), figsize=(0.9 * 4 * len(runs) * w / 28, 0.95 * n_rows), squeeze=False
    )
    for r, (run, name) in enumerate(zip(runs, names)):
        for c, key in enumerate(cols):
            for i in range(n_rows):
                ax = axes[i, 4 * r + c]
                ax.imshow(np.asarray(run[key])[i].reshape(h, w), cmap="gray", vmin=0, vmax=1)
                ax.set_xticks([]), ax.set_yticks([])
                if i == 0:
                    ax.set_title(
                        f"{name}\n{['x', 'y_a', 'y_b', 'y_ab'][c]}"
                        if c == 0
                        else ["x", "y_a", "y_b", "y_ab"][c],
                        fontsize=8,
                    )
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- chapter plan
def chapter_sizes(profile: str, data_dir=None) -> dict:
    """Every size chapter 9 uses at `profile` (smoke / book / thesis).

    `n` holds the images per benchmark: at `thesis` exactly the thesis's (25,000 composites of
    section 8.2, 50,000 plain MNIST images); the data in `data_dir` ($MNIST_DIR, else the bundled
    subset) must supply them, or lib.data.require_composites stops with what is missing and how to
    get it. `n_comp` is the composites' size (None: all the source allows)."""
    from lib.data import require_composites
    from lib.experiments import pick

    bench_book = {
        "simple": (35, 5, 5),
        "additive": (40, 5, 10),
        "occlusive": (40, 5, 10),
        "mnist": (15, 5, 20),
    }
    n_comp = pick(profile, smoke=300, book=None, thesis=25000)
    n_mnist = pick(profile, smoke=300, book=None, thesis=50000)
    return {
        "n_comp": n_comp,
        "n": {k: require_composites(k, n_mnist if k == "mnist" else n_comp, data_dir) for k in BENCHMARKS},
        "hidden": pick(profile, smoke=48, book=1000, thesis=1000),
        "n_runs": pick(profile, smoke=2, book=3, thesis=30),
        "n_runs_variant": pick(profile, smoke=1, book=2, thesis=10),  # per variant in the comparison
        "n_runs_mnist": pick(profile, smoke=1, book=1, thesis=5),
        "n_runs_study": pick(profile, smoke=1, book=1, thesis=5),
        "epochs": {
            k: tuple(pick(profile, smoke=(3, 1, 2), book=bench_book[k], thesis=v["epochs"]))
            for k, v in BENCHMARKS.items()
        },
        "penalty_epochs": pick(profile, smoke=3, book=25, thesis=35),
        "chase_epochs": pick(profile, smoke=2, book=24, thesis=24),
        "chase_snapshots": pick(profile, smoke=(1, 2), book=(20, 22, 24), thesis=(20, 22, 24)),
        "depth_epochs": pick(profile, smoke=3, book=35, thesis=60),
        "depths": pick(profile, smoke=(1, 2), book=(1, 2, 4), thesis=(1, 2, 4)),
        "gmmn": pick(
            profile,
            smoke=dict(ae_epochs=1, gmmn_steps=60, hidden=64, n=1000),
            book=dict(ae_epochs=10, gmmn_steps=1500, hidden=256, n=5000),
            thesis=dict(ae_epochs=20, gmmn_steps=4000, hidden=1000, n=50000),
        ),
    }


# The model as written and the changes compared on Simple MNIST (section "faithful vs changed" of
# the chapter): tag -> (description, DDNConfig overrides). The chapter uses the variant with the
# highest mean ground-truth score on Simple for everything after the comparison.
VARIANTS = {
    "faithful": ("as written", {"code_norm": "none"}),
    "std": ("standardised codes", {"code_norm": "batch"}),
    "slowenc": ("encoder lr 1e-5", {"code_norm": "none", "lr_enc": 1e-5}),
    "std_slowenc": ("standardised codes, encoder lr 1e-5", {"code_norm": "batch", "lr_enc": 1e-5}),
    "pred5": ("5 predictor steps per encoder step", {"code_norm": "none", "pred_steps": 5}),
    "recon_mean": ("eq. 9.11 averaged over pixels", {"code_norm": "none", "recon_reduce": "mean"}),
    "momentum": ("heavy-ball momentum 0.9 on eq. 7.4", {"code_norm": "none", "momentum": 0.9}),
    "torch_rmsprop": (
        "torch RMSprop, eps outside the root (the book's earlier optimiser)",
        {"code_norm": "none", "optimizer": "torch-rmsprop"},
    ),
}


def choose_variant(summaries: dict) -> str:
    """The variant the rest of chapter 9 uses: of the variants that disentangle most of their runs
    by the ground truth (share above one half), the one with the highest mean truth score (ties:
    the earlier, simpler one); the model as written when none does. A change is adopted only for
    a real separation, never for a difference in noise-level scores."""
    works = [t for t in summaries if summaries[t]["share_disentangled_truth"] > 0.5]
    if not works:
        return "faithful"
    return max(works, key=lambda t: (round(summaries[t]["truth_score_mean"], 6), -list(VARIANTS).index(t)))


def chapter_plan(profile: str, seed: int = 0, data_dir=None, use: str | None = None) -> dict:
    """Chapter 9's experiments: sweep name -> (function, list of configs). Without `use`, the
    sweeps that do not depend on the chosen variant; with `use` (a VARIANTS tag) also those that
    do. The notebook and any prefill process build the same configs and share cached runs."""
    from lib.ddn_alternatives import run_gmmn_on_codes, run_penalty

    s = chapter_sizes(profile, data_dir)
    common = {"n": s["n_comp"], "hidden": s["hidden"], "data_dir": data_dir}
    ddn = lambda kind, k, runs, **kw: [
        dict(
            kind=kind,
            seed=seed + i,
            epochs=list(s["epochs"][kind]),
            **{**common, "n": s["n"][kind]},
            **k,
            **kw,
        )
        for i in range(runs)
    ]
    plan = {
        "gmmn": (run_gmmn_on_codes, [dict(seed=seed, data_dir=data_dir, **s["gmmn"])]),
        "penalties": (
            run_penalty,
            [
                dict(
                    kind=k,
                    penalty=p,
                    lam=10.0,
                    seed=seed + i,
                    epochs=s["penalty_epochs"],
                    enc_layers=BENCHMARKS[k]["layers"][0],
                    dec_layers=BENCHMARKS[k]["layers"][2],
                    **common,
                )
                for k in ("simple", "additive")
                for p in ("xcov", "meannn")
                for i in range(s["n_runs_study"])
            ],
        ),
        "chase": (
            run_chase,
            [
                dict(
                    seed=seed,
                    epochs=s["chase_epochs"],
                    snapshots=list(s["chase_snapshots"]),
                    lr_pred=lp,
                    **common,
                )
                for lp in (0.01, 0.1)
            ],
        ),
    }
    for tag, (_, k) in VARIANTS.items():
        plan[f"simple_{tag}"] = (run_ddn, ddn("simple", k, s["n_runs_variant"]))
    if use is None:
        return plan
    k = VARIANTS[use][1]
    plan[f"simple_{use}_more"] = (run_ddn, ddn("simple", k, s["n_runs"])[s["n_runs_variant"] :])
    for kind in ("additive", "occlusive", "mnist"):
        runs = s["n_runs_mnist"] if kind == "mnist" else s["n_runs"]
        plan[f"{kind}_{use}"] = (run_ddn, ddn(kind, k, runs))
    e1 = s["epochs"]["simple"][0]
    plan[f"shared_encoder_{use}"] = (
        run_ddn,
        [
            dict(kind="simple", seed=seed + i, epochs=[e1, 0, 0], shared_encoder=sh, **common, **k)
            for sh in (False, True)
            for i in range(s["n_runs_study"])
        ],
    )
    plan[f"depth_{use}"] = (
        run_ddn,
        [
            dict(
                kind="additive",
                seed=seed + i,
                epochs=[s["depth_epochs"], 0, 0],
                layers=[d, max(d, 2), 1],
                **common,
                **k,
            )
            for d in s["depths"]
            for i in range(s["n_runs_study"])
        ],
    )
    return plan


def run_plan(profile: str, names=None, seed: int = 0, data_dir=None, use=None, n_jobs=None) -> dict:
    """Run (or load from the cache) the sweeps `names` of chapter_plan; returns name -> results."""
    from lib.experiments import sweep

    plan = chapter_plan(profile, seed, data_dir, use)
    names = list(plan) if names is None else names
    return {n: sweep(plan[n][0], plan[n][1], name=n, profile=profile, n_jobs=n_jobs) for n in names}
