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
