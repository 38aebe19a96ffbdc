"""Primitives for the model diagrams, drawn in matplotlib (thesis Figs 2.2, 3.1, 7.1, 8.2, 9.2 ...).

A diagram is a set of named boxes (``box``) or layers of units (``unit_layer``) joined by arrows
(``arrow``) or all-to-all connections (``connect``). Coordinates are in data units on an axes whose
limits the caller sets (``blank_axes``).
"""

import matplotlib.pyplot as plt
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch


def blank_axes(width=6, height=4, xlim=(0, 10), ylim=(0, 6)):
    """A figure with one frameless axes of the given data limits, equal aspect."""
    fig, ax = plt.subplots(figsize=(width, height))
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig, ax


def box(ax, xy, text, width=1.6, height=0.7, color="#dde8f5", fontsize=10):
    """A rounded box centred at ``xy`` with a label; returns its centre and half sizes."""
    x, y = xy
    ax.add_patch(
        FancyBboxPatch(
            (x - width / 2, y - height / 2), width, height, boxstyle="round,pad=0.05", fc=color, ec="k", lw=1
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)
    return {"xy": (x, y), "w": width / 2, "h": height / 2}


def arrow(ax, start, end, text=None, style="-|>", color="k", rad=0.0, lw=1.2, fontsize=9):
    """An arrow between two boxes (dicts from ``box``) or points, optionally labelled."""
    p, q = (_edge_point(start, end), _edge_point(end, start))
    ax.add_patch(
        FancyArrowPatch(
            p, q, arrowstyle=style, mutation_scale=12, color=color, lw=lw, connectionstyle=f"arc3,rad={rad}"
        )
    )
    if text:
        ax.text(
            (p[0] + q[0]) / 2, (p[1] + q[1]) / 2, text, fontsize=fontsize, ha="left", va="bottom", color=color
        )


def unit_layer(ax, centre, n, spacing=0.6, radius=0.2, color="white", label=None):
    """A horizontal row of ``n`` unit circles centred at ``centre``; returns their centres."""
    x0 = centre[0] - spacing * (n - 1) / 2
    points = [(x0 + i * spacing, centre[1]) for i in range(n)]
    for p in points:
        ax.add_patch(Circle(p, radius, fc=color, ec="k", lw=1))
    if label:
        ax.text(points[-1][0] + spacing, centre[1], label, va="center", fontsize=10)
    return points


def connect(ax, lower, upper, color="0.5", lw=0.6):
    """All-to-all lines between two unit layers (an RBM's undirected weights)."""
    for p in lower:
        for q in upper:
            ax.plot([p[0], q[0]], [p[1], q[1]], color=color, lw=lw, zorder=0)


def _edge_point(a, b):
    """Where the line from ``a``'s centre towards ``b`` leaves ``a``'s box (points stay points)."""
    if not isinstance(a, dict):
        return a
    (x, y), target = a["xy"], b["xy"] if isinstance(b, dict) else b
    dx, dy = target[0] - x, target[1] - y
    if dx == dy == 0:
        return (x, y)
    scale = min(a["w"] / abs(dx) if dx else float("inf"), a["h"] / abs(dy) if dy else float("inf"))
    return (x + dx * scale, y + dy * scale)


# ---- the book's model diagrams ------------------------------------------------------------------


def explaining_away_diagram(p_burglary, p_earthquake, p_b_given_a, p_b_given_ae):
    """Thesis Fig 2.1: burglary and earthquake, independent causes of the alarm (section 2.3)."""
    fig, ax = blank_axes(6, 3.2, xlim=(0, 10), ylim=(0, 5))
    burglary = box(ax, (2.2, 4.0), f"Burglary\nP = {p_burglary}", width=2.6, height=1.0)
    earthquake = box(ax, (7.8, 4.0), f"Earthquake\nP = {p_earthquake}", width=2.6, height=1.0)
    alarm = box(ax, (5.0, 1.2), "Alarm", width=2.2, height=0.8, color="#f5e0d0")
    arrow(ax, burglary, alarm)
    arrow(ax, earthquake, alarm)
    text = f"P(B | A) = {p_b_given_a:.3f}     P(B | A, E) = {p_b_given_ae:.4f}"
    ax.text(5.0, 0.2, text, ha="center", fontsize=9)
    return fig


def ppica_diagram():
    """Thesis Fig 6.1: ICA sources s_j feed the observed x; binary memberships m_j (optimised)
    assign each source to a cause (eq. 6.1-6.2)."""
    fig, ax = blank_axes(7, 2.6, xlim=(0, 10), ylim=(0, 4))
    x = box(ax, (5, 0.6), "$x$", 0.8)
    for i, xs in enumerate([1.5, 3.5, 6.5, 8.5]):
        index = "d" if i == 3 else i + 1
        s = box(ax, (xs, 2.0), f"$s_{{{index}}}$", 0.8)
        m = box(ax, (xs, 3.4), f"$m_{{{index}}}$", 0.8, color="#f5e3c8")
        arrow(ax, s, x)
        arrow(ax, m, s)
    ax.text(5, 2.0, "...", ha="center", va="center", fontsize=14)
    ax.add_patch(plt.Rectangle((0.8, 2.95), 8.4, 0.9, fill=False, ls="--", lw=1))
    ax.text(9.3, 3.4, "optimised", fontsize=8, va="center")
    return fig


def autoencoder_diagram():
    """Thesis Fig 7.1: encoder f maps x to the code z, decoder g maps z to y (eq. 7.1)."""
    fig, ax = blank_axes(6, 1.0, xlim=(0, 10), ylim=(0.8, 2.2))
    x, z, y = box(ax, (1, 1.5), "$x$", 1.0), box(ax, (5, 1.5), "$z$", 0.8), box(ax, (9, 1.5), "$y$", 1.0)
    arrow(ax, x, z, "$f$")
    arrow(ax, z, y, "$g$")
    return fig


def adversarial_autoencoder_diagram():
    """Thesis Fig 7.2: an autoencoder whose code z, or a prior sample, goes to a discriminator d."""
    fig, ax = blank_axes(6, 3, xlim=(0, 10), ylim=(0, 5))
    x, z, y = box(ax, (1, 3.8), "$x$", 1.0), box(ax, (5, 3.8), "$z$", 0.8), box(ax, (9, 3.8), "$y$", 1.0)
    prior = box(ax, (2.6, 1.2), "prior $p(z)$", 2.0)
    d, c = box(ax, (5, 1.2), "$d$", 0.8), box(ax, (8, 1.2), "$c$", 0.8)
    arrow(ax, x, z, "$f$")
    arrow(ax, z, y, "$g$")
    arrow(ax, z, d, " or")
    arrow(ax, prior, d)
    arrow(ax, d, c)
    return fig


def gan_diagram():
    """Thesis Fig 7.3: a generator g maps z to y; a discriminator d tells y from data x."""
    fig, ax = blank_axes(6, 2.6, xlim=(0, 10), ylim=(0, 4.2))
    z, y = box(ax, (1, 3.2), "$z$", 0.8), box(ax, (4.5, 3.2), "$y$", 0.8)
    x = box(ax, (4.5, 0.9), "$x$", 0.8)
    d, c = box(ax, (7, 2.05), "$d$", 0.8), box(ax, (9.2, 2.05), "$c$", 0.8)
    arrow(ax, z, y, "$g$")
    arrow(ax, y, d, " or")
    arrow(ax, x, d)
    arrow(ax, d, c)
    return fig
