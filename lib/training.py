"""Training and per-epoch recording for the autoencoders of chapters 7-8.

``fit_epochs`` is the one training loop of the torch models (ASAE, DDN stages, penalty
autoencoders, GMMN): per-epoch callbacks, a progress bar and per-epoch checkpoints
(``lib.checkpoints``; ``Checkpoint`` is re-exported here for older imports).
``train`` runs minibatch gradient descent (section 8.4: batch 128, RMSprop, lr 1e-3 by default;
"rmsprop" is eq. 7.4, ``lib.nets.RMSprop``: eps 1e-6 inside the square root, Lasagne's form)
and calls a hook before the first epoch and after every epoch. ``asae_epoch_scores`` is the
per-epoch record of chapter 8: the KSG MI between the two codes (lib.metrics.code_scores, on a
fixed subsample), the reconstruction error, and the ground-truth scores (each cause's output
against its best-matching true part, and the label probe on the codes). ``run_asae`` and
``run_autoencoder`` are the module-level sweep functions the chapters call through ``lib.sweep``.
"""

import os
import sys
import time
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from tqdm import tqdm

from lib.autoencoders import ASAE, LOSS_REDUCTIONS, Autoencoder, asae_loss
from lib.checkpoints import as_checkpoint, rng_states, set_rng_states
from lib.controls import judge, oracle_codes, truth_decision
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


def progress_enabled(progress=None, stream=None):
    """Whether ``fit_epochs`` shows its progress bar.

    Never when $BOOK_PROGRESS is "0" or $CI is set (a book build, CI); otherwise ``progress`` when
    given (True / False), and by default (None) only when ``stream`` (stderr) is a terminal, so a
    chapter executed by papermill or a sweep's worker process stays silent.
    """
    if os.environ.get("BOOK_PROGRESS", "").strip() == "0" or os.environ.get("CI"):
        return False
    if progress is not None:
        return bool(progress)
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def mean_logs(logs):
    """The mean of each key over a list of per-batch log dicts (None entries skipped); {} if none."""
    logs = [d for d in logs if d]
    return {k: float(np.mean([d[k] for d in logs])) for k in logs[0]} if logs else {}


def training_state(model, optimisers, generator):
    """``fit_epochs``'s ``state`` pair for a model, its optimisers and its data generator: what a
    checkpoint saves and a resumed run loads (the optimisers saved as a list, in order)."""

    def save():
        return {"model": model.state_dict(), "opts": [o.state_dict() for o in optimisers],
                "rng": rng_states(generator)}  # fmt: skip

    def load(saved):
        model.load_state_dict(saved["model"])
        for opt, state in zip(optimisers, saved["opts"]):
            opt.load_state_dict(state)
        set_rng_states(saved["rng"], generator)

    return save, load


def fit_epochs(
    step,
    batches,
    n_epochs,
    *,
    on_start=None,
    on_epoch=None,
    state=None,
    checkpoint=None,
    progress=None,
    desc="epochs",
    until=None,
):
    """The one training loop of the book's torch models; returns the history.

    - ``batches(epoch)``: the minibatches of epoch ``epoch`` (0-based), an iterable; a generator
      that draws its shuffle when iterated keeps the caller's random-number order.
    - ``step(batch, epoch)``: one update; returns a dict of numbers to log, or None.
    - ``on_start()``: called once before the first epoch of a fresh run (not after a resume);
      its result starts the history.
    - ``on_epoch(epoch, log)``: called after every epoch, with ``epoch`` the number of epochs
      finished (1-based) and ``log`` the epoch's mean of the step logs (``mean_logs``); its
      result is appended to the history.
    - ``state``: a pair ``(save, load)``; ``save()`` returns everything training changes (weights,
      optimiser states, ``lib.checkpoints.rng_states``, ...) as a dict, ``load(saved)`` restores
      it from the dict ``save`` made. Needed with ``checkpoint``.
    - ``checkpoint`` (a ``lib.checkpoints.Checkpoint`` or a path): after every epoch, after
      ``on_epoch``, ``{**save(), "epoch": k, "history": history}`` is written there. A run that
      finds a checkpoint of the same run loads it and continues after epoch k with its history,
      so a killed run ends exactly as an uninterrupted one (same machine). The file is deleted
      when training finishes.
    - ``progress``: a tqdm bar over the epochs named ``desc`` (``progress_enabled``).
    - ``until(history)``: checked after every epoch; True stops training there (at most
      ``n_epochs``), e.g. once a score has stopped rising.
    """
    ckpt = as_checkpoint(checkpoint)
    if ckpt is not None and state is None:
        raise ValueError("fit_epochs needs state=(save, load) to checkpoint")
    saved = ckpt.load() if ckpt else None
    if saved is not None:
        state[1](saved)
        history, done = list(saved["history"]), int(saved["epoch"])
    else:
        history, done = ([on_start()] if on_start else []), 0
    bar = tqdm(total=n_epochs, initial=done, desc=desc, leave=False, disable=not progress_enabled(progress))
    try:
        for epoch in range(done, n_epochs):
            log = mean_logs([step(batch, epoch) for batch in batches(epoch)])
            if on_epoch:
                history.append(on_epoch(epoch + 1, log))
            if ckpt:
                ckpt.save({**state[0](), "epoch": epoch + 1, "history": history})
            bar.update()
            if until is not None and until(history):
                break
    finally:
        bar.close()
    if ckpt:
        ckpt.remove()
    return history


def train(model, x, config, on_epoch=None, checkpoint=None, progress=None):
    """Train ``model`` to reconstruct ``x`` (a (n, d) tensor); return the per-epoch hook results.

    ``on_epoch(model)`` is called once before training (epoch 0) and after each epoch, so the
    returned list has ``config.epochs + 1`` entries. Shuffling and noise use a generator seeded
    from ``config.seed``: a fixed seed gives the same run on the same machine.

    ``checkpoint`` (a path or a ``Checkpoint``): after every epoch the model and optimiser state,
    the RNG states, the epoch count and the history so far are saved there; a run that finds a
    checkpoint of the same run resumes after its last saved epoch and gives exactly the result of
    an uninterrupted run (same machine). The checkpoint is deleted when training finishes. The
    loop is ``fit_epochs``; ``progress`` is its progress bar.
    """
    gen = torch.Generator(device=x.device).manual_seed(config.seed)
    kw = {} if config.optimiser_eps is None else {"eps": config.optimiser_eps}
    opt = make_optimiser(model.parameters(), config.optimiser, config.lr, **kw)

    def batches(epoch):
        order = torch.randperm(len(x), generator=gen, device=x.device)
        for start in range(0, len(x), config.batch_size):
            yield x[order[start : start + config.batch_size]]

    def step(target, epoch):
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

    def after_epoch(epoch, log):
        result = on_epoch(model)
        model.train()  # the hook may have switched to eval mode
        return result

    model.train()
    return fit_epochs(
        step,
        batches,
        config.epochs,
        on_start=(lambda: on_epoch(model)) if on_epoch else None,
        on_epoch=after_epoch if on_epoch else None,
        state=training_state(model, [opt], gen),
        checkpoint=checkpoint,
        progress=progress,
        desc="ASAE epochs",
    )


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
    a collapsed code cannot pass), decided against the oracle codes of the same rows
    (``lib.controls``; ``truth_decision`` lists what is kept). ``final_separation``:
    ``reconstruction_separation`` of y_A, y_B against the parts, measured against the best
    input-independent output.
    """
    if not all(np.all(np.isfinite(out[k][rows])) for k in ("z_a", "z_b", "y_a", "y_b")):
        # training diverged: nothing was separated (as asae_epoch_scores scores it)
        return {**truth_decision(None), "final_disentanglement": 0.0, "final_separation": 0.0}
    za, zb = out["z_a"][rows], out["z_b"][rows]
    control = oracle_codes(*parts, za.shape[1])
    d = judge(za, zb, data.label_a[rows], data.label_b[rows], control)
    sep = reconstruction_separation(out["y_a"][rows], out["y_b"][rows], *parts)
    return {**truth_decision(d), "final_separation": float(sep["score"])}


def run_asae_ceiling(
    kind="simple",
    n=2500,
    code_size=2,
    epochs=30,
    seed=0,
    data_seed=0,
    n_eval=1000,
    lr=1e-3,
    batch_size=128,
    data_dir=None,
    checkpoint=None,
    check_every=5,
):
    """The supervised ceiling of the disentangling score on a benchmark (sweep function).

    The ASAE of section 8.3 with ``run_asae``'s layers, optimiser (eq. 7.4's RMSprop), sizes and
    data, trained with the true parts as targets: loss = ||y_A - a||^2 + ||y_B - b||^2, each
    summed over pixels as eq. 7.1, averaged over the batch. It trains until its disentangling
    score stops rising (``score_stopped``, checked every ``check_every`` epochs) or for ``epochs``
    at most; ``epochs_needed`` says how many it took and ``score_curve`` the checked scores. Its
    codes are disentangled as far as this architecture allows, so their decision
    (``final_truth_scores`` on the same evaluation rows) is the positive control of the
    architecture: a ruler that fails it cannot judge the unsupervised runs at this size.
    """
    data = _composite(kind, n, data_seed, data_dir)
    if n_eval > len(data.x):
        raise ValueError(f"n_eval={n_eval} exceeds the {len(data.x)} composites")
    torch.manual_seed(seed)
    x, part_a, part_b = (as_tensor(v) for v in (data.x, data.part_a, data.part_b))
    model = ASAE(x.shape[1], code_size).to(x.device)
    opt = make_optimiser(model.parameters(), "rmsprop", lr)
    gen = torch.Generator(device=x.device).manual_seed(seed)

    def batches(epoch):
        order = torch.randperm(len(x), generator=gen, device=x.device)
        return (order[i : i + batch_size] for i in range(0, len(x), batch_size))

    def step(rows, epoch):
        out = model(x[rows])
        loss = ((out["y_a"] - part_a[rows]) ** 2).sum(1).mean() + ((out["y_b"] - part_b[rows]) ** 2).sum(
            1
        ).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": float(loss.detach())}

    ev = slice(0, n_eval)
    parts = (data.part_a[ev].reshape(n_eval, -1), data.part_b[ev].reshape(n_eval, -1))

    def on_epoch(e, log):
        score = np.nan
        if e % check_every == 0 or e == epochs:
            out = evaluate(model, x[ev])
            score = quick_score(out["z_a"], out["z_b"], data.label_a[ev], data.label_b[ev])
        return {"loss": log["loss"], "score": score}

    model.train()
    history = fit_epochs(
        step,
        batches,
        epochs,
        on_epoch=on_epoch,
        state=training_state(model, [opt], gen),
        checkpoint=as_checkpoint(checkpoint),
        desc="ceiling epochs",
        until=lambda h: score_stopped([r["score"] for r in h]),
    )
    scores = np.array([r["score"] for r in history])
    return {
        **final_truth_scores(evaluate(model, x), data, ev, parts),
        "loss": np.array([r["loss"] for r in history]),
        "score_curve": scores[np.isfinite(scores)],
        "epochs_needed": len(history),
    }


CEILING_TOLERANCE = 0.01  # a ceiling's score "stops rising" when a check gains less than this


def score_stopped(scores, tol=CEILING_TOLERANCE):
    """True once the last checked score (NaN entries are unchecked epochs) rose by less than
    ``tol`` over the check before it: the supervised ceiling has reached its plateau."""
    checked = [s for s in scores if np.isfinite(s)]
    return len(checked) >= 2 and checked[-1] - checked[-2] < tol


def quick_score(code_a, code_b, label_a, label_b):
    """The disentangling score without its permutation null (for the ceiling's plateau check)."""
    d = disentanglement_where_scorable(code_a, code_b, label_a, label_b, n_permutations=0, with_dci=False)
    return float(d["score_unclipped"]) if d else float("nan")


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
