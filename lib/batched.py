"""Many seeds in one model: K runs of the ASAE or the DDN trained as one batched model.

Each seed keeps exactly what a separate run has: its own initialisation (the K ordinary models are
built as the single-run code builds them, ``torch.manual_seed(seed)`` right before construction),
its own minibatch order and input noise (one ``torch.Generator`` per seed, seeded and drawn in the
same order as ``lib.training.train`` / ``lib.ddn.DDNTrainer``), and its own optimiser state. The
numbers equal K separate runs within float tolerance (``tests/test_batched.py`` checks it); only
the kernels differ (one batched matmul instead of K matmuls), so the last bits may differ.

How
---
- The K models' parameters and buffers are stacked along a new leading seed dimension
  (``torch.func.stack_module_state``); the forward pass is the models' own code run through
  ``torch.func.functional_call`` under ``torch.vmap`` over that dimension, on per-seed minibatches
  ``x`` of shape [K, B, D] (seed k's rows chosen by its own permutation).
- The loss is the sum over seeds of each seed's own loss (the same ``lib.autoencoders.asae_loss`` /
  ``lib.ddn`` losses, same reductions). Seed k's loss depends only on seed k's slice of the
  parameters, so the k-th slice of the gradient of the sum is exactly seed k's own gradient.
- One optimiser over the stacked tensors. Eq. 7.4's RMSprop (``lib.nets.RMSprop``) is elementwise
  (each weight's v and step use only that weight's gradient; the step count is shared but equal for
  all seeds, which always step together), so one RMSprop over [K, ...] tensors is K separate
  optimisers. The same holds for every optimiser ``lib.nets.make_optimiser`` offers (Adam, SGD with
  or without momentum, torch's RMSprop). A non-elementwise optimiser would NOT be: anything that
  reduces over a tensor or over all parameters (LARS/LAMB trust ratios, Shampoo/K-FAC
  preconditioners, clipping by global gradient norm, L-BFGS) would mix the seeds.
- The DDN keeps its three parameter sets (encoders, predictors, decoders) with their own
  optimisers and learning rates and the gradient isolation of eq. 9.7: the per-seed losses are the
  functions of ``lib.ddn`` (``encoding_losses``, ``reconstruction_losses``, ``sq_err``) with their
  detaches; only the predictor noise is drawn outside ``vmap`` (per seed, from that seed's
  generator, in the single run's order) and passed in. All three stages are batched, with
  ``pred_steps``, ``code_act``, ``pred_noise`` and every ``DDNConfig`` option (batch-normalised
  codes keep per-seed running statistics as stacked buffers).

Rounding: where a run is chaotic, the last-bit differences grow. We saw one such case: batch-
normalised codes (``code_norm="batch"``) on tiny batches (5 rows), where the gradient of a hidden
unit's bias that is active on the whole batch is zero up to rounding, yet divided by a tiny batch
standard deviation; RMSprop turns that noise into full steps, so batched and separate runs (like two
separate runs with different thread counts) part at 1e-4 there. At batch 128 they agree.

Not equal to separate runs: dropout (``ASAE(dropout > 0)``) draws its masks from the global RNG
inside ``vmap`` (``randomness="different"``), as the single run draws them from the global RNG,
but not the same masks; and on CUDA the DDN's predictor noise comes from the global CUDA RNG (the
single run also uses the global RNG there, so neither is tied to the seed).
Memory and time grow about linearly in K; the point is fewer, larger kernels (GPU) and one Python
loop instead of K (see ``benchmarks/training.py`` and ``lib.costs`` for measured costs).
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, stack_module_state

from lib.autoencoders import ASAE, asae_loss
from lib.checkpoints import rng_states, set_rng_states
from lib.ddn import (
    DDNConfig,
    DDNTrainer,
    StagedTrainer,
    as_rows,
    make_optimizer,
    predictor_step_loss,
    seeded_model,
    stage1_loss,
    stage2_loss,
    stage3_alpha,
    stage3_loss,
    stage_sigma,
)
from lib.nets import device as choose_device
from lib.nets import make_optimiser
from lib.training import TrainConfig, fit_epochs, take_step


# ----------------------------------------------------------------------------- stacking
class _Apply(nn.Module):
    """Holds a model so that ``functional_call`` can run any function of it: forward(fn, *a) =
    fn(model, *a), with the model's parameters and buffers replaced by one seed's slices."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.m = model

    def forward(self, fn, *args):
        return fn(self.m, *args)


class Stacked:
    """K models of one architecture as stacked tensors (seed dimension first) and a vmapped call.

    ``params`` / ``buffers``: name -> [K, ...] tensors (the parameters are leaves that require
    grad; optimise them directly). ``call(fn, *args)`` runs ``fn(model_k, *args_k)`` for every
    seed k under ``torch.vmap`` (args are [K, ...] tensors) and returns the stacked results.
    ``unstack()`` copies the current values back into the K modules and returns them.
    """

    def __init__(self, models: list[nn.Module]):
        if not models:
            raise ValueError("need at least one model")
        kinds = {(type(m), tuple((n, tuple(p.shape)) for n, p in m.named_parameters())) for m in models}
        if len(kinds) != 1:
            raise ValueError("all models must have the same class and parameter shapes")
        if len({id(m) for m in models}) != len(models):
            raise ValueError("the same model object appears twice; pass K distinct models")
        self.models = list(models)
        self.k = len(models)
        params, buffers = stack_module_state(self.models)  # leaves requiring grad
        self.params = {n: params[n] for n, _ in self.models[0].named_parameters()}
        self.buffers = {n: buffers[n] for n, _ in self.models[0].named_buffers()}
        self._wrap = _Apply(copy.deepcopy(self.models[0]).to("meta"))
        self._random = any(isinstance(m, nn.Dropout) and m.p > 0 for m in self.models[0].modules())
        self.training = True

    def names_of(self, params) -> list[str]:
        """Names (keys of ``params``) of a list of model 0's parameters, in that order."""
        name = {id(p): n for n, p in self.models[0].named_parameters()}
        return [name[id(p)] for p in params]

    def call(self, fn, *args):
        self._wrap.m.train(self.training)
        pm = {"m." + n: t for n, t in self.params.items()}
        bm = {"m." + n: t for n, t in self.buffers.items()}

        def one(p, b, *a):
            return functional_call(self._wrap, (p, b), (fn, *a))

        return torch.vmap(one, randomness="different" if self._random else "error")(pm, bm, *args)

    @torch.no_grad()
    def unstack(self) -> list[nn.Module]:
        for k, m in enumerate(self.models):
            for n, p in m.named_parameters():
                p.copy_(self.params[n][k])
            for n, b in m.named_buffers():
                b.copy_(self.buffers[n][k])
        return self.models

    def state(self) -> dict:
        return {
            "params": {n: t.detach().clone() for n, t in self.params.items()},
            "buffers": {n: t.clone() for n, t in self.buffers.items()},
        }

    @torch.no_grad()
    def load_state(self, state: dict) -> None:
        for n, t in self.params.items():
            t.copy_(state["params"][n])
        for n, t in self.buffers.items():
            t.copy_(state["buffers"][n])


def split_optimiser_state(stacked_opt, stacked_params, opts, params_per_seed) -> None:
    """Give each per-seed optimiser in ``opts`` its slice of ``stacked_opt``'s state.

    ``stacked_params[j]`` is the [K, ...] tensor whose k-th slice is ``params_per_seed[k][j]``.
    Tensors shaped like the parameter are sliced; others (the step count) are copied."""
    for j, big in enumerate(stacked_params):
        st = stacked_opt.state.get(big)
        if not st:
            continue
        for k, opt in enumerate(opts):
            opt.state[params_per_seed[k][j]] = {
                key: (
                    v[k].clone()
                    if torch.is_tensor(v) and v.shape == big.shape
                    else v.clone()
                    if torch.is_tensor(v)
                    else copy.deepcopy(v)
                )
                for key, v in st.items()
            }


def stack_optimiser_state(stacked_opt, stacked_params, opts, params_per_seed) -> None:
    """The inverse of ``split_optimiser_state``: stack K per-seed optimiser states into one."""
    for j, big in enumerate(stacked_params):
        states = [opt.state.get(params_per_seed[k][j]) for k, opt in enumerate(opts)]
        if not any(states):
            continue
        if not all(states):
            raise ValueError("some seeds have optimiser state for a parameter and others not")
        stacked_opt.state[big] = {
            key: (
                torch.stack([s[key] for s in states])
                if torch.is_tensor(v) and v.dim() > 0
                else v.clone()
                if torch.is_tensor(v)
                else copy.deepcopy(v)
            )
            for key, v in states[0].items()
        }


def check_seeds(seeds, k):
    seeds = [int(s) for s in seeds]
    if len(seeds) != k:
        raise ValueError(f"need one seed per model: {k} models, {len(seeds)} seeds")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must differ (equal seeds give identical runs), got {seeds}")
    return seeds


# ----------------------------------------------------------------------------- ASAE
def build_asaes(
    seeds,
    n_input: int,
    n_code: int = 2,
    n_hidden: int = 1000,
    dropout: float = 0.0,
    device: str | None = None,
) -> list[ASAE]:
    """One ASAE per seed, each built exactly as ``lib.asae_runs.run_asae`` builds it
    (``torch.manual_seed(seed)``, then ``ASAE(...)``)."""
    out = []
    for s in seeds:
        torch.manual_seed(int(s))
        out.append(ASAE(n_input, n_code, n_hidden, dropout=dropout).to(choose_device(device)))
    return out


def _asae_step_loss(model, inp, target, l1_weight, l1_activation, reduce):
    return asae_loss(model, model(inp), target, l1_weight, l1_activation, reduce)


def train_batched(
    models_or_seeds, x, config: TrainConfig, seeds=None, on_epoch=None, checkpoint=None, **model_kw
):
    """Train K autoencoders at once, each exactly as ``lib.training.train(model, x, config)`` with
    ``config.seed`` = its seed; return ``(models, histories)``.

    ``models_or_seeds``: K models of one architecture (an ASAE or ``Autoencoder``; trained in
    place), or K int seeds, in which case the ASAEs are built as ``run_asae`` builds them
    (``build_asaes(seeds, x.shape[1], **model_kw)``: model_kw n_code, n_hidden, dropout) and the
    same seeds shuffle. ``seeds``: the per-model shuffling/noise seeds (``config.seed`` of each
    separate run); required with models, default the int seeds. ``x``: (n, d) tensor on the
    models' device. ``on_epoch(model)`` is called for every seed's model before training and
    after each epoch, as in ``train``; ``histories[k]`` is seed k's list. ``checkpoint`` (path or
    ``lib.checkpoints.Checkpoint``): saved every epoch, resumed, removed at the end, as in ``train``.
    """
    items = list(models_or_seeds)
    if items and all(isinstance(m, (int, np.integer)) for m in items):
        seeds = items if seeds is None else seeds
        models = build_asaes(items, x.shape[1], device=str(x.device), **model_kw)
    else:
        if model_kw:
            raise ValueError(f"model keywords {sorted(model_kw)} apply only when seeds are given")
        if seeds is None:
            raise ValueError("pass seeds= (one shuffling seed per model) when passing models")
        models = items
    seeds = check_seeds(seeds, len(models))
    configs = [dataclasses.replace(config, seed=s) for s in seeds]
    gens = [torch.Generator(device=x.device).manual_seed(c.seed) for c in configs]
    st = Stacked(models)
    kw = {} if config.optimiser_eps is None else {"eps": config.optimiser_eps}
    opt = make_optimiser(list(st.params.values()), config.optimiser, config.lr, **kw)

    def batches(epoch):  # as lib.training.train's, one shuffle per seed
        order = torch.stack([torch.randperm(len(x), generator=g, device=x.device) for g in gens])
        for start in range(0, len(x), config.batch_size):
            yield x[order[:, start : start + config.batch_size]]  # [K, B, D]

    def step(target, epoch):
        inp = target
        if config.noise_std:
            noise = torch.stack([torch.randn(target.shape[1:], generator=g, device=x.device) for g in gens])
            inp = target + config.noise_std * noise
        losses = st.call(
            lambda m, i, t: _asae_step_loss(
                m, i, t, config.l1_weight, config.l1_activation, config.loss_reduce
            ),
            inp,
            target,
        )
        take_step(losses, opt)

    def save():
        return {"stacked": st.state(), "opt": opt.state_dict(), "rng": rng_states(*gens)}

    def load(saved):
        st.load_state(saved["stacked"])
        opt.load_state_dict(saved["opt"])
        set_rng_states(saved["rng"], *gens)

    hook = (lambda: [on_epoch(m) for m in st.unstack()]) if on_epoch else None
    st.training = True
    history = fit_epochs(
        step, batches, config.epochs, on_start=hook, on_epoch=(lambda e, log: hook()) if hook else None,
        state=(save, load), checkpoint=checkpoint, progress=False, desc="batched ASAE epochs",
    )  # fmt: skip
    for m in st.unstack():
        m.train()
    return st.models, ([list(h) for h in zip(*history)] if history else [[] for _ in models])


# ----------------------------------------------------------------------------- DDN
class BatchedDDNTrainer(StagedTrainer):
    """K ``lib.ddn.DDNTrainer`` runs (one per seed, same data and config) as one batched model.

    The losses, the stage schedule and ``fit`` are ``lib.ddn``'s (``stage1_loss``... called on
    the stacked models through ``torch.func``; ``StagedTrainer``). ``stage1_step`` /
    ``stage2_step`` / ``stage3_step`` take a [K, B, D] batch, ``batches()`` yields them (seed k's
    rows in seed k's order), ``epoch(stage, alpha)`` runs one pass and returns one log dict per
    seed. ``trainers()`` returns K ordinary
    DDNTrainers holding each seed's current weights, optimiser state and generator (for scoring
    with the existing code, or to go on separately); ``from_trainers`` stacks K of them.
    ``state()`` / ``load_state()`` are the per-epoch checkpoint, as DDNTrainer's.
    """

    desc = "batched DDN epochs"

    def __init__(self, x, cfg: DDNConfig, seeds, device: str | None = None):
        x, seeds, dev = as_rows(x), list(seeds), choose_device(device)
        seeds = check_seeds(seeds, len(seeds))
        models, gens = zip(*(seeded_model(x.shape[1], cfg, s, dev) for s in seeds))  # as DDNTrainer
        self._setup(torch.from_numpy(x).to(dev), cfg, dev, seeds, list(models), list(gens))

    @classmethod
    def from_trainers(cls, trainers: list[DDNTrainer], seeds=None) -> BatchedDDNTrainer:
        """Stack K DDNTrainers (same data, config, device) with their weights, optimiser states and
        generators; the trainers' own models are not used afterwards (state is copied)."""
        t0 = trainers[0]
        if any(t.cfg != t0.cfg or t.device != t0.device or t.x.shape != t0.x.shape for t in trainers):
            raise ValueError("trainers must share config, device and data shape")
        self = cls.__new__(cls)
        models = [copy.deepcopy(t.model) for t in trainers]
        gens = []
        for t in trainers:
            g = torch.Generator(device="cpu")
            g.set_state(t.gen.get_state())
            gens.append(g)
        seeds = list(range(len(trainers))) if seeds is None else seeds
        self._setup(t0.x, t0.cfg, t0.device, check_seeds(seeds, len(trainers)), models, gens)
        for name, group in (
            ("opt_enc", "encoder_parameters"),
            ("opt_pred", "predictor_parameters"),
            ("opt_dec", "decoder_parameters"),
        ):
            stack_optimiser_state(
                getattr(self, name),
                self._groups[name],
                [getattr(t, name) for t in trainers],
                [getattr(t.model, group)() for t in trainers],
            )
        return self

    def _setup(self, x, cfg, dev, seeds, models, gens):
        self.x, self.cfg, self.device, self.seeds, self.gens = x, cfg, dev, seeds, gens
        self.k = len(models)
        self.st = Stacked(models)
        m0 = models[0]
        self._groups = {
            "opt_enc": [self.st.params[n] for n in self.st.names_of(m0.encoder_parameters())],
            "opt_pred": [self.st.params[n] for n in self.st.names_of(m0.predictor_parameters())],
            "opt_dec": [self.st.params[n] for n in self.st.names_of(m0.decoder_parameters())],
        }
        self.opt_enc = make_optimizer(self._groups["opt_enc"], cfg.lr_enc, cfg)
        self.opt_pred = make_optimizer(self._groups["opt_pred"], cfg.lr_pred, cfg)
        self.opt_dec = make_optimizer(self._groups["opt_dec"], cfg.lr_dec, cfg)

    # -- state
    def state(self) -> dict:
        """Weights, buffers, the three optimisers and the K generators (copies, not views)."""
        return {
            "stacked": self.st.state(),
            "rng": rng_states(*self.gens),
            **{
                name: copy.deepcopy(getattr(self, name).state_dict())
                for name in ("opt_enc", "opt_pred", "opt_dec")
            },
        }

    def load_state(self, state: dict) -> None:
        self.st.load_state(state["stacked"])
        for name in ("opt_enc", "opt_pred", "opt_dec"):
            getattr(self, name).load_state_dict(state[name])
        set_rng_states(state["rng"], *self.gens)

    def trainers(self) -> list[DDNTrainer]:
        """K ordinary DDNTrainers with each seed's current state (new objects; the batched trainer
        goes on independently). Their data tensor is shared, not copied."""
        models = [copy.deepcopy(m) for m in self.st.unstack()]
        out = []
        for k, model in enumerate(models):
            gen = torch.Generator(device="cpu")
            gen.set_state(self.gens[k].get_state())
            out.append(DDNTrainer.from_model(self.x, self.cfg, model, gen, self.device))
        for name, group in (
            ("opt_enc", "encoder_parameters"),
            ("opt_pred", "predictor_parameters"),
            ("opt_dec", "decoder_parameters"),
        ):
            split_optimiser_state(
                getattr(self, name),
                self._groups[name],
                [getattr(t, name) for t in out],
                [getattr(t.model, group)() for t in out],
            )
        return out

    # -- data and noise
    def batches(self):
        perms = torch.stack([torch.randperm(len(self.x), generator=g) for g in self.gens])
        for i in range(0, perms.shape[1], self.cfg.batch_size):
            idx = perms[:, i : i + self.cfg.batch_size]
            if idx.shape[1] > 1:
                yield self.x[idx.to(self.device)]

    def _noise(self, b: int, n_steps: int) -> torch.Tensor:
        """[n_steps, 2, K, B, n_code] unit noise: per predictor update, z_b's then z_a's, drawn per
        seed from its generator in DDNTrainer's order (CPU); from the global RNG on other devices."""
        shape = (b, self.cfg.n_code)
        if self.device != "cpu":
            return torch.randn((n_steps, 2, self.k) + shape, device=self.device)
        per_seed = [
            torch.stack([torch.randn(shape, generator=g) for _ in range(2 * n_steps)]) for g in self.gens
        ]
        return torch.stack(per_seed, dim=1).reshape((n_steps, 2, self.k) + shape)

    def train_mode(self) -> None:
        self.st.training = True

    # -- stage steps (each mirrors the DDNTrainer method of the same name; the losses are lib.ddn's)
    def _extra_predictor_steps(self, xb, noise, stage: int = 1) -> None:
        sigma = stage_sigma(self.cfg, stage)
        for s in range(self.cfg.pred_steps - 1):
            loss = self.st.call(
                lambda m, x_, nb, na: predictor_step_loss(m, x_, (nb, na), sigma),
                xb,
                noise[s, 0],
                noise[s, 1],
            )
            take_step(loss, self.opt_pred)

    def stage1_step(self, xb) -> dict:
        """Eq. 9.7's four updates for every seed (encoders on 9.6, predictors on 9.5/9.12)."""
        noise = self._noise(xb.shape[1], self.cfg.pred_steps)
        self._extra_predictor_steps(xb, noise, 1)
        sigma = stage_sigma(self.cfg, 1)
        total, l_ba, l_ab = self.st.call(
            lambda m, x_, nb, na: stage1_loss(m, x_, (nb, na), sigma), xb, noise[-1, 0], noise[-1, 1]
        )
        take_step(total, self.opt_enc, self.opt_pred)
        return {"pred_loss_ba": l_ba.detach(), "pred_loss_ab": l_ab.detach()}

    def stage2_step(self, xb) -> dict:
        """Decoders on eq. 9.10 with the codes fixed, every seed."""
        total, l_ab = self.st.call(stage2_loss, xb)
        take_step(total, self.opt_dec)
        return {"recon_loss": l_ab.detach()}

    def stage3_step(self, xb, alpha: float) -> dict:
        """End-to-end fine-tuning (eq. 9.11, 9.10, 9.12), every seed."""
        noise = self._noise(xb.shape[1], self.cfg.pred_steps)
        self._extra_predictor_steps(xb, noise, 3)
        alpha, sigma = stage3_alpha(self.cfg, alpha, xb.shape[-1]), stage_sigma(self.cfg, 3)
        total, l_ba, l_ab, r_ab = self.st.call(
            lambda m, x_, nb, na: stage3_loss(m, x_, (nb, na), sigma, alpha), xb, noise[-1, 0], noise[-1, 1]
        )
        take_step(total, self.opt_enc, self.opt_pred, self.opt_dec)
        return {"pred_loss_ba": l_ba.detach(), "pred_loss_ab": l_ab.detach(), "recon_loss": r_ab.detach()}

    def epoch_log(self, logs: list[dict]) -> list[dict]:
        return self._per_seed(logs)

    def _per_seed(self, logs: list[dict]) -> list[dict]:
        """Batch logs of [K] losses -> one dict of mean losses per seed (``mean_logs`` per seed)."""
        if not logs:
            return [{} for _ in range(self.k)]
        means = {key: torch.stack([d[key] for d in logs]).double().mean(0).cpu().numpy() for key in logs[0]}
        return [{key: float(v[k]) for key, v in means.items()} for k in range(self.k)]
