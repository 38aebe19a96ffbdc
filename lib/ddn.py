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
- `code_act`: "tanh" or "sigmoid" bounds each code unit at the encoder output (section 9.2.1
  notes the encoding loss "is not bounded below"; a bounded code is one reading of the fix).
- `pred_noise="stage3"`: the denoising of eq. 9.12 in stage 3 only (algorithm 6 lists 9.12 for
  stage 3 and refers stage 1 back to algorithm 5, which has no noise); the default "all" adds it
  in both stages. Both options were measured on the positive-control toys (lib.toy_study).
- `recon_reduce`: eq. 9.11 does not say whether its reconstruction term is summed or averaged over
  pixels. The default, "mean" (as Keras's and Lasagne's mean squared error), is the reading whose
  behaviour matches the thesis (section 9.4.1: fine-tuning leaves the MI nearly unchanged): on
  the halves toy stage 3 moves the MI 0.19 -> 0.27 averaged and 0.19 -> 0.61 summed
  (lib.toy_study). "sum" weighs reconstruction n_pixels times more and stays a tested variant.

Optimiser (section 9.3 "RMSprop ... momentum 0.9"): eq. 7.4's RMSprop (`lib.nets.RMSprop`, eps
1e-6 inside the square root, Lasagne's form) with decay `rms_alpha` = 0.9 read as that "momentum"
and no heavy-ball term; `momentum=0.9` adds a literal heavy-ball momentum on top of eq. 7.4.
`optimizer="torch-rmsprop"` is the book's earlier torch.optim.RMSprop (eps outside the root),
kept to measure the difference.

This module holds the model and its trainer only (``DDNTrainer.fit`` runs algorithm 6 through
``lib.training.fit_epochs``; the seed-batched ``lib.batched.BatchedDDNTrainer`` shares its losses
and ``StagedTrainer``); chapter 9's runs (``run_ddn``, the benchmarks) are ``lib.ddn_runs``, its
sizes, summaries and claims ``lib.chapters.ch09_ddn``, its figures ``lib.plots``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from lib.checkpoints import rng_states, set_rng_states
from lib.nets import RMSPROP_EPS, check_rmsprop_args, make_optimiser, mlp
from lib.nets import device as choose_device
from lib.training import fit_epochs, mean_logs, take_step

CODE_NORMS = ("none", "batch")
CODE_ACTS = ("linear", "tanh", "sigmoid")
PRED_NOISES = ("all", "stage3")
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
    rms_eps: float = RMSPROP_EPS  # RMSprop eps (inside the root for eq. 7.4; lib.nets.RMSPROP_EPS)
    rms_form: str = "lasagne"  # eq. 7.4's accumulator: "lasagne" (1 - gamma) g^2 or "printed" g^2
    momentum: float = 0.0  # heavy-ball momentum on top of eq. 7.4 (SGD: eq. 7.3's momentum)
    sigma: float = 0.1  # denoising noise on the predictor input (eq. 9.12)
    alpha: float = 0.1  # reconstruction weight in stage 3 (eq. 9.11)
    alpha_end: float | None = None  # if set, alpha is annealed linearly to this over stage 3
    batch_size: int = 128
    shared_encoder: bool = False  # section 9.5.1: one encoder outputs both codes
    code_norm: str = "none"  # "batch": our change, standardised codes
    pred_steps: int = 1  # predictor updates per encoder update
    recon_reduce: str = "mean"  # eq. 9.11's reconstruction term averaged over pixels (the book's reading)
    code_act: str = "linear"  # "tanh" / "sigmoid": bounded codes (a reading; thesis: linear)
    pred_noise: str = "all"  # eq. 9.12's noise in stages 1 and 3 ("all") or stage 3 only

    def __post_init__(self):
        if self.code_norm not in CODE_NORMS:
            raise ValueError(f"code_norm must be one of {CODE_NORMS}, got {self.code_norm!r}")
        if self.recon_reduce not in RECON_REDUCES:
            raise ValueError(f"recon_reduce must be one of {RECON_REDUCES}, got {self.recon_reduce!r}")
        if self.code_act not in CODE_ACTS:
            raise ValueError(f"code_act must be one of {CODE_ACTS}, got {self.code_act!r}")
        if self.pred_noise not in PRED_NOISES:
            raise ValueError(f"pred_noise must be one of {PRED_NOISES}, got {self.pred_noise!r}")
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
        act = {"linear": nn.Identity(), "tanh": torch.tanh, "sigmoid": torch.sigmoid}
        act = act[self.cfg.code_act]
        return self.norm_a(act(za)), self.norm_b(act(zb))

    def decode(self, za: torch.Tensor, zb: torch.Tensor) -> torch.Tensor:
        """y_ab = g_ab(z_a, z_b)."""
        return self.dec_ab(torch.cat([za, zb], dim=1))


def sq_err(y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Squared error summed over units, mean over the batch."""
    return ((y - t) ** 2).sum(dim=1).mean()


def predictive_losses(
    model: DDN, za, zb, sigma: float, noise=None, generator=None
) -> tuple[torch.Tensor, torch.Tensor]:
    """l^P_ba = |q_ba(z_b + eps) - z_a|^2, l^P_ab = |q_ab(z_a + eps) - z_b|^2 (eq. 9.5, 9.12).

    ``eps = sigma x noise``: ``noise`` is the pair of unit-Gaussian draws (for z_b, for z_a),
    drawn here from ``generator`` when not given. Codes are detached: these losses train the
    predictors only (eq. 9.7)."""
    za, zb = za.detach(), zb.detach()
    nb, na = noise if noise is not None else unit_noise(zb, generator)
    l_ba = sq_err(model.pred_ba(zb + sigma * nb), za)
    l_ab = sq_err(model.pred_ab(za + sigma * na), zb)
    return l_ba, l_ab


def unit_noise(z: torch.Tensor, generator=None) -> tuple[torch.Tensor, torch.Tensor]:
    """The unit noise of one predictor update (eq. 9.12): for z_b, then for z_a, shaped as ``z``."""
    draw = lambda: torch.randn(z.shape, generator=generator, device=z.device)
    return draw(), draw()


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


# ----------------------------------------------------------------------------- stage losses
# One home for algorithm 6's losses: the single-seed DDNTrainer and the seed-batched
# lib.batched.BatchedDDNTrainer both call these (the latter through torch.func on stacked models),
# so a change here changes both. ``noise`` is the unit noise pair of ``unit_noise``.
def predictor_step_loss(model: DDN, xb, noise, sigma: float) -> torch.Tensor:
    """An extra predictor-only update's loss (``pred_steps`` > 1): eq. 9.5 / 9.12 on fixed codes."""
    with torch.no_grad():
        za, zb = model.encode(xb)
    l_ba, l_ab = predictive_losses(model, za, zb, sigma, noise)
    return l_ba + l_ab


def stage1_loss(model: DDN, xb, noise, sigma: float) -> tuple[torch.Tensor, ...]:
    """Stage 1 (eq. 9.7): predictors on eq. 9.5 / 9.12, encoders on eq. 9.6; (total, l_ba, l_ab)."""
    za, zb = model.encode(xb)
    l_ba, l_ab = predictive_losses(model, za, zb, sigma, noise)
    e_a, e_b = encoding_losses(model, za, zb)
    return l_ba + l_ab + e_a + e_b, l_ba, l_ab


def stage2_loss(model: DDN, xb) -> tuple[torch.Tensor, ...]:
    """Stage 2: the decoders on eq. 9.10 with the codes fixed; (total, l^R_ab)."""
    with torch.no_grad():
        za, zb = model.encode(xb)
    l_a, l_b, l_ab = reconstruction_losses(model, xb, za, zb)
    return l_a + l_b + l_ab, l_ab


def stage3_loss(model: DDN, xb, noise, sigma: float, alpha: float) -> tuple[torch.Tensor, ...]:
    """Stage 3: encoders on eq. 9.11, decoders on 9.10, predictors on 9.12, at once;
    (total, l_ba, l_ab, l^R_ab). ``alpha`` as ``stage3_alpha`` gives it."""
    za, zb = model.encode(xb)
    l_ba, l_ab = predictive_losses(model, za, zb, sigma, noise)
    e_a, e_b = encoding_losses(model, za, zb)
    # eq. 9.11 adds alpha*l^R_ab to each encoder's loss; scale_grad routes alpha*grad to both
    # encoders (each encoder's parameters only see their own code's path).
    r_a, r_b, r_ab = reconstruction_losses(model, xb, za, zb, alpha=alpha)
    return l_ba + l_ab + e_a + e_b + r_a + r_b + r_ab, l_ba, l_ab, r_ab


def stage_sigma(cfg: DDNConfig, stage: int) -> float:
    """eq. 9.12's sigma in this stage (0 in stage 1 when ``pred_noise="stage3"``)."""
    return 0.0 if stage == 1 and cfg.pred_noise == "stage3" else cfg.sigma


def stage3_alpha(cfg: DDNConfig, alpha: float, n_pixels: int) -> float:
    """The weight on l^R_ab's gradient in eq. 9.11: alpha, over n_pixels when the reconstruction
    term is averaged over pixels (``recon_reduce="mean"``, the default reading)."""
    return alpha / n_pixels if cfg.recon_reduce == "mean" else alpha


def stage_of(k: int, epochs) -> tuple[int, int]:
    """Overall epoch ``k`` (0-based) of algorithm 6 with ``epochs`` = (e1, e2, e3) -> (stage,
    epoch within the stage, from 1)."""
    e1, e2, _ = epochs
    return (1, k + 1) if k < e1 else (2, k - e1 + 1) if k < e1 + e2 else (3, k - e1 - e2 + 1)


class StagedTrainer:
    """What ``DDNTrainer`` and ``lib.batched.BatchedDDNTrainer`` share: an epoch of one stage and
    algorithm 6's schedule (``fit``). A subclass gives ``batches()``, ``train_mode()``,
    ``stage1_step`` / ``stage2_step`` / ``stage3_step(xb, alpha)``, ``epoch_log(logs)`` (the
    batch logs -> the epoch's log) and ``state()`` / ``load_state()``."""

    desc = "DDN epochs"

    def _stage_step(self, stage: int, alpha: float):
        if stage not in (1, 2, 3):
            raise ValueError(f"stage must be 1, 2 or 3, got {stage}")
        return {1: self.stage1_step, 2: self.stage2_step, 3: lambda xb: self.stage3_step(xb, alpha)}[stage]

    def epoch(self, stage: int, alpha: float | None = None):
        """One pass over the data in stage 1, 2 or 3; the epoch's mean batch losses."""
        step = self._stage_step(stage, self.cfg.alpha if alpha is None else alpha)
        self.train_mode()
        return self.epoch_log([step(xb) for xb in self.batches()])

    def fit(self, epochs, *, on_start=None, on_epoch=None, checkpoint=None, extra_state=None, progress=None):
        """Algorithm 6: ``epochs`` = (e1, e2, e3) epochs of stages 1, 2 and 3, alpha following
        ``alpha_schedule`` in stage 3, through ``lib.training.fit_epochs``; returns its history.

        ``on_start()`` runs before the first epoch of a fresh run; ``on_epoch(stage, e, log)``
        after every epoch (``e`` counted from 1 within the stage, ``log`` the epoch's mean
        losses: ``epoch_log``), its results forming the history. ``checkpoint``: ``state()``
        (plus ``extra_state[0]()``, a dict of the caller's, restored by ``extra_state[1](saved)``)
        is saved after every epoch, so a killed run resumes exactly after its last finished epoch.
        """
        epochs = tuple(int(e) for e in epochs)
        if len(epochs) != 3 or min(epochs) < 0:
            raise ValueError(f"epochs must be three counts >= 0, got {tuple(epochs)}")
        logs = []  # this epoch's batch logs (the batched trainer's are [K] tensors)

        def batches(k):
            logs.clear()
            self.train_mode()
            yield from self.batches()

        def step(xb, k):
            stage, e = stage_of(k, epochs)
            alpha = alpha_schedule(self.cfg, e - 1, epochs[2]) if stage == 3 else None
            logs.append(self._stage_step(stage, alpha)(xb))

        def save():
            return {"trainer": self.state(), **(extra_state[0]() if extra_state else {})}

        def load(saved):
            self.load_state(saved["trainer"])
            if extra_state:
                extra_state[1](saved)

        end = (lambda k, _: on_epoch(*stage_of(k - 1, epochs), self.epoch_log(logs))) if on_epoch else None
        return fit_epochs(
            step, batches, sum(epochs), on_start=on_start, on_epoch=end, state=(save, load),
            checkpoint=checkpoint, progress=progress, desc=self.desc,
        )  # fmt: skip


def as_rows(x) -> np.ndarray:
    """Training data as float32 rows (one sample per row), checked."""
    x = np.array(x, dtype=np.float32).reshape(len(x), -1)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"x must hold at least 2 samples, got shape {x.shape}")
    return x


def seeded_model(in_dim: int, cfg: DDNConfig, seed: int, device: str) -> tuple[DDN, torch.Generator]:
    """A run's DDN and its data/noise generator, drawn in a fixed order from ``seed`` (the
    global seed for the weights, ``seed + 1`` for the generator)."""
    torch.manual_seed(seed)
    gen = torch.Generator(device="cpu").manual_seed(seed + 1)
    return DDN(in_dim, cfg).to(device), gen


class DDNTrainer(StagedTrainer):
    """Runs stages 1-3 of algorithm 6 on a fixed dataset, one epoch at a time (one seed)."""

    def __init__(self, x: np.ndarray, cfg: DDNConfig, seed: int = 0, device: str | None = None):
        x, dev = as_rows(x), choose_device(device)
        model, gen = seeded_model(x.shape[1], cfg, seed, dev)
        self._attach(torch.from_numpy(x).to(dev), cfg, model, gen, dev)

    @classmethod
    def from_model(cls, x: torch.Tensor, cfg: DDNConfig, model: DDN, generator, device: str) -> DDNTrainer:
        """A trainer around an existing model and generator (data ``x`` already a tensor on
        ``device``), with fresh optimisers: how ``BatchedDDNTrainer.trainers`` hands seeds back."""
        self = cls.__new__(cls)
        self._attach(x, cfg, model, generator, device)
        return self

    def _attach(self, x, cfg, model, gen, device):
        self.x, self.cfg, self.model, self.gen, self.device = x, cfg, model, gen, device
        self.opt_enc = make_optimizer(model.encoder_parameters(), cfg.lr_enc, cfg)
        self.opt_pred = make_optimizer(model.predictor_parameters(), cfg.lr_pred, cfg)
        self.opt_dec = make_optimizer(model.decoder_parameters(), cfg.lr_dec, cfg)

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

    def train_mode(self) -> None:
        self.model.train()

    def epoch_log(self, logs) -> dict:
        return mean_logs(logs)

    def _noise(self, xb):
        """One predictor update's unit noise (``unit_noise``), from the run's generator on the CPU."""
        z = torch.empty((len(xb), self.cfg.n_code), device=self.device)
        return unit_noise(z, self.gen if self.device == "cpu" else None)

    def extra_predictor_steps(self, xb, stage: int = 1) -> None:
        """pred_steps - 1 predictor-only updates on this batch before the joint update."""
        for _ in range(self.cfg.pred_steps - 1):
            loss = predictor_step_loss(self.model, xb, self._noise(xb), stage_sigma(self.cfg, stage))
            take_step(loss, self.opt_pred)

    def stage1_step(self, xb) -> dict:
        """One minibatch of the four updates of eq. 9.7 (simultaneous, from the same state)."""
        self.extra_predictor_steps(xb, 1)
        total, l_ba, l_ab = stage1_loss(self.model, xb, self._noise(xb), stage_sigma(self.cfg, 1))
        take_step(total, self.opt_enc, self.opt_pred)
        return {"pred_loss_ba": l_ba.item(), "pred_loss_ab": l_ab.item()}

    def stage2_step(self, xb) -> dict:
        """One minibatch of decoder training on eq. 9.10 with the codes fixed."""
        total, l_ab = stage2_loss(self.model, xb)
        take_step(total, self.opt_dec)
        return {"recon_loss": l_ab.item()}

    def stage3_step(self, xb, alpha: float) -> dict:
        """One minibatch of end-to-end fine-tuning: encoders on eq. 9.11, decoders on 9.10,
        predictors on 9.12."""
        self.extra_predictor_steps(xb, 3)
        alpha = stage3_alpha(self.cfg, alpha, xb.shape[-1])
        total, l_ba, l_ab, r_ab = stage3_loss(
            self.model, xb, self._noise(xb), stage_sigma(self.cfg, 3), alpha
        )
        take_step(total, self.opt_enc, self.opt_pred, self.opt_dec)
        return {"pred_loss_ba": l_ba.item(), "pred_loss_ab": l_ab.item(), "recon_loss": r_ab.item()}

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
