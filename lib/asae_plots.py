"""The figures of thesis chapter 8 (split autoencoders): the datasets (Fig 8.1), the ASAE
(Fig 8.2), example reconstructions, MI curves and the optimiser study. The numbers they show are
computed in ``lib.chapters.ch08_split_autoencoders``."""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyArrowPatch

from lib.chapters.ch08_split_autoencoders import DATASETS, GT_THRESHOLD, final, mi_and_error
from lib.diagrams import arrow, blank_axes, box
from lib.plots import curves, image_grid


def datasets_figure(datasets):
    """Fig 8.1: a row of examples per dataset."""
    fig, axes = plt.subplots(len(datasets), 1, figsize=(9, 5.4))
    for ax, (kind, data) in zip(axes, datasets.items()):
        image_grid(ax, data.x, len(data.x), vmin=0, vmax=1, title=DATASETS[kind])
    fig.tight_layout()
    return fig


def asae_diagram():
    """Fig 8.2: two autoencoders on the same input, outputs added (section 8.3)."""
    fig, ax = blank_axes(6, 2.4, xlim=(0, 10), ylim=(0, 4))
    x = box(ax, (1, 2), "$x$", 0.8)
    za, zb = box(ax, (4.2, 3.1), "$z_A$", 0.9), box(ax, (4.2, 0.9), "$z_B$", 0.9)
    plus = box(ax, (7.2, 2), "+", 0.5, 0.5, color="white")
    box(ax, (9.2, 2), "$y$", 0.8)
    for start, end, label in [(x, za, "$f_A$"), (x, zb, "$f_B$"), (za, plus, "$g_A$"), (zb, plus, "$g_B$")]:
        arrow(ax, start, end, label)
    dashed = FancyArrowPatch(
        (7.5, 2), (8.8, 2), arrowstyle="-|>", mutation_scale=12, linestyle="--", lw=1.2, color="k"
    )
    ax.add_patch(dashed)  # the addition has no parameters
    return fig


def _panel(ax, run, title, double_middle=False):
    """Example reconstructions of one run, a row per example: input, y_A, y_B, y (as Fig 8.3)."""
    ex = np.array(run["examples"], dtype=float)  # (4, n_examples, h, w)
    if double_middle:
        ex[1:3] *= 2
    rows = np.swapaxes(ex, 0, 1).reshape(-1, *ex.shape[2:])
    image_grid(ax, np.clip(rows, 0, 1), 4, vmin=0, vmax=1, title=title)


def example_figure(runs, idx, letters="abcd", double_middle=False):
    """Figs 8.3, 8.6, 8.7, 8.10: example reconstructions of the runs ``idx``, a panel each."""
    fig, axes = plt.subplots(1, len(idx), figsize=(3.2 * len(idx), 3.6), squeeze=False)
    for ax, i, letter in zip(axes[0], idx, letters):
        r = runs[i]
        title = (
            f"({letter}) run {i}\nMI {r['mi'][-1]:.3f}, score {r['final_disentanglement']:.2f}"
            f"{' (disentangled)' if r['final_disentangled'] else ''}\n"
            f"recon score {r['recon'][-1]:.2f}\n" + r"$x$ | $y_A$ | $y_B$ | $y$"
        )
        _panel(ax, r, title, double_middle)
    fig.tight_layout()
    return fig


def mi_figure(runs, highlight=(), epochs_axis=None):
    """Figs 8.4, 8.8, 8.9, 8.11: MI curves (the thesis's figure) with the same runs'
    reconstruction and probe scores beside them, and the final MI against the final scores."""
    mi = np.array([r["mi"] for r in runs], float)
    x = np.arange(mi.shape[1]) if epochs_axis is None else epochs_axis
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.4))
    curves(axes[0], mi, x=x, ylabel="KSG MI between codes (nats)", highlight=highlight)
    curves(
        axes[1],
        [r["recon"] for r in runs],
        x=x,
        color="C2",
        ylabel="reconstruction score",
        highlight=highlight,
    )
    curves(axes[2], [r["probe"] for r in runs], x=x, color="C1", ylabel="probe score", highlight=highlight)
    for ax in axes[1:3]:
        ax.set_ylim(-0.02, 1.02)
    ax = axes[3]
    ax.scatter(mi[:, -1], final(runs, "recon"), color="C2", label="reconstruction score")
    ax.scatter(mi[:, -1], final(runs, "probe"), color="C1", marker="^", label="probe score")
    ax.scatter(
        mi[:, -1],
        [r["final_disentanglement"] for r in runs],
        color="C3",
        marker="s",
        label="disentangling score (verdicts)",
    )
    ax.axhline(0.5, color="C3", ls=":", lw=1)
    ax.set(xlabel="final KSG MI (nats)", ylabel="final ground-truth score", ylim=(-0.02, 1.02))
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def mi_error_figure(runs):
    """Fig 8.5: final MI against final reconstruction error, with the least-squares line."""
    mi2, err2 = mi_and_error(runs)
    ok = np.isfinite(mi2)
    slope, intercept = np.polyfit(mi2[ok], err2[ok], 1)
    fig, ax = plt.subplots(figsize=(4.5, 3.4))
    ax.scatter(mi2, err2, color="C0")
    grid = np.linspace(np.nanmin(mi2), np.nanmax(mi2), 50)
    ax.plot(grid, slope * grid + intercept, color="C3")
    ax.set(xlabel="final KSG MI (nats)", ylabel="final reconstruction error (MSE)")
    fig.tight_layout()
    return fig


def study_figure(groups, scored):
    """Section 8.6's study: final MI, disentangling score and reconstruction score per run."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.4))
    for k, (name, runs) in enumerate(groups.items()):
        jitter = np.random.default_rng(k).uniform(-0.15, 0.15, len(runs))
        axes[0].scatter(k + jitter, final(runs, "mi"), color=f"C{k}")
        jitter_scored = np.random.default_rng(k).uniform(-0.15, 0.15, len(scored[name]))
        axes[1].scatter(k + jitter_scored, [r["final_disentanglement"] for r in scored[name]], color=f"C{k}")
        axes[2].scatter(k + jitter, final(runs, "recon"), color=f"C{k}")
    labels = ["final KSG MI (nats)", "final disentangling score", "final reconstruction score"]
    for ax, label, line in zip(axes, labels, [0.2, 0.5, GT_THRESHOLD]):
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels(list(groups), rotation=30, ha="right")
        ax.set_ylabel(label)
        ax.axhline(line, color="k", ls=":", lw=1)
    for ax in axes[1:]:
        ax.set_ylim(-0.02, 1.02)
    fig.tight_layout()
    return fig
