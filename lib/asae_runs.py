"""The sweep functions of chapters 7-8: train an (additive split) autoencoder and score it.

Experiments, not models (book/design.md, "Layers"): each function builds its data, trains a model
of ``lib.autoencoders`` through ``lib.training`` (or, seed-batched, ``lib.batched``) and records
per epoch and at the end what the chapters read. ``asae_epoch_scores`` is chapter 8's per-epoch
record: the KSG MI between the two codes (``lib.metrics.code_scores``, on a fixed subsample), the
reconstruction error and the old ground-truth scores; ``final_truth_scores`` is the decision on
the final codes against the oracle of the same rows (``lib.controls``). ``run_asae`` and
``run_asae_batched`` (K seeds as one batched model, equal results) share their data and their
result; ``run_asae_ceiling`` is the supervised ceiling (the positive control of the
architecture); ``run_autoencoder`` is chapter 7's optimiser study.
"""

import time
from functools import lru_cache

import numpy as np
import torch

from lib.autoencoders import ASAE, Autoencoder
from lib.batched import build_asaes, check_seeds, train_batched
from lib.checkpoints import as_checkpoint
from lib.controls import judge, oracle_codes, truth_decision
from lib.data import make_composite, make_reused_composite, note_data_read
from lib.metrics import (
    code_scores,
    disentanglement_where_scorable,
    reconstruction_score,
    reconstruction_separation,
)
from lib.nets import make_optimiser
from lib.training import TrainConfig, as_tensor, evaluate, fit_epochs, train, training_state


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


def _composite(kind, n, seed, data_dir, reuse_test=None):
    """Binarised composites, cached per process; the read is noted even on a cache hit. With
    ``reuse_test``, digits are reused and the first ``reuse_test`` rows held out
    (``lib.data.make_reused_composite``)."""
    return _composite_cached(kind, n, seed, note_data_read(data_dir), reuse_test)


@lru_cache(maxsize=4)
def _composite_cached(kind, n, seed, folder, reuse_test=None):
    if reuse_test:
        return make_reused_composite(kind, n, reuse_test, seed=seed, data_dir=folder, binarise=True)
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
    reuse_test=None,
):
    """Train one ASAE on a binarised composite dataset and record every epoch (sweep function).

    The evaluation subsample is the first ``n_eval`` composites (fixed for a given ``data_seed``);
    MI, probe, reconstruction scores and error are measured on it before training and after each
    epoch. Returns those curves (length epochs + 1), the final full-data reconstruction error,
    example reconstructions ``examples`` (4, n_examples, h, w: input, y_A, y_B, y) of fixed
    rows, and the CPU seconds the run took (with a resumed ``checkpoint``: all its attempts).
    ``checkpoint`` (a path or a ``lib.training.Checkpoint``; the sweep passes one per run, outside
    the configuration) saves every epoch so a killed run resumes inside the run (``train``).
    ``reuse_test``: digits reused to reach ``n`` (``lib.data.make_reused_composite``), the
    first ``reuse_test`` composites held out; the run trains on the others and scores on them.
    """
    cpu0 = time.process_time()
    data, x, ev, parts, hook = _asae_data(kind, n, data_seed, data_dir, n_eval, reuse_test)
    torch.manual_seed(seed)
    model = ASAE(x.shape[1], code_size, dropout=dropout).to(x.device)
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
    history = train(model, x[data.n_test :], config, hook, checkpoint=ckpt)
    result = _asae_result(model, history, data, x, ev, parts, n_examples)
    result["cpu_s"] = time.process_time() - cpu0 + (ckpt.cpu_before if ckpt else 0.0)
    return result


def _asae_data(kind, n, data_seed, data_dir, n_eval, reuse_test=None):
    """An ASAE run's composites, as a tensor, its evaluation rows (the first ``n_eval``), their
    flattened parts and the per-epoch hook (``asae_epoch_scores`` on those rows). With
    ``reuse_test`` the evaluation rows are held-out composites the run does not train on
    (rows ``data.n_test:`` train)."""
    data = _composite(kind, n, data_seed, data_dir, reuse_test)
    if n_eval > len(data.x):
        raise ValueError(f"n_eval={n_eval} exceeds the {len(data.x)} composites")
    if data.n_test and n_eval > data.n_test:
        raise ValueError(f"n_eval={n_eval} exceeds the {data.n_test} held-out composites")
    x = as_tensor(data.x)
    ev = slice(0, n_eval)
    parts = (data.part_a[ev].reshape(n_eval, -1), data.part_b[ev].reshape(n_eval, -1))
    labels = (data.label_a[ev], data.label_b[ev])
    hook = lambda m: asae_epoch_scores(m, x[ev], *parts, *labels, random_state=0)
    return data, x, ev, parts, hook


def _asae_result(model, history, data, x, ev, parts, n_examples):
    """What an ASAE run returns but its CPU seconds: the per-epoch curves, the ground-truth
    decision on the final codes, the full-data error, example reconstructions and the source."""
    out = evaluate(model, x)
    x_np = x.cpu().numpy()
    rows = example_rows(n_examples, ev.stop)
    shape = data.x.shape[1:] if data.x.ndim == 3 else (1, x.shape[1])
    examples = np.stack([x_np[rows], out["y_a"][rows], out["y_b"][rows], out["y"][rows]])
    result = {k: np.array([h[k] for h in history]) for k in history[0]}
    result.update(final_truth_scores(out, data, ev, parts))
    result.update(
        final_mse=float(np.mean((out["y"] - x_np) ** 2)),
        examples=examples.reshape(4, n_examples, *shape).astype(np.float32),
        source=str(data.source),
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
    curve = fit_to_plateau(step, batches, epochs, on_epoch, training_state(model, [opt], gen), checkpoint)
    return {**final_truth_scores(evaluate(model, x), data, ev, parts), **curve}


def fit_to_plateau(step, batches, epochs, on_epoch, state, checkpoint) -> dict:
    """A supervised ceiling's training (the ASAE's and the DDN's): ``lib.training.fit_epochs`` for
    at most ``epochs``, stopped once the score ``on_epoch`` reports has stopped rising
    (``score_stopped``); returns the loss and score curves and the epochs it needed."""
    history = fit_epochs(
        step,
        batches,
        epochs,
        on_epoch=on_epoch,
        state=state,
        checkpoint=as_checkpoint(checkpoint),
        desc="ceiling epochs",
        until=lambda h: score_stopped([r["score"] for r in h]),
    )
    scores = np.array([r["score"] for r in history])
    return {
        "loss": np.array([r["loss"] for r in history]),
        "score_curve": scores[np.isfinite(scores)],
        "epochs_needed": len(history),
    }


CEILING_TOLERANCE = 0.01  # a ceiling's score "stops rising" when a check gains less than this


CEILING_FLOOR = 0.05  # a ceiling whose score is still below this has not started: it trains on


def score_stopped(scores, tol=CEILING_TOLERANCE, floor=CEILING_FLOOR):
    """True once the last checked score (NaN entries are unchecked epochs) rose by less than
    ``tol`` over the check before it, and has started to rise (is at least ``floor``): the
    supervised ceiling has reached its plateau. A score still stuck near zero (slow encoders at
    lr 1e-4 can take many epochs to start) trains on, up to the ceiling's most epochs."""
    checked = [s for s in scores if np.isfinite(s)]
    return len(checked) >= 2 and checked[-1] - checked[-2] < tol and checked[-1] >= floor


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
        return {
            "mse": float(np.mean((y - x_np) ** 2)),
            "spread": float(y.var(0).sum() / x_np.var(0).sum()),
        }

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


def run_asae_batched(
    seeds,
    kind="simple",
    n=2500,
    code_size=2,
    epochs=30,
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
    reuse_test=None,
) -> list[dict]:
    """``run_asae`` for every seed in ``seeds`` at once (one batched model): a list of
    the results ``run_asae(seed=s, ...)`` returns, in the order of ``seeds``, equal within float
    tolerance. ``cpu_s`` is the batch's CPU seconds divided by K. ``checkpoint``: one for the
    whole batch (per epoch, as ``train_batched``)."""
    cpu0 = time.process_time()
    seeds = check_seeds(list(seeds), len(list(seeds)))
    data, x, ev, parts, hook = _asae_data(kind, n, data_seed, data_dir, n_eval, reuse_test)
    models = build_asaes(seeds, x.shape[1], code_size, dropout=dropout, device=str(x.device))
    config = TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        optimiser=optimiser,
        lr=lr,
        l1_weight=l1_weight,
        l1_activation=l1_activation,
        noise_std=noise_std,
        optimiser_eps=optimiser_eps,
        loss_reduce=loss_reduce,
    )
    ckpt = as_checkpoint(checkpoint)
    models, histories = train_batched(
        models, x[data.n_test :], config, seeds=seeds, on_epoch=hook, checkpoint=ckpt
    )
    results = [_asae_result(m, h, data, x, ev, parts, n_examples) for m, h in zip(models, histories)]
    cpu_s = (time.process_time() - cpu0 + (ckpt.cpu_before if ckpt else 0.0)) / len(seeds)
    for result in results:
        result["cpu_s"] = cpu_s
    return results
