"""Shared plotting: image grids, MI curves with their ground-truth companions, figure saving, and
chapter 9's figures (the DDN diagram, cross plots, reconstructions, MI and score curves)."""

import warnings

import matplotlib.pyplot as plt
import matplotlib.text
import numpy as np

from lib.diagrams import arrow, box
from lib.experiments import results_dir

# The book's column shows a figure about COLUMN_INCHES wide at its own size (about 800 px at
# 1280 px), so text of MIN_POINTS there reads as at least 9 pt; a wider figure is shrunk to it.
COLUMN_INCHES, MIN_POINTS = 8.5, 9.5


def _reflow_row(fig, max_cols=3, row_inches=2.9):
    """A figure that is one row of four or more panels (``plt.subplots(1, n)``) becomes rows of
    at most ``max_cols`` (2 for four panels), each panel keeping its content; True if it did."""
    axes = [ax for ax in fig.axes if ax.get_subplotspec() is not None]
    specs = [ax.get_subplotspec() for ax in axes]
    grid = specs[0].get_gridspec() if specs else None
    one_row = grid is not None and grid.nrows == 1 and all(s.get_gridspec() is grid for s in specs)
    if not one_row or len(axes) < 4 or len(axes) != len(fig.axes) or grid.ncols != len(axes):
        return False
    cols = 2 if len(axes) == 4 else max_cols
    rows = -(-len(axes) // cols)
    new = fig.add_gridspec(rows, cols)
    for ax, spec in sorted(zip(axes, specs), key=lambda a: a[1].colspan.start):
        k = spec.colspan.start
        ax.set_subplotspec(new[k // cols, k % cols])
    fig.set_size_inches(COLUMN_INCHES, row_inches * rows)
    return True


def fit_column(fig):
    """Make ``fig`` legible at the column's width: a row of four or more panels reflowed into
    rows (``_reflow_row``); otherwise narrowed to ``COLUMN_INCHES`` (its height by the square root
    of that ratio, so a row of panels does not flatten); every text at least ``MIN_POINTS``;
    then laid out again."""
    width, height = fig.get_size_inches()
    reflowed = width > COLUMN_INCHES and _reflow_row(fig)
    if width > COLUMN_INCHES and not reflowed:
        fig.set_size_inches(COLUMN_INCHES, height * (COLUMN_INCHES / width) ** 0.5)
    for text in fig.findobj(matplotlib.text.Text):
        if text.get_text() and text.get_fontsize() < MIN_POINTS:
            text.set_fontsize(MIN_POINTS)
    if fig.get_layout_engine() is None:
        with warnings.catch_warnings():  # a hand-placed figure that tight_layout cannot improve
            warnings.simplefilter("ignore")
            fig.tight_layout(h_pad=3.0 if reflowed else None)  # room for x labels above titles
    return fig


def save_figure(fig, name, profile, dpi=110):
    """Fit ``fig`` to the column (``fit_column``), save it as
    ``results/<profile>/figures/<name>.png`` and return the path."""
    fit_column(fig)
    folder = results_dir(profile) / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path


def tile(images, ncols, pad=1, pad_value=None):
    """Tile a stack of 2-D images (n, h, w) into one 2-D array with ``ncols`` columns."""
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 3:
        raise ValueError(f"tile expects a stack of 2-D images (n, h, w), got shape {images.shape}")
    n, h, w = images.shape
    nrows = int(np.ceil(n / ncols))
    fill = np.nanmin(images) if pad_value is None else pad_value
    canvas = np.full((nrows * (h + pad) - pad, ncols * (w + pad) - pad), float(fill))  # never an int canvas
    for i, img in enumerate(images):
        r, c = divmod(i, ncols)
        canvas[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = img
    return canvas


def image_grid(ax, images, ncols, vmin=None, vmax=None, cmap="gray", title=None):
    """Draw a grid of 2-D images on one axes (no ticks)."""
    ax.imshow(tile(images, ncols), cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax


def image_rows(images_by_row, row_labels, ncols=None, vmin=None, vmax=None, width=None):
    """A figure with one labelled row of images per entry (e.g. input / cause A / cause B)."""
    ncols = ncols or len(images_by_row[0])
    width = width or max(4.0, 1.0 * ncols)
    fig, axes = plt.subplots(len(images_by_row), 1, figsize=(width, 1.15 * len(images_by_row)), squeeze=False)
    for ax, imgs, label in zip(axes[:, 0], images_by_row, row_labels):
        image_grid(ax, np.asarray(imgs)[:ncols], ncols, vmin=vmin, vmax=vmax)
        ax.set_ylabel(label, rotation=0, ha="right", va="center")
    fig.tight_layout()
    return fig


def curves(ax, runs, x=None, label=None, color="C0", ylabel=None, xlabel="epoch", highlight=()):
    """Plot each run's curve thinly and their mean thickly (the thesis's MI-curve style)."""
    runs = np.asarray(runs, dtype=np.float64)
    x = np.arange(1, runs.shape[1] + 1) if x is None else x
    for i, run in enumerate(runs):
        ax.plot(x, run, color=color, alpha=0.9 if i in highlight else 0.3, lw=1.6 if i in highlight else 0.8)
    ax.plot(x, np.nanmean(runs, axis=0), color="k", lw=2, label=f"mean{'' if not label else ' ' + label}")
    ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    ax.legend(loc="best", fontsize=8)
    return ax


def mi_with_truth(mi_runs, truth_runs, truth_label="ground-truth score", x=None, title=None):
    """Three panels: MI curves and the same runs' ground-truth score (top), and final MI against
    final score (bottom), at the column's width (7.5 in) so that 10-pt text stays legible."""
    mi_runs, truth_runs = np.asarray(mi_runs, float), np.asarray(truth_runs, float)
    fig = plt.figure(figsize=(7.5, 6.2))
    grid = fig.add_gridspec(2, 2)
    axes = [fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1]), fig.add_subplot(grid[1, :])]
    curves(axes[0], mi_runs, x=x, ylabel="KSG MI (nats)")
    curves(axes[1], truth_runs, x=x, color="C2", ylabel=truth_label)
    axes[2].scatter(mi_runs[:, -1], truth_runs[:, -1], color="C3")
    axes[2].set_xlabel("final KSG MI (nats)")
    axes[2].set_ylabel(f"final {truth_label}")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


VERDICT_STYLE = {
    "agrees": ("o", "#2e7d32", "agrees"),
    "partly": ("D", "#ef8f00", "partly"),
    "does not agree": ("X", "#c62828", "does not agree"),
    "not tested": ("s", "#9e9e9e", "not tested"),
}


def claims_figure(claims, width=7.0):
    """How many claims of each chapter got each verdict, at this profile and at the thesis's scale.

    ``claims`` are registry entries (``lib.claims``, with ``chapter_title`` as
    ``lib.summary.all_claims`` gives them), in chapter order. One horizontal bar per chapter for
    the verdicts at this profile, and one more where its claims have an ``evidence_verdict`` (the
    thesis-scale evidence), split by verdict with the counts written in; the claim-by-claim
    detail is in the tables.
    """
    groups = list(dict.fromkeys(c.get("chapter_title", c["method"]) for c in claims))
    bars = []  # (label, {verdict: count})
    for group in groups:
        mine = [c for c in claims if c.get("chapter_title", c["method"]) == group]
        short = group.split(" — ")[0].replace("Chapter ", "").replace(":", ".", 1)
        for label, key in ((short, "verdict"), ("at the thesis's sizes", "evidence_verdict")):
            counts = {v: sum(c.get(key) == v for c in mine) for v in VERDICT_STYLE}
            if sum(counts.values()):
                bars.append((label, counts))
    fig, ax = plt.subplots(figsize=(width, 0.42 * len(bars) + 1.3))
    for row, (_, counts) in enumerate(bars):
        left = 0
        for verdict, (_, color, _) in VERDICT_STYLE.items():
            n = counts[verdict]
            if n:
                ax.barh(row, n, left=left, color=color, edgecolor="white", height=0.7)
                ax.text(left + n / 2, row, str(n), ha="center", va="center", color="white", fontsize=10)
                left += n
    ax.set_yticks(range(len(bars)), [label for label, _ in bars], fontsize=10)
    ax.set_ylim(len(bars) - 0.5, -0.5)
    ax.set_xlabel("claims", fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c, label=lab) for _, c, lab in VERDICT_STYLE.values()]
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=10, frameon=False)
    return fig


# ----------------------------------------------------------------------------- chapter 9 (DDN)
def cross_figure(run, title=None):
    """Cross plot (fig. 9.6): top row and left column are the inputs; cell (i, j) decodes z_a of
    the input above it (column j) with z_b of the input left of it (row i)."""
    h, w = (int(v) for v in run["shape"])
    xs, grid = np.asarray(run["x_show"]).reshape(-1, h, w), np.asarray(run["cross"])
    n = len(xs)
    canvas = np.full(((n + 1) * (h + 2), (n + 1) * (w + 2)), 0.5)

    def put(i, j, img):
        canvas[i * (h + 2) + 1 : i * (h + 2) + 1 + h, j * (w + 2) + 1 : j * (w + 2) + 1 + w] = img

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


def reconstruction_figure(runs, names, n_rows=6, suffix=""):
    """Fig. 9.7: for each run, columns input, y_a (z_a only), y_b (z_b only), y_ab (both)."""
    h, w = (int(v) for v in runs[0]["shape"])
    cols = ["x_show", "y_a" + suffix, "y_b" + suffix, "y_ab" + suffix]
    heads = ["x", "y_a", "y_b", "y_ab"]
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
                    ax.set_title(f"{name}\n{heads[c]}" if c == 0 else heads[c], fontsize=8)
    fig.tight_layout()
    return fig


def ddn_diagram():
    """Figs 9.2 and 9.3 as two panels: (a) the basic DDN (encoders f^a, f^b, predictors q^ab,
    q^ba); (b) with the decoders g^a, g^b, g^ab of stage 2."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.3))
    for ax, extended in zip(axes, [False, True]):
        ax.set_xlim(0, 10), ax.set_ylim(0, 6), ax.axis("off")
        x = box(ax, (1, 3), "$x$", 0.8)
        za, zb = box(ax, (4, 4.5), "$z^a$", 0.8), box(ax, (4, 1.5), "$z^b$", 0.8)
        arrow(ax, x, za, "$f^a$"), arrow(ax, x, zb, "$f^b$")
        arrow(ax, za, zb, rad=0.35), arrow(ax, zb, za, rad=0.35)  # arc3: a->b bends left, b->a right
        (
            ax.text(3.25, 3, "$q^{ab}$", ha="right", va="center"),
            ax.text(4.75, 3, "$q^{ba}$", ha="left", va="center"),
        )
        if extended:
            ya, yab = box(ax, (8, 5), "$y^a$", 0.8), box(ax, (8, 3), "$y^{ab}$", 0.8)
            yb = box(ax, (8, 1), "$y^b$", 0.8)
            arrow(ax, za, ya, "$g^a$"), arrow(ax, zb, yb, "$g^b$")
            arrow(ax, za, yab), arrow(ax, zb, yab, "$g^{ab}$")
        ax.set_title("(b) with decoders (Fig 9.3)" if extended else "(a) the basic DDN (Fig 9.2)", fontsize=9)
    fig.tight_layout()
    return fig


def gmmn_figure(g):
    """Fig 9.1: the GMMN's input, its output and the target codes (first two dimensions), the
    last two panels on the same axes."""
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.4))
    titles = ["(a) GMMN input: spherical Gaussian", "(b) GMMN output", "(c) target: autoencoder codes"]
    for ax, key, title in zip(axes, ["input", "output", "target"], titles):
        ax.scatter(*np.asarray(g[key])[:, :2].T, s=3, alpha=0.5, color="C0" if key != "target" else "C1")
        ax.set_title(title, fontsize=9)
    lims = np.percentile(np.concatenate([g["output"], g["target"]]), [1, 99], axis=0)
    for ax in axes[1:]:
        ax.set_xlim(lims[0, 0], lims[1, 0]), ax.set_ylim(lims[0, 1], lims[1, 1])
    fig.tight_layout()
    return fig


def penalty_figure(cfgs, runs):
    """KSG MI (left) and probe score (right) per epoch of each penalty run (section 9.1)."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    for c, r in zip(cfgs, runs):
        label = f"{c['penalty']} / {c['kind']}"
        axes[0].plot(r["mi"], label=label), axes[1].plot(r["truth"], label=label)
    axes[0].set_ylabel("KSG MI (nats)"), axes[1].set_ylabel("probe score")
    for ax in axes:
        ax.set_xlabel("epoch"), ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def chase_figure(cfgs, runs, snapshots):
    """Fig 9.4: z_a (dots, coloured by the left digit) and its prediction q_ba(z_b) (crosses) at
    each snapshot epoch, one row per predictor learning rate, the same axes within a row."""
    fig, axes = plt.subplots(
        len(runs), len(snapshots), figsize=(3.2 * len(snapshots), 3.2 * len(runs)), squeeze=False
    )
    for row, (c, r) in enumerate(zip(cfgs, runs)):
        za, pa = np.asarray(r["za"]), np.asarray(r["pred_za"])
        lo, hi = np.percentile(np.concatenate([za.reshape(-1, 2), pa.reshape(-1, 2)]), [0.5, 99.5], axis=0)
        for j, e in enumerate(snapshots):
            ax = axes[row, j]
            ax.scatter(*za[j].T, c=r["label_a"], cmap="tab10", s=3, label="$z^a$")
            ax.scatter(*pa[j].T, color="k", marker="x", s=4, lw=0.5, label="prediction $q^{ba}(z^b)$")
            ax.set_xlim(lo[0], hi[0]), ax.set_ylim(lo[1], hi[1])
            ax.set_title(f"epoch {e}, predictor lr {c['lr_pred']}", fontsize=8)
    axes[0, 0].legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def _score_panel(ax, runs, ep):
    """Probe-score curves with each run's final disentangling score as a red square at the end."""
    curves(ax, [r["truth"] for r in runs], x=ep, color="C2", ylabel="probe score")
    ax.scatter(
        [ep[-1]] * len(runs),
        [r["final_disentanglement"] for r in runs],
        color="C3",
        marker="s",
        zorder=3,
        label="disentangling score (final codes)",
    )
    ax.legend(fontsize=7, loc="upper left")


def variants_figure(cmp_runs, names, width=7.5):
    """The DDN variants on Simple MNIST in three panels, one colour per variant: mean KSG MI over
    training (top); each run's final disentangling score, with the variant's mean as a bar
    (middle); mean held-out probe accuracy of each code for its own digit and for the other digit
    (bottom: a disentangled pair reads its own digit well and the other at chance, 0.1)."""
    import textwrap

    tags = list(cmp_runs)
    colors = [f"C{i}" for i in range(len(tags))]
    labels = [textwrap.fill(names[t], 34) for t in tags]
    fig, axes = plt.subplots(3, 1, figsize=(width, 2.0 + 1.2 * len(tags)), height_ratios=[0.7, 1, 1])
    for tag, color in zip(tags, colors):
        runs = cmp_runs[tag]
        axes[0].plot(runs[0]["epoch"], np.nanmean([r["mi"] for r in runs], 0), color=color, lw=1.8)
    axes[0].set(xlabel="epoch (stages 1 and 3)", ylabel="mean KSG MI (nats)")
    axes[0].set_title("colours: the variants named below", fontsize=10)
    y = np.arange(len(tags))
    for row, (tag, color) in enumerate(zip(tags, colors)):
        scores = [r["final_disentanglement"] for r in cmp_runs[tag]]
        axes[1].barh(row, np.mean(scores), color=color, alpha=0.35, height=0.7)
        axes[1].scatter(scores, [row] * len(scores), color=color, s=22, zorder=3)
        acc = np.mean(
            [np.asarray(r["final_acc"]).ravel() for r in cmp_runs[tag]], 0
        )  # a->l, a->r, b->l, b->r
        own, other = (acc[0] + acc[3]) / 2, (acc[1] + acc[2]) / 2
        axes[2].barh(row - 0.18, own, height=0.34, color=color)
        axes[2].barh(row + 0.18, other, height=0.34, color=color, alpha=0.35, hatch="//")
    axes[1].set(xlabel="disentangling score of the final codes (dots: runs; bar: mean)", xlim=(0, 1))
    axes[2].set(xlabel="probe accuracy (solid: own digit; hatched: the other digit)", xlim=(0, 1))
    axes[2].axvline(0.1, color="0.4", ls=":", lw=1)
    for ax in axes[1:]:
        ax.set_yticks(y, labels, fontsize=9)
        ax.set_ylim(len(tags) - 0.5, -0.5)
        for tick, color in zip(ax.get_yticklabels(), colors):
            tick.set_color(color)
    for ax in axes:
        ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def ddn_mi_figure(runs):
    """Figs 9.5, 9.9, 9.12: KSG MI (left) and probe score with the final disentangling score
    (right, dotted: its minimum effect 0.5) over stages 1 and 3; dashed: the end of stage 1."""
    ep = runs[0]["epoch"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.3))
    curves(axes[0], [r["mi"] for r in runs], x=ep, ylabel="KSG MI (nats)")
    _score_panel(axes[1], runs, ep)
    axes[1].set_ylabel("probe score; final disentangling score")
    axes[1].axhline(0.5, color="C3", ls=":", lw=0.8)
    e1 = int(ep[np.asarray(runs[0]["stage"]) == 1].max())
    for ax in axes:
        ax.axvline(e1, color="0.6", ls="--", lw=0.8)
    fig.tight_layout()
    return fig


def shared_encoder_figure(cfgs, runs):
    """Section 9.5.1: MI, predictor loss and probe score during stage 1, split encoders (blue)
    against one shared encoder (red)."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.2))
    for c, r in zip(cfgs, runs):
        label = "one shared encoder" if c["shared_encoder"] else "split encoders"
        col = "C3" if c["shared_encoder"] else "C0"
        axes[0].plot(r["epoch"], r["mi"], color=col, label=label)
        axes[1].plot(r["epoch"][1:], r["pred_loss"][1:], color=col, label=label)
        axes[2].plot(r["epoch"], r["truth"], color=col, label=label)
    for ax, yl in zip(axes, ["KSG MI (nats)", "predictor loss", "probe score"]):
        ax.set_ylabel(yl), ax.set_xlabel("epoch"), ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def depth_figure(depths, cfgs, runs):
    """Section 9.5.2: MI (left) and probe score (right) during stage 1 for each encoder depth."""
    depths = list(depths)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.2))
    for d in depths:
        rs = [r for c, r in zip(cfgs, runs) if c["layers"][0] == d]
        for i, r in enumerate(rs):
            label = f"L_e = {d}" if i == 0 else None
            axes[0].plot(r["epoch"], r["mi"], color=f"C{depths.index(d)}", label=label)
            axes[1].plot(r["epoch"], r["truth"], color=f"C{depths.index(d)}", label=label)
    for ax, yl in zip(axes, ["KSG MI (nats)", "probe score"]):
        ax.set_ylabel(yl), ax.set_xlabel("epoch (stage 1)"), ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
