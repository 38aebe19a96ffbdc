"""Shared plotting: image grids, MI curves with their ground-truth companions, figure saving."""

import matplotlib.pyplot as plt
import numpy as np

from lib.experiments import results_dir


def save_figure(fig, name, profile, dpi=110):
    """Save ``fig`` as ``results/<profile>/figures/<name>.png`` and return the path."""
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
    canvas = np.full((nrows * (h + pad) - pad, ncols * (w + pad) - pad), fill)
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
    """Three panels: MI curves, the same runs' ground-truth score, and final MI vs final score."""
    mi_runs, truth_runs = np.asarray(mi_runs, float), np.asarray(truth_runs, float)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
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


def claims_figure(claims, width=9.0):
    """Every claim as one row grouped by method, its verdict shown by colour and symbol.

    ``claims`` are registry entries (``lib.claims``); each row is labelled with the claim id and
    the thesis's statement. Columns: the verdict at this profile and, where a claim carries an
    ``evidence_verdict`` (the thesis-scale evidence), that verdict too.
    """
    claims = sorted(claims, key=lambda c: c["method"])
    fig, ax = plt.subplots(figsize=(width, 0.32 * len(claims) + 1.2))
    columns = ["this profile", "thesis scale"]
    for row, claim in enumerate(claims):
        for col, verdict in enumerate((claim["verdict"], claim.get("evidence_verdict"))):
            if verdict:
                marker, color, _ = VERDICT_STYLE[verdict]
                ax.scatter(col, row, marker=marker, s=90, color=color, zorder=3)
    labels = [f"{c['method']} · {c['id']}: {c['thesis'][:60]}" for c in claims]
    ax.set(
        yticks=range(len(claims)),
        xticks=range(len(columns)),
        xlim=(-0.6, 1.6),
        ylim=(len(claims) - 0.5, -0.5),
    )
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xticklabels(columns)
    ax.xaxis.tick_top()
    ax.grid(axis="y", color="0.9")
    handles = [
        plt.Line2D([], [], marker=m, color=c, ls="", label=lab) for m, c, lab in VERDICT_STYLE.values()
    ]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0), ncol=4, fontsize=8, frameon=False)
    fig.tight_layout()
    return fig
