"""Chapter 9's runs: the benchmarks' facts, the DDN sweep functions (``run_ddn`` and its
seed-batched twin, the supervised ceiling, the Fig 9.4 chase, the section 9.1 penalty
autoencoders and GMMN), how each run scores its codes, and each run's cost model for
``lib.planning``. The model and its trainer are ``lib.ddn``; the chapter's sizes, plan, summaries
and claims are ``lib.chapters.ch09_ddn``.

Ground truth (ours; the thesis judged by MI and by eye): every run records the KSG MI between
its codes and the probe score (``lib.metrics.code_scores``) per epoch, and the disentangling
score of its final codes (``lib.metrics.disentanglement_where_scorable``), which decides.
"""

import time

import numpy as np
import torch
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import train_test_split

from lib.asae_runs import fit_to_plateau, quick_score
from lib.batched import BatchedDDNTrainer
from lib.checkpoints import as_checkpoint
from lib.controls import (
    judge,
    oracle_codes,
    truth_decision,
)
from lib.costs import updates_per_epoch
from lib.data import load_mnist, make_composite, make_reused_composite
from lib.ddn import DDN, DDNConfig, DDNTrainer, make_optimizer, sq_err
from lib.ddn_alternatives import PenaltyAutoencoder, gmmn_fit, penalty_loss
from lib.experiments import SeedBatched
from lib.metrics import code_scores, reconstruction_score
from lib.nets import device, make_optimiser, mlp
from lib.training import fit_epochs, training_state

# Section 9.4: (L_e, L_p, L_d) and epochs of stages (1, 2, 3) per benchmark; MNIST anneals alpha.
# Every fact of a benchmark in one place: thesis_n, the thesis's training images (section 8.2);
# in_dim, the input size; bundled_n, the images the bundled 5,000-digit subset gives where a
# profile takes "all the data allow" (cost estimates).
BENCHMARKS = {
    "simple": {"layers": (1, 1, 1), "epochs": (35, 10, 5), "thesis_n": 25000, "in_dim": 28 * 56,
               "bundled_n": 2500},
    "additive": {"layers": (2, 2, 1), "epochs": (60, 10, 40), "thesis_n": 25000, "in_dim": 28 * 28,
                 "bundled_n": 2500},
    "occlusive": {"layers": (2, 3, 3), "epochs": (50, 10, 50), "thesis_n": 25000, "in_dim": 28 * 28,
                  "bundled_n": 2500},
    "mnist": {"layers": (2, 2, 2), "epochs": (20, 10, 100), "alpha_end": 1.0, "thesis_n": 50000,
              "in_dim": 28 * 28, "bundled_n": 5000},
}  # fmt: skip


# ----------------------------------------------------------------------------- scoring
def load_benchmark(kind: str, n=None, data_seed: int = 0, data_dir=None, reuse_test=None):
    """The composite of section 8.2 (binarised digits), flattened, with its labels and parts;
    with ``reuse_test``, digits reused and the first ``reuse_test`` rows held out
    (``lib.data.make_reused_composite``)."""
    if kind not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {kind!r}; choose one of {', '.join(BENCHMARKS)}")
    if reuse_test:
        return make_reused_composite(kind, n, reuse_test, seed=data_seed, data_dir=data_dir, binarise=True)
    return make_composite(kind, n=n, seed=data_seed, data_dir=data_dir, binarise=True)


def ink(x: np.ndarray) -> np.ndarray:
    """Mean pixel value of each image: a stroke-thickness proxy for plain MNIST (fig. 9.15)."""
    return np.asarray(x, np.float64).reshape(len(x), -1).mean(1)


def ridge_r2(code: np.ndarray, target: np.ndarray, random_state: int = 0) -> float:
    """Held-out R^2 of a ridge regression predicting target from code (30% test split)."""
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


def final_disentanglement(za, zb, comp, rows) -> dict:
    """The ground-truth decision on final codes on `rows` (``lib.controls.judge``, against the
    oracle codes of the same rows at the code width): ``final_disentanglement`` (NaN where it
    cannot be scored), ``final_disentangled`` and the rest of ``lib.controls.truth_decision``."""
    control = oracle_codes(comp.part_a[rows], comp.part_b[rows], za.shape[1])
    d = judge(za[rows], zb[rows], comp.label_a[rows], comp.label_b[rows], control)
    return truth_decision(d)


def show_indices(labels: np.ndarray, n_show: int) -> np.ndarray:
    """Inputs for the cross plots: the first image of each class in turn (the thesis hand-picked
    inputs showing a range of digits), padded with the first images."""
    firsts = [int(np.flatnonzero(labels == c)[0]) for c in np.unique(labels)]
    rest = [i for i in range(len(labels)) if i not in firsts][:n_show]
    return np.array((firsts + rest)[:n_show])


def final_scores(tr: DDNTrainer, comp, x, rows) -> dict:
    """End-of-training numbers: MI, truth score, code spread, reconstruction error, and what each
    code carries (digit label of each part; for MNIST also ink, a stroke-thickness proxy)."""
    za, zb = tr.codes(x if comp.n_test else None)  # held-out rows are not in the trainer's data
    s = code_scores(za, zb, comp.label_a, np.maximum(comp.label_b, 0), n_mi=len(rows))
    rec = tr.reconstruct(x)
    out = {
        "final_mi": s["mi"],
        "final_truth": s["score"],
        "final_acc": np.array(s["acc"]),
        **final_disentanglement(za, zb, comp, rows),
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


# ----------------------------------------------------------------------------- sweep functions
class _Recorder:
    """What ``run_ddn`` records of one DDN run while it trains: every ``score_every`` epochs of
    stages 1 and 3 the codes' scores (figs. 9.5, 9.9), the reconstructions and cross plot after
    stage 2 (no fine-tuning, fig. 9.8), and at the end the final numbers and pictures (figs.
    9.6, 9.7). Each method takes the run's trainer (a ``lib.ddn.DDNTrainer``)."""

    def __init__(self, comp, x, rows, show, epochs, score_every):
        self.comp, self.x, self.rows, self.show = comp, x, rows, show
        self.score_x = x if comp.n_test else None  # held-out rows: score the full x, not tr.x
        self.e1, self.e2, self.e3 = epochs
        self.every = score_every
        self.before = {}  # after stage 2, before fine-tuning (fig. 9.8)

    def score(self, tr, epoch, stage, log):
        s = score_codes(*tr.codes(self.score_x), self.comp, self.rows)
        s.update(
            epoch=epoch,
            stage=stage,
            pred_loss=log.get("pred_loss_ba", np.nan) + log.get("pred_loss_ab", np.nan),
            recon_loss=log.get("recon_loss", np.nan),
        )
        return {k: float(v) for k, v in s.items()}

    def snapshot(self, tr, done):
        if not self.before and done == self.e1 + self.e2:
            self.before.update(
                cross_no_stage3=tr.cross(self.show),
                **{k + "_no_stage3": v for k, v in tr.reconstruct(self.show).items()},
                mse_no_stage3=float(np.mean((tr.reconstruct(self.x)["y_ab"] - self.x) ** 2)),
            )

    def start(self, tr):
        out = self.score(tr, 0, 1, {})
        self.snapshot(tr, 0)
        return out

    def epoch(self, tr, stage, e, log):
        out = None
        if stage == 1 and (e % self.every == 0 or e == self.e1):
            out = self.score(tr, e, 1, log)
        elif stage == 3 and (e % self.every == 0 or e == self.e3):
            out = self.score(tr, self.e1 + e, 3, log)
        self.snapshot(tr, {1: 0, 2: self.e1, 3: self.e1 + self.e2}[stage] + e)
        return out

    def result(self, tr, history, cpu_s):
        hist: dict[str, list] = {}
        for entry in filter(None, history):
            for k, v in entry.items():
                hist.setdefault(k, []).append(v)
        return {
            **{k: np.array(v) for k, v in hist.items()},
            **self.before,
            **final_scores(tr, self.comp, self.x, self.rows),
            "x_show": self.show,
            "cross": tr.cross(self.show),
            **tr.reconstruct(self.show),
            "shape": np.array(self.comp.x.shape[1:]),
            "cpu_s": cpu_s,
        }


def _ddn_setup(kind, n, epochs, layers, n_show, n_score, data_seed, data_dir, score_every, cfg_kw):
    """The training rows, config, epochs and recorder a DDN run (or a batch of seeds) trains
    with; ``cfg_kw``'s ``reuse_test`` (see ``load_benchmark``) holds out the first rows, which
    are then the scored rows and are not trained on."""
    spec = BENCHMARKS[kind] if kind in BENCHMARKS else None
    reuse_test = cfg_kw.pop("reuse_test", None)
    comp = load_benchmark(kind, n=n, data_seed=data_seed, data_dir=data_dir, reuse_test=reuse_test)
    epochs = tuple(spec["epochs"] if epochs is None else epochs)
    le, lp, ld = spec["layers"] if layers is None else layers
    cfg_kw.setdefault("alpha_end", spec.get("alpha_end"))
    cfg = DDNConfig(enc_layers=le, pred_layers=lp, dec_layers=ld, **cfg_kw)
    x = comp.x.reshape(len(comp.x), -1)
    rows = np.random.default_rng(data_seed).permutation(comp.n_test or len(x))[:n_score]
    recorder = lambda: _Recorder(comp, x, rows, x[show_indices(comp.label_a, n_show)], epochs, score_every)
    return x[comp.n_test :], cfg, epochs, recorder


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
    of `n_show` images (one per class of label_a) and cross plots after stage 2 (no fine-tuning,
    fig. 9.8) and after stage 3 (fig. 9.6).

    checkpoint: a path or a ``lib.checkpoints.Checkpoint`` (the sweep passes one per run, outside
    the configuration). After every epoch of every stage the trainer's state, the record so far
    and the stage-2 snapshot are saved there (``DDNTrainer.fit``); a rerun resumes from it with
    exactly the result of an uninterrupted run (same machine), and the file is deleted when the
    run finishes."""
    args = (kind, n, epochs, layers, n_show, n_score, data_seed, data_dir, score_every, cfg_kw)
    x, cfg, epochs, make_recorder = _ddn_setup(*args)
    tr = DDNTrainer(x, cfg, seed=seed)
    t0 = time.process_time()
    rec = make_recorder()
    ckpt = as_checkpoint(checkpoint)
    history = tr.fit(
        epochs,
        on_start=lambda: rec.start(tr),
        on_epoch=lambda stage, e, log: rec.epoch(tr, stage, e, log),
        checkpoint=ckpt,
        extra_state=(lambda: {"before": rec.before}, lambda saved: rec.before.update(saved["before"])),
    )
    return rec.result(tr, history, time.process_time() - t0 + (ckpt.cpu_before if ckpt else 0.0))


def run_ddn_batched(
    seeds,
    kind: str,
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
) -> list[dict]:
    """``run_ddn`` for every seed in ``seeds`` as one batched model (``lib.batched``): the list of
    what ``run_ddn(seed=s, ...)`` returns, in order, equal within float tolerance. Each epoch the
    seeds' current states are scored through ordinary ``DDNTrainer`` views; ``cpu_s`` is the
    batch's CPU seconds divided by K; ``checkpoint`` is one for the whole batch."""
    args = (kind, n, epochs, layers, n_show, n_score, data_seed, data_dir, score_every, cfg_kw)
    x, cfg, epochs, make_recorder = _ddn_setup(*args)
    bt = BatchedDDNTrainer(x, cfg, seeds)
    t0 = time.process_time()
    recs = [make_recorder() for _ in bt.seeds]
    ckpt = as_checkpoint(checkpoint)
    history = bt.fit(
        epochs,
        on_start=lambda: [r.start(tr) for r, tr in zip(recs, bt.trainers())],
        on_epoch=lambda stage, e, logs: [
            r.epoch(tr, stage, e, log) for r, tr, log in zip(recs, bt.trainers(), logs)
        ],
        checkpoint=ckpt,
        extra_state=(
            lambda: {"before": [r.before for r in recs]},
            lambda saved: [r.before.update(b) for r, b in zip(recs, saved["before"])],
        ),
    )
    cpu_s = (time.process_time() - t0 + (ckpt.cpu_before if ckpt else 0.0)) / len(recs)
    trainers = bt.trainers()
    return [
        r.result(tr, [h[k] if h else None for h in history], cpu_s)
        for k, (r, tr) in enumerate(zip(recs, trainers))
    ]


CEILING_KINDS = ("simple", "additive", "occlusive")


def run_ddn_ceiling(
    kind: str,
    seed: int = 0,
    n: int | None = None,
    epochs: int = 10,
    layers=None,
    hidden: int = 1000,
    n_score: int = 1000,
    data_seed: int = 0,
    data_dir=None,
    checkpoint=None,
    check_every: int = 5,
) -> dict:
    """The supervised ceiling of the disentangling score for the DDN on a benchmark (a sweep run).

    The encoders f_a, f_b and per-cause decoders g_a, g_b of fig. 9.3, with the benchmark's layers
    and the DDN's optimisers (eq. 7.4; encoders at lr_enc, decoders at lr_dec), trained with the
    true parts as targets: ||g_a(f_a(x)) - a||^2 + ||g_b(f_b(x)) - b||^2, each summed over pixels.
    It trains until its score stops rising (``lib.asae_runs.score_stopped``, checked every
    ``check_every`` epochs) or ``epochs`` at most (``epochs_needed``, ``score_curve``). The codes
    are then disentangled as far as these networks allow; their decision on ``run_ddn``'s scoring
    rows is the architecture's positive control on this benchmark."""
    spec = BENCHMARKS[kind]
    comp = load_benchmark(kind, n=n, data_seed=data_seed, data_dir=data_dir)
    le, lp, ld = spec["layers"] if layers is None else layers
    cfg = DDNConfig(enc_layers=le, pred_layers=lp, dec_layers=ld, hidden=hidden)
    dev = device()
    x, a, b = (torch.as_tensor(v.reshape(len(v), -1), dtype=torch.float32, device=dev)
               for v in (comp.x, comp.part_a, comp.part_b))  # fmt: skip
    torch.manual_seed(seed)
    model = DDN(x.shape[1], cfg).to(dev)
    decoders = list(model.dec_a.parameters()) + list(model.dec_b.parameters())
    opts = [
        make_optimizer(model.encoder_parameters(), cfg.lr_enc, cfg),
        make_optimizer(decoders, cfg.lr_dec, cfg),
    ]
    gen = torch.Generator(device=dev).manual_seed(seed)

    def batches(epoch):
        order = torch.randperm(len(x), generator=gen, device=dev)
        return (order[i : i + cfg.batch_size] for i in range(0, len(x), cfg.batch_size))

    def step(rows, epoch):
        za, zb = model.encode(x[rows])
        loss = sq_err(model.dec_a(za), a[rows]) + sq_err(model.dec_b(zb), b[rows])
        for opt in opts:
            opt.zero_grad(set_to_none=True)
        loss.backward()
        for opt in opts:
            opt.step()
        return {"loss": float(loss.detach())}

    rows = np.random.default_rng(data_seed).permutation(len(x))[:n_score]

    def codes():
        model.eval()
        with torch.no_grad():
            za, zb = (z.cpu().numpy() for z in model.encode(x))
        model.train()
        return za, zb

    def on_epoch(e, log):
        score = np.nan
        if e % check_every == 0 or e == epochs:
            za, zb = codes()
            score = quick_score(za[rows], zb[rows], comp.label_a[rows], comp.label_b[rows])
        return {"loss": log["loss"], "score": score}

    model.train()
    curve = fit_to_plateau(step, batches, epochs, on_epoch, training_state(model, opts, gen), checkpoint)
    return {**final_disentanglement(*codes(), comp, rows), **curve}


def untrained_codes(kind: str, seed: int, n, n_score: int, hidden: int, data_seed: int = 0,
                    data_dir=None):  # fmt: skip
    """The DDN's codes at initialisation on ``run_ddn``'s scoring rows (the untrained-network
    negative control), with the composite and the rows."""
    comp = load_benchmark(kind, n=n, data_seed=data_seed, data_dir=data_dir)
    le, lp, ld = BENCHMARKS[kind]["layers"]
    cfg = DDNConfig(enc_layers=le, pred_layers=lp, dec_layers=ld, hidden=hidden)
    x = torch.as_tensor(comp.x.reshape(len(comp.x), -1), dtype=torch.float32)
    rows = np.random.default_rng(data_seed).permutation(len(x))[:n_score]
    torch.manual_seed(seed)
    model = DDN(x.shape[1], cfg).eval()
    with torch.no_grad():
        za, zb = (z.numpy() for z in model.encode(x[rows]))
    return comp, rows, za, zb


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

    def on_epoch(stage, e, log):
        if e in snapshots:
            za, zb = tr.codes()
            with torch.no_grad():
                pa = tr.model.pred_ba(torch.from_numpy(zb).to(tr.device)).cpu().numpy()
            za_s.append(za[:n_plot]), pa_s.append(pa[:n_plot])
            r2.append(1 - ((pa - za) ** 2).sum() / max(((za - za.mean(0)) ** 2).sum(), 1e-12))

    tr.fit((epochs, 0, 0), on_epoch=on_epoch)
    za_s, pa_s = np.array(za_s), np.array(pa_s)
    spread = np.sqrt(((za_s - za_s.mean(1, keepdims=True)) ** 2).sum(2).mean(1))
    moves = np.sqrt(((za_s[1:] - za_s[:-1]) ** 2).sum(2).mean(1)) / np.maximum(spread[:-1], 1e-12)
    out.update(za=za_s, pred_za=pa_s, pred_r2=np.array(r2), code_spread=spread, moves=moves)
    return out


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
    section-8.2 benchmark; record KSG MI and the probe score every epoch (as for the DDN) and the
    disentangling score of the final codes (``final_disentanglement`` / ``final_disentangled``,
    as ``run_ddn``). `optimiser`: a lib.nets.make_optimiser name ("rmsprop" = eq. 7.4)."""
    comp = load_benchmark(kind, n=n, data_seed=data_seed, data_dir=data_dir)
    dev = device()
    x = torch.from_numpy(comp.x.reshape(len(comp.x), -1).astype(np.float32)).to(dev)
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed + 1)
    model = PenaltyAutoencoder(x.shape[1], n_code, enc_layers, dec_layers, hidden).to(dev)
    opt = make_optimiser(model.parameters(), optimiser, lr)
    rows = np.random.default_rng(data_seed).permutation(len(x))[:n_score]
    t0 = time.process_time()

    def record(penalty_mean):
        with torch.no_grad():
            za, zb, y = model(x)
        s = score_codes(za.cpu().numpy(), zb.cpu().numpy(), comp, rows)
        s.update(penalty=penalty_mean, recon_mse=float(((y - x) ** 2).mean()))
        return {k: float(v) for k, v in s.items()}

    def batches(epoch):
        perm = torch.randperm(len(x), generator=g).to(dev)
        for i in range(0, len(x) - 1, batch_size):
            yield x[perm[i : i + batch_size]]

    def step(xb, epoch):
        loss, parts = penalty_loss(model, xb, penalty, lam)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return parts

    history = fit_epochs(
        step,
        batches,
        epochs,
        on_start=lambda: record(np.nan),
        on_epoch=lambda e, log: record(log["penalty"]),
        desc=f"{penalty} penalty epochs",
    )
    out = {k: np.array([h[k] for h in history]) for k in history[0]}
    with torch.no_grad():
        za, zb, _ = model(x)
    out.update(final_mi=out["mi"][-1], final_truth=out["truth"][-1])
    out.update(final_disentanglement(za.cpu().numpy(), zb.cpu().numpy(), comp, rows))
    out["cpu_s"] = time.process_time() - t0
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
    sigmoid) on MNIST, then a GMMN (lib.ddn_alternatives.gmmn_fit) from spherical Gaussian noise
    onto its code distribution."""
    mnist = load_mnist(data_dir)
    imgs = np.array(mnist.images[:n], np.float32)
    x = torch.from_numpy(imgs.reshape(len(imgs), -1))
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    enc, dec = mlp(x.shape[1], hidden, 1, code_units), mlp(code_units, hidden, 1, x.shape[1], sigmoid=True)
    opt = make_optimiser(list(enc.parameters()) + list(dec.parameters()), "rmsprop", 1e-3)

    def batches(epoch):
        perm = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), 128):
            yield x[perm[i : i + 128]]

    def step(xb, epoch):
        loss = sq_err(dec(enc(xb)), xb)
        opt.zero_grad()
        loss.backward()
        opt.step()

    fit_epochs(step, batches, ae_epochs, desc="autoencoder epochs")
    with torch.no_grad():
        codes = enc(x).numpy()
    return gmmn_fit(codes, hidden=64, steps=gmmn_steps, seed=seed)


# ----------------------------------------------------------------------------- cost models (lib.planning)


def _updates(n, kind, batch_size=128):
    return updates_per_epoch(n or BENCHMARKS[kind]["bundled_n"], batch_size)


def ddn_parameters(kind: str, config: dict) -> int:
    """The number of weights of the DDN a ``run_ddn`` config trains (built on the meta device)."""
    layers = config.get("layers") or BENCHMARKS[kind]["layers"]
    keys = ("n_code", "hidden", "shared_encoder", "code_norm")
    cfg = DDNConfig(enc_layers=layers[0], pred_layers=layers[1], dec_layers=layers[2],
                    **{k: config[k] for k in keys if k in config})  # fmt: skip
    with torch.device("meta"):
        return sum(p.numel() for p in DDN(BENCHMARKS[kind]["in_dim"], cfg).parameters())


def _ddn_cost(config):
    """A ``run_ddn`` run's minibatch updates per stage and its weights (lib.planning)."""
    kind = config["kind"]
    epochs = config.get("epochs") or BENCHMARKS[kind]["epochs"]
    upd = _updates(config.get("n"), kind, config.get("batch_size", 128))
    return ("ddn", tuple(e * upd for e in epochs), ddn_parameters(kind, config))


def _chase_cost(config):
    upd = _updates(config.get("n"), "simple")
    return ("ddn", (config["epochs"] * upd, 0, 0), ddn_parameters("simple", {"n_code": 2, **config}))


def _penalty_cost(config):  # a split-encoder autoencoder: images x epochs
    return ("work", (config.get("n") or BENCHMARKS[config["kind"]]["bundled_n"]) * config["epochs"])


def _gmmn_cost(config):  # autoencoder images x epochs, plus the GMMN's steps
    return ("work", config["n"] * config["ae_epochs"] + config["gmmn_steps"])


def _ceiling_cost(config):  # encoders and decoders only, about a stage-1 epoch each
    upd = _updates(config.get("n"), config["kind"])
    return ("ddn", (config["epochs"] * upd, 0, 0), ddn_parameters(config["kind"], config))


BATCHED = {run_ddn: SeedBatched(run_ddn_batched, "ddn")}  # used where K seeds per model is faster
COSTS = {
    run_ddn: _ddn_cost,
    run_ddn_ceiling: _ceiling_cost,
    run_chase: _chase_cost,
    run_penalty: _penalty_cost,
    run_gmmn_on_codes: _gmmn_cost,
}
