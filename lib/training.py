"""Training and per-epoch recording for the autoencoders of chapters 7-8.

``fit_epochs`` is the one training loop of the torch models (ASAE, DDN stages, penalty
autoencoders, GMMN): per-epoch callbacks, a progress bar and per-epoch checkpoints
(``lib.checkpoints``; ``Checkpoint`` is re-exported here for older imports).
``train`` runs minibatch gradient descent (section 8.4: batch 128, RMSprop, lr 1e-3 by default;
"rmsprop" is eq. 7.4, ``lib.nets.RMSprop``: eps 1e-6 inside the square root, Lasagne's form)
and calls a hook before the first epoch and after every epoch. The sweep functions that train
and score the autoencoders (``run_asae``, ``run_autoencoder``, ...) are experiments and live in
``lib.asae_runs``.
"""

import os
import sys
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from lib.autoencoders import LOSS_REDUCTIONS, asae_loss
from lib.checkpoints import as_checkpoint, rng_states, set_rng_states
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


def take_step(loss: torch.Tensor, *opts) -> None:
    """Zero the optimisers' gradients, back-propagate ``loss`` (summed over the seeds of a batched
    model, ``lib.batched``), step each optimiser."""
    for opt in opts:
        opt.zero_grad(set_to_none=True)
    loss.sum().backward()
    for opt in opts:
        opt.step()


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
