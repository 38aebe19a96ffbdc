"""Figures for chapters 2-3: RBM / CD-k / Broadnet diagrams (Figs 2.2, 2.3, 3.1, 3.2) and the
reconstructions-over-inference-steps layout of Figs 3.4, 3.6 and 3.7."""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Circle, Rectangle, Wedge

from lib.diagrams import blank_axes, connect, unit_layer
from lib.plots import tile

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
