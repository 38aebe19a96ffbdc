"""Training and per-epoch recording for the autoencoders of chapters 7-8.

``train`` runs minibatch gradient descent (section 8.4: batch 128, RMSprop, lr 1e-3 by default;
"rmsprop" is eq. 7.4, ``lib.nets.RMSprop``: eps 1e-6 inside the square root, Lasagne's form)
and calls a hook before the first epoch and after every epoch. ``asae_epoch_scores`` is the
per-epoch record of chapter 8: the KSG MI between the two codes (lib.metrics.code_scores, on a
fixed subsample), the reconstruction error, and the ground-truth scores (each cause's output
against its best-matching true part, and the label probe on the codes). ``run_asae`` and
``run_autoencoder`` are the module-level sweep functions the chapters call through ``lib.sweep``.
"""

import os
import tempfile
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from lib.autoencoders import ASAE, LOSS_REDUCTIONS, Autoencoder, asae_loss
from lib.data import make_composite, note_data_read
from lib.metrics import (
    code_scores,
    disentanglement_where_scorable,
    reconstruction_score,
    reconstruction_separation,
)
from lib.nets import device, make_optimiser


@dataclass(frozen=True)
class TrainConfig:
    """Gradient-descent settings (section 8.4 defaults) and the regularisers of section 8.6.

    ``noise_std`` > 0 makes a denoising autoencoder: Gaussian noise of that standard deviation is
    added to each input batch while the clean batch stays the target. ``optimiser`` is a
    ``lib.nets.make_optimiser`` name ("rmsprop" = eq. 7.4); ``optimiser_eps`` overrides its eps
    (None: the optimiser's default; "torch-rmsprop" with 1e-7 is the book's pre-eq.-7.4 ASAE).
    """

    epochs: int = 30
    batch_size: int = 128
    optimiser: str = "rmsprop"
    lr: float = 1e-3
    l1_weight: float = 0.0
    l1_activation: float = 0.0
    noise_std: float = 0.0
    seed: int = 0
    optimiser_eps: float | None = None
    loss_reduce: str = "sum"

    def __post_init__(self):
        if self.epochs < 0 or self.batch_size < 1:
            raise ValueError(f"need epochs >= 0 and batch_size >= 1, got {self.epochs}, {self.batch_size}")
        if min(self.l1_weight, self.l1_activation, self.noise_std) < 0:
            raise ValueError("l1_weight, l1_activation and noise_std must be >= 0")
        if self.optimiser_eps is not None and self.optimiser in ("adam", "sgd"):
            raise ValueError(f"optimiser_eps applies to rmsprop only, not {self.optimiser!r}")
        if self.loss_reduce not in LOSS_REDUCTIONS:
            raise ValueError(f"loss_reduce must be one of {LOSS_REDUCTIONS}, got {self.loss_reduce!r}")


def as_tensor(x):
    """Flatten a stack of images (n, ...) to a float32 (n, d) tensor on the model device."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim < 2:
        raise ValueError(f"expected a stack of images or vectors, got shape {x.shape}")
    return torch.from_numpy(x.reshape(len(x), -1)).to(device())


@torch.no_grad()
def evaluate(model, x, batch_size=2048):
    """The model's outputs (y, z or y_a, y_b, z_a, z_b) on ``x`` as numpy arrays, in eval mode."""
    was_training = model.training
    model.eval()
    outs = [model(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
    model.train(was_training)
    return {k: torch.cat([o[k] for o in outs]).cpu().numpy() for k in outs[0]}


class Checkpoint:
    """The per-epoch checkpoint file of one training run (resume inside a run).

    ``save(state)`` writes ``state`` (plain tensors, numbers, strings, lists and dicts of them;
    numpy arrays and scalars are converted) with ``torch.save`` to a temporary file in the same
    folder and renames it, so a kill never leaves a half-written checkpoint. ``load()`` reads it
    back with ``torch.load(..., weights_only=True)`` (numpy arrays come back as numpy) and returns
    None when there is no checkpoint or it belongs to another run: ``tag`` names the run (the
    sweep tags it with the run function's code fingerprint; the configuration's hash is in the
    file name), and a checkpoint with another tag or an unreadable one is ignored and later
    overwritten. ``remove()`` deletes it once the run is
    done. ``cpu_before`` is the CPU seconds the interrupted attempts had spent (0 for a fresh run),
    so that a resumed run can report its whole cost.
    """

    def __init__(self, path, tag=""):
        self.path, self.tag, self.cpu_before = Path(path), str(tag), 0.0
        self._cpu0 = None  # set by load(), in the process that trains (not where it was made)

    def __repr__(self):
        return f"Checkpoint({str(self.path)!r}, tag={self.tag!r})"

    def load(self):
        self._cpu0 = time.process_time()
        if not self.path.exists():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001 - any unreadable file: start the run afresh
            print(f"ignoring unreadable checkpoint {self.path} ({type(err).__name__}: {err})", flush=True)
            return None
        if not isinstance(state, dict) or state.get("tag") != self.tag:
            return None
        self.cpu_before = float(state.get("cpu_s", 0.0))
        return _from_saved(state["state"])

    def save(self, state):
        if self._cpu0 is None:
            self._cpu0 = time.process_time()
        doc = {
            "tag": self.tag,
            "state": _to_saveable(state),
            "cpu_s": self.cpu_before + time.process_time() - self._cpu0,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        os.close(fd)
        try:
            torch.save(doc, tmp)
            os.replace(tmp, self.path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)

    def remove(self):
        self.path.unlink(missing_ok=True)


def as_checkpoint(checkpoint):
    """None, a ``Checkpoint``, or a path (a checkpoint with an empty tag)."""
    if checkpoint is None or isinstance(checkpoint, Checkpoint):
        return checkpoint
    return Checkpoint(checkpoint)


_NUMPY = "__numpy__"  # marks a numpy array stored as a tensor


def _to_saveable(obj):
    """Plain types for ``torch.load(weights_only=True)``: numpy scalars to Python numbers, numpy
    arrays to tensors (marked, so that they come back as numpy)."""
    if isinstance(obj, dict):
        return {k: _to_saveable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to_saveable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return {_NUMPY: torch.from_numpy(np.ascontiguousarray(obj))}
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _from_saved(obj):
    if isinstance(obj, dict):
        if set(obj) == {_NUMPY}:
            return obj[_NUMPY].numpy()
        return {k: _from_saved(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_from_saved(v) for v in obj]
    return obj


def rng_states(*generators):
    """The state of torch's global RNG (and CUDA's, when in use) and of ``generators``."""
    state = {"torch": torch.get_rng_state(), "gens": [g.get_state() for g in generators]}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_states(state, *generators):
    """Restore what ``rng_states`` saved."""
    torch.set_rng_state(state["torch"])
    for gen, saved in zip(generators, state["gens"]):
        gen.set_state(saved)
    if "cuda" in state:
        torch.cuda.set_rng_state_all(state["cuda"])


def train(model, x, config, on_epoch=None, checkpoint=None):
    """Train ``model`` to reconstruct ``x`` (a (n, d) tensor); return the per-epoch hook results.

    ``on_epoch(model)`` is called once before training (epoch 0) and after each epoch, so the
    returned list has ``config.epochs + 1`` entries. Shuffling and noise use a generator seeded
    from ``config.seed``: a fixed seed gives the same run on the same machine.

    ``checkpoint`` (a path or a ``Checkpoint``): after every epoch the model and optimiser state,
    the RNG states, the epoch count and the history so far are saved there; a run that finds a
    checkpoint of the same run resumes after its last saved epoch and gives exactly the result of
    an uninterrupted run (same machine). The checkpoint is deleted when training finishes.
    """
    gen = torch.Generator(device=x.device).manual_seed(config.seed)
    kw = {} if config.optimiser_eps is None else {"eps": config.optimiser_eps}
    opt = make_optimiser(model.parameters(), config.optimiser, config.lr, **kw)
    ckpt = as_checkpoint(checkpoint)
    saved = ckpt.load() if ckpt else None
    if saved is not None:
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["opt"])
        set_rng_states(saved["rng"], gen)
        history, done = saved["history"], saved["epoch"]
    else:
        history, done = ([on_epoch(model)] if on_epoch else []), 0
    model.train()
    for epoch in range(done, config.epochs):
        order = torch.randperm(len(x), generator=gen, device=x.device)
        for start in range(0, len(x), config.batch_size):
            target = x[order[start : start + config.batch_size]]
            inp = target
            if config.noise_std:
                noise = torch.randn(target.shape, generator=gen, device=x.device)
                inp = target + config.noise_std * noise
            loss = asae_loss(
                model, model(inp), target, config.l1_weight, config.l1_activation, config.loss_reduce
            )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if on_epoch:
            history.append(on_epoch(model))
            model.train()  # the hook may have switched to eval mode
        if ckpt:
            ckpt.save(
                {
                    "model": model.state_dict(),
                    "opt": opt.state_dict(),
                    "rng": rng_states(gen),
                    "epoch": epoch + 1,
                    "history": history,
                }
            )
    if ckpt:
        ckpt.remove()
    return history


def asae_epoch_scores(model, x_eval, part_a, part_b, label_a, label_b, random_state=0):
    """Per-epoch record of an ASAE on a fixed evaluation subsample.

    Returns ``mi`` (KSG nats between z_A and z_B over all evaluation rows), ``mse`` (reconstruction
    error of y), ``recon`` (lib.metrics.reconstruction_score of y_A, y_B against the true parts)
    and ``probe`` (lib.metrics.probe_score of the codes against the parts' labels). A diverged
    network (non-finite outputs) scores MI and error NaN and both ground-truth scores 0.
    """
    out = evaluate(model, x_eval)
    if not all(np.all(np.isfinite(v)) for v in out.values()):  # training diverged
        return {"mi": float("nan"), "probe": 0.0, "recon": 0.0, "mse": float("nan")}
    codes = code_scores(out["z_a"], out["z_b"], label_a, label_b, n_mi=len(x_eval), random_state=random_state)
    recon = reconstruction_score(out["y_a"], out["y_b"], part_a, part_b)
    x_np = x_eval.cpu().numpy()
    return {
        "mi": codes["mi"],
        "probe": codes["score"],
        "recon": recon["score"],
        "mse": float(np.mean((out["y"] - x_np) ** 2)),
    }


def _composite(kind, n, seed, data_dir):
    """Binarised composites, cached per process; the read is noted even on a cache hit."""
    return _composite_cached(kind, n, seed, note_data_read(data_dir))


@lru_cache(maxsize=4)
def _composite_cached(kind, n, seed, folder):
    return make_composite(kind, n=n, seed=seed, data_dir=folder, binarise=True)


def example_rows(n_rows, n_eval, seed=12345):
    """Fixed, randomly chosen rows of the evaluation subsample used for example reconstructions."""
    return np.sort(np.random.default_rng(seed).choice(n_eval, size=n_rows, replace=False))


def run_asae(
    kind="simple",
    n=2500,
    code_size=2,
    epochs=30,
    seed=0,
    data_seed=0,
    n_eval=1000,
    n_examples=6,
    optimiser="rmsprop",
    lr=1e-3,
    l1_weight=0.0,
    l1_activation=0.0,
    noise_std=0.0,
    dropout=0.0,
    batch_size=128,
    data_dir=None,
    optimiser_eps=None,
    loss_reduce="sum",
    checkpoint=None,
):
    """Train one ASAE on a binarised composite dataset and record every epoch (sweep function).

    The evaluation subsample is the first ``n_eval`` composites (fixed for a given ``data_seed``);
    MI, probe, reconstruction scores and error are measured on it before training and after each
    epoch. Returns those curves (length epochs + 1), the final full-data reconstruction error,
    example reconstructions ``examples`` (4, n_examples, h, w: input, y_A, y_B, y) of fixed
    rows, and the CPU seconds the run took (with a resumed ``checkpoint``: all its attempts).
    ``checkpoint`` (a path or a ``lib.training.Checkpoint``; the sweep passes one per run, outside
    the configuration) saves every epoch so a killed run resumes inside the run (``train``).
    """
    cpu0 = time.process_time()
    data = _composite(kind, n, data_seed, data_dir)
    if n_eval > len(data.x):
        raise ValueError(f"n_eval={n_eval} exceeds the {len(data.x)} composites")
    torch.manual_seed(seed)
    x = as_tensor(data.x)
    model = ASAE(x.shape[1], code_size, dropout=dropout).to(x.device)
    ev = slice(0, n_eval)
    parts = (data.part_a[ev].reshape(n_eval, -1), data.part_b[ev].reshape(n_eval, -1))
    hook = lambda m: asae_epoch_scores(m, x[ev], *parts, data.label_a[ev], data.label_b[ev], random_state=0)
    config = TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        optimiser=optimiser,
        lr=lr,
        l1_weight=l1_weight,
        l1_activation=l1_activation,
        noise_std=noise_std,
        seed=seed,
        optimiser_eps=optimiser_eps,
        loss_reduce=loss_reduce,
    )
    ckpt = as_checkpoint(checkpoint)
    history = train(model, x, config, hook, checkpoint=ckpt)
    out = evaluate(model, x)
    rows = example_rows(n_examples, n_eval)
    shape = data.x.shape[1:] if data.x.ndim == 3 else (1, x.shape[1])
    examples = np.stack([x[rows].cpu().numpy(), out["y_a"][rows], out["y_b"][rows], out["y"][rows]]).reshape(
        4, n_examples, *shape
    )
    result = {k: np.array([h[k] for h in history]) for k in history[0]}
    result.update(final_truth_scores(out, data, ev, parts))
    result.update(
        final_mse=float(np.mean((out["y"] - x.cpu().numpy()) ** 2)),
        examples=examples.astype(np.float32),
        cpu_s=time.process_time() - cpu0 + (ckpt.cpu_before if ckpt else 0.0),
        source=str(getattr(data, "source", kind)),
    )
    return result


def final_truth_scores(out, data, rows, parts):
    """The ground-truth scores of a trained ASAE's final codes and outputs on ``rows``.

    ``final_disentanglement`` / ``final_disentangled``: ``lib.metrics.disentanglement`` of the two
    codes against the two parts' labels (both codes must carry their own part and not the other;
    a collapsed code cannot pass). ``final_separation``: ``reconstruction_separation`` of y_A, y_B
    against the parts, measured against the best input-independent output.
    """
    if not all(np.all(np.isfinite(out[k][rows])) for k in ("z_a", "z_b", "y_a", "y_b")):
        # training diverged: nothing was separated (as asae_epoch_scores scores it)
        return {"final_disentanglement": 0.0, "final_disentangled": False, "final_separation": 0.0}
    d = disentanglement_where_scorable(
        out["z_a"][rows], out["z_b"][rows], data.label_a[rows], data.label_b[rows]
    )
    sep = reconstruction_separation(out["y_a"][rows], out["y_b"][rows], *parts)
    return {
        "final_disentanglement": float(d["score"]) if d else float("nan"),
        "final_disentangled": bool(d and d["disentangled"]),
        "final_separation": float(sep["score"]),
    }


def run_autoencoder(
    n=2500,
    code_size=2,
    epochs=10,
    seed=0,
    data_seed=0,
    optimiser="rmsprop",
    lr=1e-3,
    n_examples=8,
    data_dir=None,
    optimiser_eps=None,
    loss_reduce="sum",
    checkpoint=None,
):
    """Train one plain autoencoder on binarised MNIST digits (chapter 7's optimiser study).

    Records the full-data reconstruction error before training and after every epoch, the error
    of always predicting the mean image, and ``spread``: the variance of the outputs across
    images relative to the data's variance (0 = the network outputs the mean image for every
    input, 1 = as varied as the data). Returns curves, example rows (2, n_examples, 28, 28:
    input, output) and CPU seconds.
    """
    cpu0 = time.process_time()
    data = _composite("mnist", n, data_seed, data_dir)
    torch.manual_seed(seed)
    x = as_tensor(data.x)
    model = Autoencoder(x.shape[1], code_size).to(x.device)
    x_np = x.cpu().numpy()

    def hook(m):
        y = evaluate(m, x)["y"]
        return {"mse": float(np.mean((y - x_np) ** 2)), "spread": float(y.var(0).sum() / x_np.var(0).sum())}

    config = TrainConfig(
        epochs=epochs,
        optimiser=optimiser,
        lr=lr,
        seed=seed,
        optimiser_eps=optimiser_eps,
        loss_reduce=loss_reduce,
    )
    ckpt = as_checkpoint(checkpoint)
    history = train(model, x, config, hook, checkpoint=ckpt)
    rows = example_rows(n_examples, len(x_np))
    y = evaluate(model, x)["y"]
    shape = data.x.shape[1:] if data.x.ndim == 3 else (1, x.shape[1])
    result = {k: np.array([h[k] for h in history]) for k in history[0]}
    result.update(
        mean_image_mse=float(x_np.var(0).mean()),
        examples=np.stack([x_np[rows], y[rows]]).reshape(2, n_examples, *shape),
        cpu_s=time.process_time() - cpu0 + (ckpt.cpu_before if ckpt else 0.0),
        source=str(getattr(data, "source", "mnist")),
    )
    return result
