"""The figures of thesis chapters 5 (background on ICA) and 6 (PPICA), every one except the model
diagram (``lib.diagrams.ppica_diagram``); the numbers they show are computed in
``lib.chapters.ch05_ica`` and ``lib.chapters.ch06_ppica``. The annealer's acceptance
rule and schedule are ``lib.ppica.acceptance`` and ``lib.ppica.temperature``."""

import matplotlib.pyplot as plt
import numpy as np

from lib.plots import image_grid, mi_with_truth, tile
from lib.ppica import acceptance, temperature

# ---- chapter 5 figures ---------------------------------------------------------------------------


def nongaussianity_figure(samples, n_mix, kurt_of_sum):
    """Section 5.2: histograms of unit-variance samples ({name: values}) and the kurtosis of a
    normalised sum of m Laplace sources against the central-limit 3 / m."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    grid = np.linspace(-4, 4, 81)
    for name, values in samples.items():
        axes[0].hist(values, bins=grid, density=True, histtype="step", label=name)
    axes[0].set(title="unit-variance sources", xlabel="value", ylabel="density")
    axes[0].legend(fontsize=8)
    axes[1].plot(n_mix, kurt_of_sum, "o-")
    axes[1].plot(n_mix, 3 / np.array(n_mix), "k:", label="3 / m (theory)")
    axes[1].set(
        xscale="log", xlabel="number m of Laplace sources summed",
        ylabel="kurtosis of the normalised sum", title="sums are more Gaussian",
    )  # fmt: skip
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    return fig


def mi_estimators_figure(rhos, estimates, n):
    """Sections 5.3 / 6.2: MI estimates against the closed form, for 1-D and 2-D x and y
    (``estimates``: {dims: {"truth": [...], name: [...]}})."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), sharey=True)
    for ax, dims in zip(axes, (1, 2)):
        for j, (name, values) in enumerate(estimates[dims].items()):
            style = dict(color="k", lw=2) if name == "truth" else dict(marker="o", color=f"C{j}")
            ax.plot(rhos, values, label=name, **style)
        ax.set(xlabel="correlation per pair", title=f"{dims}-D x and {dims}-D y, n = {n}")
    axes[0].set_ylabel("MI (nats)")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    return fig


def annealing_figure(deltas, temps=(0.1, 0.05, 0.02, 0.01), d=50, sweeps=20, t0=0.1):
    """Section 5.4: the annealer's own acceptance rule (eq. 5.9, ``lib.ppica.acceptance``) at
    several temperatures, and its schedule (eq. 6.4, ``lib.ppica.temperature``) for d memberships."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    for temp in temps:
        axes[0].plot(deltas, acceptance(deltas, temp), label=f"T = {temp}")
    axes[0].set(xlabel=r"cost increase $\ell(x') - \ell(x)$", ylabel="P(accept)", title="eq. 5.9")
    axes[0].legend(fontsize=8)
    t = np.arange(1, sweeps * d + 1)
    axes[1].plot(t, temperature(t, d, t0))
    axes[1].set(
        xlabel=f"iteration t (|m| = {d} memberships)", ylabel="temperature",
        title=f"eq. 6.4, started at {t0}", yscale="log",
    )  # fmt: skip
    fig.tight_layout()
    return fig


def ica_components_figure(x, mixing, share, ncols=10):
    """Thesis Fig 5.1: (a) composites, (b) FastICA's mixing columns in ICA's order, each marked
    U (upright) or R (rotated) by its true cause, (c) the histogram of the upright shares."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), gridspec_kw={"width_ratios": [1, 2.2, 1.3]})
    image_grid(axes[0], x[:16], 4, title="(a) entangled data")
    cols = mixing.T.reshape(-1, 28, 28)
    lim = np.abs(cols).max()
    title = "(b) independent components (mixing columns), in ICA's order"
    image_grid(axes[1], cols, ncols, vmin=-lim, vmax=lim, cmap="RdBu_r", title=title)
    for i, s in enumerate(share):
        r, c = divmod(i, ncols)
        axes[1].text(
            c * 29 + 1, r * 29 + 5, "U" if s > 0.5 else "R", fontsize=7,
            color="C2" if s > 0.5 else "C1", fontweight="bold",
        )  # fmt: skip
    axes[2].hist(share, bins=np.linspace(0, 1, 21), color="0.5")
    axes[2].set(
        xlabel="upright share of the mixing column", ylabel="components",
        title="(c) how single-cause each component is",
    )  # fmt: skip
    fig.tight_layout()
    return fig


# ---- chapter 6 figures ---------------------------------------------------------------------------


def composite_parts_figure(data, n=16):
    """Thesis Fig 6.2: (a) upright parts, (b) rotated parts, (c) their sums."""
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.6))
    panels = [
        (data.part_a, "(a) left cause (upright)", 1),
        (data.part_b, "(b) right cause (rotated)", 1),
        (data.x, "(c) input data", 2),
    ]
    for ax, (imgs, title, vmax) in zip(axes, panels):
        image_grid(ax, imgs[:n], 4, vmin=0, vmax=vmax, title=title)
    fig.tight_layout()
    return fig


def ppica_example_figure(model, share, x, n_show, seed, rows=10):
    """Thesis Figs 6.3 / 6.5: the mixing columns PPICA put in each cause (at most ``n_show`` per
    cause, a random choice seeded by ``seed``) and inputs with their A-only, B-only and full
    reconstructions (``model``: a fitted ``lib.ppica.PostprocessedICA``)."""
    cols = model.mixing_.T.reshape(-1, 28, 28)
    pick_rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(model.membership_), np.flatnonzero(~model.membership_)]
    shown = [g if len(g) <= n_show else np.sort(pick_rng.choice(g, n_show, replace=False)) for g in groups]
    recon = [x[:rows]] + [model.reconstruct(c)[:rows].reshape(-1, 28, 28) for c in ("a", "b", "both")]
    shape = [(-(-max(1, len(i)) // min(15, max(1, len(i)))), min(15, max(1, len(i)))) for i in shown]
    heights = [7.3 * r / c + 0.45 for r, c in shape + [(4, rows)]]  # each tile grid at full width
    fig = plt.figure(figsize=(7.5, sum(heights)))
    grid = fig.add_gridspec(3, 1, height_ratios=heights)
    for k, (idx, label) in enumerate(zip(shown, ["A", "B"])):
        ax = fig.add_subplot(grid[k, 0])
        lim = np.abs(cols[idx]).max() if len(idx) else 1
        n_up = int((share[groups[k]] > 0.5).sum())
        ax.imshow(
            tile(cols[idx], min(15, max(1, len(idx))), pad_value=0.0), cmap="RdBu_r", vmin=-lim, vmax=lim
        )
        title = f"({'ab'[k]}) cause {label}: {len(groups[k])} components, {n_up} upright by the truth rule"
        ax.set(xticks=[], yticks=[])
        ax.set_title(title + (f" ({len(idx)} shown)" if len(idx) < len(groups[k]) else ""), fontsize=10)
    ax = fig.add_subplot(grid[2, 0])
    stack = np.stack(recon, 0).reshape(-1, 28, 28)  # one row per kind, one column per input
    image_grid(ax, stack, rows, vmin=0, vmax=2)
    ax.set_title("(c) rows: input, A only, B only, all components", fontsize=10)
    fig.tight_layout()
    return fig


def ppica_mi_figure(runs, chance):
    """Thesis Fig 6.4: MI over the annealing iterations, the assigned share (dotted: ``chance``)
    and final MI against final share (dotted: zero MI), one line or point per run."""
    fig = mi_with_truth(
        [r["mi_trace"] for r in runs], [r["share_trace"] for r in runs], truth_label="assigned share",
        x=np.arange(1, len(runs[0]["mi_trace"]) + 1),
        title=f"{len(runs[0]['membership'])} sources, {len(runs)} runs (each on a different ICA run)",
    )  # fmt: skip
    for ax in fig.axes[:2]:
        ax.set_xlabel("iteration")
    fig.axes[1].axhline(chance, color="k", ls=":", lw=1)
    fig.axes[2].axvline(0, color="k", ls=":", lw=1)
    return fig


def sources_study_figure(study, study_sizes):
    """Assigned share (mean ± sd) against the number of sources, single flips against swaps
    (``study``: {(moves, d): summary})."""
    fig, ax = plt.subplots(figsize=(6, 3.4))
    labels = {"flip": "single flips (thesis)", "swap": "swaps, equal-size causes"}
    for k, moves in enumerate(["flip", "swap"]):
        means = [study[moves, d]["share"][0] for d in study_sizes]
        sds = [study[moves, d]["share"][1] for d in study_sizes]
        x = np.array(study_sizes) * (1 + 0.04 * k)
        ax.errorbar(x, means, yerr=sds, marker="o", capsize=3, label=labels[moves])
    chance = [study["flip", d]["chance"][0] for d in study_sizes]
    ax.plot(study_sizes, chance, "k:", label="chance (flips)")
    ax.set(
        xscale="log", xlabel="number of ICA sources", ylabel="assigned share",
        xticks=study_sizes, xticklabels=[str(d) for d in study_sizes],
    )  # fmt: skip
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def landscape_figure(land):
    """Eq. 6.2 at the true grouping, random same-size groupings and one-vs-rest splits, one panel
    per number of sources (``land``: {d: ``lib.chapters.ch06_ppica.cost_landscape(...)``})."""
    fig, axes = plt.subplots(1, len(land), figsize=(3.6 * len(land), 3.2))
    for ax, (d, L) in zip(axes, land.items()):
        ax.hist(L["random"], bins=10, color="0.6", label="random, same sizes")
        ax.hist(L["one_vs_rest"], bins=20, color="C1", alpha=0.6, label="one source vs the rest")
        ax.axvline(L["truth"], color="C2", lw=2, label="true grouping")
        ax.set(xlabel="KSG MI between causes (nats)", title=f"{d} sources")
    axes[0].set_ylabel("groupings")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def tolerance_figure(tol_stats):
    """Assigned share (with chance), final MI and component purity against FastICA's tolerance,
    loose to strict (``tol_stats``: {tol: summary})."""
    tols = list(tol_stats)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.2))
    panels = [("share", "assigned share"), ("mi", "final KSG MI (nats)"), ("purity", "component purity")]
    for ax, (key, label) in zip(axes, panels):
        means = [tol_stats[t][key][0] for t in tols]
        sds = [tol_stats[t][key][1] for t in tols]
        ax.errorbar(tols, means, yerr=sds, marker="o", capsize=3)
        if key == "share":
            ax.plot(tols, [tol_stats[t]["chance"][0] for t in tols], "k:", label="chance")
            ax.legend(fontsize=8)
        ax.set(xscale="log", xlabel="FastICA tolerance", ylabel=label)
        ax.invert_xaxis()
    fig.tight_layout()
    return fig
