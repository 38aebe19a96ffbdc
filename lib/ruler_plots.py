"""The ruler "by eye": reconstructions of the runs just above and just below the decision.

The thesis judged disentangling by looking at each network's reconstruction. These panels let a
reader check the book's rule the same way: for one setting, the run the rule calls disentangled
with the lowest score, and the run it calls not disentangled with the highest, side by side,
each with its score, the bar it was judged against and its final MI (``lib.controls``).
"""

import matplotlib.pyplot as plt
import numpy as np

from lib.plots import image_grid


def around_decision(runs):
    """Indices (just_above, just_below) of ``runs`` around the ground-truth decision: the
    disentangled run with the lowest score and the not-disentangled run with the highest (None
    where no run is on that side). Runs with a NaN score are left out."""
    score = np.array([float(r["final_disentanglement"]) for r in runs])
    passed = np.array([bool(r["final_disentangled"]) for r in runs])
    ok = np.isfinite(score)
    above = np.flatnonzero(ok & passed)
    below = np.flatnonzero(ok & ~passed)
    pick_above = int(above[np.argmin(score[above])]) if len(above) else None
    pick_below = int(below[np.argmax(score[below])]) if len(below) else None
    return pick_above, pick_below


def _rows(run, n_rows):
    """(n_rows, 3) images of one run: input, cause a's reconstruction, cause b's."""
    if "examples" in run:  # ASAE: (4, n, h, w) = input, y_A, y_B, y
        ex = np.asarray(run["examples"], float)[:3, :n_rows]
    else:  # DDN: flat x_show, y_a, y_b and the image shape
        shape = tuple(int(v) for v in run["shape"])
        ex = np.stack([np.asarray(run[k], float)[:n_rows].reshape(-1, *shape)
                       for k in ("x_show", "y_a", "y_b")])  # fmt: skip
    return np.swapaxes(ex, 0, 1).reshape(-1, *ex.shape[2:])


def _final_mi(run):
    mi = run.get("final_mi", run.get("mi"))
    mi = np.asarray(mi, float)
    return float(mi.ravel()[-1])


def decision_figure(panels, n_rows=4):
    """One column pair per setting: ``panels`` maps a setting's name to its runs. Each panel is
    a run just above or just below the decision (``around_decision``), rows of input | cause a |
    cause b, titled with its score, the bar and its final MI."""
    picks = [(name, runs, i, side) for name, runs in panels.items()
             for i, side in zip(around_decision(runs), ("just above", "just below"))]  # fmt: skip
    picks = [p for p in picks if p[2] is not None]
    if not picks:
        fig, ax = plt.subplots(figsize=(6, 1))
        ax.axis("off")
        ax.text(0.5, 0.5, "no scored runs", ha="center", va="center")
        return fig
    cols = min(4, len(picks))
    nrow = -(-len(picks) // cols)
    fig, axes = plt.subplots(nrow, cols, figsize=(2.6 * cols, 3.6 * nrow), squeeze=False)
    for ax in axes.ravel()[len(picks) :]:
        ax.axis("off")
    for ax, (name, runs, i, side) in zip(axes.ravel(), picks):
        r = runs[i]
        verdict = "disentangled" if r["final_disentangled"] else "not disentangled"
        title = (f"{name}\nrun {i}, {side}: {verdict}\nscore {r['final_disentanglement']:.2f}, "
                 f"bar {r.get('final_threshold', np.nan):.2f}, MI {_final_mi(r):.2f}\n"
                 r"$x$ | cause a | cause b")  # fmt: skip
        image_grid(ax, np.clip(_rows(r, n_rows), 0, 1), 3, vmin=0, vmax=1, title=title)
        ax.title.set_fontsize(9)
    fig.tight_layout()
    return fig
