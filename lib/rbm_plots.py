"""Figures for chapters 2-4: RBM / CD-k / Broadnet diagrams (Figs 2.2, 2.3, 3.1, 3.2), the
reconstructions-over-inference-steps layout of Figs 3.4, 3.6 and 3.7, the other chapter 3 figures
(3.3, 3.4c, 3.5) and chapter 4's weight, activity and log-probability figures (4.1-4.17)."""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Circle, Rectangle, Wedge

from lib.data import make_composite
from lib.diagrams import blank_axes, connect, unit_layer
from lib.plots import curves, image_grid, tile

HEBBIAN, ANTI_HEBBIAN = "#1f5fbf", "#c0392b"


def rbm_diagram():
    """Fig 2.2: one hidden layer and one visible layer, fully connected by W."""
    fig, ax = blank_axes(5, 3.2, xlim=(0, 8), ylim=(0, 5))
    hidden = unit_layer(ax, (4, 4), 4, spacing=1.0, radius=0.28, label=r"$h_j$")
    visible = unit_layer(ax, (4, 1), 5, spacing=1.0, radius=0.28, color="#e8e8e8", label=r"$v_i$")
    connect(ax, visible, hidden)
    ax.text(0.9, 2.5, r"$W$", fontsize=13)
    return fig


def _node(ax, xy, text, shade=0.0, radius=0.32):
    """A chain node; ``shade`` 1 = fixed by data, 0.5 = half-shaded (a residual x - phi)."""
    ax.add_patch(Circle(xy, radius, fc="white", ec="k", lw=1, zorder=2))
    if shade >= 1:
        ax.add_patch(Circle(xy, radius, fc="0.75", ec="k", lw=1, zorder=2))
    elif shade > 0:
        ax.add_patch(Wedge(xy, radius, 90, 270, fc="0.75", ec="k", lw=1, zorder=2))
    ax.text(*xy, text, ha="center", va="center", fontsize=10, zorder=3)


def _link(ax, p, q, r=0.32):
    d = np.subtract(q, p) / np.hypot(*np.subtract(q, p))
    ax.annotate(
        "",
        xy=tuple(np.subtract(q, d * r)),
        xytext=tuple(np.add(p, d * r)),
        arrowprops=dict(arrowstyle="-|>", lw=1),
        zorder=1,
    )


def _frame(ax, x0, x1, y0, y1, color):
    ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec=color, lw=2))


def _chain(ax, labels, x0, shades, y_low=1.0, y_high=3.0, dx=1.2):
    """Zig-zag chain: labels alternate low/high (visible/hidden); returns node positions."""
    pos = [
        (x0 + (i // 2 + (i % 2) * 0.5) * dx * 1.0, y_low if i % 2 == 0 else y_high)
        for i in range(len(labels))
    ]
    for p, q in zip(pos, pos[1:]):
        _link(ax, p, q)
    for p, text, shade in zip(pos, labels, shades):
        _node(ax, p, text, shade)
    return pos


def cd_chain_diagram():
    """Fig 2.3: the CD-k chain v -> h -> v -> h ... ; blue = Hebbian, red = anti-Hebbian."""
    fig, ax = blank_axes(6.5, 2.8, xlim=(0, 9.5), ylim=(0, 4))
    left = _chain(ax, ["v", "h", "v", "h"], 1.0, [1, 0, 0, 0])
    ax.text(left[-1][0] + 1.0, 2.0, r"$\cdots$", fontsize=16, ha="center")
    right = _chain(ax, ["v", "h"], left[-1][0] + 2.2, [0, 0])
    _frame(ax, left[0][0] - 0.5, left[1][0] + 0.5, 0.45, 3.55, HEBBIAN)
    _frame(ax, right[0][0] - 0.5, right[1][0] + 0.5, 0.45, 3.55, ANTI_HEBBIAN)
    ax.text(left[0][0] - 0.5, 3.7, "Hebbian", color=HEBBIAN, fontsize=9)
    ax.text(right[0][0] - 0.5, 3.7, "anti-Hebbian (after k steps)", color=ANTI_HEBBIAN, fontsize=9)
    return fig


def broadnet_diagram():
    """Fig 3.1: two hidden layers (causes A and B, boxed) sharing one visible layer."""
    fig, ax = blank_axes(6.5, 3.4, xlim=(0, 11), ylim=(0, 5.5))
    h_a = unit_layer(ax, (2.8, 4.2), 3, spacing=1.0, radius=0.28)
    h_b = unit_layer(ax, (8.2, 4.2), 3, spacing=1.0, radius=0.28)
    x = unit_layer(ax, (5.5, 1.0), 6, spacing=1.0, radius=0.28, color="#e8e8e8", label="$x$")
    connect(ax, x, h_a, color="C0")
    connect(ax, x, h_b, color="C1")
    for units, name, color in ((h_a, "A: $h^a$, weights $W$", "C0"), (h_b, "B: $h^b$, weights $V$", "C1")):
        _frame(ax, units[0][0] - 0.5, units[-1][0] + 0.5, 3.7, 4.7, color)
        ax.text(units[0][0] - 0.5, 4.85, name, color=color, fontsize=9)
    return fig


def broadnet_cd_diagram():
    """Fig 3.2: CD-k in a Broadnet. The Hebbian (posterior) chain trades residuals between the
    causes (half-shaded x = x - phi); each anti-Hebbian chain runs one GRBM on its own."""
    fig, ax = blank_axes(8, 4.6, xlim=(0, 12), ylim=(0, 7.2))
    top = _chain(
        ax, ["x", "$h^a$", "x", "$h^b$", "x", "$h^a$"], 1.0, [1, 0, 0.5, 0, 0.5, 0], y_low=4.2, y_high=6.0
    )
    ax.text(top[-1][0] + 0.9, 5.1, r"$\cdots$", fontsize=16)
    _frame(ax, top[0][0] - 0.5, top[-1][0] + 1.6, 3.65, 6.6, HEBBIAN)
    ax.text(top[0][0] - 0.5, 6.75, "Hebbian: posterior chain (Alg. 1)", color=HEBBIAN, fontsize=9)
    for x0, hidden in ((1.0, "$h^a$"), (6.5, "$h^b$")):
        pos = _chain(ax, ["x", hidden, "x", hidden], x0, [0, 0, 0, 0], y_low=0.7, y_high=2.4)
        ax.text(pos[-1][0] + 0.6, 1.5, r"$\cdots$", fontsize=16)
        _frame(ax, pos[0][0] - 0.5, pos[-1][0] + 1.3, 0.15, 2.95, ANTI_HEBBIAN)
    ax.text(
        0.5,
        3.1,
        "anti-Hebbian: one joint chain per cause (Alg. 2), started at that cause's own reconstruction",
        color=ANTI_HEBBIAN,
        fontsize=9,
    )
    return fig


def inference_steps_figure(x, recon_a, recon_b, image_shape, n_steps=5, vmin=None, vmax=None, title=None):
    """Figs 3.4b/3.6b/3.7b: for each example a pair of columns (cause A, cause B); the top row
    shows the input (left) and r_a + r_b after the last shown step (right), the next rows each
    cause's reconstruction after inference steps 1..n_steps.

    ``recon_a``/``recon_b``: (steps, n, n_visible) arrays; ``x``: (n, n_visible)."""
    n = len(x)
    rows = [np.stack([x, recon_a[n_steps - 1] + recon_b[n_steps - 1]], 1)]
    rows += [np.stack([recon_a[t], recon_b[t]], 1) for t in range(n_steps)]
    grid = np.stack(rows, 0).reshape(n_steps + 1, 2 * n, *image_shape)
    canvas = tile(grid.reshape(-1, *image_shape), 2 * n, pad=1)
    fig, ax = plt.subplots(figsize=(1.0 * n * 2 * image_shape[1] / 28, 0.9 * (n_steps + 1)))
    ax.imshow(canvas, cmap="gray", vmin=vmin, vmax=vmax, interpolation="nearest")
    h, w = image_shape
    ax.set_yticks(
        [(h + 1) * r + h / 2 for r in range(n_steps + 1)],
        ["input | sum"] + [f"step {t + 1}" for t in range(n_steps)],
    )
    ax.set_xticks([(w + 1) * c + w / 2 for c in range(2 * n)], ["A", "B"] * n)
    for c in range(1, n):
        ax.axvline(c * 2 * (w + 1) - 1, color="C3", lw=1.5)
    if title:
        ax.set_title(title)
    return fig


def nearest_digit(samples, reference, reference_labels):
    """Each sample's nearest reference digit (Fig 2.5's sample check): its mean squared
    distance per pixel and its label, as two arrays of length ``len(samples)``."""
    d = ((samples[:, None, :] - reference[None, :, :]) ** 2).mean(-1)
    return d.min(1), reference_labels[d.argmin(1)]


# ---------------------------------------------------------------------- chapter 3
TOY_KINDS = {
    "toy_circle_square": "(a) circle + square",
    "toy_sine_gradient": "(b) sines + gradient",
    "toy_lines": "(c) two lines",
    "toy_bars_blocks": "(d) odd bars + odd blocks",
}


def toy_datasets_figure(seed=0, n=8):
    """Fig 3.3: the four toy two-cause datasets (top row: data; below: the two true parts)."""
    fig, axes = plt.subplots(3, 4, figsize=(14, 3.0))
    for col, (kind, title) in enumerate(TOY_KINDS.items()):
        toy = make_composite(kind, n=n, seed=seed)
        for row, (images, name) in enumerate(((toy.x, "x"), (toy.part_a, "part A"), (toy.part_b, "part B"))):
            image_grid(axes[row, col], images, n, title=title if row == 0 else None)
            axes[row, 0].set_ylabel(name)
    fig.tight_layout()
    return fig


def inputs_figure(images, n=10):
    """One row of ``n`` input images (Figs 3.4a, 3.6a, 3.7a)."""
    fig, ax = plt.subplots(figsize=(10, 1.6))
    image_grid(ax, images[:n], n)
    return fig


def score_traces_figure(runs, seeds, threshold):
    """Fig 3.4c (ours): the separation score and the old raw and centred reconstruction scores
    after every epoch, one curve per seed; the dotted line is the disentangling threshold."""
    fig, axes = plt.subplots(1, 3, figsize=(14, 3))
    for r, s in zip(runs, seeds):
        epochs = np.arange(1, len(r["trace_score"]) + 1)
        for ax, key in zip(axes, ("trace_separation_centred", "trace_score", "trace_score_centred")):
            ax.plot(epochs, r[key], "o-", label=f"seed {s}")
    titles = (
        ("separation, centred (the verdict's)", "separation score"),
        ("old score, raw", "reconstruction score"),
        ("old score, centred", "reconstruction score"),
    )
    for ax, (title, ylabel) in zip(axes, titles):
        ax.axhline(threshold, color="k", ls=":", lw=1)
        ax.set(xlabel="epoch", ylabel=ylabel, title=title, ylim=(0, 1))
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def components_figure(components, share, image_shape=(28, 28)):
    """Fig 3.5: principal components, each labelled with the gradient's share of its variance."""
    fig, ax = plt.subplots(figsize=(12, 1.9))
    image_grid(ax, components.reshape(-1, *image_shape), len(components))
    for i, value in enumerate(share):
        ax.text(
            i * (image_shape[1] + 1) + image_shape[1] / 2,
            image_shape[0] + 5,
            f"{value:.2f}",
            ha="center",
            fontsize=8,
        )
    return fig


# ---------------------------------------------------------------------- chapter 4
def unit_images(U, image_shape=(28, 28)):
    """Units (columns of a (784, n) matrix) as 28x28 images."""
    U = U.detach().cpu().numpy() if hasattr(U, "detach") else np.asarray(U)
    return U.T.reshape(-1, *image_shape)


def show_model(ax, p, title=None):
    """A Broadnet's weights as in the thesis: top row W (cause A), bottom row V (cause B)."""
    W, V = unit_images(p.W), unit_images(p.V)
    n = max(len(W), len(V))
    lim = float(max(np.abs(W).max(), np.abs(V).max()))

    def pad(U):
        return np.concatenate([U, np.zeros((n - len(U), 28, 28))]) if len(U) < n else U

    ax.imshow(
        tile(np.concatenate([pad(W), pad(V)]), n, pad=2, pad_value=0.0),
        cmap="RdBu_r",
        vmin=-lim,
        vmax=lim,
        interpolation="nearest",
    )
    ax.set_xticks([])
    ax.set_yticks([14, 44], ["A", "B"], fontsize=8)
    if title:
        ax.set_title(title, fontsize=9)
    return lim


def model_figure(p, title=None, figsize=(6, 2.6)):
    """One Broadnet's weights (Fig 4.11): top row W, bottom row V."""
    fig, ax = plt.subplots(figsize=figsize)
    show_model(ax, p, title)
    return fig


def composite_examples_figure(comp, n=16):
    """Fig 4.1: example parts (upright 0/1, rotated 2/4) and their sums, each in [0, 2]."""
    fig, axes = plt.subplots(1, 3, figsize=(9, 3.2))
    panels = zip(
        axes, [comp.part_a, comp.part_b, comp.x], ["(a) left cause", "(b) right cause", "(c) both causes"]
    )
    for ax, imgs, title in panels:
        image_grid(ax, imgs[:n], int(np.sqrt(n)), vmin=0, vmax=2, title=title)
    return fig


def snapshots_figure(snaps, epochs, start="random"):
    """Fig 4.2: a Broadnet's weights at several epochs of CD training (non-finite: diverged)."""
    fig, axes = plt.subplots(len(epochs), 1, figsize=(8, 2.2 * len(epochs)))
    for ax, ep in zip(np.atleast_1d(axes), epochs):
        p = snaps.get(ep)
        if p is None or not np.isfinite(p.W.numpy()).all():
            ax.text(0.5, 0.5, f"epoch {ep}: weights not finite (diverged)", ha="center")
            ax.axis("off")
            continue
        biggest = p.sigma * max(p.W.abs().max(), p.V.abs().max())
        show_model(ax, p, f"epoch {ep} ({start} anti-Hebbian start), max |sigma W| = {biggest:.3g}")
    fig.tight_layout()
    return fig


def weight_growth_figure(runs, epochs):
    """Fig 4.3: mean |sigma W| after every epoch for each anti-Hebbian chain start."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for init, style in [("correct", "-"), ("random", "--"), ("one_network", ":")]:
        ax.plot(np.arange(1, epochs + 1), runs[init]["w"], style, label=init)
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean |weight| (sigma W)")
    ax.set_yscale("log")
    ax.legend(title="anti-Hebbian start")
    return fig


def spike_figure(absw, t0, window):
    """Fig 4.4: |W| and |V| around the largest noise spike, offset to start at the same value."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    offset = absw[window[0], 0] - absw[window[0]]
    for i, name in enumerate(["|W| (cause A)", "|V| (cause B)"]):
        ax.plot(window + 1, absw[window, i] + offset[i], "o-", label=name)
    ax.axvline(t0 + 1.5, color="grey", lw=0.8)
    ax.set_xlabel("iteration")
    ax.set_ylabel("|weight| + constant")
    ax.legend()
    return fig


def posterior_figure(exact, freq, n_samples):
    """Fig 4.5: the exact log-posterior of every state (ordered) and the sampled log-frequencies."""
    seen = freq > 0
    shown = np.argsort(-exact)[: max(int(seen.sum()), 10)]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    ax.plot(np.arange(len(shown)), np.log(exact[shown]), "r-", label="exact log-posterior")
    logfreq = np.where(freq[shown] > 0, np.log(np.maximum(freq[shown], 1e-300)), np.nan)
    ax.plot(np.arange(len(shown)), logfreq, "b.", ms=4, label="log frequency of samples")
    ax.set_xlabel("hidden state (ordered by exact posterior)")
    ax.set_ylabel("log probability")
    ax.legend()
    ax.set_title(f"{n_samples:,} Gibbs samples; {int(seen.sum())} of {len(exact)} states sampled", fontsize=9)
    return fig


def activity_figure(activity_mean, activity_examples):
    """Fig 4.6: inference activity (eq. 4.8) per iteration, some images thin, the mean thick."""
    steps = np.arange(1, len(activity_mean) + 1)
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for row in activity_examples:
        ax.plot(steps, row, color="C0", alpha=0.25)
    ax.plot(steps, activity_mean, "o-", color="C0", lw=2.5, label="mean over the dataset")
    ax.set_xlabel("inference iteration")
    ax.set_ylabel("activity (eq. 4.8)")
    ax.legend()
    return fig


def activity_sweep_figure(results, values, label, cmap="RdYlGn"):
    """Figs 4.7, 4.8: mean activity per iteration for each setting (red: small, green: large)."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    colors = plt.get_cmap(cmap)(np.linspace(0, 1, len(values)))
    for r, v, c in zip(results, values, colors):
        steps = np.arange(1, len(r["activity_mean"]) + 1)
        ax.plot(steps, r["activity_mean"], "o-", ms=3, color=c, label=f"{label}={v:g}")
    ax.set_xlabel("inference iteration")
    ax.set_ylabel("mean activity (eq. 4.8)")
    ax.set_yscale("symlog", linthresh=1.0)
    ax.legend(fontsize=6, ncol=2)
    return fig


def _models_column(fig, panels, rows=4):
    """Draw (params, title) panels down the right half of ``fig``, one per row."""
    for j, (p, title) in enumerate(panels):
        show_model(fig.add_subplot(rows, 2, 2 * j + 2), p, title)


def random_init_figure(hist, panels):
    """Fig 4.9: (a) mean log p(x) during exact-gradient training, one curve per run; right: the
    weights of a few runs (``panels``: (params, title) pairs)."""
    fig = plt.figure(figsize=(11, 4.2))
    ax = fig.add_subplot(1, 2, 1)
    curves(ax, hist / 1.0, x=np.arange(hist.shape[1]), ylabel="mean log p(x) (nats)")
    ax.set_ylim(np.percentile(hist[:, 1:], 1) - 2, hist.max() + 1)
    ax.set_title("(a) log-probability during training")
    _models_column(fig, panels, rows=len(panels))
    fig.tight_layout()
    return fig


def grbm_init_figure(summary, random_hist, panels):
    """Fig 4.10: (a) log p(x) of each arm's runs and their mean, with the random-initialisation
    runs' final mean; right: weights before and after training (``panels``)."""
    fig = plt.figure(figsize=(11, 4.6))
    ax = fig.add_subplot(1, 2, 1)
    for (name, v), color in zip(summary.items(), ["C1", "C2"]):
        for row in v["hist"]:
            ax.plot(row, color=color, alpha=0.3, lw=0.8)
        ax.plot(v["hist"].mean(0), color=color, lw=2.5, label=f"{name}, mean")
    ax.axhline(random_hist[:, -3:].mean(), color="C0", ls="--", label="random init, final mean")
    low = min(np.percentile(random_hist[:, 1:], 1), min(v["start"].min() for v in summary.values()))
    ax.set_ylim(low - 2, random_hist.max() + 1)
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean log p(x) (nats)")
    ax.legend(fontsize=7)
    ax.set_title("(a) log-probability during training")
    _models_column(fig, panels)
    fig.tight_layout()
    return fig


def configurations_figure(logp0, ref_logp):
    """Fig 4.12: log p(x) of every unit configuration before retraining, ordered."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(np.sort(logp0)[::-1], "b.")
    ax.axhline(ref_logp, color="r", ls="--", label="original (disentangled) configuration")
    ax.set_xlabel("configuration (ordered)")
    ax.set_ylabel("mean log p(x) (nats)")
    ax.legend()
    return fig


def retraining_figure(hist, p_ref, panels):
    """Fig 4.13: (a) log p(x) while retraining every configuration (the original dashed red);
    right: (b) the original and the best retrained configurations (``panels``)."""
    fig = plt.figure(figsize=(11, 4.8))
    ax = fig.add_subplot(1, 2, 1)
    for h in hist[1:]:
        ax.plot(h, color="C0", alpha=0.3, lw=0.8)
    ax.plot(hist[0], "r--", lw=2, label="original configuration")
    ax.set_ylim(np.percentile(hist[:, -1], 2) - 5, hist.max() + 1)
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean log p(x) (nats)")
    ax.legend()
    ax.set_title("(a) log-probability while retraining")
    _models_column(fig, [(p_ref, "(b) original")] + list(panels))
    fig.tight_layout()
    return fig


def retraining_curves_figure(hist, orig_final):
    """Fig 4.16: log p(x) of every rearranged configuration over retraining."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for h in hist[1:]:
        ax.plot(h, color="C0", alpha=0.3, lw=0.8)
    ax.axhline(orig_final, color="r", ls="--", label="retrained original configuration")
    ax.set_ylim(np.percentile(hist[:, -1], 2) - 5, hist.max() + 1)
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean log p(x) (nats)")
    ax.legend()
    return fig


def distances_figure(distances, moved, lines, ylabel, title, panels):
    """Figs 4.14, 4.15: (a) model differences (eq. 4.12), ordered, against the distance the
    original moved while retraining and the yardsticks in ``lines`` ((value, style, label));
    right: models (``panels``)."""
    fig = plt.figure(figsize=(11, 4.2))
    ax = fig.add_subplot(1, 2, 1)
    ax.plot(np.sort(distances), "b.")
    ax.axhline(moved, color="r", ls="--", label="distance the original moved while retraining")
    for value, (color, style), label in lines:
        ax.axhline(value, color=color, ls=style, label=label)
    ax.set_xlabel("configuration (ordered)")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    ax.set_title(title)
    _models_column(fig, panels)
    fig.tight_layout()
    return fig


def interpolation_figure(d_to_orig, d_to_swap, alphas, unit_tiles, pair):
    """Fig 4.17: (a) model difference of each retrained interpolation to both endpoints; (b) the
    interpolated pair of units after training, for every alpha."""
    fig = plt.figure(figsize=(11, 4.2))
    ax = fig.add_subplot(1, 2, 1)
    for row in d_to_orig:
        ax.plot(alphas, row, "o-", color="C0", alpha=0.5)
    ax.plot(alphas, d_to_orig.mean(0), "o-", color="r", lw=2.5, label="mean, to the original")
    ax.plot(alphas, d_to_swap.mean(0), "s--", color="g", lw=2, label="mean, to the swapped model")
    ax.set_xlabel("alpha (eq. 4.13; 1 = original, 0 = swapped)")
    ax.set_ylabel("model difference (eq. 4.12)")
    ax.legend()
    ax.set_title("(a) retrained interpolations vs the two endpoints")
    ax = fig.add_subplot(1, 2, 2)
    lim = np.abs(unit_tiles).max()
    ax.imshow(tile(unit_tiles, len(alphas), pad=2, pad_value=0.0), cmap="RdBu_r", vmin=-lim, vmax=lim)
    ax.set_xticks([])
    ax.set_yticks([])
    j, k = pair
    ax.set_title(
        f"(b) A unit {j + 1} (top) and B unit {k + 1} (bottom) after training,\n"
        f"alpha = {alphas} left to right",
        fontsize=9,
    )
    fig.tight_layout()
    return fig


def interpolated_units(models, pair):
    """The interpolated pair's two units in each model (one per alpha) as a (2 * n, 28, 28) stack:
    A's unit for every alpha, then B's."""
    j, k = pair
    tiles = []
    for m in models:
        tiles += [unit_images(m.W)[j], unit_images(m.V)[k]]
    n = len(models)
    return np.array(tiles).reshape(n, 2, 28, 28).transpose(1, 0, 2, 3).reshape(-1, 28, 28)
